"""prepare to s3:// (a local S3 server: moto on 127.0.0.1) vs prepare to a local directory, same run.

The same corpus (synthetic .jsonl, ``--mb`` MB) is prepared ``--repeat`` times each way,
alternating, with ``--workers`` workers; the median wall time of each and their ratio are
printed. The S3 run uploads every shard and task record and publishes the manifest; the
objects are then compared with the local store's files (they must be equal).

Run: .venv/bin/python benchmarks/bench_s3_prepare.py [--mb 40] [--repeat 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.prepare.kills import synthetic_corpus  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    import boto3
    from bench_s3 import start_server  # a moto server on 127.0.0.1, the AWS_* variables set

    endpoint = start_server()
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="bench")
    from tokenmill.prepare import PrepareOptions, run_prepare

    tmp = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    os.environ["TOKENMILL_CACHE_DIR"] = str(tmp / "cache")
    corpus = synthetic_corpus(tmp / "corpus.jsonl", args.mb * 1500 // 10, seed=0)  # ~10 MB per 1,500 documents
    options = PrepareOptions(workers=args.workers, progress=False, shard_tokens=1_000_000, val_fraction=0.01)
    times: dict[str, list[float]] = {"local": [], "s3": []}
    for i in range(args.repeat):
        for kind in ("local", "s3"):
            out = tmp / f"local{i}" if kind == "local" else f"s3://bench/run{i}"
            started = time.perf_counter()
            report = run_prepare([corpus], out, options)
            times[kind].append(time.perf_counter() - started)
        shards = report.store.manifest["splits"]["train"]["shards"]
    local, s3 = statistics.median(times["local"]), statistics.median(times["s3"])
    size = corpus.stat().st_size / 1e6
    objects = client.list_objects_v2(Bucket="bench", Prefix=f"run{args.repeat - 1}/")["KeyCount"]
    local_files = {p.name: p.read_bytes() for p in (tmp / f"local{args.repeat - 1}").iterdir()}
    same = all(
        client.get_object(Bucket="bench", Key=f"run{args.repeat - 1}/{name}")["Body"].read() == data
        for name, data in local_files.items()
    )
    print(f"corpus {size:.0f} MB, {len(shards)} train shards, {objects} objects, workers {args.workers}, "
          f"median of {args.repeat}; objects equal to the local files: {same}")
    print("| out | median s | runs (s) |")
    print("|---|---:|---|")
    for kind, median in (("local directory", local), ("s3:// (moto, 127.0.0.1)", s3)):
        runs = times["local" if kind.startswith("local") else "s3"]
        print(f"| {kind} | {median:.2f} | {', '.join(f'{t:.2f}' for t in runs)} |")
    print(f"ratio s3 / local: {s3 / local:.2f}x")


if __name__ == "__main__":
    main()
