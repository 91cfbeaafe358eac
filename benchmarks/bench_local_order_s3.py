"""Bytes downloaded per epoch by a real loader from s3:// (moto on 127.0.0.1), cache_limit at 10% of the store.

A synthetic corpus is prepared into a bucket (``--shards`` shards or so), then
``create_dataloader(URL, seed=..., cache_limit=10% of the store, order=...)`` reads one epoch
(the local order) or its first ``--uniform-fraction`` (the uniform order, whose whole epoch
would download the store hundreds of times over; its figure is extrapolated, and said so).
Bytes are counted where the store's cache downloads an object; the peak cache size is
sampled after every batch.

Run: .venv/bin/python benchmarks/bench_local_order_s3.py [--mb 20] [--uniform-fraction 0.05]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.prepare.kills import synthetic_corpus  # noqa: E402


def du(path: Path) -> int:
    """Bytes of the cache's objects (an object evicted while it is counted counts 0)."""
    total = 0
    for p in path.rglob("*"):
        if "sha256" in p.parts:
            try:
                total += p.stat().st_size if p.is_file() else 0
            except FileNotFoundError:
                pass
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=20)
    ap.add_argument("--shard-tokens", type=int, default=100_000)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--uniform-fraction", type=float, default=0.05)
    args = ap.parse_args()
    import boto3
    from bench_s3 import start_server  # a moto server on 127.0.0.1, the AWS_* variables set

    endpoint = start_server()
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="bench")
    import tokenmill.store.remote as remote_mod
    from tokenmill.loader.dataloader import create_dataloader
    from tokenmill.prepare import PrepareOptions, run_prepare

    tmp = Path(tempfile.mkdtemp(prefix="bench-order-"))
    os.environ["TOKENMILL_CACHE_DIR"] = str(tmp / "cache")
    corpus = synthetic_corpus(tmp / "corpus.jsonl", args.mb * 150, seed=0)
    report = run_prepare([corpus], "s3://bench/store", PrepareOptions(workers=2, progress=False,
                                                                       shard_tokens=args.shard_tokens))
    shards = report.store.manifest["splits"]["train"]["shards"]
    store_bytes = sum(s["n_tokens"] for s in shards) * 2
    limit = store_bytes // 10
    downloaded = [0]
    keys: set[str] = set()
    real = remote_mod._download

    def counting(storage, key, out):  # noqa: ANN001, ANN202
        if not key.endswith(".bin"):
            return real(storage, key, out)
        keys.add(key)

        class Counting:  # the bytes as they arrive
            def write(self, data):  # noqa: ANN001, ANN202
                downloaded[0] += memoryview(data).nbytes
                return out.write(data)

        return real(storage, key, Counting())

    remote_mod._download = counting
    print(f"store: {len(shards)} train shards, {store_bytes / 1e6:.1f} MB; cache_limit {limit / 1e6:.1f} MB (10%); "
          f"windows of {args.max_length}, batches of {args.batch}")
    print("| order | batches read | downloaded / store (per epoch) | peak cache / limit | s |")
    print("|---|---:|---:|---:|---:|")
    for order in ("local", "uniform"):
        downloaded[0] = 0
        keys.clear()
        cache = tmp / f"c-{order}"
        loader = create_dataloader("s3://bench/store", seed=1, max_length=args.max_length, batch_size=args.batch,
                                   cache_dir=cache, cache_limit=limit, order=order)
        n = len(loader) if order == "local" else max(1, int(len(loader) * args.uniform_fraction))
        peak, started = 0, time.perf_counter()
        for i, _ in enumerate(loader):
            peak = max(peak, du(cache))
            if i + 1 >= n:
                break
        seconds = time.perf_counter() - started
        per_epoch = downloaded[0] / store_bytes * len(loader) / n
        note = "" if n == len(loader) else f" (extrapolated from {n / len(loader):.0%} of the epoch)"
        print(f"| {order} | {n} of {len(loader)}, {len(keys)} distinct shards | {per_epoch:.2f}x{note} | {peak / limit:.2f} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
