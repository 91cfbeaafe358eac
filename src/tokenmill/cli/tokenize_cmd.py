"""`tokenmill tokenize`: show how a tokenizer cuts a text, with the IDs."""

from __future__ import annotations

import argparse
import json
import sys

import tokenmill.cli.html_out as html_out
from tokenmill.cli.errors import CLIError
from tokenmill.cli.terminal import human_size, safe, safe_json
from tokenmill.cli.textinput import TextInput, check_file, describe, encode_documents, eot_spelling, read_input
from tokenmill.cli.textstream import Streamed, encode_end, streams
from tokenmill.common.checks import positive_int
from tokenmill.tokenizers import get_tokenizer
from tokenmill.tokenizers.display import shown_token

EPILOG = """\
examples:
  tokenmill tokenize "hello world"                    # tokens, IDs and a summary line
  tokenmill tokenize "hello world" --ids              # 31373 995
  tokenmill tokenize "hello world" --color always | less -R   # token boundaries in colour
  tokenmill tokenize --file story.txt --json          # machine-readable
  tokenmill tokenize --file corpus.jsonl.xz --ids     # what prepare stores: each document + <|endoftext|>
  tokenmill tokenize "a <|endoftext|> b" --allowed-special "<|endoftext|>"
  tokenmill tokenize --file story.txt --max-tokens 1024 --keep last   # what a 1024-context model sees
  tokenmill tokenize --file ja.txt --html tokens.html --compare cl100k_base   # a page, side by side
  # the book's word tokenizer: build a vocabulary from a text and save it (vocab.json), then use it
  python -c "import tokenmill; tokenmill.WordTokenizer.from_text(open('story.txt').read()).save('vocab.json')"
  tokenmill tokenize "It's here" --tokenizer vocab.json
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
    p.add_argument(
        "--file", "-f", metavar="F",
        help="read the text from a file ('-' for stdin): UTF-8 text, or what prepare reads "
        "(.jsonl, .parquet, .gz/.xz/.zst); several documents are each followed by <|endoftext|>",
    )
    p.add_argument("--text-field", default="text", metavar="NAME", help=".jsonl key / parquet column (default: text)")
    p.add_argument("--tokenizer", "-t", default="gpt2", metavar="NAME|PATH", help="default: gpt2")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--ids", action="store_true", help="print the IDs only, space-separated")
    out.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--allowed-special", action="append", default=[], metavar="TOKEN",
        help="encode this special token as special (repeatable; 'all' for all)",
    )
    p.add_argument(
        "--max-tokens", type=int, metavar="N",
        help="keep at most N tokens (a model's context_length): by default the LAST N, what a model "
        "reading the text up to its end sees (--keep first for the start); a big text file is read "
        "only from that end",
    )
    p.add_argument(
        "--keep", choices=("first", "last"), default="last",
        help="which end --max-tokens keeps (default: last)",
    )
    p.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto",
        help="colour the text token by token above the table: auto (default) when stdout is a terminal, "
        "always (e.g. piped into less -R), never",
    )
    html_out.add_tokenize_flags(p)
    p.set_defaults(run=run)


def _read_input(args: argparse.Namespace) -> TextInput:
    if (args.text is None) == (args.file is None):
        raise CLIError('give the text or --file F, e.g. tokenmill tokenize "hello world"')
    if args.file is None:
        return TextInput([args.text], "txt", 0)
    return read_input(args.file, text_field=args.text_field)


def _coloured(pieces: list[bytes]) -> str:
    """The text with alternating colours per token; tokens that split a character share one."""
    out, pending, n = [], b"", 0
    for piece in pieces:
        pending += piece
        try:
            text = pending.decode("utf-8")
        except UnicodeDecodeError:
            continue
        out.append(_COLOURS[n % 2] + safe(text, keep_newlines=True) + _RESET)  # the text's own ESC shown, not obeyed
        pending, n = b"", n + 1
    if pending:
        out.append(_COLOURS[n % 2] + safe(pending.decode("utf-8", errors="replace"), keep_newlines=True) + _RESET)
    return "".join(out)


def run(args: argparse.Namespace) -> int:
    if args.max_tokens is not None:
        positive_int("max_tokens", args.max_tokens)
    allowed = "all" if "all" in args.allowed_special else set(args.allowed_special)
    # A big text file with --max-tokens: only the kept end is read and encoded.
    if args.text is None and not (args.html or args.compare) and streams(args.file, max_tokens=args.max_tokens):
        check_file(args.file)
        tok = get_tokenizer(args.tokenizer)
        streamed = encode_end(args.file, tok, args.max_tokens, keep=args.keep, allowed_special=allowed)
        if streamed is not None:
            return _print_streamed(args, tok, streamed)
    read = _read_input(args)
    tok = get_tokenizer(args.tokenizer)
    ids = encode_documents(tok, read, allowed)
    if args.html or args.compare:
        if read.kind == "txt":
            return html_out.tokenize_html(args, read.documents[0], tok, ids, allowed)
        # Documents are shown as one text with the end-of-text token spelled where the IDs hold it.
        eot = eot_spelling(tok) or ""
        text = "".join(doc + eot for doc in read.documents)
        shown = allowed if allowed == "all" or not eot else set(allowed) | {eot}
        return html_out.tokenize_html(args, text, tok, ids, shown)
    n_before = len(ids)
    if args.max_tokens is not None:
        from tokenmill.tokenizers.truncate import truncate

        ids = truncate(ids, args.max_tokens, keep=args.keep)
    cut = n_before - len(ids)
    pieces = tok.decode_tokens_bytes(ids)
    n_chars = sum(len(d) for d in read.documents)
    n_bytes = sum(len(d.encode("utf-8", "surrogatepass")) for d in read.documents)
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
            "documents": len(read.documents),
            "characters": n_chars,
            "bytes": n_bytes,
            "n_tokens": n_before,
            "n_kept": len(ids),
            "bytes_per_token": round(per_token, 4),
            "truncated": cut,
        }
        print(safe_json(json.dumps(doc, ensure_ascii=False)))
        return 0
    colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    if colour:
        print(_coloured(pieces))
    width = len(str(max(ids, default=0)))
    for token_id, piece in zip(ids, pieces):
        print(f"{token_id:>{width}}  {shown_token(piece)}")
    print(
        f"{n_chars:,} characters, {n_before:,} tokens, {per_token:.2f} bytes per token ({tok.name})"
    )
    if read.kind != "txt":
        print(safe(describe(args.file, read, tok)))
    if cut:
        print(cut_note)
    return 0


def _print_streamed(args: argparse.Namespace, tok: object, streamed: Streamed) -> int:
    """Print the IDs kept from one end of a big text file; the totals were never counted."""
    ids = streamed.ids
    end = "start" if args.keep == "first" else "end"
    note = (
        f"kept the {args.keep} {len(ids):,} tokens of {args.file} ({human_size(streamed.size)}): read "
        f"{human_size(streamed.bytes_read)} from its {end}; the rest was not tokenized (--max-tokens {args.max_tokens})"
    )
    pieces = tok.decode_tokens_bytes(ids)
    if args.ids:
        print(" ".join(map(str, ids)))
        print(safe(f"tokenmill: {note}"), file=sys.stderr)
        return 0
    if args.json:
        doc = {
            "tokenizer": tok.name, "ids": ids, "tokens": [p.decode("utf-8", errors="replace") for p in pieces],
            "documents": 1, "characters": None, "bytes": streamed.size, "n_tokens": None, "n_kept": len(ids),
            "bytes_per_token": None, "truncated": None, "bytes_read": streamed.bytes_read,
        }
        print(safe_json(json.dumps(doc, ensure_ascii=False)))
        return 0
    width = len(str(max(ids, default=0)))
    for token_id, piece in zip(ids, pieces):
        print(f"{token_id:>{width}}  {shown_token(piece)}")
    print(safe(note))
    return 0
