"""What the bounded set of open shard maps costs: random windows over a store of many shards.

Contenders, interleaved, on one store of 512 shards of 20,000 uint16 tokens each:
every shard kept mapped (max_open_shards above the shard count: what the reader did before
it had a bound), the default bound (128: random batches re-map most shards they touch),
and a tight bound (16). Prints the median µs per batch of 8 × 1024 windows and the ratios.

    .venv/bin/python benchmarks/bench_store_maps.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from tokenmill.store import TokenStore, task_shard_name, write_manifest, write_shard
from tokenmill.store.manifest import _example_manifest

N_SHARDS, SHARD_TOKENS, BATCH, LENGTH, ROUNDS, BATCHES = 512, 20_000, 8, 1024, 5, 300


def make(directory: Path) -> None:
    rng = np.random.default_rng(0)
    entries = []
    for k in range(N_SHARDS):
        ids = rng.integers(0, 50_000, SHARD_TOKENS, dtype=np.uint16)
        entries.append(write_shard(directory, task_shard_name("train", k, 0), ids, np.array([0, SHARD_TOKENS])))
    write_manifest(directory, _example_manifest(entries))


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        make(Path(d))
        contenders = {f"max_open_shards={n}": TokenStore.open(d, max_open_shards=n)["train"] for n in (1024, 128, 16)}
        rng = np.random.default_rng(1)
        starts = [rng.integers(0, N_SHARDS * SHARD_TOKENS - LENGTH, BATCH) for _ in range(BATCHES)]
        times: dict[str, list[float]] = {k: [] for k in contenders}
        for _ in range(ROUNDS):
            for name, arr in contenders.items():
                t = time.perf_counter()
                for s in starts:
                    arr.take_windows(s, LENGTH)
                times[name].append((time.perf_counter() - t) / BATCHES * 1e6)
        base = statistics.median(times["max_open_shards=1024"])
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"{name:24s} {med:8.1f} µs per batch  {med / base:5.2f}× all mapped")


if __name__ == "__main__":
    main()
