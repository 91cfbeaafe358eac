"""`tokenmill cache`: see and clear the local cache that stores on object storage are read through."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tokenmill.cli.terminal import safe

EPILOG = """\
examples:
  tokenmill cache info                    # where the cache is, how many shards and bytes it holds
  tokenmill cache info --json             # the same, machine-readable
  tokenmill cache clear                   # remove every cached shard no running loader is using
  tokenmill cache clear --cache-dir /scratch/tm-cache   # a cache given as cache_dir= to the loader

The cache lives under $TOKENMILL_CACHE_DIR (else $XDG_CACHE_HOME/tokenmill, else
~/.cache/tokenmill), in objects/; shards are named by their sha256, so stores that share a shard
share its bytes. Clearing it is always safe: shards are fetched again when needed.
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "cache",
        help="see or clear the local cache of shards read from object storage (s3://)",
        description="See or clear the local cache that `TokenStore.open('s3://...')` and "
        "`create_dataloader('s3://...')` read shards through.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=("info", "clear"), help="info: what it holds; clear: remove what no reader uses")
    p.add_argument(
        "--cache-dir", metavar="DIR", default=None,
        help="the cache's directory (default: objects/ under tokenmill's cache dir)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a sentence")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from tokenmill.common.words import human_bytes
    from tokenmill.storage.cache import ObjectCache

    cache = ObjectCache(args.cache_dir)
    if args.action == "info":
        info = cache.info()
        info.pop("limit")  # a limit belongs to each reader, not to the directory
        if args.json:
            print(json.dumps(info))
        else:
            partial = f", {info['partial']} download(s) in progress" if info["partial"] else ""
            print(safe(f"{info['root']}: {info['objects']} object(s), {human_bytes(info['bytes'])}{partial}"))
        return 0
    done = cache.clear()
    if args.json:
        print(json.dumps({"root": str(cache.root), **done}))
    else:
        kept = f"; kept {done['in_use']} in use by a running reader" if done["in_use"] else ""
        print(safe(f"{cache.root}: removed {done['removed']} object(s), {human_bytes(done['bytes'])}{kept}"))
    return 0
