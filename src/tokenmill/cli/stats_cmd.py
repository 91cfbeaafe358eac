"""`tokenmill stats`: what a token store holds (documents, tokens, lengths, top tokens)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tokenmill.cli.terminal import safe, safe_json
from tokenmill.common.checks import non_negative_int, positive_int
from tokenmill.tokenizers.display import shown_token

EPILOG = """\
examples:
  tokenmill stats store/                  # a readable summary of every split
  tokenmill stats store/ --split val      # one split only
  tokenmill stats store/ --json --top 20  # machine-readable, 20 most common tokens
  tokenmill stats store/ --verify         # check every shard's sha256 and structure
  tokenmill stats store/ --max-length 1024 # windows, padding and cut documents per layout
  tokenmill stats s3://bucket/store       # a store on S3 (AWS_* variables, ~/.aws), through the cache
  tokenmill stats s3://bucket/store --verify  # stream every object and check its sha256
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "stats",
        help="summarise (or --verify) a token store made by `tokenmill prepare`",
        description="Summarise a token store: documents, tokens, bytes per token, document-length "
        "percentiles and the most common tokens, per split and in total.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "dir", metavar="DIR", help="the store directory (the --out of `tokenmill prepare`), or its URL (s3://bucket/prefix)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--top",
        type=int,
        default=10,
        metavar="K",
        help="how many most common tokens to list (default 10; 0 skips counting)",
    )
    p.add_argument("--split", metavar="S", default=None, help="only this split (default: all)")
    p.add_argument(
        "--verify",
        action="store_true",
        help="check every shard's sha256 and structure instead; exit 1 if any is bad",
    )
    p.add_argument(
        "--max-length",
        type=int,
        default=None,
        metavar="N",
        help="also show what each window layout (sliding, documents, packed) makes of the store at "
        "max_length N: windows, padding share, documents cut",
    )
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from tokenmill.storage import CorruptObjectError, StorageError
    from tokenmill.store import TokenStore

    non_negative_int("top", args.top)
    if args.max_length is not None:
        positive_int("max_length", args.max_length)
    try:
        store = TokenStore.open(args.dir)
    except ValueError as exc:
        # a URL that cannot be read (no bucket, no credentials, no manifest) is the user's to fix: exit 2
        if not args.verify or (isinstance(exc, StorageError) and not isinstance(exc, CorruptObjectError)):
            raise
        return _verify_failed(args, str(exc))
    if args.verify:
        try:
            store.verify()
        except ValueError as exc:
            if isinstance(exc, StorageError) and not isinstance(exc, CorruptObjectError):
                raise
            return _verify_failed(args, str(exc))
        n_shards = sum(len(store.manifest["splits"][s]["shards"]) for s in store.splits)
        if args.json:
            print(json.dumps({"ok": True, "path": str(store.path), "shards": n_shards}))
        else:
            shards = f"{n_shards} shard{'s' if n_shards != 1 else ''} ({2 * n_shards} files)"
            print(f"OK: {safe(store.path)}: {shards} match their sha256 and structure")
        return 0
    splits = None if args.split is None else [args.split]
    stats = store.stats(top_k=args.top, splits=splits)
    if args.max_length is not None:
        from tokenmill.loader.layouts import store_layout_figures

        stats["layouts"] = store_layout_figures(store, args.max_length, splits)
    # Manifest strings may hold terminal escapes: printed escaped, never as commands.
    if args.json:  # ensure_ascii: every control character escaped
        print(json.dumps(stats, indent=2))
    else:
        print(safe(format_table(stats, tokenizer=_tokenizer_of(store)), keep_newlines=True))
    return 0


def _verify_failed(args: argparse.Namespace, message: str) -> int:
    if args.json:
        print(safe_json(json.dumps({"ok": False, "path": str(args.dir), "error": message})))
    print(f"tokenmill stats: verify FAILED: {safe(message)}", file=sys.stderr)
    return 1


def _num(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _tokenizer_of(store: Any) -> Any:
    try:
        return store.tokenizer
    except (ValueError, OSError, ImportError, KeyError):  # the table still shows the decoded text
        return None


def format_table(stats: dict[str, Any], *, tokenizer: Any = None) -> str:
    """Render :meth:`TokenStore.stats` output as a plain-text table.

    With the store's ``tokenizer``, a top token holding part of a character shows its bytes.
    """
    columns = [*stats["splits"], "total"] if len(stats["splits"]) > 1 else list(stats["splits"]) or ["total"]
    blocks = {name: stats["splits"].get(name, stats["total"]) for name in columns}
    eot = stats["eot"]
    lines = [
        f"store      {stats['path']}",
        f"tokenizer  {stats['tokenizer']}  dtype {stats['dtype']}  eot {eot['policy']}"
        + (f" (id {eot['id']})" if eot["id"] is not None else ""),
        "",
    ]
    rows: list[tuple[str, list[str]]] = [
        ("documents", [_num(blocks[c]["documents"]) for c in columns]),
        ("tokens", [_num(blocks[c]["tokens"]) for c in columns]),
        ("shards", [_num(blocks[c]["shards"]) for c in columns]),
    ]
    for key in ("min", "p10", "p50", "p90", "p99", "max", "mean"):
        rows.append(
            (f"doc tokens {key}", [_num((blocks[c]["document_tokens"] or {}).get(key)) for c in columns])
        )
    total = stats["total"]
    if "bytes" in total:
        rows.append(("input bytes", ["" for _ in columns[:-1]] + [_num(total["bytes"])]))
        rows.append(("bytes per token", ["" for _ in columns[:-1]] + [_num(total["bytes_per_token"])]))
    label_w = max(len(r[0]) for r in rows)
    widths = [max(len(c), *(len(r[1][i]) for r in rows)) for i, c in enumerate(columns)]
    lines.append(" " * label_w + "  " + "  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    lines += [
        label.ljust(label_w) + "  " + "  ".join(v.rjust(w) for v, w in zip(vals, widths))
        for label, vals in rows
    ]
    lines += _prepare_lines(stats["prepare"])
    if stats.get("layouts"):
        from tokenmill.cli.layout_table import layout_lines

        lines += layout_lines(stats["layouts"])
    top = total.get("top_tokens")
    if top:
        lines += [
            "",
            f"top {len(top)} tokens ({columns[-1]}):",
            f"{'id':>8}  {'count':>12}  {'share':>7}  text",
        ]
        for t in top:
            text = repr(t["text"]) if t["text"] is not None else "?"  # None: no vocabulary to decode with
            if tokenizer is not None and t["text"] is not None:  # b'\xe4\xb8' for part of a character, as tokenize shows it
                text = shown_token(tokenizer.decode_tokens_bytes([t["id"]])[0])
            lines.append(f"{t['id']:>8}  {t['count']:>12,}  {t['share']:>7.2%}  {text}")
        if stats.get("tokenizer_error"):
            lines.append(f"(token texts not shown: {stats['tokenizer_error']})")
    return "\n".join(lines)


# The manifest's counters, labelled once (empty documents are skipped, never stored).
_COUNTERS = (
    ("empty_documents", "empty documents skipped"),
    ("bad_lines_skipped", "bad lines skipped"),
    ("eot_spellings", "EOT spellings kept as text"),
    ("replacements", "U+FFFD replacements"),
    ("unknown_files_skipped", "files of unknown type skipped"),
    ("empty_files", "empty input files"),
)


def _prepare_lines(prepared: dict[str, Any]) -> list[str]:
    known = [(label, prepared[key]) for key, label in _COUNTERS if key in prepared]
    known += [(k, v) for k, v in sorted(prepared.items()) if k not in dict(_COUNTERS)]
    known = [(k, v) for k, v in known if k not in ("documents", "bytes_read")]  # shown in the table
    if not known:
        return []
    width = max(len(k) for k, _ in known)
    return ["", "while preparing (from the manifest):"] + [f"  {k.ljust(width)}  {_num(v)}" for k, v in known]
