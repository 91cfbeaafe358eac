"""Time ``tokenmill.export`` to each format against a plain copy of the store's bytes, and its peak memory.

Prepares the 50 MB corpus once into a temporary store (unless ``--store`` names one), then,
for each format and for the copy, runs a fresh process (median of ``--repeat``) that reports
its wall time and peak resident memory (``ru_maxrss``). A second store with every shard
copied four times (four times the tokens) shows that the peak does not grow with the store's size.
The export's default self-check (re-reading what it wrote) is included; ``--no-check`` rows
show the writing alone.

Run: .venv/bin/python benchmarks/bench_export.py [--store DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "gutenberg-50mb.jsonl.xz"
TOKENMILL = Path(sys.executable).with_name("tokenmill")
FORMATS = ("nanogpt", "llmc", "megatron", "datatrove", "litdata", "parquet")
RAW = ("nanogpt", "llmc", "megatron", "datatrove", "litdata")

CHILD = r"""
import json, os, resource, shutil, sys, time, warnings
from pathlib import Path
warnings.simplefilter("ignore")
from tokenmill.export import export
from tokenmill.store import TokenStore
fmt, store, out, check = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4] == "1"
s = TokenStore.open(store)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
if fmt.startswith("copy"):
    out.mkdir()
    for split in s.splits:
        for sh in s.manifest["splits"][split]["shards"]:
            for ext in ("bin", "idx"):
                shutil.copyfile(Path(store) / f"{sh['name']}.{ext}", out / f"{sh['name']}.{ext}")
                if fmt == "copy+fsync":  # durable, as every file tokenmill writes
                    with open(out / f"{sh['name']}.{ext}", "rb") as f:
                        os.fsync(f.fileno())
else:
    export(s, fmt, out, check=check)
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_before_mb": before / 1024}))
"""


def run(fmt: str, store: Path, tmp: Path, repeat: int, check: bool = True) -> dict[str, float]:
    results = []
    for k in range(repeat):
        out = tmp / f"out-{fmt}-{k}"
        done = subprocess.run([sys.executable, "-c", CHILD, fmt, str(store), str(out), "1" if check else "0"],
                              check=True, capture_output=True, text=True)
        results.append(json.loads(done.stdout))
        shutil.rmtree(out)
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def multiplied(store: Path, to: Path, times: int) -> Path:
    """A store with every shard present ``times`` times (copied under new names)."""
    manifest = json.loads((store / "manifest.json").read_text())
    to.mkdir()
    tasks = 1 + max(int(sh["name"].split("-")[1]) for e in manifest["splits"].values() for sh in e["shards"])
    for split, entry in manifest["splits"].items():
        shards = []
        for copy in range(times):
            for sh in entry["shards"]:
                _, task, k = sh["name"].split("-")  # a name the format allows: copy c is tasks c*T .. c*T+T-1
                name = f"{split}-{copy * tasks + int(task):05d}-{k}"
                for ext in ("bin", "idx"):
                    shutil.copyfile(store / f"{sh['name']}.{ext}", to / f"{name}.{ext}")
                shards.append({**sh, "name": name})
        entry.update(shards=shards, n_tokens=times * entry["n_tokens"], n_documents=times * entry["n_documents"])
    (to / "manifest.json").write_text(json.dumps(manifest))
    return to


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, help="an existing store (default: prepare the corpus into a temp dir)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        store = args.store
        if store is None:
            store = tmp / "store"
            subprocess.run([str(TOKENMILL), "prepare", str(args.corpus), "--out", str(store)], check=True,
                           capture_output=True)
        big = multiplied(store, tmp / "store4x", 4)
        manifest = json.loads((store / "manifest.json").read_text())
        tokens = sum(s["n_tokens"] for s in manifest["splits"].values())
        print(f"store: {tokens:,} tokens ({manifest['dtype']}), {tokens * 2 / 1e6:.0f} MB of shards; "
              f"median of {args.repeat} fresh processes each")
        sizes = {"1x": store, "4x": big}
        copy = {key: run("copy", path, tmp, args.repeat) for key, path in sizes.items()}
        durable = {key: run("copy+fsync", path, tmp, args.repeat) for key, path in sizes.items()}
        rows = [(f if c else f"{f} --no-check", f, c) for f in FORMATS for c in ((True, False) if f in RAW else (True,))]
        print(f"{'':<22}{'the store':^38}{'the store x4':^38}")
        print(f"{'what':<22}" + f"{'seconds':>9}{'/copy':>7}{'/durable':>9}{'RSS MB':>8}     " * 2)
        for label, what, check in [("copy", "copy", True), ("copy + fsync", "copy+fsync", True), *rows]:
            line = f"{label:<22}"
            for key, path in sizes.items():
                r = copy[key] if what == "copy" else durable[key] if what == "copy+fsync" else run(
                    what, path, tmp, args.repeat, check)
                line += (f"{r['seconds']:>9.3f}{r['seconds'] / copy[key]['seconds']:>7.2f}"
                         f"{r['seconds'] / durable[key]['seconds']:>9.2f}{r['rss_mb']:>8.0f}     ")
            print(line.rstrip(), flush=True)

if __name__ == "__main__":
    main()
