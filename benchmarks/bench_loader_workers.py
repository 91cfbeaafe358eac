"""Batches per second of ``create_dataloader`` over a memory-mapped token file at num_workers 0, 1 and 2.

A batch from a token store is one vectorised gather from memory-mapped shards; worker
processes add pickling and inter-process copies of each batch on top. This measures the
ratio, side by side in one run, rounds interleaved, on a synthetic uint16 token file (the
gather's cost does not depend on which tokens they are).

Usage::

    python benchmarks/bench_loader_workers.py            # 20 M tokens, batch 8 x 1024, 3 rounds
    python benchmarks/bench_loader_workers.py --batches 400 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import torch

from tokenmill.loader.dataloader import create_dataloader


def rate(loader: object, n: int) -> float:
    """Batches per second over ``n`` batches, the iterator's start (workers' spawn) included."""
    start = time.perf_counter()
    it = iter(loader)  # type: ignore[call-overload]
    for _ in range(n):
        next(it)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20_000_000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tokens.bin")
        rng = np.random.default_rng(0)
        rng.integers(0, 50257, size=args.tokens, dtype=np.uint16).tofile(path)
        mm = np.memmap(path, dtype=np.uint16, mode="r")
        rates: dict[int, list[float]] = {w: [] for w in args.workers}
        for _ in range(args.rounds):
            for w in args.workers:
                loader = create_dataloader(
                    mm, batch_size=args.batch_size, max_length=args.max_length, seed=0, num_workers=w,
                    persistent_workers=False,
                )
                rates[w].append(rate(loader, args.batches))
        base = statistics.median(rates[args.workers[0]])
        print(f"{args.tokens:,} tokens, batch {args.batch_size} x {args.max_length}, {args.batches} batches, "
              f"median of {args.rounds} rounds")
        print("| num_workers | batches/s | vs num_workers=%d |" % args.workers[0])
        print("|---|---|---|")
        for w in args.workers:
            med = statistics.median(rates[w])
            print(f"| {w} | {med:,.0f} | {med / base:.2f}x |")


if __name__ == "__main__":
    main()
