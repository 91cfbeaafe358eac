"""`tokenmill demo`: the whole chapter-2 pipeline on a built-in sample, stage by stage."""

from __future__ import annotations

import argparse
from importlib import resources

from tokenmill.cli import html_out
from tokenmill.cli.tokenize_cmd import read_text_file
from tokenmill.tokenizers import get_tokenizer

EPILOG = """\
examples:
  tokenmill demo                               # the built-in sample, the book's settings
  tokenmill demo story.txt                     # your own text
  tokenmill demo --max-length 8 --stride 2     # overlapping windows
  tokenmill demo --emb-dim 768 --positional sinusoidal
  tokenmill demo --html chapter2.html          # the stages as pictures in a page
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="show every stage: text -> tokens -> IDs -> windows -> embeddings",
        description=(
            "Run the chapter-2 pipeline on a text (a built-in sample by default) and print each "
            "stage: characters and tokens, token IDs, (context -> next token) pairs, the first "
            "batch of inputs and targets, and the shapes of the embeddings."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", nargs="?", metavar="FILE", help="a UTF-8 text file (default: built-in sample)")
    p.add_argument("--tokenizer", "-t", default="gpt2", metavar="NAME|PATH", help="default: gpt2")
    p.add_argument("--batch-size", type=int, default=8, help="windows per batch (default 8)")
    p.add_argument("--max-length", type=int, default=4, help="tokens per window (default 4)")
    p.add_argument("--stride", type=int, default=4, help="step between window starts (default 4)")
    p.add_argument("--emb-dim", type=int, default=256, help="embedding size (default 256)")
    p.add_argument(
        "--positional", choices=("learned", "sinusoidal", "none"), default="learned",
        help="position encoding (default: learned, as GPT)",
    )
    p.add_argument("--seed", type=int, default=123, help="torch seed for the embedding weights")
    html_out.add_demo_flags(p)
    p.set_defaults(run=run)


def sample_text() -> str:
    """The built-in sample: a short story written for tokenmill (public domain)."""
    return resources.files("tokenmill").joinpath("data/sample.txt").read_text(encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    import torch

    from tokenmill.embeddings import InputEmbedding
    from tokenmill.windows import create_dataloader

    if args.file:
        text, source = read_text_file(args.file), args.file
    else:
        text, source = sample_text(), "built-in sample"
    tok = get_tokenizer(args.tokenizer)
    try:  # built first, so that bad settings fail before any stage is printed
        loader = create_dataloader(
            text, tokenizer=tok, batch_size=args.batch_size, max_length=args.max_length,
            stride=args.stride, shuffle=False, drop_last=False, allowed_special=tuple(tok.special_tokens),
        )
        torch.manual_seed(args.seed)
        emb = InputEmbedding(tok.vocab_size, args.emb_dim, args.max_length, positional=args.positional)
    except ValueError as exc:
        raise ValueError(f"{exc} (flags: --max-length, --stride, --batch-size, --emb-dim)") from None

    print(f"1. Text ({source}): {len(text):,} characters")
    print(f"   {text[:70]!r}...")
    ids = loader.dataset.tokens.tolist()  # the loader encoded the text already
    print(f"2. Tokens ({tok.name}, vocabulary {tok.vocab_size:,}): {len(ids):,} tokens")
    pieces = tok.decode_tokens_bytes(ids[:10])
    print("   " + " ".join(f"{p.decode('utf-8', 'replace')!r}={i}" for p, i in zip(pieces, ids)))

    print(f"3. Next-token prediction: each context predicts the token after it (context size {args.max_length})")
    for n in range(1, min(args.max_length, len(ids) - 1) + 1):
        print(f"   {tok.decode(ids[:n])!r:>40} -> {tok.decode([ids[n]])!r}")

    inputs, targets = next(iter(loader))
    print(
        f"4. Sliding windows: max_length={args.max_length}, stride={args.stride} -> "
        f"{len(loader.dataset):,} windows, {len(loader):,} batches of {args.batch_size}"
    )
    print(f"   first batch inputs  {tuple(inputs.shape)}:\n{_indent(inputs)}")
    print(f"   first batch targets {tuple(targets.shape)} (inputs shifted by one):\n{_indent(targets)}")

    token_emb = emb.token_embeddings(inputs)  # (batch, seq_len, emb_dim)
    pos_emb = emb.position_embeddings(args.max_length)  # (seq_len, emb_dim)
    input_emb = emb(inputs)  # (batch, seq_len, emb_dim)
    print(f"5. Embeddings (emb_dim {args.emb_dim}, {args.positional} positions, seed {args.seed}):")
    print(f"   token embeddings    {tuple(token_emb.shape)}")
    print(f"   position embeddings {tuple(pos_emb.shape)}")
    print(f"   input embeddings    {tuple(input_emb.shape)}  = token + position, ready for the transformer")
    if args.html:
        html_out.demo_html(args, text, source, tok, loader.dataset, emb)
    return 0


def _indent(t: object) -> str:
    return "\n".join("     " + line for line in str(t).splitlines())
