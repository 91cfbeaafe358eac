"""Bytes downloaded per epoch through a cache at 10% of the store: the uniform order vs the local order.

A store of ``--shards`` shards of ``--shard-tokens`` tokens (uint16) is read window by window
(``max_length`` = stride = ``--window``) in the order of each seeded permutation, by ``--ranks``
ranks of ``--batch`` windows (the global batch contract). The cache is simulated exactly as
the loader's is bounded: least-recently-used whole shards, at most ``--cache`` of the store's
bytes; a miss downloads the shard. Reported per order: bytes downloaded in one epoch / the
store's bytes, the peak cache, distinct shards per global batch, and the mixing (|correlation|
of position vs window index, over the epoch and within each global batch).

Run: .venv/bin/python benchmarks/bench_local_order.py [--shards 200] [--shard-tokens 1000000]
"""

from __future__ import annotations

import argparse
from collections import OrderedDict

import numpy as np

from tokenmill.loader.block_permutation import LocalOrder
from tokenmill.loader.permutation import Permutation


def epoch_downloads(order: np.ndarray, window_shards: np.ndarray, starts_in: np.ndarray, cache_shards: int) -> tuple[int, int]:
    """(shard downloads, peak shards held) reading windows in ``order`` through an LRU of ``cache_shards``."""
    lru: OrderedDict[int, None] = OrderedDict()
    misses = peak = 0
    for w in order.tolist():
        for s in range(starts_in[w], window_shards[w] + 1):  # a window may straddle two shards
            if s in lru:
                lru.move_to_end(s)
                continue
            misses += 1
            lru[s] = None
            if len(lru) > cache_shards:
                lru.popitem(last=False)
            peak = max(peak, len(lru))
    return misses, peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", type=int, default=200)
    ap.add_argument("--shard-tokens", type=int, default=1_000_000)
    ap.add_argument("--window", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--ranks", type=int, default=8)
    ap.add_argument("--cache", type=float, default=0.10)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    # shards of slightly different sizes, as prepare writes them (a shard closes at a document end)
    rng = np.random.default_rng(0)
    sizes = (args.shard_tokens * rng.uniform(0.9, 1.0, args.shards)).astype(np.int64)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    n_windows = int((bounds[-1] - 1) // args.window)
    starts = np.arange(n_windows, dtype=np.int64) * args.window
    first = np.searchsorted(bounds, starts, side="right") - 1
    last = np.searchsorted(bounds, starts + args.window, side="right") - 1
    last = np.minimum(last, args.shards - 1)
    cache_shards = max(1, int(args.cache * args.shards))
    B = args.batch * args.ranks
    local = LocalOrder.for_shards(n_windows, args.shards, cache_shards)
    orders = {
        "uniform": Permutation(n_windows, seed=args.seed),
        f"local (auto: {local.block_windows} x {local.group_blocks})": local.permutation(n_windows, seed=args.seed),
        "local (block 1 shard, 4 groups)": LocalOrder(n_windows // args.shards, 4).permutation(n_windows, seed=args.seed),
        "local (1024 x 8, the LocalOrder() default)": LocalOrder().permutation(n_windows, seed=args.seed),
    }
    store_mb = bounds[-1] * 2 / 1e6
    print(f"store: {args.shards} shards, {bounds[-1]:,} tokens ({store_mb:,.0f} MB uint16), {n_windows:,} windows of "
          f"{args.window}; cache {cache_shards} shards ({args.cache:.0%}); global batch {B} ({args.ranks} x {args.batch})")
    print("| order | downloaded / store | peak cache (shards) | shards per global batch | abs corr, epoch | abs corr, in a batch |")
    print("|---|---:|---:|---:|---:|---:|")
    positions = np.arange(n_windows)
    for name, perm in orders.items():
        order = perm(positions)
        misses, peak = epoch_downloads(order, last, first, cache_shards)
        downloaded = misses * float(np.mean(sizes)) / bounds[-1]  # shards downloaded, at their mean size
        batches = order[: n_windows - n_windows % B].reshape(-1, B)
        per_batch = np.mean([len(np.unique(first[b])) for b in batches])
        corr = abs(np.corrcoef(positions, order)[0, 1])
        inner = np.nanmean([abs(np.corrcoef(np.arange(B), b)[0, 1]) for b in batches[:500]])
        print(f"| {name} | {downloaded:.2f}x | {peak} | {per_batch:.1f} | {corr:.3f} | {inner:.3f} |")


if __name__ == "__main__":
    main()
