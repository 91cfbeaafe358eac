"""`tokenmill tokenize`: show how a tokenizer cuts a text, with the IDs."""

from __future__ import annotations

import argparse
import json
import sys

from tokenmill.cli import html_out
from tokenmill.prepare.readers import decode_utf8
from tokenmill.tokenizers import get_tokenizer

EPILOG = """\
examples:
  tokenmill tokenize "hello world"                    # tokens, IDs and a summary line
  tokenmill tokenize "hello world" --ids              # 31373 995
  tokenmill tokenize --file story.txt --json          # machine-readable
  tokenmill tokenize "a <|endoftext|> b" --allowed-special "<|endoftext|>"
  tokenmill tokenize --file story.txt --max-tokens 1024 --keep last   # what a 1024-context model sees
  tokenmill tokenize "It's here" --tokenizer vocab.json   # a saved WordTokenizer vocabulary
  tokenmill tokenize --file ja.txt --html tokens.html --compare cl100k_base   # a page, side by side
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
    html_out.add_tokenize_flags(p)
    p.set_defaults(run=run)


def read_text_file(path: str) -> str:
    """A UTF-8 file's text ('-' for stdin); invalid bytes become U+FFFD and are reported on stderr."""
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(path, "rb") as f:
            data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text, replaced = decode_utf8(data, "replace", path, 0)
        print(
            f"tokenmill: warning: {path} is not valid UTF-8 (first bad byte at offset {exc.start}); "
            f"{replaced} invalid sequence(s) replaced by U+FFFD",
            file=sys.stderr,
        )
        return text


def _read_text(args: argparse.Namespace) -> str:
    if (args.text is None) == (args.file is None):
        raise ValueError('give the text or --file F, e.g. tokenmill tokenize "hello world"')
    return args.text if args.file is None else read_text_file(args.file)


def _shown(piece: bytes) -> str:
    """A token for the table: its text, or its bytes where it holds part of a character."""
    try:
        return repr(piece.decode("utf-8"))
    except UnicodeDecodeError:
        return repr(piece)


def _coloured(pieces: list[bytes]) -> str:
    """The text with alternating colours per token; tokens that split a character share one."""
    out, pending, n = [], b"", 0
    for piece in pieces:
        pending += piece
        try:
            text = pending.decode("utf-8")
        except UnicodeDecodeError:
            continue
        out.append(_COLOURS[n % 2] + text + _RESET)
        pending, n = b"", n + 1
    if pending:
        out.append(_COLOURS[n % 2] + pending.decode("utf-8", errors="replace") + _RESET)
    return "".join(out)


def run(args: argparse.Namespace) -> int:
    if args.max_tokens is not None and args.max_tokens < 1:
        raise ValueError(f"--max-tokens must be >= 1, got {args.max_tokens}")
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
    if args.html or args.compare:
        return html_out.tokenize_html(args, text, tok, ids, allowed)
    n_before = len(ids)
    if args.max_tokens is not None:
        from tokenmill.context import truncate

        ids = truncate(ids, args.max_tokens, keep=args.keep)
    cut = n_before - len(ids)
    pieces = tok.decode_tokens_bytes(ids)
    n_bytes = len(text.encode("utf-8"))
    per_token = n_bytes / n_before if n_before else 0.0
    cut_note = f"cut {cut:,} tokens to fit --max-tokens {args.max_tokens} (kept the {args.keep} {len(ids):,})"
    if args.ids:
        print(" ".join(map(str, ids)))
        if cut:
            print(f"tokenmill: {cut_note}", file=sys.stderr)
        return 0
    if args.json:
        doc = {
            "tokenizer": tok.name,
            "ids": ids,
            "tokens": [p.decode("utf-8", errors="replace") for p in pieces],
            "characters": len(text),
            "bytes": n_bytes,
            "n_tokens": n_before,
            "n_kept": len(ids),
            "bytes_per_token": round(per_token, 4),
            "truncated": cut,
        }
        print(json.dumps(doc, ensure_ascii=False))
        return 0
    colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    if colour:
        print(_coloured(pieces))
    width = len(str(max(ids, default=0)))
    for token_id, piece in zip(ids, pieces):
        print(f"{token_id:>{width}}  {_shown(piece)}")
    print(
        f"{len(text):,} characters, {n_before:,} tokens, {per_token:.2f} bytes per token ({tok.name})"
    )
    if cut:
        print(cut_note)
    return 0
