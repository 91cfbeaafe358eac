"""train-tokenizer's memory bound (issue 23), side by side in one run: peak RSS and time at
growing sizes of distinct Japanese text, today's unbounded trainer vs --max-memory, 2 reading
workers vs 1, and characters per token on held-out Japanese: bounded vs unbounded vs
sentencepiece BPE.

Corpora: the Japanese corpus (27.9 MB of text), then copies of it with every kanji (U+4E00-
U+9FFF) moved to another code point (a different shift per copy), so that nothing repeats:
4 copies in all make ~110 MB, 36 make ~1 GB (``--gb``). Each copy is one uncompressed
.jsonl (so that prepare's plan cuts it into ranges that workers read in parallel).

"Today" is the code before the bound (commit ``a9ab49a``, exported with ``git archive``),
run in its own process like every trainer; peak RSS is ``ru_maxrss`` from ``wait4`` (the
largest process of the run's tree: the trainer, or a reading worker) and the trainer's own
VmHWM.

    python benchmarks/bench_train_tokenizer_memory.py                 # 28 + 110 MB, quality (~15 min)
    python benchmarks/bench_train_tokenizer_memory.py --gb            # + 1 GB with the default bound
    python benchmarks/bench_train_tokenizer_memory.py --calibrate     # the memory model's points

Needs the corpora in ../shared/corpora and ``pip install sentencepiece`` (the bench extra)
for the quality table.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_train_tokenizer import CORPORA, held_out, split_corpus  # noqa: E402

TODAY = "a9ab49a"  # the last commit before --max-memory


def shifted(text: str, k: int) -> str:
    """``text`` with every kanji moved by ``k`` * 2203 places, round the CJK block."""
    if k == 0:
        return text
    lo, n = 0x4E00, 0x9FFF - 0x4E00 + 1
    return "".join(chr(lo + (ord(c) - lo + k * 2203) % n) if lo <= ord(c) <= 0x9FFF else c for c in text)


def make_corpus(tmp: Path, copies: int, *, train_only: bool = False) -> list[Path]:
    """``copies`` .jsonl files: the corpus, then shifted copies (held-out documents left out if ``train_only``)."""
    with lzma.open(CORPORA / "aozora-ja.jsonl.xz", "rt", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    if train_only:
        docs = [d for d in docs if not held_out(d["id"])]
    paths = []
    for k in range(copies):
        path = tmp / f"ja-{k:02d}.jsonl"
        if not path.exists():
            with open(path, "w", encoding="utf-8") as out:
                for d in docs:
                    out.write(json.dumps({"id": f"{k}-{d['id']}", "text": shifted(d["text"], k)}, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths


def today_src(tmp: Path) -> Path:
    dest = tmp / "today"
    if not dest.exists():
        dest.mkdir()
        archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", TODAY, "src"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "src"


def run(label: str, src: Path, inputs: list[Path], out: Path, vocab: int, **kw: object) -> dict:
    """Train in a fresh process: wall seconds, peak RSS MB (tree max and the trainer's own), the sample."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    args = json.dumps({"inputs": [str(p) for p in inputs], "out": str(out), "vocab": vocab, "kw": kw})
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", args], env=env, stdout=subprocess.PIPE, text=True)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{label} failed with status {status}")
    meta = json.loads((out / "tokenmill-tokenizer.json").read_text())
    res = {"label": label, "seconds": seconds, "tree_mb": usage.ru_maxrss * 1024 / 1e6,
           "own_mb": int(stdout.split()[-1]) * 1024 / 1e6, "sample": meta.get("sample", {}),
           "read_mb": meta["trained_on"]["bytes_read"] / 1e6}
    print(f"  {label}: {seconds:.1f} s, peak {res['tree_mb']:.0f} MB (own {res['own_mb']:.0f}), "
          f"sample {res['sample'].get('bytes_used', meta['trained_on']['bytes_read']) / 1e6:.1f} MB "
          f"of {res['read_mb']:.1f} MB, expected {res['sample'].get('expected_peak', 0) / 1e6:.0f} MB "
          f"({res['sample'].get('distinct_pieces', 0):,} distinct pieces, {res['sample'].get('distinct_chars', 0):,} "
          "chars)", flush=True)
    return res


def child(spec: str) -> None:
    a = json.loads(spec)
    kw = a["kw"]
    if kw.pop("calibrate", None):  # the sample capped at `cap` bytes, its profile always counted
        import tokenmill.training.memory as memory
        import tokenmill.training.trainer as trainer

        cap = kw.pop("cap")
        trainer.sample_budget = lambda *_: cap
        memory.worst_case = lambda texts: memory.Profile(0, 0, 10**15, 10**15, exact=False)
    from tokenmill.training import train_tokenizer

    train_tokenizer(a["inputs"], a["out"], vocab_size=a["vocab"], progress=False, overwrite=True, **kw)
    with open("/proc/self/status") as f:
        print([line for line in f if line.startswith("VmHWM:")][0].split()[1])


def chars_per_token(tmp: Path, vocab: int, bounds: list[str]) -> None:
    """Held-out Japanese: tokenmill unbounded, bounded, and sentencepiece BPE on the same training text."""
    import sentencepiece as spm

    from tokenmill import get_tokenizer

    train_jsonl, train_txt, test = split_corpus(CORPORA / "aozora-ja.jsonl.xz", tmp)
    paragraphs = [p for p in "\n".join(test).split("\n") if p]
    n_chars = sum(map(len, paragraphs))
    rows = []
    src = HERE.parent / "src"
    for bound in ["1TB", *bounds]:
        out = tmp / f"q-{bound}"
        r = run(f"tokenmill --max-memory {bound}", src, [train_jsonl], out, vocab, max_memory=bound)
        tok = get_tokenizer(out)
        rows.append((f"tokenmill, --max-memory {bound}" + (" (no bound)" if bound == "1TB" else ""),
                     n_chars / sum(len(tok.encode_ordinary(p)) for p in paragraphs), r))
    t0 = time.perf_counter()
    spm.SentencePieceTrainer.train(
        input=str(train_txt), model_prefix=str(tmp / "spm"), vocab_size=vocab, model_type="bpe",
        character_coverage=0.9995, byte_fallback=True, max_sentence_length=1 << 16, num_threads=os.cpu_count() or 1,
        minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_file=str(tmp / "spm.model"))
    spm_cpt = n_chars / sum(len(sp.encode(p)) for p in paragraphs)
    print(f"\n### Characters per token, held-out Japanese ({len(test)} documents), vocab {vocab:,}\n")
    print("| trainer | sample MB | chars/token | vs no bound | vs sentencepiece BPE | peak RSS MB | s |\n|---|---:|---:|---:|---:|---:|---:|")
    base = rows[0][1]
    for name, cpt, r in rows:
        used = r["sample"].get("bytes_used", 0) / 1e6
        print(f"| {name} | {used:.1f} | {cpt:.4f} | {cpt / base - 1:+.2%} | {cpt / spm_cpt - 1:+.2%} | "
              f"{r['tree_mb']:.0f} | {r['seconds']:.0f} |")
    print(f"| sentencepiece BPE | all | {spm_cpt:.4f} | {spm_cpt / base - 1:+.2%} | - | - | {time.perf_counter() - t0:.0f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--child")
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--sizes", default="1,4", help="corpus copies to run (1: 28 MB, 4: 110 MB)")
    p.add_argument("--gb", action="store_true", help="also 36 copies (1 GB), with the default bound only")
    p.add_argument("--no-today", action="store_true")
    p.add_argument("--no-quality", action="store_true")
    p.add_argument("--quality-bounds", default="400MB,300MB")
    p.add_argument("--calibrate", action="store_true")
    p.add_argument("--tmp", help="keep the corpora here between runs")
    a = p.parse_args()
    if a.child:
        return child(a.child)
    tmp = Path(a.tmp or tempfile.mkdtemp(prefix="bench-ttm-"))
    tmp.mkdir(parents=True, exist_ok=True)
    src = HERE.parent / "src"
    print(f"# train-tokenizer memory, vocab {a.vocab:,}, {os.cpu_count()} CPUs", flush=True)
    if a.calibrate:
        for copies, caps in ((1, (3, 6, 12, 24)), (4, (48, 96))):
            for cap in caps:
                run(f"calibrate {copies} copies, cap {cap} MB", src, make_corpus(tmp, copies), tmp / "cal", a.vocab,
                    calibrate=True, cap=cap * 10**6, max_memory="1TB", workers=0)
        return None
    results = []
    for copies in [int(x) for x in a.sizes.split(",")] + ([36] if a.gb else []):
        inputs = make_corpus(tmp, copies)
        size = sum(f.stat().st_size for f in inputs) / 1e6
        print(f"\n## {copies} cop{'y' if copies == 1 else 'ies'}: {size:.0f} MB of .jsonl", flush=True)
        if not a.no_today and copies < 36:
            results.append((size, run("today (no bound)", today_src(tmp), inputs, tmp / "t", a.vocab)))
        results.append((size, run("default --max-memory 2GB, --workers 2", src, inputs, tmp / "d2", a.vocab, workers=2)))
        if copies == 4:
            results.append((size, run("default --max-memory 2GB, --workers 1", src, inputs, tmp / "d1", a.vocab, workers=1)))
    print("\n| input MB | run | s | peak RSS MB (largest process) | trainer's own VmHWM MB | text read MB | sample MB |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for size, r in results:
        used = r["sample"].get("bytes_used", r["read_mb"] * 1e6) / 1e6
        print(f"| {size:.0f} | {r['label']} | {r['seconds']:.0f} | {r['tree_mb']:.0f} | {r['own_mb']:.0f} | "
              f"{r['read_mb']:.1f} | {used:.1f} |")
    if not a.no_quality:
        chars_per_token(tmp, a.vocab, a.quality_bounds.split(","))
    return None


if __name__ == "__main__":
    main()
