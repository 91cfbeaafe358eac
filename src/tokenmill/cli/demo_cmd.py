"""`tokenmill demo`: the whole chapter-2 pipeline on a built-in sample, stage by stage."""

from __future__ import annotations

import argparse
from importlib import resources

import tokenmill.cli.html_out as html_out
from tokenmill.cli.terminal import rjust_display, safe
from tokenmill.cli.textinput import TextInput, describe, encode_documents, eot_spelling, read_input
from tokenmill.tokenizers import get_tokenizer
from tokenmill.tokenizers.display import shown_context, shown_token

EPILOG = """\
examples:
  tokenmill demo                               # the built-in sample, the book's settings
  tokenmill demo story.txt                     # your own text
  tokenmill demo corpus.jsonl.xz               # what prepare reads: each document + <|endoftext|>
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
    p.add_argument(
        "file", nargs="?", metavar="FILE",
        help="a UTF-8 text file, or what prepare reads (.jsonl, .parquet, .gz/.xz/.zst; each document "
        "followed by <|endoftext|>); '-' for stdin (default: built-in sample)",
    )
    p.add_argument("--text-field", default="text", metavar="NAME", help=".jsonl key / parquet column (default: text)")
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


_SHOW_CHARS = 70  # of the text, shown at stage 1


def sample_text() -> str:
    """The built-in sample: a short story written for tokenmill (public domain)."""
    return resources.files("tokenmill").joinpath("data/sample.txt").read_text(encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    # Everything that can refuse is checked before torch is imported (seconds) and before any
    # stage is printed: the page's target and matplotlib, the input, the tokenizer.
    if args.html:
        html_out.need_matplotlib()
        html_out.check_page_target(args, args.html)
    if args.file:
        read, source = read_input(args.file, text_field=args.text_field), args.file
    else:
        read, source = TextInput([sample_text()], "txt", 0), "built-in sample"
    tok = get_tokenizer(args.tokenizer)

    import torch

    from tokenmill.embeddings import InputEmbedding
    from tokenmill.windows import create_dataloader
    # A text may spell <|endoftext|> between its parts (as the book does); documents are stored
    # as prepare stores them, where a spelled special token is text.
    ids = encode_documents(tok, read, tuple(tok.special_tokens) if read.kind == "txt" else ())
    # Built first, so that bad settings fail before any stage is printed (the error handler
    # spells the parameters the library names as this command's flags).
    loader = create_dataloader(
        ids, batch_size=args.batch_size, max_length=args.max_length,
        stride=args.stride, shuffle=False, drop_last=False,
    )
    torch.manual_seed(args.seed)
    emb = InputEmbedding(tok.vocab_size, args.emb_dim, args.max_length, positional=args.positional)

    text = _joined(read, tok)
    print(f"1. Text ({safe(describe(source, read, tok))}): {len(text):,} characters")
    shown = text[:_SHOW_CHARS]
    print(f"   {shown!r}" + ("..." if len(text) > len(shown) else ""))
    print(f"2. Tokens ({tok.name}, vocabulary {tok.vocab_size:,}): {len(ids):,} tokens")
    pieces = tok.decode_tokens_bytes(ids[:10])
    print("   " + " ".join(f"{shown_token(p)}={i}" for p, i in zip(pieces, ids)))

    print(f"3. Next-token prediction: each context predicts the token after it (context size {args.max_length})")
    pieces = tok.decode_tokens_bytes(ids[: args.max_length + 1])
    for n in range(1, min(args.max_length, len(ids) - 1) + 1):
        # A context may end inside a character: its text so far, then the bytes still pending.
        print(f"   {rjust_display(shown_context(pieces[:n]), 40)} -> {shown_token(pieces[n])}")

    inputs, targets = next(iter(loader))
    print(
        f"4. Sliding windows: max_length={args.max_length}, stride={args.stride} -> "
        f"{_batches(len(loader.dataset), args.batch_size)}"
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


def _joined(read: TextInput, tok: object) -> str:
    """The documents as one text, with the end-of-text token spelled where the IDs hold it."""
    if read.kind == "txt":
        return read.documents[0]
    eot = eot_spelling(tok) or ""
    return "".join(doc + eot for doc in read.documents)


def _batches(n_windows: int, batch_size: int) -> str:
    """How the windows fall into batches, the short last batch included.

    >>> print(_batches(69, 8), _batches(3, 8), _batches(16, 8), _batches(1, 1), sep="\\n")
    69 windows, 9 batches (8 of 8 windows, then 1 of 5)
    3 windows, 1 batch of 3
    16 windows, 2 batches of 8
    1 window, 1 batch of 1
    """
    full, rest = divmod(n_windows, batch_size)
    windows = f"{n_windows:,} window{'s' if n_windows != 1 else ''}"
    if not rest:
        return f"{windows}, {full:,} batch{'es' if full != 1 else ''} of {batch_size}"
    if not full:
        return f"{windows}, 1 batch of {rest}"
    return f"{windows}, {full + 1:,} batches ({full:,} of {batch_size} windows, then 1 of {rest})"


def _indent(t: object) -> str:
    return "\n".join("     " + line for line in str(t).splitlines())
