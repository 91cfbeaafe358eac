"""Benchmark ``tokenmill prepare`` on many tiny input files: does its time grow linearly with their number?

Each input is one small ``.jsonl`` (a task of its own). Prepare runs in a fresh process
(``--workers 2 --quiet``) on 1,000 and on 5,000 such files; the figure that matters is the
ratio of the two times: about 5 when per-task work is constant, about 25 when each task
scans the store (quadratic). ``--baseline SRC`` also times another checkout's ``src``
(e.g. one exported with ``git archive``) in the same run, side by side.

Run: .venv/bin/python benchmarks/bench_prepare_many_files.py [--counts 1000 5000] [--baseline /tmp/old/src]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def make_inputs(directory: Path, n: int) -> list[str]:
    directory.mkdir(parents=True)
    for i in range(n):
        (directory / f"{i:06d}.jsonl").write_text(json.dumps({"text": f"tiny document number {i}."}) + "\n")
    return [str(directory)]


def time_prepare(src: Path, inputs: list[str], out: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, "-m", "tokenmill", "prepare", *inputs, "--out", str(out), "--workers", "2", "--quiet"]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    took = time.perf_counter() - started
    shutil.rmtree(out)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--baseline", type=Path, help="another checkout's src directory, timed alongside")
    args = parser.parse_args()
    sources = [("this checkout", SRC)] + ([("baseline", args.baseline)] if args.baseline else [])
    with tempfile.TemporaryDirectory() as tmp:
        times: dict[str, list[float]] = {name: [] for name, _ in sources}
        for n in args.counts:
            inputs = make_inputs(Path(tmp) / f"in{n}", n)
            for name, src in sources:
                times[name].append(time_prepare(src, inputs, Path(tmp) / "out"))
                print(f"{name:>14}: {n:>7,} files {times[name][-1]:7.1f} s", flush=True)
    for name, ts in times.items():
        growth = ts[-1] / ts[0]
        print(f"{name:>14}: {args.counts[-1] // args.counts[0]}x the files -> {growth:.1f}x the time")


if __name__ == "__main__":
    main()
