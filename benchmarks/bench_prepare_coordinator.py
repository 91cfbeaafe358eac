"""The coordinator's CPU per task in ``prepare``: 64 small ``.jsonl.zst`` files, 2 workers, in-process.

The coordinator is this process (``getrusage(RUSAGE_SELF)``); the workers are its children
(``RUSAGE_CHILDREN``, counted once the pool is joined). A warm-up run loads the imports and
the tokenizer; a one-file run measures the per-run start-up, which is taken off before the
per-task figure. Prints ms/task and the coordinator's share of all CPU.

    .venv/bin/python benchmarks/bench_prepare_coordinator.py [--files 64] [--docs 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import sys
import tempfile
from pathlib import Path


def cpu() -> tuple[float, float]:
    """(this process's CPU seconds, its joined children's CPU seconds)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def make_corpus(directory: Path, files: int, docs: int) -> list[Path]:
    import zstandard

    paths = []
    for i in range(files):
        lines = "".join(json.dumps({"text": f"document {i}-{j}: " + "some words here " * 20}) + "\n" for j in range(docs))
        path = directory / f"part-{i:03d}.jsonl.zst"
        path.write_bytes(zstandard.ZstdCompressor().compress(lines.encode()))
        paths.append(path)
    return paths


def measure(inputs: list[Path], out: Path, progress: bool) -> tuple[float, float, int]:
    """(coordinator CPU-s, workers CPU-s, tasks) of one prepare run with 2 workers."""
    from tokenmill.prepare import PrepareOptions, run_prepare

    options = PrepareOptions(workers=2, progress=progress)
    before = cpu()
    with contextlib.redirect_stderr(io.StringIO()):  # the bar's lines, as in a log
        report = run_prepare(inputs, out, options)
    after = cpu()
    return after[0] - before[0], after[1] - before[1], report.tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=64)
    parser.add_argument("--docs", type=int, default=200, help="documents per file")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the lowest coordinator CPU counts")
    parser.add_argument("--no-progress", action="store_true", help="without the progress bar")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        inputs = make_corpus(root / "in", args.files, args.docs)
        progress = not args.no_progress
        measure(inputs[:1], root / "warm", progress)  # imports, tokenizer
        runs = 0

        def fresh() -> Path:
            nonlocal runs
            runs += 1
            return root / f"s{runs}"

        start = min(measure(inputs[:1], fresh(), progress)[0] for _ in range(args.repeat))
        best = min((measure(inputs, fresh(), progress) for _ in range(args.repeat)), key=lambda r: r[0])
    coordinator, workers, tasks = best
    net = max(0.0, coordinator - start)
    per_task = net / max(1, tasks - 1) * 1e3
    print(f"python {sys.version.split()[0]}, {args.files} .jsonl.zst files x {args.docs} documents, 2 workers")
    print(f"start-up (one file)       : coordinator {start:.3f} CPU-s")
    print(
        f"{tasks} tasks                  : coordinator {coordinator:.3f} CPU-s, workers {workers:.3f} CPU-s"
    )
    print(f"coordinator per task      : {per_task:.2f} ms")
    print(f"coordinator share (gross) : {coordinator / (coordinator + workers):.2%} of all CPU")
    print(f"coordinator share (net)   : {net / (net + workers):.2%} of all CPU (start-up taken off)")


if __name__ == "__main__":
    main()
