"""Train-tokenizer figures, side by side in one run (issue 9): compression, training time,
encoding speed and peak memory of tokenmill's trained tokenizers vs GPT-2, cl100k_base,
sentencepiece BPE/unigram and Hugging Face's trainer used directly.

Held-out split, by document: a document is held out when the first byte of
blake2b(its "id", digest_size=8) is below 13 (13/256 = 5.1% of documents); the rest is
the training corpus. Every trainer gets the same training documents (sentencepiece: one
line per paragraph, as it expects); every figure is measured on the held-out documents.

Each trainer runs in its own process, one after the other; wall time and peak RSS
(``ru_maxrss`` of that process) are recorded. Encoding speed: one thread, the held-out
text as paragraphs, median of 3 passes.

    python benchmarks/bench_train_tokenizer.py                # all of it (minutes)
    python benchmarks/bench_train_tokenizer.py --skip-en      # Japanese only
    python benchmarks/bench_train_tokenizer.py --skip-en --ja-trainers tokenmill,spm-bpe  # quick
    python benchmarks/bench_train_tokenizer.py --design-mb 8  # + the pattern design table
    python benchmarks/bench_train_tokenizer.py --corpora /work/shared/corpora

Needs the corpora in ../shared/corpora and ``pip install sentencepiece`` (benchmark only).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"


def held_out(doc_id: object) -> bool:
    return hashlib.blake2b(str(doc_id).encode(), digest_size=8).digest()[0] < 13


def split_corpus(path: Path, tmp: Path, limit_chars: int | None = None) -> tuple[Path, Path, list[str]]:
    """(train .jsonl, train paragraphs .txt for sentencepiece, held-out documents)."""
    train_jsonl, train_txt, test = tmp / f"{path.stem}.train.jsonl", tmp / f"{path.stem}.train.txt", []
    n = 0
    with lzma.open(path, "rt", encoding="utf-8") as f, open(train_jsonl, "w", encoding="utf-8") as fj, open(
        train_txt, "w", encoding="utf-8"
    ) as ft:
        for line in f:
            doc = json.loads(line)
            if held_out(doc["id"]):
                test.append(doc["text"])
                continue
            if limit_chars is not None and n >= limit_chars:
                continue
            n += len(doc["text"])
            fj.write(json.dumps({"text": doc["text"]}, ensure_ascii=False) + "\n")
            ft.writelines(p + "\n" for p in doc["text"].split("\n") if p.strip())
    return train_jsonl, train_txt, test


def run_child(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of ``python this_script --child ARGS``."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", *args])
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"child {args} failed with status {status}")
    return seconds, usage.ru_maxrss / 1024


def child(kind: str, train_jsonl: str, train_txt: str, out: str, vocab: int, pattern: str) -> None:
    """One trainer, in this (child) process."""
    if kind == "tokenmill":
        from tokenmill.training import train_tokenizer

        train_tokenizer([train_jsonl], out, vocab_size=vocab, pattern=pattern, progress=False, overwrite=True)
    elif kind == "hf-gpt2":  # Hugging Face's trainer used directly, GPT-2's byte-level pre-tokenizer
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        hf = Tokenizer(models.BPE())
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        hf.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab, special_tokens=["<|endoftext|>"], show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
        with open(train_jsonl, encoding="utf-8") as f:
            hf.train_from_iterator((json.loads(line)["text"] for line in f), trainer)
        hf.save(out)
    else:  # sentencepiece "bpe" or "unigram"
        import sentencepiece as spm

        spm.SentencePieceTrainer.train(
            input=train_txt, model_prefix=out, vocab_size=vocab, model_type=kind.split("-")[1],
            character_coverage=0.9995, byte_fallback=True, max_sentence_length=1 << 16,
            num_threads=os.cpu_count() or 1, minloglevel=2,
        )


def encode_speed(encode, paragraphs: list[str]) -> float:
    """MB/s of UTF-8 input, one thread, median of 3 passes over the paragraphs."""
    nbytes = sum(len(p.encode("utf-8")) for p in paragraphs)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        for p in paragraphs:
            encode(p)
        times.append(time.perf_counter() - t0)
    return nbytes / statistics.median(times) / 1e6


def table(rows: list[list[str]], head: list[str]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def japanese(tmp: Path, vocab: int, trainers: Sequence[str] = ("tokenmill", "spm-bpe", "hf-gpt2", "spm-unigram")) -> None:
    import sentencepiece as spm
    from tokenizers import Tokenizer

    from tokenmill import get_tokenizer

    train_jsonl, train_txt, test = split_corpus(CORPORA / "aozora-ja.jsonl.xz", tmp)
    text = "\n".join(test)
    paragraphs = [p for p in text.split("\n") if p]
    print(f"\n## Japanese: {CORPORA / 'aozora-ja.jsonl.xz'}, vocab {vocab:,}; held out {len(test)} documents, "
          f"{len(text):,} characters, {len(text.encode()):,} bytes\n", flush=True)
    runs = {}
    for kind in trainers:
        pattern = "multilingual" if kind == "tokenmill" else ""
        out = str(tmp / f"ja-{kind}" if kind == "tokenmill" else tmp / f"ja-{kind}")
        if kind == "hf-gpt2":
            out += ".json"
        runs[kind] = (out, *run_child([kind, str(train_jsonl), str(train_txt), out, str(vocab), pattern]))
        print(f"  trained {kind}: {runs[kind][1]:.1f} s, peak {runs[kind][2]:.0f} MiB", flush=True)

    mine = get_tokenizer(runs["tokenmill"][0])
    hf_mine = Tokenizer.from_file(str(Path(runs["tokenmill"][0]) / "tokenizer.json"))
    hf_gpt2 = Tokenizer.from_file(runs["hf-gpt2"][0]) if "hf-gpt2" in runs else None
    sp_bpe = spm.SentencePieceProcessor(model_file=runs["spm-bpe"][0] + ".model", num_threads=1)
    sp_uni = (spm.SentencePieceProcessor(model_file=runs["spm-unigram"][0] + ".model", num_threads=1)
              if "spm-unigram" in runs else None)
    gpt2, cl100k = get_tokenizer("gpt2"), get_tokenizer("cl100k_base")

    def count(encode) -> int:  # newlines left out: sentencepiece has no token for them
        return sum(len(encode(p)) for p in paragraphs)

    n_chars = sum(len(p) for p in paragraphs)
    mine_ids = mine.encode_ordinary(text)
    exact = mine_ids == hf_mine.encode(text).ids
    rows = []
    entries = [
        ("tokenmill multilingual (tiktoken)", lambda t: mine.encode_ordinary(t), runs["tokenmill"]),
        ("GPT-2", gpt2.encode_ordinary, None),
        ("cl100k_base", cl100k.encode_ordinary, None),
        ("sentencepiece BPE", sp_bpe.encode, runs["spm-bpe"]),
    ]
    if sp_uni is not None:
        entries.append(("sentencepiece unigram", sp_uni.encode, runs["spm-unigram"]))
    if hf_gpt2 is not None:
        entries.append(("HF trainer, GPT-2 pre-tokenizer", lambda t: hf_gpt2.encode(t).ids, runs["hf-gpt2"]))
    spm_bpe_s = runs["spm-bpe"][1]
    for name, encode, run in entries:
        tokens = count(encode)
        speed = encode_speed(encode, paragraphs)
        rows.append([
            name, f"{n_chars / tokens:.3f}", f"{speed:.1f}",
            f"{run[1]:.1f} ({run[1] / spm_bpe_s:.2f}x)" if run else "-", f"{run[2]:.0f}" if run else "-",
        ])
        print("  ", rows[-1], flush=True)
    rows.append(["same tokenizer via HF tokenizer.json", "same IDs" if exact else "DIFFERENT IDS",
                 f"{encode_speed(lambda t: hf_mine.encode(t).ids, paragraphs):.1f}", "-", "-"])
    try:
        import riptoken

        core = riptoken.CoreBPE(mine.encoding._mergeable_ranks, dict(mine.special_tokens), mine.pat_str)
        same = core.encode_ordinary(text) == mine_ids
        rows.append(["same tokenizer via riptoken", "same IDs" if same else "DIFFERENT IDS",
                     f"{encode_speed(core.encode_ordinary, paragraphs):.1f}", "-", "-"])
    except Exception as exc:  # noqa: BLE001 - riptoken may refuse the pattern in any way: say so
        rows.append(["same tokenizer via riptoken", f"not run ({type(exc).__name__}: {exc})"[:80], "-", "-", "-"])
    print()
    print(table(rows, ["tokenizer", "chars/token (held out)", "encode MB/s (1 thread)",
                       "training s (vs spm BPE)", "training peak RSS MiB"]), flush=True)


def english(tmp: Path, vocab: int) -> None:
    from tokenmill import get_tokenizer

    train_jsonl, train_txt, test = split_corpus(CORPORA / "gutenberg-50mb.jsonl.xz", tmp)
    text = "\n\n".join(test)
    nbytes = len(text.encode())
    print(f"\n## English: {CORPORA / 'gutenberg-50mb.jsonl.xz'}, vocab {vocab:,}; held out {len(test)} books, "
          f"{nbytes:,} bytes; training on {train_jsonl.stat().st_size / 1e6:.1f} MB\n", flush=True)
    rows = []
    out = str(tmp / "en-tokenmill")
    seconds, peak = run_child(["tokenmill", str(train_jsonl), str(train_txt), out, str(vocab), "multilingual"])
    mine, gpt2 = get_tokenizer(out), get_tokenizer("gpt2")
    b_gpt2 = nbytes / len(gpt2.encode_ordinary(text))
    for name, tok, s, p in [("tokenmill multilingual", mine, seconds, peak), ("GPT-2", gpt2, None, None)]:
        bpt = nbytes / len(tok.encode_ordinary(text))
        rows.append([name, f"{bpt:.3f}", f"{(bpt / b_gpt2 - 1) * 100:+.1f}%",
                     f"{s:.1f}" if s else "-", f"{p:.0f}" if p else "-"])
    print(table(rows, ["tokenizer", "bytes/token (held out)", "vs GPT-2", "training s", "training peak RSS MiB"]))


def design(tmp: Path, mb: float, vocab: int) -> None:
    """Candidate Japanese rules for the multilingual pattern, on the first ``mb`` MB of training text."""
    from tokenmill import get_tokenizer
    from tokenmill.training import patterns

    train_jsonl, train_txt, test = split_corpus(CORPORA / "aozora-ja.jsonl.xz", tmp / "design", int(mb * 1e6 / 3))
    text = "\n".join(test)
    other = patterns._OTHER_LETTER
    tail = r"""|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+(?!\S)|\s+|."""
    head = r"""'(?i:[sdmt]|ll|ve|re)| ?""" + other + "+"
    candidates = {
        "script runs (kanji / hiragana / katakana apart)": head + r"""| ?\p{Han}+| ?\p{Hiragana}+| ?[\p{Katakana}ーｰ]+""" + tail,
        "kanji + following hiragana": head + r"""| ?\p{Han}+\p{Hiragana}*| ?\p{Hiragana}+| ?[\p{Katakana}ーｰ]+""" + tail,
        "multilingual (kanji + hiragana + 、。)": patterns.MULTILINGUAL_PATTERN,
        "gpt2": patterns.PATTERNS["gpt2"],
    }
    rows = []
    for name, pat in candidates.items():
        patterns.PATTERNS["_candidate"] = pat
        out = str(tmp / "design-tok")
        code = (
            "import sys; from tokenmill.training import patterns, train_tokenizer; "
            "patterns.PATTERNS['_candidate'] = sys.argv[1]; "
            "train_tokenizer([sys.argv[2]], sys.argv[3], vocab_size=int(sys.argv[4]), pattern='_candidate', "
            "progress=False, overwrite=True)"
        )
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, pat, str(train_jsonl), out, str(vocab)], check=True)
        seconds = time.perf_counter() - t0
        tok = get_tokenizer(out)
        ids = tok.encode_ordinary(text)
        speed = encode_speed(tok.encode_ordinary, [p for p in text.split("\n") if p])
        rows.append([name, f"{len(text) / len(ids):.3f}", f"{seconds:.1f}", f"{speed:.1f}"])
        print("  ", rows[-1], flush=True)
    print(f"\n### Pattern design: first {mb} MB of the Japanese training documents, vocab {vocab:,}\n")
    print(table(rows, ["pre-tokenizer", "chars/token (held out)", "training s", "encode MB/s"]))


def main() -> None:
    global CORPORA
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    parser.add_argument("--corpora", type=Path, default=CORPORA, help=f"default {CORPORA}")
    parser.add_argument("--ja-vocab", type=int, default=32000)
    parser.add_argument("--en-vocab", type=int, default=50257)
    parser.add_argument("--skip-ja", action="store_true")
    parser.add_argument("--skip-en", action="store_true")
    parser.add_argument("--ja-trainers", default="tokenmill,spm-bpe,hf-gpt2,spm-unigram",
                        help="Japanese trainers to run (tokenmill and spm-bpe are needed)")
    parser.add_argument("--design-mb", type=float, default=0.0, help="also the pattern design table")
    args = parser.parse_args()
    if args.child:
        kind, train_jsonl, train_txt, out, vocab, pattern = args.child
        child(kind, train_jsonl, train_txt, out, int(vocab), pattern)
        return
    CORPORA = args.corpora
    if not CORPORA.is_dir():
        raise SystemExit(f"{CORPORA} is absent")
    print(f"# bench_train_tokenizer: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="tokenmill-bench-") as d:
        tmp = Path(d)
        (tmp / "design").mkdir()
        if not args.skip_ja:
            japanese(tmp, args.ja_vocab, args.ja_trainers.split(","))
        if not args.skip_en:
            english(tmp, args.en_vocab)
        if args.design_mb:
            design(tmp, args.design_mb, args.ja_vocab)


if __name__ == "__main__":
    main()
