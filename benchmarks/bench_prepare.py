"""Benchmark ``tokenmill prepare`` against the book's way and the raw tokenizing ceiling.

Side by side, on the Gutenberg corpus (``.jsonl.xz``, read directly by prepare):

* book: one ``encode`` of all texts joined with "\\n\\n", one thread (chapter 2's way);
* ceiling: tiktoken on all cores, no I/O: each worker process already holds its share of
  the texts (balanced by size) and returns a uint16 array; only that is timed;
* prepare (tiktoken and riptoken engines), end to end: reading, xz and JSON decoding,
  tokenizing, writing, checksums and manifest.

``--big`` also prepares a ~1 GB .jsonl (the corpus repeated) with 2 workers and reports
the peak RSS of the main process plus its workers (sampled with psutil).

Run: .venv/bin/python benchmarks/bench_prepare.py [--corpus PATH] [--repeat 3] [--big]
"""

from __future__ import annotations

import argparse
import json
import lzma
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "gutenberg-50mb.jsonl.xz"

_TEXTS: list[str] = []


def _load_texts(path: str, share: int, shares: int) -> None:
    """Pool initializer for the ceiling: this worker's share of the books (untimed)."""
    global _TEXTS
    texts = read_texts(path)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    loads = [0] * shares
    mine: list[int] = []
    for i in order:  # greedy balance by size: each worker gets about the same amount of text
        k = loads.index(min(loads))
        loads[k] += len(texts[i])
        if k == share:
            mine.append(i)
    _TEXTS = [texts[i] for i in sorted(mine)]


def _encode_share(_: int) -> np.ndarray:
    from tokenmill.tokenizers import get_tokenizer

    enc = get_tokenizer("gpt2").encoding
    return np.concatenate([enc.encode_to_numpy(t, disallowed_special=()).astype(np.uint16) for t in _TEXTS])


def read_texts(path: str | Path) -> list[str]:
    with lzma.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def bench_book(texts: list[str]) -> tuple[float, int]:
    from tokenmill.tokenizers import get_tokenizer

    tok = get_tokenizer("gpt2")
    joined = "\n\n".join(texts)
    t = time.perf_counter()
    n = len(tok.encoding.encode(joined, allowed_special={"<|endoftext|>"}))
    return time.perf_counter() - t, n


def bench_ceiling(path: str, workers: int) -> tuple[float, int]:
    ctx = multiprocessing.get_context("spawn")
    pools = [ctx.Pool(1, initializer=_load_texts, initargs=(path, k, workers)) for k in range(workers)]
    for p in pools:  # warm, untimed: texts loaded, tokenizer built
        p.apply(_warm)
    t = time.perf_counter()
    results = [p.apply_async(_encode_share, (0,)) for p in pools]
    n = sum(len(r.get()) for r in results)
    elapsed = time.perf_counter() - t
    for p in pools:
        p.terminate()
    return elapsed, n


def _warm() -> None:
    from tokenmill.tokenizers import get_tokenizer

    get_tokenizer("gpt2").encoding.encode_ordinary("warm up")


class PeakRSS:
    """Samples the RSS of this process plus its children every 20 ms; .peak in bytes."""

    def __enter__(self) -> PeakRSS:
        import psutil

        self.peak, self._stop = 0, threading.Event()
        me = psutil.Process()

        def sample() -> None:
            while not self._stop.is_set():
                try:
                    total = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
                except psutil.Error:
                    continue
                self.peak = max(self.peak, total)
                time.sleep(0.02)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def bench_prepare(inputs: list[str], engine: str, workers: int | None, out: Path) -> tuple[float, dict, int]:
    from tokenmill.prepare import prepare

    with PeakRSS() as rss:
        t = time.perf_counter()
        store = prepare(inputs, out, workers=workers, engine=engine, progress=False, overwrite=True)
        elapsed = time.perf_counter() - t
    return elapsed, store.manifest, rss.peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    ap.add_argument("--repeat", type=int, default=3, help="best of N for each contender")
    ap.add_argument("--big", action="store_true", help="also a ~1 GB corpus, 2 workers, peak RSS")
    args = ap.parse_args()
    if not Path(args.corpus).exists():
        sys.exit(f"corpus not found: {args.corpus}")
    cores = os.cpu_count() or 1
    texts = read_texts(args.corpus)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    print(f"corpus {args.corpus}: {len(texts)} documents, {mb:.1f} MB of text, {cores} cores")
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "corpus.jsonl"  # the same corpus uncompressed: prepare minus xz decoding
        plain.write_bytes(lzma.open(args.corpus).read())
        contenders = {
            "book (one encode, 1 thread)": lambda i: bench_book(texts),
            f"ceiling (tiktoken, {cores} procs, no I/O)": lambda i: bench_ceiling(args.corpus, cores),
            f"prepare .jsonl.xz tiktoken ({cores} workers)": lambda i: bench_prepare([args.corpus], "tiktoken", None, Path(tmp) / f"t{i}"),
            f"prepare .jsonl.xz riptoken ({cores} workers)": lambda i: bench_prepare([args.corpus], "riptoken", None, Path(tmp) / f"r{i}"),
            f"prepare .jsonl    tiktoken ({cores} workers)": lambda i: bench_prepare([str(plain)], "tiktoken", None, Path(tmp) / f"p{i}"),
        }
        best: dict[str, tuple] = {}
        for i in range(args.repeat):  # rounds, so that a noisy moment hits every contender alike
            for name, run in contenders.items():
                result = run(i)
                if name not in best or result[0] < best[name][0]:
                    best[name] = result
        book, ceiling = best["book (one encode, 1 thread)"][0], best[f"ceiling (tiktoken, {cores} procs, no I/O)"][0]
        for name, result in best.items():
            seconds = result[0]
            n = result[1] if isinstance(result[1], int) else result[1]["splits"]["train"]["n_tokens"]
            rss = f"  peak RSS {result[2] / 2**20:.0f} MiB" if len(result) > 2 else ""
            print(f"{name:44s} {seconds:6.2f} s  {n / seconds / 1e6:5.2f} M tok/s  {book / seconds:4.2f}x book  "
                  f"{ceiling / seconds:4.2f}x ceiling{rss}")
        if args.big:
            big = Path(tmp) / "big.jsonl"
            raw = lzma.open(args.corpus).read()
            with open(big, "wb") as f:
                while f.tell() < 1 << 30:
                    f.write(raw)
            del raw
            size = big.stat().st_size
            cmd = [sys.executable, "-m", "tokenmill", "prepare", str(big), "--out", str(Path(tmp) / "big-store"), "--workers", "2", "--quiet"]
            elapsed, peak, line = bench_cli_rss(cmd)
            print(f"big: {size / 1e9:.2f} GB .jsonl, 2 workers: {elapsed:.1f} s, {size / elapsed / 1e6:.1f} MB/s, "
                  f"peak RSS (main + workers, summed) {peak / 2**20:.0f} MiB\n  {line}")


def bench_cli_rss(cmd: list[str]) -> tuple[float, int, str]:
    """Run the CLI in a fresh process; (seconds, peak RSS of it plus its workers, its summary line)."""
    import subprocess

    import psutil

    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    ps, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            peak = max(peak, ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True)))
        except psutil.Error:
            pass
        time.sleep(0.02)
    elapsed = time.perf_counter() - t
    out = proc.stdout.read().strip() if proc.stdout else ""
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed with status {proc.returncode}")
    return elapsed, peak, out

if __name__ == "__main__":
    main()
