"""Benchmark the peak memory of ``tokenmill prepare`` on one huge document: bounded, or growing with it?

Writes a ~200 MB Japanese-like ``.txt`` (kana and kanji with a 。 now and then: no place
where a cut is proven to keep the IDs, so the old reader held it whole) and a ~300 MB
single-line ``.jsonl``, then runs ``prepare --workers 0`` on each in a fresh process and
reports that process's peak RSS (``ru_maxrss`` from ``wait4``). ``--baseline SRC`` runs
another checkout's ``src`` in the same run, side by side.

Run: .venv/bin/python benchmarks/bench_prepare_memory.py [--txt-mb 200] [--line-mb 300] [--baseline /tmp/old/src]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん日本語文章東京大学"


def japanese_block(n_chars: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(KANA) + ("。" if rng.random() < 0.03 else "") for _ in range(n_chars))


def write_txt(path: Path, mb: int) -> None:
    blocks = [japanese_block(1 << 16, seed) for seed in range(16)]
    with open(path, "w", encoding="utf-8") as f:
        written = 0
        while written < mb << 20:
            block = blocks[written % 16]
            f.write(block)
            written += len(block.encode())


def write_line(path: Path, mb: int) -> None:
    text = ("All work and no play makes Jack a dull boy. " * 1000)[: 1 << 16]
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"text": "')
        for _ in range((mb << 20) // len(text)):
            f.write(text)
        f.write('"}\n' + json.dumps({"text": "a short one"}) + "\n")


def peak_rss(src: Path, inputs: Path, out: Path, *extra: str) -> tuple[float, float, str]:
    """(peak RSS in MB, seconds, outcome) of one prepare in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, "-m", "tokenmill", "prepare", str(inputs), "--out", str(out), "--workers", "0", "--quiet", *extra]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - started
    err = proc.stderr.read().decode() if proc.stderr else ""
    shutil.rmtree(out, ignore_errors=True)
    outcome = "ok" if os.waitstatus_to_exitcode(status) == 0 else "refused: " + err.strip()[:90]
    return usage.ru_maxrss / 1024, took, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txt-mb", type=int, default=200)
    parser.add_argument("--line-mb", type=int, default=300)
    parser.add_argument("--baseline", type=Path, help="another checkout's src directory, run alongside")
    args = parser.parse_args()
    sources = [("this checkout", SRC)] + ([("baseline", args.baseline)] if args.baseline else [])
    with tempfile.TemporaryDirectory() as tmp:
        txt, line = Path(tmp) / "big.txt", Path(tmp) / "line.jsonl"
        cases = []
        if args.txt_mb:
            write_txt(txt, args.txt_mb)
            cases.append((f"{args.txt_mb} MB Japanese .txt", txt, ()))
        if args.line_mb:
            write_line(line, args.line_mb)
            cases.append((f"{args.line_mb} MB .jsonl line", line, ()))
            cases.append((f"{args.line_mb} MB .jsonl line, limit raised", line, ("--max-document-bytes", str(2 << 30))))
        for label, path, extra in cases:
            for name, src in sources:
                if extra and name == "baseline":
                    continue  # the baseline has no such option
                rss, took, outcome = peak_rss(src, path, Path(tmp) / "out", *extra)
                print(f"{label:>36} | {name:>13}: peak RSS {rss:7.0f} MB, {took:6.1f} s, {outcome}", flush=True)


if __name__ == "__main__":
    main()
