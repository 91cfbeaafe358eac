"""Time ``tokenmill report`` on the 50 MB corpus store and print the page's size.

Builds the store once with ``tokenmill prepare`` (about a minute) unless ``--store`` names
one, then runs the whole command (a fresh process each round, so matplotlib's import is
counted) and, in process, the parts: ``TokenStore.stats`` (the numbers of ``tokenmill
stats``), the plots' data, and the rest of the page.

Run: .venv/bin/python benchmarks/bench_report.py [--store DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "gutenberg-50mb.jsonl.xz"
TOKENMILL = Path(sys.executable).with_name("tokenmill")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, help="an existing store (default: prepare the corpus into a temp dir)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store
        if store is None:
            store = Path(tmp) / "store"
            subprocess.run([str(TOKENMILL), "prepare", str(args.corpus), "--out", str(store)], check=True)
        out = Path(tmp) / "report.html"
        runs = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            subprocess.run([str(TOKENMILL), "report", str(store), "-o", str(out)], check=True, capture_output=True)
            runs.append(time.perf_counter() - t)
        size = out.stat().st_size

        from tokenmill.html import report_data, report_page
        from tokenmill.store import TokenStore

        s = TokenStore.open(store)
        report_page(s)  # warm: matplotlib imported, fonts cached
        t0 = time.perf_counter()
        s.stats(top_k=50)
        t1 = time.perf_counter()
        report_data(s)
        t2 = time.perf_counter()
        report_page(s)
        t3 = time.perf_counter()
    m = s.manifest
    docs = sum(sp["n_documents"] for sp in m["splits"].values())
    toks = sum(sp["n_tokens"] for sp in m["splits"].values())
    print(f"store: {docs:,} documents, {toks:,} tokens, {m['stats'].get('bytes_read', 0) / 1e6:.1f} MB of text")
    print(f"tokenmill report, whole command (median of {len(runs)}): {statistics.median(runs):.2f} s "
          f"(runs: {', '.join(f'{r:.2f}' for r in runs)})")
    print(f"page size: {size:,} bytes ({size / 1e6:.2f} MB)")
    print(f"in process: stats {t1 - t0:.2f} s, report_data (stats + lengths + counts) {t2 - t1:.2f} s, "
          f"whole page {t3 - t2:.2f} s")


if __name__ == "__main__":
    main()
