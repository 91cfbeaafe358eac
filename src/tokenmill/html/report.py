"""``tokenmill report``: one self-contained HTML page that shows what a token store holds.

Everything comes from :class:`~tokenmill.store.TokenStore` and the numbers of
``tokenmill stats`` (:meth:`TokenStore.stats`); the pictures' data is computed by the same
functions stats uses (``document_offsets`` for lengths, ``token_counts`` for frequencies).

Pitfall: the page is bounded whatever the store's size: a fixed sample of documents (each
cut to ``sample_tokens``), at most ``max_shards`` rows of the shard table per split and
``max_inputs`` input files; what is left out is counted on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import tokenmill.html.plots as plots
from tokenmill.html.page import Safe, cards, esc, language_of, page, section, table
from tokenmill.html.tokens import LEGEND, render_tokens, visible


@dataclass(frozen=True)
class ReportOptions:
    """How much of a store the page shows (the page's size is bounded by these)."""

    top_k: int = 50  # most frequent tokens listed
    sample_documents: int = 12  # documents rendered with token boundaries (spread over the store)
    show_all_below: int = 50  # a store of at most this many documents shows every one of them
    sample_tokens: int = 400  # tokens shown per sampled document
    max_shards: int = 200  # shard-table rows per split
    max_inputs: int = 50  # input files listed
    max_length: int | None = None  # show what each window layout makes of the store at this length


def report_data(store: Any, options: ReportOptions = ReportOptions()) -> dict[str, Any]:
    """Everything the page shows, as plain data: stats, histogram, Zipf points, sample choice."""
    stats = store.stats(top_k=options.top_k)
    lengths = np.concatenate(
        [np.diff(store.document_offsets(s)) for s in store.splits] or [np.zeros(0, np.int64)]
    )
    counts = None
    for split in store.splits:
        c = store.token_counts(split)
        if counts is None:
            counts = c
        else:
            size = max(len(c), len(counts))
            counts = np.pad(counts, (0, size - len(counts))) + np.pad(c, (0, size - len(c)))
    counts = np.zeros(0, np.int64) if counts is None else counts
    eot = store.eot_id
    return {
        "stats": stats,
        "lengths": lengths,
        "histogram": plots.length_histogram(lengths),
        "zipf": plots.zipf_points(counts),
        "distinct_tokens": int(np.count_nonzero(counts)),
        "eot_count": int(counts[eot]) if eot is not None and eot < len(counts) else 0,
        "sample": sample_documents(store, _how_many(store, options)),
    }


def _how_many(store: Any, options: ReportOptions) -> int:
    total = sum(store.num_documents(s) for s in store.splits)
    return total if total <= options.show_all_below else options.sample_documents


def sample_documents(store: Any, n: int) -> list[tuple[str, int]]:
    """``n`` (split, index) pairs spread evenly over the store (first and last included); fixed.

    >>> class S:
    ...     splits = ("train", "val")
    ...     def num_documents(self, split): return {"train": 100, "val": 10}[split]
    >>> sample_documents(S(), 5)
    [('train', 0), ('train', 33), ('train', 66), ('train', 99), ('val', 0)]
    """
    sizes = {s: store.num_documents(s) for s in store.splits}
    total = sum(sizes.values())
    n = min(n, total)
    want = dict.fromkeys(sizes, 0)
    for _ in range(n):  # one at a time to the split with the most documents per pick (D'Hondt)
        s = max((s for s in sizes if want[s] < sizes[s]), key=lambda s: (want[s] == 0, sizes[s] / (want[s] + 1)))
        want[s] += 1
    picks = []
    for s, k in want.items():
        if k:
            picks += [(s, int(i)) for i in np.unique(np.linspace(0, sizes[s] - 1, k).round().astype(int))]
    return picks


def report_page(store: Any, options: ReportOptions = ReportOptions()) -> str:
    """The whole report page for ``store`` (see the module doc)."""
    data = report_data(store, options)
    stats, m = data["stats"], store.manifest
    total = stats["total"]
    sections = [
        _summary(store, stats, data),
        section(
            "Document lengths",
            plots.histogram_svg(*data["histogram"]) if total["documents"] else "<p>No documents.</p>",
            _length_table(stats),
            anchor="lengths",
        ),
        section(
            "Token frequencies (Zipf)",
            plots.zipf_svg(*data["zipf"]),
            f'<p class="note">{data["distinct_tokens"]:,} distinct token IDs occur, of '
            f'{int(m["tokenizer"].get("vocab_size") or 0):,} in the vocabulary.</p>',
            anchor="zipf",
        ),
        _top_tokens(store, stats),
        _eot_and_counters(store, stats, data),
        _splits(store, stats),
        _shards(store, options),
    ]
    if options.max_length is not None:
        from tokenmill.html.layout import layout_section

        sections.append(layout_section(store, options.max_length))
    samples, lang = _samples(store, data["sample"], options)
    sections.append(samples)
    # The store's path once, as the subtitle; the title stays the same for every store.
    return page("Token store report", f"{store.path}", sections, lang=lang)


def _summary(store: Any, stats: dict[str, Any], data: dict[str, Any]) -> str:
    m, total = store.manifest, stats["total"]
    tok = m["tokenizer"]
    numbers = cards(
        [
            ("documents", total["documents"]),
            ("tokens", total["tokens"]),
            ("input bytes", total.get("bytes")),
            ("bytes per token", total.get("bytes_per_token")),
            ("shards", total["shards"]),
            ("splits", ", ".join(store.splits)),
        ]
    )
    rows = [
        ("format", f'{m.get("format")} v{m.get("format_version")}'),
        ("tokenmill version", m.get("tokenmill_version")),
        ("tokenizer", f'{tok.get("name")} (vocabulary {tok.get("vocab_size")}, max ID {tok.get("max_token_value")})'),
        ("ranks sha256", Safe(f'<span class="hash">{esc(tok.get("ranks_sha256") or "-")}</span>')),
        ("dtype", m.get("dtype")),
        ("EOT", f'{store.eot_policy}' + (f" (ID {store.eot_id})" if store.eot_id is not None else "")),
        ("options", ", ".join(f"{k.replace('_', '-')} {_plain(v)}" for k, v in sorted(m.get("options", {}).items()))),
    ]
    inputs = m.get("inputs", [])
    shown = inputs[:50]
    rows.append(
        ("inputs", Safe("<br>".join(f'<span class="mono">{esc(i.get("path", i))}</span> ({int(i.get("size", 0)):,} bytes)' for i in shown)
             + (f'<br><span class="note">… and {len(inputs) - len(shown):,} more</span>' if len(inputs) > len(shown) else "")))
    )
    return section("Manifest", numbers, table(None, rows), anchor="manifest")


def _plain(value: Any) -> str:
    """An option's value as a person reads it, not as Python writes it (yes/no, none, a, b).

    >>> _plain(False), _plain(None), _plain(["a", "b"]), _plain(0.01), _plain("gpt2")
    ('no', 'none', 'a, b', '0.01', 'gpt2')
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items()) or "none"
    return str(value)


def _length_table(stats: dict[str, Any]) -> str:
    keys = ("min", "p10", "p50", "p90", "p99", "max", "mean")
    rows = [
        [name, *((block["document_tokens"] or {}).get(k) for k in keys)]
        for name, block in [*stats["splits"].items(), ("total", stats["total"])]
    ]
    return table(["split", *keys], rows, numeric=range(1, len(keys) + 1))


def _top_tokens(store: Any, stats: dict[str, Any]) -> str:
    top = stats["total"].get("top_tokens") or []
    try:
        pieces = store.tokenizer.decode_tokens_bytes([t["id"] for t in top])
    except (ValueError, OSError, ImportError, KeyError):
        pieces = [None] * len(top)
    rows = [[i + 1, t["id"], t["count"], f'{t["share"]:.2%}', Safe(_token_cell(piece, i))]
            for i, (t, piece) in enumerate(zip(top, pieces))]
    half = (len(rows) + 1) // 2
    header = ["rank", "ID", "count", "share", "decoded"]
    tables = "".join(f"<div>{table(header, part, numeric=(0, 1, 2, 3))}</div>" for part in (rows[:half], rows[half:]) if part)
    return section(f"Top {len(top)} tokens", f'<div class="grid2">{tables}</div>', anchor="top")


def _token_cell(piece: bytes | None, i: int) -> str:
    """A token's text, or its bytes in hex where they are part of a character (e.g. b'\\xe2\\x80')."""
    if piece is None:
        return "?"
    try:
        return f'<span class="mono t t{i % 2}">{visible(piece.decode("utf-8"))}</span>'
    except UnicodeDecodeError:
        return f'<span class="mono t t{i % 2} partial hex" title="part of a UTF-8 character">{piece.hex(" ")}</span>'



def _eot_and_counters(store: Any, stats: dict[str, Any], data: dict[str, Any]) -> str:
    prep = stats.get("prepare", {})
    rows = [
        ("EOT policy", store.eot_policy),
        ("EOT ID", store.eot_id),
        ("EOT tokens stored", data["eot_count"]),
        ("EOT spellings in the text (kept as text)", prep.get("eot_spellings")),
        ("U+FFFD replacements (invalid UTF-8, lone surrogates)", prep.get("replacements")),
        ("bad lines skipped", prep.get("bad_lines_skipped")),
        ("empty documents skipped", prep.get("empty_documents")),
        ("documents read", prep.get("documents")),
        ("input bytes read", prep.get("bytes_read")),
    ]
    known = {"eot_spellings", "replacements", "bad_lines_skipped", "empty_documents", "documents", "bytes_read"}
    rows += [(k, v) for k, v in sorted(prep.items()) if k not in known]
    return section("Separators, replacements and skipped input", table(None, rows, numeric=[1]), anchor="counters")


def _splits(store: Any, stats: dict[str, Any]) -> str:
    opts = store.manifest.get("options", {})
    rows = [[s, b["documents"], b["tokens"], b["shards"]] for s, b in stats["splits"].items()]
    note = f'val_fraction {opts.get("val_fraction", "-")}, seed {opts.get("seed", "-")}'
    rule = store.manifest.get("split_rule")
    parts = [table(["split", "documents", "tokens", "shards"], rows, numeric=(1, 2, 3)), f'<p class="note">{esc(note)}</p>']
    if rule:
        parts.append(f'<p class="note">{esc(rule)}</p>')
    return section("Train / val split", *parts, anchor="splits")


def _shards(store: Any, options: ReportOptions) -> str:
    rows, left = [], 0
    for split in store.splits:
        shards = store.manifest["splits"][split]["shards"]
        left += max(len(shards) - options.max_shards, 0)
        for sh in shards[: options.max_shards]:
            rows.append([Safe(f'<span class="mono nowrap">{esc(sh["name"])}</span>'), sh["n_documents"], sh["n_tokens"],
                         Safe(f'<span class="hash">{esc(sh["bin_sha256"])}</span>'),
                         Safe(f'<span class="hash">{esc(sh["idx_sha256"])}</span>')])
    more = f'<p class="note">… {left:,} more shards (all in manifest.json).</p>' if left else ""
    return section("Shards", table(["shard", "documents", "tokens", ".bin sha256", ".idx sha256"], rows, numeric=(1, 2)), more, anchor="shards")


def _samples(store: Any, picks: list[tuple[str, int]], options: ReportOptions) -> tuple[str, str]:
    """The sample section, and the language of the sampled text (the page's ``lang``).

    Each document also declares its own language, so a Japanese document in an English
    store is drawn with Japanese glyphs.
    """
    try:
        tok = store.tokenizer
    except (ValueError, OSError, ImportError) as exc:
        return section("Sample documents", f"<p>Cannot decode: {esc(exc)}</p>", anchor="samples"), "en"
    parts, texts = [LEGEND], []
    offsets = {s: store.document_offsets(s) for s in {s for s, _ in picks}}
    for split, i in picks:
        a, b = int(offsets[split][i]), int(offsets[split][i + 1])
        ids = store[split][a:b].tolist()
        shown = ids[: options.sample_tokens]
        text = b"".join(tok.decode_tokens_bytes(shown)).decode("utf-8", "replace")
        texts.append(text)
        cut = f", first {options.sample_tokens:,} shown" if len(ids) > options.sample_tokens else ""
        parts.append(
            f'<div class="doc"><h3>{esc(split)} document {i:,} ({len(ids):,} tokens{cut})</h3>'
            f'<div lang="{language_of(text)}">{render_tokens(tok, ids, limit=options.sample_tokens)}</div></div>'
        )
    lang = language_of("".join(texts)) if texts else "en"
    return section(f"Sample of {len(picks)} documents", *parts, anchor="samples"), lang
