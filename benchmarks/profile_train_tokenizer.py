"""Where train-tokenizer's time goes: CPU seconds per stage of Hugging Face's trainer vs sentencepiece BPE.

Each stage runs in its own process on the same slice of the Japanese training documents
(the benchmark's split; the first ``--mb`` MB), with ``RAYON_NUM_THREADS`` and
sentencepiece's ``num_threads`` set to the same ``--threads``, and reports that process's
CPU seconds for the stage alone (not imports or reading). Stages, each including the ones
before it: the pre-tokenizer regex (``Split``) alone; ``Split`` + ``ByteLevel``; the
trainer's counting with no merges (``vocab 257``); then 3, 743 and all 31,743 merges;
last, ``chars-32000``: the same trainer and regex without ``ByteLevel`` (BPE over
characters, as sentencepiece does; not what tokenmill exports), 32,000 tokens.

    .venv/bin/python benchmarks/profile_train_tokenizer.py --mb 5 --threads 1
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_train_tokenizer import CORPORA, held_out  # noqa: E402

STAGES = ("split", "split+bytelevel", "257", "260", "1000", "32000", "chars-32000")


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def stage(name: str, train_jsonl: str, train_txt: str, threads: int) -> float:
    """CPU seconds of one stage, in this (child) process."""
    if name == "spm-bpe":
        import sentencepiece as spm

        c0 = cpu()
        spm.SentencePieceTrainer.train(
            input=train_txt, model_prefix=train_txt + ".spm", vocab_size=32000, model_type="bpe",
            character_coverage=0.9995, byte_fallback=True, max_sentence_length=1 << 16,
            num_threads=threads, minloglevel=2,
        )
        return cpu() - c0
    from tokenizers import Regex, pre_tokenizers

    from tokenmill.training.corpus import chunks
    from tokenmill.training.patterns import pattern_for
    from tokenmill.training.trainer import _hf_trainer, _new_hf_tokenizer, onig_pattern

    with open(train_jsonl, encoding="utf-8") as f:
        texts = list(chunks(json.loads(line)["text"] for line in f))
    pat = pattern_for("multilingual")
    hf = _new_hf_tokenizer(pat)
    c0 = cpu()
    if name == "split":
        split = pre_tokenizers.Split(Regex(onig_pattern(pat)), behavior="isolated")
        for t in texts:
            split.pre_tokenize_str(t)
    elif name == "split+bytelevel":
        for t in texts:
            hf.pre_tokenizer.pre_tokenize_str(t)
    elif name == "chars-32000":
        from tokenizers import Tokenizer, models, trainers

        chars = Tokenizer(models.BPE())
        chars.pre_tokenizer = pre_tokenizers.Split(Regex(onig_pattern(pat)), behavior="isolated")
        chars.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=31999, min_frequency=2, show_progress=False))
    else:
        hf.train_from_iterator(texts, _hf_trainer(int(name) - 1, 2, False))
    return cpu() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=5.0, help="MB of training documents (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="threads for both trainers (default 1)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(stage(args.child[0], args.child[1], args.child[2], int(args.child[3])))
        return
    tmp = Path(tempfile.mkdtemp(prefix="tokenmill-profile-"))
    train_jsonl, train_txt, n = tmp / "train.jsonl", tmp / "train.txt", 0
    with lzma.open(CORPORA / "aozora-ja.jsonl.xz", "rt", encoding="utf-8") as f, open(
        train_jsonl, "w", encoding="utf-8"
    ) as fj, open(train_txt, "w", encoding="utf-8") as ft:
        for line in f:
            doc = json.loads(line)
            if held_out(doc["id"]) or n >= args.mb * 1e6:
                continue
            n += len(doc["text"].encode())
            fj.write(json.dumps({"text": doc["text"]}, ensure_ascii=False) + "\n")
            ft.writelines(p + "\n" for p in doc["text"].split("\n") if p.strip())
    print(f"{n:,} bytes of training text, {args.threads} thread(s), load {os.getloadavg()[0]:.1f}")
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    for name in (*STAGES, "spm-bpe"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, str(train_jsonl), str(train_txt), str(args.threads)],
            env=env, capture_output=True, text=True, check=True,
        ).stdout
        print(f"| {name} | {float(out):.2f} |", flush=True)
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
