"""The ``--html`` flags of `tokenmill tokenize` and `tokenmill demo`, kept out of those modules."""

from __future__ import annotations

import argparse
from typing import Any

from tokenmill.cli.terminal import safe


def need_matplotlib() -> None:
    """A one-line CLI error, before any work, when the pictures cannot be drawn."""
    import importlib.util

    from tokenmill.cli.errors import CLIError

    if importlib.util.find_spec("matplotlib") is None:
        raise CLIError("the HTML pictures need matplotlib: pip install 'tokenmill[html]'")


def add_tokenize_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--html", "-o", metavar="OUT.html", help="write the tokens as a coloured HTML page (hover: ID, bytes)"
    )
    add_overwrite_flag(p)
    p.add_argument(
        "--compare", action="append", default=[], metavar="NAME|PATH",
        help="with --html: also show this tokenizer's tokens side by side (repeatable), e.g. cl100k_base",
    )


def tokenize_html(args: argparse.Namespace, text: str, tok: Any, ids: list[int], allowed: Any) -> int:
    """Write ``tokenmill tokenize --html``'s page; prints one line saying where."""
    from tokenmill.cli.errors import CLIError
    from tokenmill.html import tokens_page, write_html
    from tokenmill.html.page import check_writable
    from tokenmill.tokenizers import get_tokenizer

    if not args.html:
        raise CLIError("--compare shows tokenizers side by side in a page: add --html OUT.html")
    if args.max_tokens is not None:
        raise CLIError("--html shows the whole text; drop --max-tokens (or use it without --html)")
    check_writable(args.html, overwrite=args.overwrite)
    encoded = [(tok, ids)]
    for name in args.compare:
        other = get_tokenizer(name)
        # Each tokenizer gets the allowed special tokens it has (the first one checked the text).
        own = allowed if allowed == "all" else set(allowed) & set(other.special_tokens)
        encoded.append((other, other.encode(text, allowed_special=own)))
    source = "stdin" if args.file == "-" else (args.file or "text")
    size = write_html(args.html, tokens_page(text, encoded, source=source), overwrite=args.overwrite)
    names = ", ".join(f"{t.name} {len(i):,} tokens" for t, i in encoded)
    print(safe(f"wrote {args.html} ({size:,} bytes; {names})"))
    return 0


def add_demo_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--html", "-o", metavar="OUT.html", help="also write the stages as pictures to an HTML page")
    add_overwrite_flag(p)


def add_overwrite_flag(p: argparse.ArgumentParser) -> None:
    """``--overwrite``: the page may replace any file and be written inside a token store."""
    p.add_argument(
        "--overwrite", action="store_true",
        help="replace the output file even if tokenmill did not write it, or write it inside a token "
        "store (refused by default: a page never clobbers data)",
    )


def check_page_target(args: argparse.Namespace, path: str) -> None:
    """Refuse, before any work, an output page that would replace what it should not."""
    from tokenmill.html.page import check_writable

    check_writable(path, overwrite=args.overwrite)


def demo_html(args: argparse.Namespace, text: str, source: str, tok: Any, dataset: Any, emb: Any) -> None:
    """Write ``tokenmill demo --html``'s page; prints one line saying where."""
    from tokenmill.html import demo_page, write_html

    size = write_html(
        args.html, demo_page(text, tok, dataset, emb, source=source, seed=args.seed), overwrite=args.overwrite
    )
    print(safe(f"6. Pictures: wrote {args.html} ({size:,} bytes); open it in a browser"))
