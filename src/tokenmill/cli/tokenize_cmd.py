"""`tokenmill tokenize`: show how a tokenizer cuts a text, with the IDs."""

from __future__ import annotations

import argparse
import json
import sys

from tokenmill.tokenizers import get_tokenizer

EPILOG = """\
examples:
  tokenmill tokenize "hello world"                    # tokens, IDs and a summary line
  tokenmill tokenize "hello world" --ids              # 31373 995
  tokenmill tokenize --file story.txt --json          # machine-readable
  tokenmill tokenize "a <|endoftext|> b" --allowed-special "<|endoftext|>"
  tokenmill tokenize --file story.txt --max-tokens 1024 --keep last   # what a 1024-context model sees
  tokenmill tokenize "It's here" --tokenizer vocab.json   # a saved WordTokenizer vocabulary
"""

# Alternating background colours make token boundaries visible without changing the text.
_COLOURS = ("\x1b[48;5;153m\x1b[30m", "\x1b[48;5;223m\x1b[30m")
_RESET = "\x1b[0m"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tokenize",
        help="text -> tokens and IDs",
        description="Encode a text and show its tokens, their IDs and bytes per token.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("text", nargs="?", help="the text to encode (or use --file)")
    p.add_argument("--file", "-f", metavar="F", help="read the text from a UTF-8 file ('-' for stdin)")
    p.add_argument("--tokenizer", "-t", default="gpt2", metavar="NAME|PATH", help="default: gpt2")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--ids", action="store_true", help="print the IDs only, space-separated")
    out.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--allowed-special", action="append", default=[], metavar="TOKEN",
        help="encode this special token as special (repeatable; 'all' for all)",
    )
    p.add_argument("--max-tokens", type=int, metavar="N", help="keep at most N tokens (a model's context_length)")
    p.add_argument("--keep", choices=("first", "last"), default="last", help="which tokens --max-tokens keeps")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.set_defaults(run=run)


def _read_text(args: argparse.Namespace) -> str:
    if (args.text is None) == (args.file is None):
        raise ValueError('give the text or --file F, e.g. tokenmill tokenize "hello world"')
    if args.file is None:
        return args.text
    if args.file == "-":
        return sys.stdin.read()
    with open(args.file, encoding="utf-8", errors="replace") as f:
        return f.read()


def run(args: argparse.Namespace) -> int:
    text = _read_text(args)
    tok = get_tokenizer(args.tokenizer)
    allowed = "all" if "all" in args.allowed_special else set(args.allowed_special)
    try:
        ids = tok.encode(text, allowed_special=allowed)
    except ValueError as exc:
        if "special token" in str(exc) and "allowed_special=" in str(exc):
            raise ValueError(
                f"{str(exc).split('.')[0]}. Add --allowed-special TOKEN to encode it as special."
            ) from None
        raise
    n_before = len(ids)
    if args.max_tokens is not None:
        from tokenmill.context import truncate

        ids = truncate(ids, args.max_tokens, keep=args.keep)
    cut = n_before - len(ids)
    pieces = tok.decode_tokens_bytes(ids)
    n_bytes = len(text.encode("utf-8"))
    per_token = n_bytes / n_before if n_before else 0.0
    if args.ids:
        print(" ".join(map(str, ids)))
        return 0
    if args.json:
        doc = {
            "tokenizer": tok.name,
            "ids": ids,
            "tokens": [p.decode("utf-8", errors="replace") for p in pieces],
            "characters": len(text),
            "bytes": n_bytes,
            "n_tokens": n_before,
            "bytes_per_token": round(per_token, 4),
            "truncated": cut,
        }
        print(json.dumps(doc, ensure_ascii=False))
        return 0
    colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    if colour:
        shown = [_COLOURS[i % 2] + p.decode("utf-8", errors="replace") + _RESET for i, p in enumerate(pieces)]
        print("".join(shown))
    width = len(str(max(ids, default=0)))
    for token_id, piece in zip(ids, pieces):
        print(f"{token_id:>{width}}  {piece.decode('utf-8', errors='replace')!r}")
    print(
        f"{len(text):,} characters, {n_before:,} tokens, {per_token:.2f} bytes per token ({tok.name})"
    )
    if cut:
        kept = "last" if args.keep == "last" else "first"
        print(f"cut {cut:,} tokens to fit --max-tokens {args.max_tokens} (kept the {kept} {len(ids):,})")
    return 0
