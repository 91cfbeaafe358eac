"""`tokenmill prepare`: tokenize a corpus into a token store (parallel, resumable)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EPILOG = """\
examples:
  tokenmill prepare corpus.jsonl.xz --out store/            # all cores, GPT-2, EOT after each doc
  tokenmill prepare books/ 'extra/*.txt' --out store/       # a directory (recursive) and a glob
  tokenmill prepare data.parquet --text-field content --out store/ --val-fraction 0.01
  tokenmill prepare corpus.jsonl --out store/ --engine riptoken   # faster, checked against tiktoken
  tokenmill prepare corpus.jsonl --out store/               # rerun after a crash: resumes

Inputs: .txt (one file = one document), .jsonl (one document per line, --text-field),
.parquet (the --text-field column); .txt/.jsonl may be .gz, .xz or .zst compressed.
A rerun with other inputs or options on the same --out is refused unless --overwrite.
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from tokenmill.prepare.engines import ENGINES
    from tokenmill.prepare import DEFAULT_SHARD_TOKENS, EOT_POLICIES, ERROR_POLICIES

    p = subparsers.add_parser(
        "prepare",
        help="tokenize a corpus into a token store (parallel, resumable)",
        description="Tokenize text files into a token store: uint16/uint32 shards plus a manifest, "
        "byte-identical whatever the number of workers, resumable after a crash.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="files, directories or globs, taken in this order"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="the store directory to create (or resume)")
    p.add_argument("--tokenizer", default="gpt2", help="tiktoken name or tokenizer file (default gpt2)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="tokenizing processes (default: all cores; 0: in-process)",
    )
    p.add_argument(
        "--eot",
        choices=EOT_POLICIES,
        default="append",
        help="where each document's end-of-text token goes (default append)",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.0,
        metavar="F",
        help="fraction of documents for the val split, by a seeded hash (default 0)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the train/val hash (default 0)")
    p.add_argument(
        "--text-field",
        default="text",
        metavar="NAME",
        help="the JSON key / parquet column holding the text (default text)",
    )
    p.add_argument(
        "--errors",
        choices=ERROR_POLICIES,
        default="replace",
        help="invalid UTF-8: replace with U+FFFD and count (default), or stop",
    )
    p.add_argument(
        "--shard-tokens",
        type=int,
        default=DEFAULT_SHARD_TOKENS,
        metavar="N",
        help=f"tokens per shard (default {DEFAULT_SHARD_TOKENS:,}: 200 MB of uint16)",
    )
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="tiktoken",
        help="tokenizing engine (riptoken: faster, pip install 'tokenmill[fast]')",
    )
    p.add_argument(
        "--skip-bad-lines",
        action="store_true",
        help="skip (and count) .jsonl lines that are not JSON or lack the text field",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace a store made from other inputs or options"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from tokenmill.prepare import PrepareOptions, run_prepare

    options = PrepareOptions(
        tokenizer=args.tokenizer,
        workers=args.workers,
        eot=args.eot,
        val_fraction=args.val_fraction,
        seed=args.seed,
        text_field=args.text_field,
        errors=args.errors,
        shard_tokens=args.shard_tokens,
        engine=args.engine,
        skip_bad_lines=args.skip_bad_lines,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    try:
        report = run_prepare(args.inputs, args.out, options)
    except RuntimeError as exc:  # an interrupted run (the partial store is kept for a rerun)
        print(f"tokenmill prepare: error: {exc}", file=sys.stderr)
        return 1
    m = report.store.manifest
    stats, splits = m["stats"], m["splits"]
    tokens = sum(s["n_tokens"] for s in splits.values())
    shards = sum(len(s["shards"]) for s in splits.values())
    mb, secs = stats["bytes_read"] / 1e6, max(report.seconds, 1e-9)
    run_mb = report.run_bytes / 1e6  # rates count this run's work only (less when resumed)
    if report.up_to_date:
        print(
            f"up to date: {stats['documents']:,} documents, {tokens:,} tokens, "
            f"{shards} shards in {report.store.path}"
        )
        return 0
    resumed = f" (resumed after {report.resumed_shards} shards)" if report.resumed_shards else ""
    rates = f"{run_mb / secs:.1f} MB/s, {report.run_tokens / secs / 1e6:.2f}M tokens/s"
    print(
        f"{stats['documents']:,} documents, {tokens:,} tokens, {mb:,.1f} MB in {secs:.1f} s ({rates}), "
        f"{shards} shards -> {report.store.path}{resumed}"
    )
    return 0
