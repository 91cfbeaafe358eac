"""`tokenmill prepare`: tokenize a corpus into a token store (parallel, resumable)."""

from __future__ import annotations

import argparse
import re
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
  tokenmill prepare corpus.jsonl --out store/               # rerun on a damaged store: repairs it
  tokenmill prepare corpus.jsonl -t my-tokenizer.json --out store/  # the file is copied into the store
  tokenmill prepare shards/ --out store/ --executor ray     # on a local Ray (127.0.0.1 only)
  tokenmill prepare /nfs/corpus/ --out /nfs/store --executor ray --ray-address 10.0.0.5:6379

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
    p.add_argument(
        "-t",
        "--tokenizer",
        default="gpt2",
        help="tiktoken name, or a tokenizer file or directory (copied into the store; default gpt2)",
    )
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
        "--overwrite",
        action="store_true",
        help="replace a store made from other inputs or options (or rebuild this one)",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="also re-read every shard written and check its sha256 (kept shards are always checked)",
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


# Library messages name an option as "python_name=value (--flag value)": the CLI names the flag.
_PY_THEN_FLAG = re.compile(r"\b[a-z_]+(?:=\S+)? \((--[a-z-]+(?: [^()\s]+)?)\)")
_FLAGS = {
    "val_fraction": "--val-fraction",
    "shard_tokens": "--shard-tokens",
    "workers": "--workers",
    "seed": "--seed",
    "skip_bad_lines": "--skip-bad-lines",
    "overwrite": "--overwrite",
}


def _flag_value(m: re.Match[str]) -> str | None:
    flag = _FLAGS.get(m.group(1))
    if flag is None:
        return None
    return flag if m.group(2) == "True" else f"{flag} {m.group(2)}"


def cli_message(message: str) -> str:
    """A library error in command-line words: flags, not Python parameters.

    >>> cli_message("fix it, or pass skip_bad_lines=True (--skip-bad-lines) to skip them")
    'fix it, or pass --skip-bad-lines to skip them'
    >>> cli_message("val_fraction must be in [0, 1), got 1.5")
    '--val-fraction must be in [0, 1), got 1.5'
    >>> cli_message("val_fraction=0.001 put none of the 9 documents in val; raise val_fraction (--val-fraction)")
    '--val-fraction 0.001 put none of the 9 documents in val; raise --val-fraction'
    """
    message = _PY_THEN_FLAG.sub(r"\1", message)
    message = re.sub(r"\b(engine|eot|errors)='([\w-]+)'", r"--\1 \2", message)
    message = re.sub(r"\b([a-z_]+)=(\S+)", lambda m: _flag_value(m) or m.group(0), message)
    head, _, rest = message.partition(" must be ")
    if rest and head in _FLAGS:
        rest = rest.replace("an int >= 0 (0: tokenize in this process) or None (all cores)", ">= 0 (0: in-process)")
        message = f"{_FLAGS[head]} must be {rest}"
    return message


def run(args: argparse.Namespace) -> int:
    from tokenmill.prepare import PrepareOptions, run_prepare

    try:
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
            verify=args.verify,
            executor=args.executor,
            ray_address=args.ray_address,
        )
    except (ValueError, TypeError) as exc:
        raise ValueError(cli_message(str(exc))) from None

    def show(message: Any, *_: Any, **__: Any) -> None:  # a warning is for the user: no source line
        print(f"tokenmill prepare: warning: {cli_message(str(message))}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            report = run_prepare(args.inputs, args.out, options)
    except KeyboardInterrupt:
        print(
            f"tokenmill prepare: interrupted; the finished shards in {args.out} are kept: "
            "rerun the same command to resume",
            file=sys.stderr,
        )
        return 130
    except RuntimeError as exc:  # an interrupted run (the partial store is kept for a rerun)
        print(f"tokenmill prepare: error: {cli_message(str(exc))}", file=sys.stderr)
        return 1
    except (ValueError, TypeError) as exc:
        raise ValueError(cli_message(str(exc))) from None
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
    print(summary(report))
    return 0


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
