"""Tokens as coloured spans: the text exactly as written, each token's ID and bytes on hover.

A token's bytes need not be whole characters (GPT-2 cuts many CJK characters and emoji into
two or three byte-level tokens). Such tokens are grouped until their bytes decode, shown as
one span marked ``partial`` (dashed outline) whose hover lists every token of the group.
Whitespace stays in the text (copying gives back the input) and is made visible with CSS
marks (``·`` for a space, ``↵`` for a newline, ``→`` for a tab) that are not part of it.

>>> from tokenmill.tokenizers import get_tokenizer
>>> tok = get_tokenizer("gpt2")
>>> [(g.ids, g.text, g.partial) for g in token_groups(tok, tok.encode("hi 世"))]
[([5303], 'hi', False), ([220], ' ', False), ([10310, 244], '世', True)]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tokenmill.html.page import cards, esc, language_of, page

# How many tokens one panel renders at most: a page stays a few MB whatever the input.
MAX_TOKENS_SHOWN = 20_000
_WS = re.compile(r"( |\t|\r\n|\n|\r)")
_WS_CLASS = {" ": "sp", "\t": "tab", "\n": "nl", "\r\n": "nl", "\r": "cr"}


@dataclass(frozen=True)
class TokenGroup:
    """One span of the page: a token, or the tokens that together make whole characters."""

    ids: list[int]  # the token IDs, in order
    pieces: list[bytes]  # each token's bytes
    text: str  # what the group's bytes decode to (U+FFFD where they never complete)
    partial: bool  # True when a token of the group holds only part of a character


def token_groups(tok: Any, ids: Sequence[int]) -> list[TokenGroup]:
    """Group ``ids`` into spans that decode to whole characters (see the module doc)."""
    groups: list[TokenGroup] = []
    pending_ids: list[int] = []
    pending: list[bytes] = []
    for token_id, piece in zip(ids, tok.decode_tokens_bytes(list(ids))):
        pending_ids.append(int(token_id))
        pending.append(piece)
        data = b"".join(pending)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason == "unexpected end of data" and len(pending) < 4:
                continue  # a character continues in the next token
            text = data.decode("utf-8", errors="replace")
        groups.append(TokenGroup(pending_ids, pending, text, _is_partial(pending)))
        pending_ids, pending = [], []
    if pending:  # the text ended inside a character (e.g. truncated IDs)
        groups.append(TokenGroup(pending_ids, pending, b"".join(pending).decode("utf-8", "replace"), True))
    return groups


def _is_partial(pieces: list[bytes]) -> bool:
    if len(pieces) > 1:
        return True
    try:
        pieces[0].decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _hover(group: TokenGroup) -> str:
    parts = [f"ID {i} · bytes {p.hex(' ') or '(none)'}" for i, p in zip(group.ids, group.pieces)]
    if group.partial:
        parts.append(f"{len(group.ids)} token(s) holding part of a UTF-8 character")
    return "\n".join(parts)


def visible(text: str) -> str:
    """Escaped ``text`` with each whitespace character wrapped so that CSS can mark it.

    >>> visible("a b\\n<")
    'a<span class="ws sp"> </span>b<span class="ws nl">\\n</span>&lt;'
    """
    out = []
    for i, part in enumerate(_WS.split(text)):
        if i % 2:
            out.append(f'<span class="ws {_WS_CLASS[part]}">{part}</span>')
        elif part:
            out.append(esc(part))
    return "".join(out)


def render_tokens(tok: Any, ids: Sequence[int], *, limit: int = MAX_TOKENS_SHOWN) -> str:
    """The ``<div class="toks">`` with one span per token group (at most ``limit`` tokens)."""
    special = set(getattr(tok, "special_tokens", {}).values())
    shown = list(ids[:limit])
    spans = []
    for n, group in enumerate(token_groups(tok, shown)):
        cls = "t special" if special.intersection(group.ids) else f"t t{n % 2}"
        if group.partial:
            cls += " partial"
        ids_attr = " ".join(map(str, group.ids))
        spans.append(
            f'<span class="{cls}" data-ids="{ids_attr}" title="{esc(_hover(group))}">{visible(group.text)}</span>'
        )
    more = ""
    if len(ids) > len(shown):
        more = f'<p class="note">… {len(ids) - len(shown):,} more tokens not shown (the page shows the first {len(shown):,}).</p>'
    return f'<div class="toks">{"".join(spans)}</div>{more}'


def token_summary(tok: Any, text: str, ids: Sequence[int]) -> dict[str, Any]:
    """The numbers a tokenizer panel shows: tokens, characters, bytes, bytes and characters per token."""
    n_bytes = len(text.encode("utf-8", errors="surrogatepass"))
    n = len(ids)
    partial = sum(len(g.ids) for g in token_groups(tok, ids) if g.partial)
    return {
        "tokenizer": tok.name,
        "tokens": n,
        "characters": len(text),
        "bytes": n_bytes,
        "bytes_per_token": round(n_bytes / n, 3) if n else 0.0,
        "characters_per_token": round(len(text) / n, 3) if n else 0.0,
        "partial_tokens": partial,
    }


def tokens_panel(tok: Any, text: str, ids: Sequence[int]) -> str:
    """One tokenizer's view of ``text``: the numbers, then the coloured tokens."""
    s = token_summary(tok, text, ids)
    numbers = cards(
        [
            ("tokens", s["tokens"]),
            ("characters", s["characters"]),
            ("bytes (UTF-8)", s["bytes"]),
            ("bytes per token", s["bytes_per_token"]),
            ("characters per token", s["characters_per_token"]),
            ("tokens in partial characters", s["partial_tokens"]),
        ]
    )
    return (
        f'<div class="panel" data-tokenizer="{esc(tok.name)}"><h2>{esc(tok.name)}</h2>{numbers}'
        f"{render_tokens(tok, ids)}</div>"
    )


LEGEND = (
    '<p class="legend note"><span><span class="t t0">alternating</span> <span class="t t1">colours</span> = '
    'one token each</span><span><span class="t t0 partial">dashed</span> = token(s) holding part of a '
    'character</span><span><span class="t special">special</span> token</span><span>· space, ↵ newline, '
    "→ tab</span><span>hover a token for its ID and bytes</span></p>"
)


def tokens_page(text: str, encoded: Sequence[tuple[Any, Sequence[int]]], *, source: str = "text") -> str:
    """The page of ``tokenmill tokenize --html``: one panel per (tokenizer, IDs), side by side."""
    names = ", ".join(tok.name for tok, _ in encoded)
    columns = f"grid-template-columns:repeat({len(encoded)},minmax(0,1fr))"
    panels = "".join(tokens_panel(tok, text, ids) for tok, ids in encoded)
    body = f'<div class="side" style="{columns}">{panels}</div>'
    return page(
        "Tokens", f"{source}: {len(text):,} characters, cut by {names}", [LEGEND, body], lang=language_of(text)
    )


__all__ = ["MAX_TOKENS_SHOWN", "TokenGroup", "render_tokens", "token_groups", "token_summary", "tokens_page", "visible"]
