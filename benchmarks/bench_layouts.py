"""Document layouts: per-batch time of packed dict batches vs sliding tuples, padding, packing cost.

Prepares two stores once under ``--work`` (default /tmp/tokenmill-bench-layouts, kept out of
git): the Gutenberg corpus as it is (whole books) and the same corpus cut into paragraphs
(blank-line separated, short documents). Then, in one run:

- loader time per batch (8 x 1024, seed=0, num_workers=0), interleaved round by round:
  ``create_dataloader(store)`` (sliding tuples, today's default) vs
  ``create_dataloader(store, windows="packed", return_dict=True)``, and the ratio;
- the padding share of ``"documents"`` and ``"packed"`` at max_length 1024 and 2048 on both
  stores, beside what a BOS-aligned crop-to-fit loader would drop (``crop_to_fit_dropped``);
- packing 10^6 synthetic documents (lognormal lengths, median about 400 tokens): time and
  peak traced memory.

Usage::

    python benchmarks/bench_layouts.py                 # about two minutes the first time (prepares)
    python benchmarks/bench_layouts.py --batches 100   # fewer timed batches
"""

from __future__ import annotations

import argparse
import json
import lzma
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "gutenberg-50mb.jsonl.xz"


def _stores(work: Path, corpus: Path) -> dict[str, Path]:
    from tokenmill.prepare import prepare

    work.mkdir(parents=True, exist_ok=True)
    paragraphs = work / "gutenberg-paragraphs.jsonl"
    if not paragraphs.exists():
        with lzma.open(corpus, "rt", encoding="utf-8") as src, open(paragraphs, "w", encoding="utf-8") as out:
            for line in src:
                for para in json.loads(line)["text"].split("\n\n"):
                    if para.strip():
                        out.write(json.dumps({"text": para}) + "\n")
    stores = {"gutenberg (books)": (corpus, work / "gut-store"), "gutenberg paragraphs": (paragraphs, work / "para-store")}
    for source, out in stores.values():
        if not (out / "manifest.json").exists():
            prepare([source], out, workers=1, progress=False)
    return {name: out for name, (_, out) in stores.items()}


def _per_batch(loader, batches: int) -> float:
    it = iter(loader)
    next(it)  # the first batch pays for building the layout and opening maps
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return (time.perf_counter() - start) / batches


def loader_times(store_path: Path, batches: int, rounds: int) -> dict[str, float]:
    from tokenmill import TokenStore, create_dataloader

    store = TokenStore.open(store_path)
    kinds = {
        "sliding tuple": {},
        "sliding return_dict": {"return_dict": True},
        "documents return_dict": {"windows": "documents", "return_dict": True},
        "packed return_dict": {"windows": "packed", "return_dict": True},
        "packed tuple": {"windows": "packed"},
    }
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for r in range(rounds):
        for name, extra in kinds.items():
            loader = create_dataloader(store, batch_size=8, max_length=1024, seed=r, **extra)
            times[name].append(_per_batch(loader, batches))
    start = time.perf_counter()
    create_dataloader(store, batch_size=8, max_length=1024, seed=0, windows="packed", return_dict=True)
    build = time.perf_counter() - start
    out = {k: statistics.median(v) for k, v in times.items()}
    out["packed loader built in (s)"] = build
    return out


def padding(store_path: Path) -> dict[int, dict]:
    from tokenmill import TokenStore
    from tokenmill.loader.layouts import layout_figures

    offsets = TokenStore.open(store_path).document_offsets("train")
    return {T: layout_figures(offsets, T) for T in (1024, 2048)}


def packing_million(n: int = 10**6) -> tuple[float, float, int]:
    from tokenmill.loader.layouts import document_layout

    sizes = np.random.default_rng(0).lognormal(6.0, 1.2, n).astype(np.int64) + 1
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    tracemalloc.start()
    start = time.perf_counter()
    layout = document_layout(offsets, windows="packed", max_length=1024, stride=1024)
    took = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return took, peak / 1e6, layout.n_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--work", type=Path, default=Path("/tmp/tokenmill-bench-layouts"))
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    stores = _stores(args.work, args.corpus)
    for name, path in stores.items():
        times = loader_times(path, args.batches, args.rounds)
        print(f"{name}: loader, 8 x 1024, seed=, num_workers=0, median of {args.rounds} rounds of {args.batches} batches:")
        for kind, value in times.items():
            shown = f"{value:.3f} s" if "built" in kind else f"{value * 1e6:.1f} us/batch"
            ratio = "" if "built" in kind else f"  ({value / times['sliding tuple']:.2f}x sliding tuple)"
            print(f"  {kind:28s} {shown:>16s}{ratio}")
    print("padding share of input positions; crop-to-fit: tokens a BOS-aligned crop-to-fit loader drops")
    for name, path in stores.items():
        for T, f in padding(path).items():
            print(
                f"  {name:22s} T={T}: documents {f['documents_padding']:7.2%} ({f['documents_windows']:,} rows)  "
                f"packed {f['packed_padding']:6.2%} ({f['packed_windows']:,} rows; sliding {f['sliding_windows']:,})  "
                f"crop-to-fit drops {f['crop_to_fit_dropped_share']:6.2%}  cut {f['cut_documents']:,}"
            )
    took, peak, rows = packing_million()
    print(f"packing 10^6 synthetic documents at T=1024: {took:.2f} s, peak traced memory {peak:.0f} MB, {rows:,} rows")


if __name__ == "__main__":
    main()
