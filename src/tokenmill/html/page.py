"""The frame every tokenmill HTML page shares: escaping, one stylesheet, no scripts, no network.

Every page is one self-contained file: styles inline, pictures inline SVG, no ``<script>``
and a Content-Security-Policy that forbids scripts and any fetch, so a page opens offline
and text from a corpus can never run, even if an escape were missed.

Pitfall: everything that did not come from tokenmill itself (corpus text, file names,
tokenizer names) must go through :func:`esc` before it is put in a page.

>>> esc('<script>alert("x")</script>')
'&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable

from tokenmill._version import __version__
from tokenmill.common.errors import OptionError
from tokenmill.common.files import atomic_write_bytes

# No script may run and nothing may be fetched; inline styles and data: images (matplotlib's
# heatmaps inside inline SVG) are all a page needs.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d232a;background:#fff;
 margin:0 auto;max-width:1180px;padding:24px 28px 60px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:34px 0 8px;border-bottom:1px solid #e3e6ea;
 padding-bottom:4px}h3{font-size:16px;margin:18px 0 6px}
.sub{color:#5b6570;margin:0 0 14px}.note{color:#5b6570;font-size:13px}
table{border-collapse:collapse;font-size:13.5px;margin:6px 0}
th,td{padding:3px 10px;border-bottom:1px solid #eceff2;text-align:left;vertical-align:top}
th{background:#f5f7f9;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
code,.mono,.hash{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:12.5px}
.hash{color:#4a5560;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.card{border:1px solid #e3e6ea;border-radius:8px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:20px}.card span{color:#5b6570;font-size:12.5px}
.toks{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:14px;line-height:1.9;
 white-space:pre-wrap;word-break:break-word;border:1px solid #e3e6ea;border-radius:8px;padding:10px 12px;
 background:#fcfcfd}
.t{border-radius:3px;padding:1px 0;box-shadow:inset 0 0 0 1px rgba(0,0,0,.06)}
.t0{background:#cfe6ff}.t1{background:#ffe2c2}.t2{background:#d7f5d5}.t3{background:#f6d6f0}
.t:hover{outline:2px solid #3a6fd8}
.partial{outline:1px dashed #c0392b;outline-offset:-1px}
.special{background:#3b4450;color:#fff}
.ws{position:relative;color:transparent}
.sp::after,.tab::after,.nl::before,.cr::before{position:absolute;left:0;color:#8a96a3;pointer-events:none}
.sp::after{content:"\\00b7";width:100%;text-align:center}.tab::after{content:"\\2192"}
.nl::before{content:"\\21b5"}.cr::before{content:"\\240d"}
.nl,.cr{padding-left:1ch}
.side{display:grid;gap:16px}
.legend span{margin-right:14px}
figure{margin:10px 0}figure svg{max-width:100%;height:auto}figcaption{color:#5b6570;font-size:13px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:18px}
.win td{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:13px;text-align:center;
 border:1px solid #eceff2;min-width:3ch;white-space:pre}
.win td.in{background:#cfe6ff}.win td.tg{background:#ffe2c2}.win td.both{background:linear-gradient(
 #cfe6ff 50%,#ffe2c2 50%)}.win th{font-weight:500;color:#5b6570}
.doc{margin:14px 0}.doc h3{font-size:14px;margin:4px 0}.doc .toks{max-height:22em;overflow:auto}
.win th{white-space:nowrap}.hex{color:#8a3b12}.nowrap{white-space:nowrap}
"""


# Control characters other than \n and \t (C0, DEL, C1): a corpus may hold them (U+0000 in
# a scraped page), and raw in a page they are invisible or make it invalid HTML. C0 and DEL
# become their Unicode "control pictures" (U+0000 -> ␀), C1 an escape (\x85).
_CONTROLS = {c: chr(0x2400 + c) for c in range(0x20) if chr(c) not in "\n\t"}
_CONTROLS[0x7F] = "\u2421"
_CONTROLS.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})
# Invisible characters that reorder or hide text (a bidi override shows invoice_\u202efdp.exe
# as invoice_exe.pdf): bidi marks, embeddings, overrides and isolates, zero-width space and
# word joiner, line/paragraph separators, the byte-order mark; shown as an escape (\u202e).
# The joiners U+200C/D stay: emoji sequences and Persian or Indic text need them.
INVISIBLE = (
    [0x061C, 0x180E, 0x200B, 0x200E, 0x200F, 0x2028, 0x2029, 0x2060, 0xFEFF]
    + list(range(0x202A, 0x202F))
    + list(range(0x2066, 0x206A))
)
_CONTROLS.update({c: f"\\u{c:04x}" for c in INVISIBLE})


def visible_controls(text: str) -> str:
    r"""``text`` with control characters other than newline and tab, and invisible
    characters that reorder text (bidi controls, zero-width space), shown visibly.

    >>> visible_controls("a\x00b\tc\x85 invoice_\u202efdp.exe")
    'a␀b\tc\\x85 invoice_\\u202efdp.exe'
    """
    return text.translate(_CONTROLS)


def esc(value: object) -> str:
    r"""``value`` as text that is safe in HTML element content and in quoted attributes.

    Control characters (other than newline and tab) are shown visibly, never written raw.

    >>> esc("<\x00>")
    '&lt;␀&gt;'
    """
    return html.escape(visible_controls(str(value)), quote=True)


def language_of(text: str) -> str:
    """The BCP 47 tag a page's ``lang`` gets: ``ja`` for Japanese text, ``en`` for Latin script, else ``und``.

    Why: browsers pick fonts and line breaking by ``lang``; Japanese declared as English is
    drawn with Chinese glyph shapes on many systems. Japanese is told by its kana (Chinese
    has none); a text with no letters at all is ``und`` (undetermined).

    >>> language_of("吾輩は猫である。"), language_of("It was a bright day."), language_of("你好世界"), language_of("123")
    ('ja', 'en', 'und', 'und')
    """
    kana = han = latin = other = 0
    for ch in text[:100_000]:  # a sample decides; the whole of a big text says no more
        if "\u3040" <= ch <= "\u30ff" or "\uff66" <= ch <= "\uff9f":
            kana += 1
        elif "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
            han += 1
        elif ch.isascii() and ch.isalpha() or "\u00c0" <= ch <= "\u024f":
            latin += 1
        elif ch.isalpha():
            other += 1
    letters = kana + han + latin + other
    if kana and kana + han >= letters / 2:
        return "ja"
    if latin and latin >= letters / 2:
        return "en"
    return "und"


def page(title: str, subtitle: str, sections: Iterable[str], *, lang: str = "en") -> str:
    """A whole HTML document: ``title`` as <title> and <h1>, then the (already safe) sections.

    ``lang``: the language of the page's text (:func:`language_of`).
    """
    return (
        f"<!DOCTYPE html>\n<html lang=\"{esc(lang)}\"><head><meta charset=\"utf-8\">"
        f'<meta name="generator" content="tokenmill {__version__}">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1><p class=\"sub\">{esc(subtitle)}</p>"
        # Sections are safe already; this pass catches a control character in any Safe HTML.
        + visible_controls("\n".join(sections))
        + "</body></html>\n"
    )


def section(heading: str, *parts: str, anchor: str | None = None) -> str:
    """One <section> with an <h2>; ``parts`` are HTML already made safe."""
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{esc(heading)}</h2>" + "".join(parts) + "</section>"


def cards(items: Iterable[tuple[str, object]]) -> str:
    """Big numbers with a label under each (the summary at the top of a section)."""
    return '<div class="cards">' + "".join(
        f'<div class="card"><b>{esc(_fmt(v))}</b><span>{esc(k)}</span></div>' for k, v in items
    ) + "</div>"


def table(header: Iterable[str] | None, rows: Iterable[Iterable[object]], *, numeric: Iterable[int] = ()) -> str:
    """A table of escaped cells; columns in ``numeric`` are right-aligned and get thousands separators.

    >>> table(["a", "n"], [["<b>", 1234]], numeric=[1])
    '<table><tr><th>a</th><th class="n">n</th></tr><tr><td>&lt;b&gt;</td><td class="n">1,234</td></tr></table>'
    """
    num = set(numeric)
    cls = lambda i: ' class="n"' if i in num else ""  # noqa: E731
    head = "" if header is None else "<tr>" + "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(header)) + "</tr>"
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{_cell(v)}</td>" for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table>{head}{body}</table>"


class Safe(str):
    """HTML that tokenmill built itself and that :func:`table` must not escape again."""


def _cell(value: object) -> str:
    return value if isinstance(value, Safe) else esc(_fmt(value))


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def write_html(path: str | os.PathLike[str], document: str, *, overwrite: bool = False) -> int:
    """Write ``document`` to ``path`` atomically (temp file + rename); returns its size in bytes.

    Refused (ValueError) inside a token store or over a file that is not a tokenmill page,
    unless ``overwrite`` (:func:`check_writable`).
    """
    target = check_writable(path, overwrite=overwrite)
    data = document.encode("utf-8", errors="replace")  # a lone surrogate (from argv) becomes "?"
    atomic_write_bytes(target, data)
    return len(data)


# What marks a directory as a token store (prepare's manifest, or its progress record).
STORE_MARKERS = ("manifest.json", ".progress.json")
# How a page this tool wrote is recognised: the generator tag every page carries, or the
# Content-Security-Policy line of pages written before the tag existed.
_OWN_PAGE_MARKS = (b'<meta name="generator" content="tokenmill', f'content="{CSP}"'.encode())
_HEAD_BYTES = 4096  # both marks are in a page's <head>, within its first few hundred bytes


def is_tokenmill_page(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is an HTML page that tokenmill wrote (so a new page may replace it)."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError:
        return False
    return head.lstrip().lower().startswith(b"<!doctype html") and any(m in head for m in _OWN_PAGE_MARKS)


def store_above(path: str | os.PathLike[str]) -> str | None:
    """The token store directory that holds ``path`` at any depth, or None.

    >>> store_above("/") is None
    True
    """
    here = os.path.dirname(os.path.realpath(os.fspath(path)))
    while True:
        if any(os.path.lexists(os.path.join(here, m)) for m in STORE_MARKERS):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def check_writable(path: str | os.PathLike[str], *, overwrite: bool = False) -> str:
    """``path`` as a str if a page may be written there, else a ValueError that says why (call it early).

    Pitfall: a page never replaces what it should not: inside a token store (a directory
    with ``manifest.json`` or ``.progress.json`` above the target) or over an existing file
    that is not a tokenmill page, it is refused unless ``overwrite``; a page tokenmill wrote
    is replaced.
    """
    target = os.fspath(path)
    if os.path.isdir(target):
        raise ValueError(f"{target} is a directory; give a file name, e.g. {os.path.join(target, 'report.html')}")
    parent = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(parent):
        raise ValueError(f"cannot write {target}: the directory {parent} does not exist; create it first (mkdir -p)")
    if overwrite:
        return target
    store = store_above(target)
    if store is not None:
        raise OptionError(
            "overwrite",
            "refusing to write {0}: it is inside the token store {1}; write the page elsewhere "
            "(e.g. report.html), or pass {overwrite}",
            target, store,
        )
    if os.path.lexists(target) and not is_tokenmill_page(target):
        raise OptionError(
            "overwrite",
            "refusing to replace {0}: it is not a page tokenmill wrote; give another file name, or pass {overwrite}",
            target,
        )
    return target
