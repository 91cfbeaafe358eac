"""`tokenmill export`: a token store written in a trainer's own format (nanoGPT, llm.c, Megatron, ...)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

EPILOG = """\
examples:
  tokenmill export store/ --format nanogpt -o data/mycorpus/        # train.bin, val.bin (uint16)
  tokenmill export store/ --format megatron -o megatron/            # train_text_document.bin/.idx, val_...
  tokenmill export store/ --format megatron --prefix books -o m/    # books_text_document.bin/.idx (one split)
  tokenmill export store/ --format llmc --name fineweb -o llmc/     # fineweb_val_000000.bin, fineweb_train_000001.bin
  tokenmill export store/ --format datatrove -o dt/                 # train.ds (+ .ds.index, .ds.metadata)
  tokenmill export store/ --format litdata --block-size 2049 -o lit/  # litgpt --data LitData (max_seq_length 2048)
  tokenmill export store/ --format parquet -o pq/                   # train.parquet: one input_ids row per document

The output directory must be new or empty; files are written beside it, re-read and compared
token by token with the store, and only then renamed into place, with tokenmill-export.json
(store checksum, tokenizer, EOT policy, every file's sha256). Tokens are exported as stored:
choose the EOT policy at prepare time (llm.c expects --eot prepend; nanoGPT, Megatron,
datatrove and litgpt append). See docs/export.md.
"""


def add_option_flags(p: argparse.ArgumentParser, options: type) -> None:
    """The flags of an options dataclass, from each field's metadata (flag, help, argparse keywords)."""
    for f in dataclasses.fields(options):
        meta = dict(f.metadata)
        flag, help_text = meta.pop("flag"), meta.pop("help")
        meta.setdefault("dest", f.name)
        if meta.get("action") is None:
            meta.setdefault("default", f.default)
        p.add_argument(flag, help=help_text, **meta)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from tokenmill.export import EXPORT_FORMATS, ExportOptions

    p = subparsers.add_parser(
        "export",
        help="write a token store in a trainer's format (nanogpt, llmc, megatron, datatrove, litdata, parquet)",
        description="Export a token store made by `tokenmill prepare` to the files another trainer reads, "
        "streaming shard by shard in bounded memory.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dir", metavar="STORE", help="the store directory (the --out of `tokenmill prepare`)")
    p.add_argument("--format", required=True, metavar="FORMAT", help=f"one of: {', '.join(EXPORT_FORMATS)}")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="the directory to create (new or empty)")
    add_option_flags(p, ExportOptions)
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from tokenmill.export import export

    record = export(args.dir, args.format, args.out, prefix=args.prefix, block_size=args.block_size,
                    name=args.name, shard_tokens=args.shard_tokens, check=args.check)
    size = sum(f["bytes"] for f in record["files"].values())
    tokens = sum(s["n_tokens"] for s in record["store"]["splits"].values())
    checked = "re-read and checked" if record["checked"] else "not checked (--no-check)"
    print(f"wrote {args.out}: {len(record['files'])} files, {size / 1e6:.2f} MB, {tokens:,} tokens, "
          f"{record['export_format']} format, {checked}")
    if "suits_block_sizes" in record:
        print(f"litdata chunks suit block sizes that are {record['suits_block_sizes']}")
    return 0
