"""`tokenmill prepare`: tokenize a corpus into a token store (parallel, resumable)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

EPILOG = """\
examples:
  tokenmill prepare corpus.jsonl.xz --out store/            # all cores, GPT-2, EOT after each doc
  tokenmill prepare notes.txt -o store/                     # -o is --out
  tokenmill prepare books/ 'extra/*.txt' --out store/       # a directory (recursive) and a glob
  tokenmill prepare data.parquet --text-field content --out store/ --val-fraction 0.01
  tokenmill prepare corpus.jsonl --out store/ --engine riptoken   # faster, checked against tiktoken
  tokenmill prepare corpus.jsonl --out store/               # rerun after a crash: skips finished tasks
  tokenmill prepare corpus.jsonl --out store/               # rerun on a damaged store: repairs it
  tokenmill prepare corpus.jsonl -t my-tokenizer.json --out store/  # the file is copied into the store
  tokenmill prepare shards/ --out store/ --executor ray     # on a local Ray (127.0.0.1 only)
  tokenmill prepare /nfs/corpus/ --out /nfs/store --executor ray --ray-address 10.0.0.5:6379
  tokenmill prepare /nfs/corpus/ --out /nfs/store --executor ray --ray-address head:6379 --ray-timeout 30
  tokenmill prepare huge-lines.jsonl --out store/ --max-document-bytes 2000000000  # if RAM allows ~6 GB
  tokenmill prepare corpus.jsonl --out s3://bucket/stores/web    # to S3: AWS_* variables or ~/.aws
  AWS_ENDPOINT_URL=http://127.0.0.1:9000 tokenmill prepare corpus/ --out s3://bucket/store  # MinIO
  tokenmill prepare corpus/ --out s3://bucket/store --executor ray  # workers upload: no shared FS
  tokenmill prepare corpus/ --out s3://bucket/store --overwrite  # replace it; stale objects go

Inputs: .txt (one file = one document), .jsonl (one document per line, --text-field),
.parquet (the --text-field column); .txt/.jsonl may be .gz, .xz or .zst compressed.
Inside a directory, files of other types (LICENSE, .DS_Store, images) are skipped and
counted; a file named explicitly must be of a supported type.
The work is split into tasks (a file, or a 1-64 MB range of a big .jsonl; a big compressed
.jsonl is first decompressed once into --out) that workers read, tokenize and write
themselves; a rerun skips the tasks already done,
and the store is byte-identical whatever --workers or --executor ran it. With --executor
ray the inputs and --out must be at the same path on every node (a shared file system),
unless --out is an s3:// URL: each task then stages its shards in a local temporary directory
(under tokenmill's cache) and uploads them, then its record; manifest.json goes up last, with
a conditional put, so a half-written store is never taken for a finished one, and an
existing store is never replaced without --overwrite. A rerun after a crash skips the tasks
finished in the bucket. Credentials and endpoint: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION, AWS_ENDPOINT_URL (plain http:// allowed for a local server) or ~/.aws.
A rerun checks the store (sizes, indexes, sha256) and rebuilds it if a shard is damaged;
a rerun with other inputs or options on the same --out is refused unless --overwrite.
The progress bar counts input bytes on disk (compressed, if the files are); the summary
shows both the text (the UTF-8 bytes tokenized, never the JSON around them) and the disk
bytes, and counts every data problem: U+FFFD replacements, bad lines skipped, empty
documents and files, files of unknown type, an empty train or val split.
Shards are per task (--shard-tokens is a cap): many small inputs give many small shards.
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
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="the store directory to create (or resume), or s3://BUCKET/PREFIX")
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
    """What a failed or interrupted run left (finished tasks, resumed by a rerun), as it is."""
    from tokenmill.prepare.leftovers import kept_work

    return kept_work(args.out)


def summary(report: Any) -> str:
    """The one line prepare prints on stdout when it is done: what it made, and every data problem."""
    from tokenmill.common.words import human_bytes, plural
    from tokenmill.prepare.manifest import data_notes

    m = report.store.manifest
    stats, splits = m["stats"], m["splits"]
    tokens = sum(s["n_tokens"] for s in splits.values())
    shards = plural(sum(len(s["shards"]) for s in splits.values()), "shard")
    what = f"{plural(stats['documents'], 'document')}, {plural(tokens, 'token')}"
    notes = [f"{name} split EMPTY (all documents drawn into the other: "
             f"{'raise' if name == 'val' else 'lower'} --val-fraction)"
             for name in ("train", "val") if name in splits and "val" in splits and not splits[name]["n_documents"]]
    if problems := data_notes(stats):
        notes.insert(0, "data: " + ", ".join(problems))
    if report.up_to_date:
        return "; ".join([f"up to date: {what}, {shards} in {report.store.path}", *notes])
    secs = max(report.seconds, 1e-9)
    disk = f", {human_bytes(report.disk_bytes)} on disk" if report.disk_bytes != stats["bytes_read"] else ""
    token_rate = report.run_tokens / secs  # rates count this run's work only (less when resumed)
    token_rate_words = f"{token_rate / 1e6:.2f}M" if token_rate >= 1e5 else f"{token_rate:,.0f}"
    rates = f"{human_bytes(report.run_bytes / secs)}/s of text, {token_rate_words} tokens/s"
    if report.skipped_tasks:
        notes.insert(0, f"resumed: skipped {report.skipped_tasks:,} of {plural(report.tasks, 'task')} "
                        "finished by an earlier run")
    if getattr(report, "executor", "local") == "ray":
        notes.insert(0, f"tasks ran on Ray ({plural(max(1, len(report.nodes)), 'node')})")
    elif len(report.nodes) > 1:
        notes.insert(0, f"tasks ran on {plural(len(report.nodes), 'node')}")
    line = (f"{what}, {human_bytes(stats['bytes_read'])} of text{disk} in {secs:.1f} s ({rates}), "
            f"{shards} -> {report.store.path}")
    return "; ".join([line, *notes])
