"""The prototype of train-tokenizer's character-level training: BPE learned over characters, as byte-level ranks.

Measures the lever found by ``profile_train_tokenizer.py``: Hugging Face's trainer with the
``multilingual`` regex but no ``ByteLevel`` step (BPE over characters, as sentencepiece
does), then byte-level ranks built from it: the 256 bytes, then for each character of the
learned alphabet the byte prefixes that build it, then the learned merges, cut at 31,999
tokens (+ ``<|endoftext|>`` = 32,000). Side by side in one run, on the benchmark's split:
training wall/CPU seconds of this, of tokenmill's byte-level training and of sentencepiece
BPE (both Rust trainers at ``--threads``), and held-out characters per token through
tiktoken. (train-tokenizer now does this, in ``training.trainer.to_byte_level``, and its
tests check exactness; this script keeps the measurement that led there.)

    .venv/bin/python benchmarks/prototype_char_level_training.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_train_tokenizer import CORPORA, held_out  # noqa: E402

VOCAB = 32000


def timed(label: str, fn) -> None:
    c0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    fn()
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
    print(f"| {label} | {time.perf_counter() - w0:.1f} | {cpu:.1f} | load {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for every trainer (default 2)")
    args = parser.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)  # before tokenizers starts its pool
    import sentencepiece as spm
    import tiktoken
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    from tokenmill.training import train_tokenizer
    from tokenmill.training.corpus import chunks
    from tokenmill.training.patterns import pattern_for
    from tokenmill.training.trainer import onig_pattern

    tmp = Path(tempfile.mkdtemp(prefix="tokenmill-chars-"))
    train, test = [], []
    with lzma.open(CORPORA / "aozora-ja.jsonl.xz", "rt", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            (test if held_out(doc["id"]) else train).append(doc["text"])
    (tmp / "train.jsonl").write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in train))
    (tmp / "train.txt").write_text("".join(p + "\n" for t in train for p in t.split("\n") if p.strip()))
    pat = pattern_for("multilingual")
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.Split(Regex(onig_pattern(pat)), behavior="isolated")
    print("| trainer | wall s | CPU s |\n|---|---|---|")
    timed("characters (this prototype)", lambda: hf.train_from_iterator(
        chunks(iter(train)), trainers.BpeTrainer(vocab_size=VOCAB - 1, min_frequency=2, show_progress=False)))
    timed("tokenmill byte-level", lambda: train_tokenizer(
        [tmp / "train.jsonl"], tmp / "tm", vocab_size=VOCAB, progress=False))
    timed("sentencepiece BPE", lambda: spm.SentencePieceTrainer.train(
        input=str(tmp / "train.txt"), model_prefix=str(tmp / "spm"), vocab_size=VOCAB, model_type="bpe",
        character_coverage=0.9995, byte_fallback=True, max_sentence_length=1 << 16,
        num_threads=args.threads, minloglevel=2))
    model = json.loads(hf.to_str())["model"]
    alphabet = [t for t, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1]) if len(t) == 1]
    ranks = {bytes([b]): b for b in range(256)}
    for ch in alphabet:  # the byte prefixes that build each learned character, first
        e = ch.encode()
        for k in range(2, len(e) + 1):
            ranks.setdefault(e[:k], len(ranks))
    built = len(ranks)
    for merge in model["merges"]:
        if len(ranks) >= VOCAB - 1:
            break
        left, right = merge if isinstance(merge, list) else merge.split(" ", 1)
        ranks.setdefault((left + right).encode(), len(ranks))
    print(f"\nalphabet {len(alphabet):,} characters; {built:,} byte/character tokens; "
          f"{len(ranks) - built:,} of {len(model['merges']):,} learned merges used")
    enc = tiktoken.Encoding("chars", pat_str=pat, mergeable_ranks=ranks, special_tokens={})
    from tokenmill import get_tokenizer

    mine = get_tokenizer(tmp / "tm")
    paragraphs = [p for t in test for p in t.split("\n") if p]
    chars = sum(map(len, paragraphs))
    for name, encode in (("characters (this prototype)", enc.encode_ordinary), ("tokenmill byte-level", mine.encode)):
        print(f"chars/token held out, {name}: {chars / sum(len(encode(p)) for p in paragraphs):.3f}")


if __name__ == "__main__":
    main()
