"""`tokenmill prepare`: tokenize a corpus into a token store (parallel, resumable)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

EPILOG = """\
examples:
  tokenmill prepare corpus.jsonl.xz --out store/            # all cores, GPT-2, EOT after each doc
  tokenmill prepare books/ 'extra/*.txt' --out store/       # a directory (recursive) and a glob
  tokenmill prepare data.parquet --text-field content --out store/ --val-fraction 0.01
  tokenmill prepare corpus.jsonl --out store/ --engine riptoken   # faster, checked against tiktoken
  tokenmill prepare corpus.jsonl --out store/               # rerun after a crash: skips finished tasks
  tokenmill prepare corpus.jsonl --out store/               # rerun on a damaged store: repairs it
  tokenmill prepare corpus.jsonl -t my-tokenizer.json --out store/  # the file is copied into the store
  tokenmill prepare shards/ --out store/ --executor ray     # on a local Ray (127.0.0.1 only)
  tokenmill prepare /nfs/corpus/ --out /nfs/store --executor ray --ray-address 10.0.0.5:6379
  tokenmill prepare huge-lines.jsonl --out store/ --max-document-bytes 2000000000  # if RAM allows ~6 GB

Inputs: .txt (one file = one document), .jsonl (one document per line, --text-field),
.parquet (the --text-field column); .txt/.jsonl may be .gz, .xz or .zst compressed.
Inside a directory, files of other types (LICENSE, .DS_Store, images) are skipped and
counted; a file named explicitly must be of a supported type.
The work is split into tasks (a file, or a 1-64 MB range of a big .jsonl; a big compressed
.jsonl is first decompressed once into --out) that workers read, tokenize and write
themselves; a rerun skips the tasks already done,
and the store is byte-identical whatever --workers or --executor ran it. With --executor
ray the inputs and --out must be at the same path on every node (a shared file system).
A rerun checks the store (sizes, indexes, sha256) and rebuilds it if a shard is damaged;
a rerun with other inputs or options on the same --out is refused unless --overwrite.
The progress bar counts input bytes on disk (compressed, if the files are); the summary
shows both text and disk bytes.
A file reached twice (a directory and a glob over it) is read once, with a warning; --out
may live inside an input directory (it is skipped). Memory: .txt documents stream in
1 MB pieces whatever their size, and a huge document is encoded in pieces yet stays one
document (cut where the IDs cannot change; where no such place is near, as in Japanese
text, cut anyway and counted as unsafe_cuts in the manifest's stats); a .jsonl line is
parsed whole, about 3x its size in memory, so one over --max-document-bytes is refused,
naming it. The progress bar moves inside a big task.
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
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
    add_option_flags(p)
    p.set_defaults(run=run, after_failure=_kept)
    return p


def add_option_flags(p: argparse.ArgumentParser) -> None:
    """One flag per :class:`~tokenmill.prepare.options.PrepareOptions` field, from its metadata."""
    from tokenmill.prepare.options import PrepareOptions

    for f in dataclasses.fields(PrepareOptions):
        meta = dict(f.metadata)
        flag, help_text = meta.pop("flag"), meta.pop("help")
        names = [meta.pop("short"), flag] if "short" in meta else [flag]
        meta.pop("store", None)
        if meta.pop("negate", False):  # --quiet sets progress=False
            p.add_argument(*names, dest=f.name, action="store_false", help=help_text)
        elif isinstance(f.default, bool):
            p.add_argument(*names, dest=f.name, action="store_true", help=help_text)
        else:
            p.add_argument(*names, dest=f.name, default=f.default, help=help_text, **meta)


def run(args: argparse.Namespace) -> int:
    from tokenmill.prepare import PrepareOptions, run_prepare

    options = PrepareOptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(PrepareOptions)})
    report = run_prepare(args.inputs, args.out, options)
    print(summary(report))
    return 0


def _kept(args: argparse.Namespace) -> str:
    """What a failed or interrupted run leaves: the finished tasks, resumed by a rerun (or nothing)."""
    from pathlib import Path

    from tokenmill.store.format import MANIFEST_NAME, PROGRESS_NAME

    out = Path(args.out)
    if not (out / PROGRESS_NAME).exists() and not (out / MANIFEST_NAME).exists():  # the run left no trace
        return f"no task had finished, so nothing was kept in {args.out}"
    return f"the partial store in {args.out} keeps the finished tasks: rerun the same command to resume"


def summary(report: Any) -> str:
    """The one line prepare prints on stdout when it is done."""
    m = report.store.manifest
    stats, splits = m["stats"], m["splits"]
    tokens = sum(s["n_tokens"] for s in splits.values())
    n_shards = sum(len(s["shards"]) for s in splits.values())
    shards = f"{n_shards} shard{'' if n_shards == 1 else 's'}"
    skipped = stats.get("unknown_files_skipped", 0)
    skip_note = f"; skipped {skipped:,} file{'' if skipped == 1 else 's'} of unknown type" if skipped else ""
    if report.up_to_date:
        return (
            f"up to date: {stats['documents']:,} documents, {tokens:,} tokens, "
            f"{shards} in {report.store.path}{skip_note}"
        )
    mb, secs = stats["bytes_read"] / 1e6, max(report.seconds, 1e-9)
    run_mb = report.run_bytes / 1e6  # rates count this run's work only (less when resumed)
    resumed = (
        f" (resumed: skipped {report.skipped_tasks} of {report.tasks} tasks finished by an earlier run)"
        if report.skipped_tasks
        else ""
    )
    if "val" in splits and not splits["val"]["n_documents"]:
        resumed += "; val split EMPTY (no document drawn: raise --val-fraction)"
    nodes = f"; tasks ran on {len(report.nodes)} nodes" if len(report.nodes) > 1 else ""
    disk = f", {report.disk_bytes / 1e6:,.1f} MB on disk" if report.disk_bytes != stats["bytes_read"] else ""
    rates = f"{run_mb / secs:.1f} MB/s of text, {report.run_tokens / secs / 1e6:.2f}M tokens/s"
    return (
        f"{stats['documents']:,} documents, {tokens:,} tokens, {mb:,.1f} MB of text{disk} in {secs:.1f} s "
        f"({rates}), {shards} -> {report.store.path}{resumed}{skip_note}{nodes}"
    )
