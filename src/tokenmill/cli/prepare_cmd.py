"""`tokenmill prepare`: tokenize a corpus into a token store (parallel, resumable)."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

EPILOG = """\
examples:
  tokenmill prepare corpus.jsonl.xz --out store/            # all cores, GPT-2, EOT after each doc
  tokenmill prepare books/ 'extra/*.txt' --out store/       # a directory (recursive) and a glob
  tokenmill prepare data.parquet --text-field content --out store/ --val-fraction 0.01
  tokenmill prepare corpus.jsonl --out store/ --engine riptoken   # faster, checked against tiktoken
  tokenmill prepare corpus.jsonl --out store/               # rerun after a crash: skips finished tasks
  tokenmill prepare shards/ --out store/ --executor ray     # on a local Ray (127.0.0.1 only)
  tokenmill prepare /nfs/corpus/ --out /nfs/store --executor ray --ray-address 10.0.0.5:6379

Inputs: .txt (one file = one document), .jsonl (one document per line, --text-field),
.parquet (the --text-field column); .txt/.jsonl may be .gz, .xz or .zst compressed.
The work is split into tasks (a file, or a 16 MB range of an uncompressed .jsonl) that
workers read, tokenize and write themselves; a rerun skips the tasks already done, and
the store is byte-identical whatever --workers or --executor ran it. With --executor ray
the inputs and --out must be at the same path on every node (a shared file system).
A rerun with other inputs or options on the same --out is refused unless --overwrite.
A file reached twice (a directory and a glob over it) is read once, with a warning; --out
may live inside an input directory (it is skipped). Memory: .txt documents stream in
1 MB pieces whatever their size; a .jsonl line longer than 64 MB is parsed whole, needing
about 2x its size in memory (ASCII text; more for non-ASCII: Python keeps such a string
at 2-4 bytes per character). Measured: a 104 MB line peaks at 263 MB RSS in all.
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from tokenmill.prepare import DEFAULT_SHARD_TOKENS, EOT_POLICIES, ERROR_POLICIES
    from tokenmill.prepare.engines import ENGINES

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
    p.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="what runs the tasks: local processes (default) or Ray (pip install 'tokenmill[ray]')",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="with --executor ray: the cluster's HOST:PORT (default: start a local Ray on 127.0.0.1)",
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
        executor=args.executor,
        ray_address=args.ray_address,
    )

    def show(message: Any, *_: Any, **__: Any) -> None:  # a warning is for the user: no source line
        print(f"tokenmill prepare: warning: {message}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            report = run_prepare(args.inputs, args.out, options)
    except RuntimeError as exc:  # an interrupted run (the partial store is kept for a rerun)
        print(f"tokenmill prepare: error: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, PermissionError):
        raise  # input errors, reported (exit 2) before any work started
    except OSError as exc:  # disk full, I/O error: the shards written so far are durable
        print(
            f"tokenmill prepare: error: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename else "")
            + f"; the partial store in {args.out} is kept: free space or fix the disk, then rerun "
            "the same command to resume",
            file=sys.stderr,
        )
        return 1
    m = report.store.manifest
    stats, splits = m["stats"], m["splits"]
    tokens = sum(s["n_tokens"] for s in splits.values())
    n_shards = sum(len(s["shards"]) for s in splits.values())
    shards = f"{n_shards} shard{'' if n_shards == 1 else 's'}"
    mb, secs = stats["bytes_read"] / 1e6, max(report.seconds, 1e-9)
    run_mb = report.run_bytes / 1e6  # rates count this run's work only (less when resumed)
    if report.up_to_date:
        print(
            f"up to date: {stats['documents']:,} documents, {tokens:,} tokens, "
            f"{shards} in {report.store.path}"
        )
        return 0
    resumed = (
        f" (resumed: skipped {report.skipped_tasks} of {report.tasks} tasks finished by an earlier run)"
        if report.skipped_tasks
        else ""
    )
    if "val" in splits and not splits["val"]["n_documents"]:
        resumed += "; val split EMPTY (no document drawn: raise --val-fraction)"
    rates = f"{run_mb / secs:.1f} MB/s, {report.run_tokens / secs / 1e6:.2f}M tokens/s"
    print(
        f"{stats['documents']:,} documents, {tokens:,} tokens, {mb:,.1f} MB in {secs:.1f} s ({rates}), "
        f"{shards} -> {report.store.path}{resumed}"
    )
    return 0
