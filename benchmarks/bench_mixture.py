"""Mixtures: per-batch time vs one store, start-up at 10^10 windows, proportion error vs i.i.d. draws.

Three figures, in one run:

- **per batch**: ``create_dataloader({"a": A, "b": B, "c": C}, weights=..., seed=0)`` vs
  ``create_dataloader(ABC, seed=0)`` over the same tokens (ABC is A, B and C concatenated),
  batches of ``8 x 1024``, both iterated in interleaved rounds; the median per-batch time of
  each and their ratio. The tokens are synthetic (random uint16 IDs in ``np.memmap`` files of
  ``--tokens`` tokens each), read as ``np.memmap`` arrays and as token stores of one shard
  and of four shards each (``TokenStore``), the one store holding all the tokens in as many
  shards. A mixture's batch of 8 rows is copied row by row: joined as bytes when every
  component is one contiguous map (arrays, one-shard stores), else from cached views of
  the components' shards.
- **start-up**: building the sampler of a 100-component mixture of 10^10 windows (synthetic
  sizes: the sampler alone, no tokens) and drawing its first global batch, with the Python
  heap it allocates (tracemalloc); weights in proportion to the sizes, which round to the
  largest period (2**16).
- **proportion error**: after 10^6 global windows, max over components of ``|count - N w|``,
  and its max over every prefix, for tokenmill and for litdata-style i.i.d. draws
  (``numpy.random.Generator.choice`` with the same weights), 3 and 100 components.

Usage::

    python benchmarks/bench_mixture.py            # about 15 s
    python benchmarks/bench_mixture.py --quick    # fewer batches and tokens
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from tokenmill.loader.dataloader import create_dataloader
from tokenmill.loader.mixture import Mixture
from tokenmill.loader.mixture_sampler import MixtureBatchSampler
from tokenmill.store import TokenStore
from tokenmill.store.manifest import _example_manifest, write_manifest
from tokenmill.store.writer import write_shard

WEIGHTS = {"a": 0.5, "b": 0.3, "c": 0.2}


def make_store(directory: Path, tokens: np.ndarray, shards: int) -> TokenStore:
    """A token store of ``shards`` shards holding ``tokens`` (GPT-2's manifest), as prepare leaves one."""
    directory.mkdir()
    entries = []
    for i, part in enumerate(np.array_split(tokens, shards)):
        entries.append(write_shard(directory, f"train-{i:05d}", part, np.array([0, len(part)])))
    write_manifest(directory, _example_manifest(entries))
    return TokenStore.open(directory)


def per_batch(tmp: Path, tokens: int, rounds: int, batches: int, shards: int) -> tuple[float, float]:
    """Median seconds per batch (mixture, one store); ``shards`` 0: np.memmap arrays, else stores."""
    rng = np.random.default_rng(0)
    arrays: dict[str, object] = {}
    for name in WEIGHTS:
        rng.integers(0, 50257, size=tokens, dtype=np.uint16).tofile(tmp / f"{name}.bin")
        arrays[name] = np.memmap(tmp / f"{name}.bin", dtype=np.uint16, mode="r")
    together = np.concatenate(list(arrays.values()))
    together.tofile(tmp / "all.bin")
    one: object = np.memmap(tmp / "all.bin", dtype=np.uint16, mode="r")
    if shards:
        arrays = {name: make_store(tmp / f"store-{name}", np.asarray(a), shards) for name, a in arrays.items()}
        one = make_store(tmp / "store-all", together, 3 * shards)
    mixed = create_dataloader(arrays, weights=WEIGHTS, seed=0, batch_size=8, max_length=1024)
    single = create_dataloader(one, seed=0, batch_size=8, max_length=1024)
    times: dict[str, list[float]] = {"mixture": [], "one store": []}
    for r in range(rounds):
        for name, loader in (("mixture", mixed), ("one store", single)):
            loader.sampler.set_epoch(r)
            it = iter(loader)
            next(it)  # the first batch of an epoch fills the first chunk: timed apart from the rest
            start = time.perf_counter()
            for _ in range(batches):
                next(it)
            times[name].append((time.perf_counter() - start) / batches)
    return statistics.median(times["mixture"]), statistics.median(times["one store"])


def start_up() -> tuple[float, float, int]:
    """(seconds to the first global batch, MiB of Python heap at the peak, the period)."""
    sizes = [10**8 + 12345 * i for i in range(100)]  # 10**10 windows and a bit

    def first_batch() -> MixtureBatchSampler:
        sampler = MixtureBatchSampler(
            [f"c{i}" for i in range(100)], sizes, None, epoch_windows=sum(sizes), batch_size=8, seed=0,
        )
        next(iter(sampler))
        return sampler

    start = time.perf_counter()
    sampler = first_batch()
    elapsed = time.perf_counter() - start
    tracemalloc.start()  # a second build, traced (tracing slows it down: not timed)
    first_batch()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak / 2**20, sampler.mixture.segments[0].denominator


def proportion_error(weights: list[float], n: int) -> tuple[float, float, float, float]:
    """(tokenmill at N, tokenmill over every prefix, i.i.d. at N, i.i.d. over every prefix)."""
    names = [f"c{i}" for i in range(len(weights))]
    m = Mixture(names, [10**6] * len(names), dict(zip(names, weights)), seed=0, global_batch_size=1)
    k, _ = m.draws(np.arange(n))
    seg = m.segments[0]
    promised = np.asarray(seg.weights) / seg.denominator
    drawn = np.random.default_rng(0).choice(len(weights), size=n, p=np.asarray(weights) / sum(weights))
    out = []
    for choice, w in ((k, promised), (drawn, np.asarray(weights) / sum(weights))):
        steps = np.arange(1, n + 1)
        worst_prefix = max(float(np.abs(np.cumsum(choice == j) - steps * w[j]).max()) for j in range(len(w)))
        at_n = float(np.abs(np.bincount(choice, minlength=len(w)) - n * w).max())
        out += [at_n, worst_prefix]
    return out[0], out[1], out[2], out[3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tokens", type=int, default=None, help="tokens per component (default 20M, quick 2M)")
    args = parser.parse_args()
    tokens = args.tokens or (2_000_000 if args.quick else 20_000_000)
    rounds, batches = (3, 300) if args.quick else (7, 3000)
    for shards in (0, 1, 4):
        with tempfile.TemporaryDirectory() as tmp:
            mix, one = per_batch(Path(tmp), tokens, rounds, batches, shards)
        what = f"token stores of {shards} shard(s) each" if shards else "np.memmap arrays"
        print(f"per batch (8 x 1024, {3 * tokens:,} tokens, {what}): mixture {mix * 1e6:.1f} us, one "
              f"{one * 1e6:.1f} us, ratio {mix / one:.2f}x")
    elapsed, mib, denominator = start_up()
    print(f"start-up, 100 components, 10^10 windows: {elapsed * 1e3:.1f} ms to the first global batch, "
          f"{mib:.1f} MiB of Python heap (period {denominator})")
    rng = np.random.default_rng(1)
    for label, weights in (("3 components 0.5/0.3/0.2", [0.5, 0.3, 0.2]),
                           ("100 components, random weights", list(rng.uniform(0.1, 1, 100)))):
        t_n, t_all, i_n, i_all = proportion_error(weights, 10**6)
        print(f"proportion error after 10^6 windows, {label}: tokenmill {t_n:.3f} (every prefix "
              f"{t_all:.3f}), i.i.d. {i_n:.1f} (every prefix {i_all:.1f})")


if __name__ == "__main__":
    main()
