"""What the CLI prints to a terminal: control characters escaped, columns by display width.

Every printer of text that did not come from tokenmill itself (manifest strings, recorded
arguments, file names, corpus text in messages) goes through :func:`safe`: a manifest that
holds ``ESC ] 52`` (write the clipboard) or ``ESC [ 2 J`` (clear the screen) is shown as
the characters ``\\x1b]52``, never sent to the terminal as a command, and a bidi override
cannot make ``invoice_\\u202efdp.exe`` read as ``invoice_exe.pdf``.

>>> safe("name\\x1b]0;owned\\x07 \\u202eevil")
'name\\\\x1b]0;owned\\\\x07 \\\\u202eevil'
>>> rjust_display("吾輩", 6) + "|", rjust_display("ab", 6) + "|"
('  吾輩|', '    ab|')
"""

from __future__ import annotations

import unicodedata

from tokenmill.common.words import human_bytes as human_size  # one spelling of sizes everywhere

__all__ = ["display_width", "human_size", "rjust_display", "safe", "safe_json"]

# Invisible characters that reorder or hide text: bidi marks, embeddings, overrides and
# isolates, zero-width space and word joiner, line/paragraph separators, the byte-order mark.
# The joiners U+200C/D stay: emoji sequences and Persian or Indic text need them. The same
# set as tokenmill.html.page.INVISIBLE (a test checks), kept here so that the CLI starts
# without importing the page modules.
INVISIBLE = (
    [0x061C, 0x180E, 0x200B, 0x200E, 0x200F, 0x2028, 0x2029, 0x2060, 0xFEFF]
    + list(range(0x202A, 0x202F))
    + list(range(0x2066, 0x206A))
)

_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_ESCAPES.update({c: f"\\u{c:04x}" for c in INVISIBLE})

_LINES = dict(_ESCAPES)
del _LINES[ord("\n")]
del _LINES[ord("\t")]


def safe(text: object, *, keep_newlines: bool = False) -> str:
    """``text`` with every control and invisible formatting character written as an escape.

    ``keep_newlines``: newline and tab pass through (for multi-line output that tokenmill
    formats itself around foreign strings, such as the stats table).
    """
    return str(text).translate(_LINES if keep_newlines else _ESCAPES)


def safe_json(document: str) -> str:
    r"""A JSON text with C1 controls and invisible characters as ``\uXXXX`` (still the same JSON).

    ``json.dumps`` escapes C0 itself; with ``ensure_ascii=False`` it writes C1 and bidi raw.

    >>> safe_json('{"a": "\u202e\x85"}')
    '{"a": "\\u202e\\u0085"}'
    """
    return document.translate({c: f"\\u{c:04x}" for c in [0x7F, *range(0x80, 0xA0), *INVISIBLE]})


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide and full-width characters (CJK) take two."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text
    )


def rjust_display(text: str, width: int) -> str:
    """``text`` right-aligned in ``width`` terminal columns (``str.rjust`` counts characters)."""
    return " " * max(width - display_width(text), 0) + text


