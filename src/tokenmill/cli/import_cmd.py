"""`tokenmill import`: Megatron, datatrove, nanoGPT, llm.c or parquet token files made into a token store."""

from __future__ import annotations

import argparse
from typing import Any

EPILOG = """\
examples:
  tokenmill import megatron/ --format megatron --tokenizer gpt2 --out store/   # every *_text_document pair
  tokenmill import data/books_text_document --format megatron -t gpt2 --out store/  # one prefix: split train
  tokenmill import dt/ --format datatrove --tokenizer gpt2 --out store/       # train.ds, val.ds (+ .ds.index)
  tokenmill import data/openwebtext/ --format nanogpt -t gpt2 --out store/    # train.bin, val.bin
  tokenmill import fineweb10B/ --format llmc -t gpt2 --out store/             # *_val_*.bin, *_train_*.bin
  tokenmill import pq/ --format parquet -t gpt2 --out store/                  # SPLIT.parquet, input_ids rows

The files hold IDs only: name the tokenizer that made them (an ID beyond it is refused).
Megatron, datatrove and parquet keep document boundaries exactly; nanoGPT and llm.c files
do not, so documents are cut at the EOT token (--eot append: after it, nanoGPT's custom;
--eot prepend: before it, llm.c's) and the manifest says "boundaries": "inferred".
The store is written beside --out, verified, then renamed into place. See docs/export.md.
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from tokenmill.cli.export_cmd import add_option_flags
    from tokenmill.export import IMPORT_FORMATS, ImportOptions

    p = subparsers.add_parser(
        "import",
        help="read Megatron, datatrove, nanoGPT, llm.c or parquet token files into a token store",
        description="Import token files that another tool (or `tokenmill export`) wrote into a regular "
        "token store, for the loader, stats, report and verify.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("src", metavar="SRC", help="a directory of files, one file, or a Megatron path prefix")
    p.add_argument("--format", required=True, metavar="FORMAT", help=f"one of: {', '.join(IMPORT_FORMATS)}")
    p.add_argument("-t", "--tokenizer", required=True, metavar="NAME",
                   help="the tokenizer that made the IDs (a tiktoken name, or a tokenizer file or directory)")
    p.add_argument("-o", "--out", required=True, metavar="STORE", help="the store directory to create (new or empty)")
    add_option_flags(p, ImportOptions)
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from tokenmill.export import import_store

    store = import_store(args.src, args.format, args.out, tokenizer=args.tokenizer, eot=args.eot,
                         split=args.split, shard_tokens=args.shard_tokens)
    parts = ", ".join(f"{s}: {store.num_documents(s):,} documents, {store.num_tokens(s):,} tokens" for s in store.splits)
    how = store.manifest["boundaries"]
    print(f"wrote {args.out} ({parts}); document boundaries {how}, EOT policy {store.eot_policy}; verified")
    return 0
