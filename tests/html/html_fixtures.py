"""A small corpus with hostile documents, made into a token store (shared by the HTML tests)."""

from __future__ import annotations

import json
from pathlib import Path

HOSTILE = [
    "<script>alert(1)</script>",
    "<script>window.__pwned = 1; alert(1)</script>",
    '<img src=x onerror="window.__pwned = 2; alert(2)">',
    "</div></section></body><h1>injected heading</h1>",
    '<a href="javascript:alert(3)">click me</a>',
    '"><svg onload=alert(4)>',
]
PLAIN = [
    "It was a bright cold day in April, and the clocks were striking thirteen.",
    "吾輩は猫である。名前はまだ無い。",
    "Tabs\tand\nnewlines\n\nand emoji 🙂 stay visible.",
    "short",
    "A longer document. " * 60,
]


def make_corpus(directory: Path) -> list[Path]:
    """Two inputs: JSON lines (with one broken line) and a .txt with invalid UTF-8 bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    jsonl = directory / "docs.jsonl"
    lines = [json.dumps({"text": t}) for t in HOSTILE + PLAIN]
    lines.insert(3, "{this line is not json")
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    txt = directory / "bad-bytes.txt"
    txt.write_bytes(b"caf\xe9 <b>bold?</b> \xff end")
    return [jsonl, txt]


def make_store(directory: Path, **options):
    from tokenmill import prepare

    inputs = make_corpus(directory / "corpus")
    options = {"workers": 0, "progress": False, "val_fraction": 0.3, "skip_bad_lines": True} | options
    return prepare(inputs, directory / "store", **options)
