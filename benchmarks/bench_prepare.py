"""Benchmark ``tokenmill prepare`` against the book's way and the raw tokenizing ceiling.

Side by side, in one run, on the Gutenberg corpus (given as ``.jsonl.xz``; also written
out uncompressed, and split into 64 ``.jsonl.zst`` files):

* book: one ``encode`` of all texts joined with "\\n\\n", one thread (chapter 2's way);
* ceiling: tiktoken on all cores, no I/O: each worker process already holds its share of
  the texts (balanced by size) and returns a uint16 array; only that is timed;
* prepare (tiktoken and riptoken engines), end to end: reading, decompression, JSON
  decoding, tokenizing, writing, checksums and manifest;
* coordinator share: each prepare runs in a fresh process; getrusage of that process
  (the coordinator) and of its children (the workers); the coordinator's CPU minus that of
  a run on a one-line input (imports, tokenizer load, pool start) is given as a share of
  all CPU;
* Ray: ``--executor ray`` on a local Ray against ``--executor local`` (Ray's start-up
  reported apart), and a projection to 16 and 64 cores (the model is printed).

``--big`` also prepares a ~1 GB .jsonl (the corpus repeated) with 2 workers and reports
the peak RSS of the main process plus its workers (sampled with psutil).

Run: .venv/bin/python benchmarks/bench_prepare.py [--corpus PATH] [--repeat 3] [--big] [--no-ray]
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
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray executor's figures")
    ap.add_argument("--coordinator-only", action="store_true", help="only the coordinator share, Ray and projection")
    args = ap.parse_args()
    if not Path(args.corpus).exists():
        sys.exit(f"corpus not found: {args.corpus}")
    cores = os.cpu_count() or 1
    texts = read_texts(args.corpus)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    print(f"corpus {args.corpus}: {len(texts)} documents, {mb:.1f} MB of text, {cores} cores")
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "corpus.jsonl"  # the same corpus uncompressed: prepare minus xz decoding
        with lzma.open(args.corpus) as f:
            plain.write_bytes(f.read())
        zst_dir = split_zst(plain, Path(tmp) / "zst", 64)
        contenders = {
            "book (one encode, 1 thread)": lambda i: bench_book(texts),
            f"ceiling (tiktoken, {cores} procs, no I/O)": lambda i: bench_ceiling(args.corpus, cores),
            f"prepare .jsonl    tiktoken ({cores} workers)": lambda i: bench_prepare([str(plain)], "tiktoken", None, Path(tmp) / f"p{i}"),
            f"prepare .jsonl    riptoken ({cores} workers)": lambda i: bench_prepare([str(plain)], "riptoken", None, Path(tmp) / f"q{i}"),
            f"prepare .jsonl.xz tiktoken ({cores} workers)": lambda i: bench_prepare([args.corpus], "tiktoken", None, Path(tmp) / f"t{i}"),
            f"prepare .jsonl.xz riptoken ({cores} workers)": lambda i: bench_prepare([args.corpus], "riptoken", None, Path(tmp) / f"r{i}"),
            "xz decompression alone (1 thread)": lambda i: bench_xz(args.corpus),
        }
        if args.coordinator_only:
            contenders = {}
        best: dict[str, tuple] = {}
        book = ceiling = 1.0
        for i in range(args.repeat):  # rounds, so that a noisy moment hits every contender alike
            for name, run in contenders.items():
                result = run(i)
                if name not in best or result[0] < best[name][0]:
                    best[name] = result
        if best:
            book, ceiling = best["book (one encode, 1 thread)"][0], best[f"ceiling (tiktoken, {cores} procs, no I/O)"][0]
        for name, result in best.items():
            seconds = result[0]
            if name.startswith("xz"):
                print(f"{name:44s} {seconds:6.2f} s  (a single .jsonl.xz is decompressed once by one worker "
                      f"before its ranges start: prepare >= {seconds:.2f} s + tokenizing / cores)")
                continue
            n = result[1] if isinstance(result[1], int) else result[1]["splits"]["train"]["n_tokens"]
            rss = f"  peak RSS {result[2] / 2**20:.0f} MiB" if len(result) > 2 else ""
            print(f"{name:44s} {seconds:6.2f} s  {n / seconds / 1e6:5.2f} M tok/s  {book / seconds:4.2f}x book  "
                  f"{ceiling / seconds:4.2f}x ceiling{rss}")
        print()
        import zstandard

        one = Path(tmp) / "one.jsonl"
        one.write_text('{"text": "one line"}\n')
        (Path(tmp) / "one.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(one.read_bytes()))
        shares = {}
        for label, inputs, one_line in (
            ("64 .jsonl.zst files", [str(zst_dir)], str(one) + ".zst"),
            ("one uncompressed .jsonl", [str(plain)], str(one)),
        ):
            # Least of 3 runs each: CPU time on a loaded machine varies by a few 10 ms.
            base = min((run_measured([one_line], Path(tmp) / f"one{i}", "local") for i in range(3)), key=lambda m: m["self_cpu"])
            m = min((run_measured(inputs, Path(tmp) / f"cs{i}", "local") for i in range(3)), key=lambda m: m["self_cpu"])
            print(f"start-up of a one-line {Path(one_line).name}: coordinator {base['self_cpu']:.2f} CPU-s, "
                  f"workers {base['child_cpu']:.2f} CPU-s")
            coord = max(0.0, m["self_cpu"] - base["self_cpu"])
            share = coord / (m["self_cpu"] + m["child_cpu"])
            shares[label] = (share, m)
            print(f"coordinator share, {label:24s}: {share:6.2%} (coordinator {m['self_cpu']:.2f} CPU-s, "
                  f"minus start-up {coord:.2f}; workers {m['child_cpu']:.2f} CPU-s; {m['tasks']} tasks; "
                  f"wall {m['wall']:.2f} s)")
        if not args.no_ray:  # noqa: SIM102
            bench_ray(str(plain), Path(tmp), shares["one uncompressed .jsonl"][1])
        project(shares["one uncompressed .jsonl"], base, mb)
        if args.big:
            big = Path(tmp) / "big.jsonl"
            with lzma.open(args.corpus) as f:
                raw = f.read()
            with open(big, "wb") as f:
                while f.tell() < 1 << 30:
                    f.write(raw)
            del raw
            size = big.stat().st_size
            cmd = [sys.executable, "-m", "tokenmill", "prepare", str(big), "--out", str(Path(tmp) / "big-store"), "--workers", "2", "--quiet"]
            elapsed, peak, line = bench_cli_rss(cmd)
            print(f"big: {size / 1e9:.2f} GB .jsonl, 2 workers: {elapsed:.1f} s, {size / elapsed / 1e6:.1f} MB/s, "
                  f"peak RSS (main + workers, summed) {peak / 2**20:.0f} MiB\n  {line}")


def split_zst(plain: Path, out: Path, n: int) -> Path:
    """The corpus as ``n`` .jsonl.zst files of about equal size (whole lines)."""
    import zstandard

    out.mkdir()
    lines = plain.read_bytes().splitlines(keepends=True)
    parts: list[list[bytes]] = [[] for _ in range(n)]
    for i, line in enumerate(lines):  # whole lines, in order, spread over exactly n files
        parts[i * n // len(lines)].append(line)
    for k, part in enumerate(parts):
        (out / f"part-{k:03d}.jsonl.zst").write_bytes(zstandard.ZstdCompressor(level=3).compress(b"".join(part)))
    return out


def bench_xz(path: str) -> tuple[float, int]:
    t = time.perf_counter()
    with lzma.open(path) as f:
        n = len(f.read())
    return time.perf_counter() - t, n


_MEASURE = """
import json, resource, sys, time
t = time.perf_counter()
from tokenmill.prepare import PrepareOptions, run_prepare
inputs, out, executor, workers = json.loads(sys.argv[1])
r = run_prepare(inputs, out, PrepareOptions(workers=workers, executor=executor, progress=False, overwrite=True))
wall = time.perf_counter() - t
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"self_cpu": me.ru_utime + me.ru_stime, "child_cpu": kids.ru_utime + kids.ru_stime,
                  "wall": wall, "startup": r.startup_seconds, "run": r.seconds - r.startup_seconds,
                  "tasks": r.tasks, "tokens": sum(s["n_tokens"] for s in r.store.manifest["splits"].values())}))
"""


def run_measured(inputs: list[str], out: Path, executor: str, workers: int | None = None) -> dict:
    """prepare in a fresh process: its CPU (the coordinator), its children's (the workers), times."""
    import subprocess

    arg = json.dumps([inputs, str(out), executor, workers])
    done = subprocess.run([sys.executable, "-c", _MEASURE, arg], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_ray(plain: str, tmp: Path, local: dict) -> None:
    """--executor ray (a local Ray started for the run) against --executor local, same corpus."""
    m = run_measured([plain], tmp / "ray", "ray")
    print(f"ray executor (local Ray, {os.cpu_count()} CPUs): start-up {m['startup']:.2f} s; run {m['run']:.2f} s "
          f"vs local executor {local['run']:.2f} s: {m['run'] / local['run']:.2f}x (start-up excluded)")


def project(uncompressed: tuple[float, dict], base: dict, mb: float) -> None:
    """Wall time on 16 and 64 cores from the measured per-task CPU and coordinator share."""
    share, m = uncompressed
    work = m["child_cpu"] - base["child_cpu"]  # workers' CPU for this corpus
    coord = max(0.0, m["self_cpu"] - base["self_cpu"])
    per_task = work / m["tasks"]
    print(f"projection (model: wall = start-up + coordinator CPU (serial) + max(worker CPU / cores, one task's CPU);"
          f" per-task CPU {per_task:.2f} s, coordinator {share:.2%} of all CPU):")
    for scale, label in ((1, f"{mb:.0f} MB"), (100_000 / mb, "100 GB")):
        for cores in (16, 64):
            wall = base["wall"] + coord * scale + max(work * scale / cores, per_task)
            ideal = (work + coord) * scale / cores
            print(f"  {label:>7s} on {cores:2d} cores: {wall:8.1f} s  ({ideal / wall:.0%} of a perfect {cores}x)")


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
