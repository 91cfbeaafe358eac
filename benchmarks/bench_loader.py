"""Batches of (inputs, targets) per second: tokenmill's DataLoader vs a memory copy, nanoGPT, the book.

Tokenizes the corpus once (GPT-2, cached as a uint16 .bin in the temp folder), then times,
side by side in one run and interleaved round by round, batches of ``batch x max_length``:

- ``memcpy floor``: x and y int64 copied from random offsets of the corpus held in memory as
  int64 (offsets drawn beforehand, one numpy row gather each); ``one contiguous memcpy``
  copies the same bytes from one offset, the strictest floor;
- ``tokenmill``: ``create_dataloader(np.memmap(...), shuffle=True, num_workers=0)``, iterated,
  at ``--stride`` (default max_length) and at stride 1 (any offset, like get_batch);
- ``tokenmill .batch``: the same gather without the DataLoader (its overhead is the difference);
- ``tokenmill seed=``: the same loader with the seeded permutation (``seed=0``), plain and
  ``stateful=True`` (torchdata's StatefulDataLoader), beside today's order in the same rounds;
  then the order's memory at 10^10 windows and ``load_state_dict`` + first batch at step 10^6;
- ``nanoGPT get_batch``: np.memmap reopened per batch, torch.randint offsets, torch.stack of
  per-row ``astype(np.int64)`` (nanoGPT's train.py);
- ``book``: GPTDatasetV1's precomputed tensors + a shuffled DataLoader (built from the token IDs,
  so tokenizing is not counted), with its construction time and memory.

Usage::

    python benchmarks/bench_loader.py            # the 50 MB corpus: about a minute (+10 s to tokenize, first run only)
    python benchmarks/bench_loader.py --quick    # first 15 books, fewer batches
    python benchmarks/bench_loader.py --seeded-only   # today's order vs seed=, and the resume figures
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import lzma
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from tokenmill.loader.dataloader import _batch_as_is, create_dataloader
from tokenmill.loader.dataset import WindowDataset
from tokenmill.loader.seeded_sampler import SeededBatchSampler
from tokenmill.tokenizers import get_tokenizer

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE.parent.parent / "shared" / "corpora" / "gutenberg-50mb.jsonl.xz"


def tokenize_cached(corpus: Path, max_books: int | None) -> Path:
    """GPT-2 IDs of the books joined by "\\n\\n" (plus a final "\\n"), as a uint16 file, cached."""
    stat = corpus.stat()
    key = hashlib.sha256(
        f"{corpus.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{max_books}".encode()
    ).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"tokenmill-bench-{key}.bin"
    if path.is_file():
        return path
    with lzma.open(corpus, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    texts = texts[:max_books] if max_books else texts
    # Cut the joined string just before each "\n\n": GPT-2's pre-tokenizer never joins a
    # book's last character to the following newlines, so the pieces encode to the same IDs.
    pieces = [texts[0]] + ["\n\n" + t for t in texts[1:]]
    pieces[-1] += "\n"
    t0 = time.perf_counter()
    ids = get_tokenizer("gpt2").encode_ordinary_batch(
        pieces, num_threads=os.cpu_count() or 1
    )
    tokens = np.concatenate([np.asarray(i, dtype=np.uint16) for i in ids])
    print(
        f"tokenized {len(texts)} books: {len(tokens):,} tokens in {time.perf_counter() - t0:.1f} s -> {path}",
        file=sys.stderr,
    )
    tmp = path.with_suffix(".tmp")
    tokens.tofile(tmp)
    os.replace(tmp, path)
    return path


def nanogpt_get_batch(
    path: Path | np.ndarray, block_size: int, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """nanoGPT's get_batch (train.py), CPU part: the memmap is recreated per batch as it does.

    Given an array instead of a path, it skips reopening (a variant nanoGPT does not use).
    """
    data = (
        np.memmap(path, dtype=np.uint16, mode="r") if isinstance(path, Path) else path
    )
    ix = torch.randint(len(data) - block_size, (batch_size,))
    x = torch.stack(
        [torch.from_numpy(data[i : i + block_size].astype(np.int64)) for i in ix]
    )
    y = torch.stack(
        [
            torch.from_numpy(data[i + 1 : i + 1 + block_size].astype(np.int64))
            for i in ix
        ]
    )
    return x, y


def book_dataset(
    ids: list[int], max_length: int, stride: int
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The book's GPTDatasetV1 loop on already-encoded IDs: every window as two tensors."""
    inputs, targets = [], []
    for i in range(0, len(ids) - max_length, stride):
        inputs.append(torch.tensor(ids[i : i + max_length]))
        targets.append(torch.tensor(ids[i + 1 : i + max_length + 1]))
    return inputs, targets


class _Pairs(torch.utils.data.Dataset):
    def __init__(self, inputs: list[torch.Tensor], targets: list[torch.Tensor]) -> None:
        self.inputs, self.targets = inputs, targets

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inputs[i], self.targets[i]


def rss() -> int:
    return psutil.Process().memory_info().rss


def build_book(
    ids: list[int], max_length: int, stride: int
) -> tuple[Any, float, int, int]:
    """The book's dataset, its build time, its tensor bytes, and the process's RSS growth.

    RSS growth can undercount when the heap reuses memory freed earlier; the tensor bytes are
    exact (storage only, not the ~0.5 KB of Python and torch objects per tensor).
    """
    gc.collect()
    before = rss()
    t0 = time.perf_counter()
    inputs, targets = book_dataset(ids, max_length, stride)
    seconds = time.perf_counter() - t0
    grown = rss() - before
    held = sum(t.untyped_storage().nbytes() for t in (*inputs, *targets))
    return _Pairs(inputs, targets), seconds, held, grown


def first_batch(loader: DataLoader) -> tuple[float, int]:
    """Seconds to the first batch of a new epoch, and the peak of Python allocations doing it.

    Timed and traced in two separate epochs: tracemalloc slows every allocation it sees. It
    sees Python objects and numpy arrays, not torch's tensor storage.
    """
    gc.collect()
    t0 = time.perf_counter()
    next(iter(loader))
    seconds = time.perf_counter() - t0
    gc.collect()
    tracemalloc.start()
    try:
        next(iter(loader))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return seconds, peak


def endless(loader: DataLoader) -> Callable[[], Any]:
    """A next-batch function over a loader that starts a new epoch when one ends."""
    state = {"it": iter(loader)}

    def step() -> Any:
        try:
            return next(state["it"])
        except StopIteration:
            state["it"] = iter(loader)
            return next(state["it"])

    return step


def time_rounds(methods: dict[str, Callable[[], None]], rounds: int, n_batches: int) -> dict[str, float]:
    """Median microseconds per batch of each method, interleaved round by round after a warm-up."""
    times: dict[str, list[float]] = {name: [] for name in methods}
    for run in methods.values():  # warm-up: page in the memmap, start the iterators
        run()
    for _ in range(rounds):
        for name, run in methods.items():
            t0 = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - t0) / n_batches * 1e6)
    return {name: statistics.median(t) for name, t in times.items()}


def print_seeded(us: dict[str, float], floor: float) -> None:
    today = us["tokenmill DataLoader"]
    for name in ("tokenmill DataLoader, seed=0", "tokenmill stateful=True, seed=0"):
        print(
            f"{name}: {us[name] / today:.3f}x today's loader (target <= 1.1x), "
            f"{us[name] / floor:.2f}x the memcpy floor"
        )


def print_resume(mm: np.ndarray, B: int, L: int, step: int = 10**6, repeats: int = 7) -> None:
    """The seeded order's memory at 10^10 windows, and restoring at step 10^6 of an epoch."""
    gc.collect()
    tracemalloc.start()
    sampler = SeededBatchSampler(10**10, B, seed=0)
    first = next(iter(sampler))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    state = sampler.state_dict()
    print("\nthe seeded order (SeededBatchSampler):")
    print(
        f"  order memory at 10^10 windows: Python allocations peak {peak / 1024:,.1f} KiB while building the sampler "
        f"and its first batch ({len(first)} indices); state dict {len(json.dumps(state))} bytes as JSON "
        f"(torch's randperm would hold {10**10 * 8 / 1e9:,.0f} GB)"
    )
    for stateful in (False, True):
        loader = create_dataloader(mm, batch_size=B, max_length=L, stride=1, seed=0, stateful=stateful)
        if step >= loader.sampler.num_global_batches:
            print(f"  step {step:,} is past this corpus's epoch at stride 1; skipped")
            return
        state = loader.sampler.state_dict() | {"next_global_batch": step}
        seconds = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            (loader if stateful else loader.sampler).load_state_dict(state)
            next(iter(loader))
            seconds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        it = iter(loader)
        for _ in range(200):
            next(it)
        per_batch = (time.perf_counter() - t0) / 200
        kind = "StatefulDataLoader.load_state_dict" if stateful else "sampler.load_state_dict"
        print(
            f"  {kind} + first batch at step {step:,} (stride 1, {len(loader.dataset):,} windows): median "
            f"{statistics.median(seconds) * 1e3:.2f} ms of {repeats} (target < 10 ms); replaying {step:,} "
            f"batches would take ~{per_batch * step / 60:,.1f} min"
        )


def seeded_report(
    args: argparse.Namespace, mm: np.ndarray, n_batches: int, today: Callable[[], Any],
    seeded: Callable[[], Any], stateful: Callable[[], Any],
) -> int:
    B, L = args.batch_size, args.max_length
    data64 = np.asarray(mm, dtype=np.int64)
    rows64 = np.lib.stride_tricks.sliding_window_view(data64, L)
    offsets = np.random.default_rng(0).integers(0, len(mm) - L, size=(n_batches, B))

    def memcpy_round() -> None:
        for row in offsets:
            (torch.from_numpy(rows64[row]), torch.from_numpy(rows64[row + 1]))  # (B, L) each

    def repeated(step: Callable[[], Any]) -> Callable[[], None]:
        return lambda: [step() for _ in range(n_batches)] and None

    us = time_rounds(
        {
            "memcpy floor": memcpy_round,
            "tokenmill DataLoader": repeated(today),
            "tokenmill DataLoader, seed=0": repeated(seeded),
            "tokenmill stateful=True, seed=0": repeated(stateful),
        },
        args.rounds, n_batches,
    )
    print(f"\nmicroseconds per batch (median of {args.rounds} rounds x {n_batches} batches, interleaved):")
    for name, value in us.items():
        print(f"  {name:32s} {value:9.1f} us   ({1e6 / value:8.0f} batches/s)")
    print_seeded(us, us["memcpy floor"])
    print_resume(mm, B, L)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help="gutenberg-50mb.jsonl.xz"
    )
    parser.add_argument(
        "--quick", action="store_true", help="first 15 books, fewer batches"
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument(
        "--stride",
        type=int,
        default=1024,
        help="tokenmill's window stride (default: max_length)",
    )
    parser.add_argument(
        "--batches",
        type=int,
        default=None,
        help="batches per method per round (default 2000, quick 300)",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--seeded-only", action="store_true",
        help="only today's loader vs seed= (and stateful=True), then the order's memory and resume",
    )
    parser.add_argument(
        "--book-stride",
        type=int,
        default=256,
        help="the book dataset's stride on the whole corpus",
    )
    parser.add_argument(
        "--book-slice",
        type=int,
        default=50_000,
        help="tokens for the book's stride-1 build",
    )
    args = parser.parse_args(argv)
    if not args.corpus.is_file():
        parser.error(f"corpus {args.corpus} not found; pass --corpus")
    n_batches = args.batches or (300 if args.quick else 2000)
    B, L = args.batch_size, args.max_length
    torch.manual_seed(0)

    bin_path = tokenize_cached(args.corpus, 15 if args.quick else None)
    mm = np.memmap(bin_path, dtype=np.uint16, mode="r")
    n = len(mm)
    print(
        f"corpus {args.corpus.name}: {n:,} GPT-2 tokens (uint16, {bin_path}); batch {B} x {L}; torch {torch.__version__}, {os.cpu_count()} CPUs"
    )

    # The floor: the corpus as int64 in memory, offsets drawn beforehand, rows copied in one
    # numpy call each for x and y; and, stricter still, one contiguous copy of the same bytes.
    data64 = np.asarray(mm, dtype=np.int64)
    rows64 = np.lib.stride_tricks.sliding_window_view(data64, L)  # a view, no copy
    offsets = np.random.default_rng(0).integers(0, n - L, size=(n_batches, B))

    def memcpy_round() -> None:
        for row in offsets:
            (
                torch.from_numpy(rows64[row]),
                torch.from_numpy(rows64[row + 1]),
            )  # (B, L) each

    def contiguous_round() -> None:
        for row in offsets:
            i = int(row[0]) % (n - B * L - 1)
            (
                torch.from_numpy(data64[i : i + B * L].copy()),
                torch.from_numpy(data64[i + 1 : i + 1 + B * L].copy()),
            )

    loader = create_dataloader(
        mm, batch_size=B, max_length=L, stride=args.stride, shuffle=True
    )
    next_batch = endless(loader)
    # Stride 1: every offset is a window, as in get_batch (the epoch's randperm is made once, below).
    next_batch_1 = endless(
        create_dataloader(mm, batch_size=B, max_length=L, stride=1, shuffle=True)
    )
    dataset: WindowDataset = loader.dataset  # type: ignore[assignment]
    picks = np.random.default_rng(1).integers(0, len(dataset), size=(n_batches, B))

    seeded_next = endless(
        create_dataloader(mm, batch_size=B, max_length=L, stride=args.stride, seed=0)
    )
    stateful_next = endless(
        create_dataloader(mm, batch_size=B, max_length=L, stride=args.stride, seed=0, stateful=True)
    )
    if args.seeded_only:
        return seeded_report(args, mm, n_batches, next_batch, seeded_next, stateful_next)

    # The book: GPTDatasetV1 at --book-stride on the whole corpus, then its shuffled DataLoader.
    ids = mm.tolist()
    book, book_s, book_bytes, book_rss = build_book(ids, L, args.book_stride)
    book_next = endless(DataLoader(book, batch_size=B, shuffle=True, drop_last=True))
    sliced, slice_s, slice_bytes, slice_rss = build_book(ids[: args.book_slice], L, 1)
    del sliced, ids
    gc.collect()

    def repeated(step: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(n_batches):
                step()

        return run

    def batch_round() -> None:
        for p in picks:
            dataset.batch(p)

    methods: dict[str, Callable[[], None]] = {
        "memcpy floor": memcpy_round,
        "one contiguous memcpy": contiguous_round,
        "tokenmill DataLoader": repeated(next_batch),
        "tokenmill DataLoader, stride 1": repeated(next_batch_1),
        "tokenmill DataLoader, seed=0": repeated(seeded_next),
        "tokenmill stateful=True, seed=0": repeated(stateful_next),
        "tokenmill .batch()": batch_round,
        "nanoGPT get_batch": repeated(lambda: nanogpt_get_batch(bin_path, L, B)),
        "nanoGPT get_batch, memmap kept": repeated(lambda: nanogpt_get_batch(mm, L, B)),
        "book GPTDatasetV1+DataLoader": repeated(book_next),
    }
    times: dict[str, list[float]] = {name: [] for name in methods}
    for run in methods.values():  # warm-up: page in the memmap, start the iterators
        run()
    for _ in range(args.rounds):
        for name, run in methods.items():
            t0 = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - t0) / n_batches * 1e6)
    us = {name: statistics.median(t) for name, t in times.items()}

    print(
        f"\nmicroseconds per batch (median of {args.rounds} rounds x {n_batches} batches, interleaved):"
    )
    for name, value in us.items():
        print(f"  {name:32s} {value:9.1f} us   ({1e6 / value:8.0f} batches/s)")
    floor, contiguous = us["memcpy floor"], us["one contiguous memcpy"]
    nano, kept = us["nanoGPT get_batch"], us["nanoGPT get_batch, memmap kept"]
    book_us = us["book GPTDatasetV1+DataLoader"]
    print()
    for name in ("tokenmill DataLoader", "tokenmill DataLoader, stride 1"):
        ours = us[name]
        print(f"{name}:")
        print(
            f"  / memcpy floor      {ours / floor:5.2f}x   (target <= 4x; vs one contiguous memcpy {ours / contiguous:.2f}x)"
        )
        print(
            f"  nanoGPT get_batch / {nano / ours:5.2f}x   (target >= 3x; with the memmap kept open {kept / ours:.2f}x)"
        )
        print(f"  book DataLoader /   {book_us / ours:5.2f}x")
    print(
        f"DataLoader overhead over .batch(): {us['tokenmill DataLoader'] - us['tokenmill .batch()']:.1f} us per batch"
    )
    print_seeded(us, floor)
    print_resume(mm, B, L)

    # Start-up: tokenmill's dataset is a view; the shuffled epoch order is torch's randperm, kept
    # as one int64 array by WindowBatchSampler, vs RandomSampler's Python list of the same order.
    del next_batch_1
    stride1 = create_dataloader(mm, batch_size=B, max_length=L, stride=1, shuffle=True)
    start1, peak1 = first_batch(stride1)
    with_list = DataLoader(
        stride1.dataset,
        batch_size=None,
        sampler=BatchSampler(RandomSampler(stride1.dataset), B, drop_last=True),
        collate_fn=_batch_as_is,
    )
    start_list, peak_list = first_batch(with_list)
    print("\nconstruction:")
    print(
        f"  tokenmill, stride {args.stride}: {len(dataset):,} windows, no copy of the tokens"
    )
    print(
        f"  tokenmill, stride 1: {len(stride1.dataset):,} windows; first batch of an epoch after {start1:.2f} s; "
        f"the order is one int64 tensor ({len(stride1.dataset) * 8 / 2**20:,.0f} MiB), Python allocations peak "
        f"{peak1 / 2**20:,.1f} MiB"
    )
    print(
        f"    the same dataset with torch's RandomSampler (the order as a Python list): {start_list:.2f} s "
        f"({start_list / start1:.1f}x), Python allocations peak {peak_list / 2**20:,.0f} MiB"
    )
    print(
        f"  book, stride {args.book_stride}, whole corpus: {len(book):,} windows in {book_s:.1f} s; tensor data "
        f"{book_bytes / 2**20:,.0f} MiB ({book_bytes / n:,.0f} bytes per corpus token), RSS +{book_rss / 2**20:,.0f} MiB"
    )
    per_token = max(slice_bytes, slice_rss) / args.book_slice
    print(
        f"  book, stride 1, first {args.book_slice:,} tokens: {slice_s:.1f} s; tensor data {slice_bytes / 2**20:,.0f} MiB, "
        f"RSS +{slice_rss / 2**20:,.0f} MiB ({per_token / 1024:,.1f} KiB per token; all {n:,} tokens would need "
        f"~{per_token * n / 2**30:,.0f} GiB and ~{slice_s / args.book_slice * n / 60:,.0f} min)"
    )
    print(
        f"  tokenmill: the tokens as uint16 ({n * 2 / 2**20:,.0f} MiB, memory-mapped) at any stride"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
