"""`tokenize --max-tokens N` on a big text file: the kept end only, against reading it whole.

Each way runs in a fresh process (the whole read is the same command with streaming turned
off), started from a small Python so that ``ru_maxrss`` is the command's own peak:

    .venv/bin/python benchmarks/bench_tokenize_stream.py --mb 100
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORK = """
import sys
import tokenmill.cli.textstream as ts
if sys.argv[1] == "whole":
    ts.streams = lambda *a, **k: False
import tokenmill.cli.tokenize_cmd as tc
tc.streams = ts.streams
from tokenmill.cli import main
sys.exit(main(["tokenize", "--file", sys.argv[2], "--max-tokens", "5", "--ids", "--keep", sys.argv[3]]))
"""
MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "done = subprocess.run([sys.executable, '-c', *sys.argv[1:]], capture_output=True, text=True); "
    "print(done.returncode, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
    "done.stdout.strip().replace(' ', ','))"
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=100, help="size of the generated text file")
    args = ap.parse_args()
    rng = random.Random(0)
    words = ["the", "cat", "sat", "on", "mat", "吾輩は猫", "である。", "clocks", "were", "striking", "thirteen"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.txt"
        with open(path, "w", encoding="utf-8") as f:
            written = 0
            while written < args.mb * 1_000_000:
                line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 30))) + "\n"
                f.write(line)
                written += len(line.encode())
        print(f"{path.stat().st_size / 1e6:.1f} MB text file; tokenize --file F --max-tokens 5 --ids")
        print(f"{'keep':<6} {'way':<10} {'seconds':>8} {'peak MB':>8}  ids")
        for keep in ("first", "last"):
            rows = {}
            for way in ("stream", "whole"):
                t = time.perf_counter()
                out = subprocess.run([sys.executable, "-c", MEASURE, WORK, way, str(path), keep],
                                     capture_output=True, text=True, check=True).stdout.split()
                status, seconds, peak_kb, ids = int(out[0]), float(out[1]), int(out[2]), out[3]
                assert status == 0, (way, keep, time.perf_counter() - t)
                rows[way] = (seconds, peak_kb / 1000, ids)
                print(f"{keep:<6} {way:<10} {seconds:>8.2f} {peak_kb / 1000:>8.0f}  {ids}")
            assert rows["stream"][2] == rows["whole"][2], "the kept IDs differ"
            print(f"{keep:<6} {'ratio':<10} {rows['whole'][0] / rows['stream'][0]:>7.1f}x {rows['whole'][1] / rows['stream'][1]:>7.1f}x")


if __name__ == "__main__":
    main()
