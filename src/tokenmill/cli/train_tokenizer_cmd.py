"""`tokenmill train-tokenizer`: learn a byte-level BPE tokenizer from a corpus."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from tokenmill.cli.terminal import human_size, safe

EPILOG = """\
examples:
  tokenmill train-tokenizer aozora-ja.jsonl.xz --vocab-size 32000 --out ja-tok/
  tokenmill train-tokenizer books/ 'extra/*.txt' --vocab-size 50257 -o en-tok/ --pattern gpt2
  tokenmill train-tokenizer 'wiki-ja/*.jsonl.zst' --vocab-size 32000 -o ja-tok/ --max-memory 8GB --workers 4
  tokenmill train-tokenizer big/ --vocab-size 32000 -o tok/ --executor ray --ray-address head:6379
  tokenmill tokenize "吾輩は猫である。" --tokenizer ja-tok/       # use it
  tokenmill prepare aozora-ja.jsonl.xz --tokenizer ja-tok/ --out store/

Inputs are read as `prepare` reads them: .txt, .jsonl (--text-field), .parquet; .txt/.jsonl
may be .gz, .xz or .zst; directories (recursive) and globs. The vocabulary is byte-level:
the 256 bytes, then the merges, then the special tokens (<|endoftext|> last, as in GPT-2),
--vocab-size tokens in all; any text encodes. --pattern is the pre-tokenizer: multilingual
(default: GPT-2's rules for spaced scripts, Japanese cut where kanji/hiragana/katakana
change), gpt2, cl100k or o200k. DIR gets tokenizer.tiktoken (ranks), tokenizer.json
(Hugging Face, same IDs) and tokenmill-tokenizer.json (pattern, special tokens, sha256s).

Memory: --max-memory (default 2GB) bounds the whole run, workers included. The trainer's
memory grows with the text it sees and its distinct pre-tokens (about 20 bytes per byte of
Japanese), so a bigger corpus is sampled: whole lines in chunks of ~4 KB, in the order of a
hash of --seed and their place, up to (SIZE - 140 MB) / 20 bytes and then as far as the
measured memory model allows; the same whatever --workers or --executor read them. The
inputs are read by prepare's tasks, on --workers processes (or Ray). The expected peak is
printed (stderr) before training starts; a bound too small for --vocab-size says what it needs.
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from tokenmill.training.options import TrainTokenizerOptions

    p = subparsers.add_parser(
        "train-tokenizer",
        help="learn a byte-level BPE tokenizer from a corpus (any language)",
        description="Train a byte-level BPE tokenizer (Hugging Face's Rust trainer) on text files and "
        "export it for tiktoken: a directory that --tokenizer DIR and get_tokenizer(DIR) use.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, directories or globs")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="the tokenizer directory to write")
    for f in dataclasses.fields(TrainTokenizerOptions):
        meta = dict(f.metadata)
        flag, help_text = meta.pop("flag"), meta.pop("help")
        if meta.pop("negate", False):  # --quiet sets progress=False
            p.add_argument(flag, dest=f.name, action="store_false", help=help_text)
        elif isinstance(f.default, bool):
            p.add_argument(flag, dest=f.name, action="store_true", help=help_text)
        elif meta.get("action") == "append":  # repeatable; none given: the field's default
            p.add_argument(flag, dest=f.name, help=help_text, **meta)
        else:
            default = {} if f.default is dataclasses.MISSING else {"default": f.default}
            p.add_argument(flag, dest=f.name, help=help_text, **default, **meta)
    p.set_defaults(run=run, after_failure=_nothing_written)
    return p


def _nothing_written(args: argparse.Namespace) -> str:
    """After a failed or interrupted run: the tokenizer directory is written only at the end, whole."""
    return f"{args.out} was not written (a tokenizer directory appears only when training finishes)"


def run(args: argparse.Namespace) -> int:
    from tokenmill.tokenizers.trained import read_meta
    from tokenmill.training import train_tokenizer
    from tokenmill.training.options import TrainTokenizerOptions

    options = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainTokenizerOptions)}
    if options["special_tokens"] is None:
        del options["special_tokens"]
    tok = train_tokenizer(args.inputs, args.out, **options)
    meta = read_meta(args.out)
    seen = meta["trained_on"]
    skipped = seen.get("unknown_files_skipped", 0)
    skip_note = f"; skipped {skipped:,} file{'' if skipped == 1 else 's'} of unknown type" if skipped else ""
    sample = meta["sample"]
    if sample["method"] == "all":
        used = f"all of it (under the {human_size(sample['budget_bytes'])} sample budget of --max-memory)"
    else:
        used = (f"a sample of {human_size(sample['bytes_used'])} from {sample['documents_used']:,} documents "
                f"(--max-memory {args.max_memory}, --seed {sample['seed']})")
    print(safe(
        f"{tok.vocab_size:,} tokens ({meta['merges']:,} merges, pattern {meta['pattern']}) from "
        f"{seen['documents']:,} documents, {human_size(seen['bytes_read'])}, trained on {used}, "
        f"in {meta['run']['seconds']:.1f} s -> {args.out}{skip_note}"
    ))
    return 0
