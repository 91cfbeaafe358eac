"""`tokenmill train-tokenizer`: learn a byte-level BPE tokenizer from a corpus."""

from __future__ import annotations

import argparse
from typing import Any

EPILOG = """\
examples:
  tokenmill train-tokenizer aozora-ja.jsonl.xz --vocab-size 32000 --out ja-tok/
  tokenmill train-tokenizer books/ 'extra/*.txt' --vocab-size 50257 --out en-tok/ --pattern gpt2
  tokenmill tokenize "吾輩は猫である。" --tokenizer ja-tok/       # use it
  tokenmill prepare aozora-ja.jsonl.xz --tokenizer ja-tok/ --out store/

Inputs are read as `prepare` reads them: .txt, .jsonl (--text-field), .parquet; .txt/.jsonl
may be .gz, .xz or .zst; directories (recursive) and globs. The vocabulary is byte-level:
the 256 bytes, then the merges, then the special tokens (<|endoftext|> last, as in GPT-2),
--vocab-size tokens in all; any text encodes. --pattern is the pre-tokenizer: multilingual
(default: GPT-2's rules for spaced scripts, Japanese cut where kanji/hiragana/katakana
change), gpt2, cl100k or o200k. DIR gets tokenizer.tiktoken (ranks), tokenizer.json
(Hugging Face, same IDs) and tokenmill-tokenizer.json (pattern, special tokens, sha256s).
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from tokenmill.prepare import ERROR_POLICIES
    from tokenmill.training.patterns import DEFAULT_PATTERN, PATTERNS

    p = subparsers.add_parser(
        "train-tokenizer",
        help="learn a byte-level BPE tokenizer from a corpus (any language)",
        description="Train a byte-level BPE tokenizer (Hugging Face's Rust trainer) on text files and "
        "export it for tiktoken: a directory that --tokenizer DIR and get_tokenizer(DIR) use.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, directories or globs")
    p.add_argument("--vocab-size", type=int, required=True, metavar="N",
                   help="tokens in all: 256 bytes + merges + special tokens (e.g. 32000)")
    p.add_argument("--out", required=True, metavar="DIR", help="the tokenizer directory to write")
    p.add_argument("--pattern", default=DEFAULT_PATTERN, metavar="NAME",
                   help=f"pre-tokenizer: {', '.join(PATTERNS)} (default {DEFAULT_PATTERN})")
    p.add_argument("--special-token", dest="special_tokens", action="append", metavar="TOKEN",
                   help="a special token (repeatable; default: <|endoftext|>)")
    p.add_argument("--min-frequency", type=int, default=2, metavar="N",
                   help="never merge a pair seen fewer times (default 2)")
    p.add_argument("--text-field", default="text", metavar="NAME",
                   help="the JSON key / parquet column holding the text (default text)")
    p.add_argument("--errors", choices=ERROR_POLICIES, default="replace",
                   help="invalid UTF-8: replace with U+FFFD and count (default), or stop")
    p.add_argument("--skip-bad-lines", action="store_true",
                   help="skip (and count) .jsonl lines that are not JSON or lack the text field")
    p.add_argument("--overwrite", action="store_true", help="replace the tokenizer already in DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from tokenmill.tokenizers.trained import read_meta
    from tokenmill.training import train_tokenizer

    tok = train_tokenizer(
        args.inputs,
        args.out,
        vocab_size=args.vocab_size,
        pattern=args.pattern,
        special_tokens=tuple(args.special_tokens or ("<|endoftext|>",)),
        min_frequency=args.min_frequency,
        text_field=args.text_field,
        errors=args.errors,
        skip_bad_lines=args.skip_bad_lines,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    meta = read_meta(args.out)
    seen = meta["trained_on"]
    skipped = seen.get("unknown_files_skipped", 0)
    skip_note = f"; skipped {skipped:,} file{'' if skipped == 1 else 's'} of unknown type" if skipped else ""
    print(
        f"{tok.vocab_size:,} tokens ({meta['merges']:,} merges, pattern {meta['pattern']}) from "
        f"{seen['documents']:,} documents, {seen['bytes_read'] / 1e6:,.1f} MB in {meta['seconds']:.1f} s "
        f"-> {args.out}{skip_note}"
    )
    return 0
