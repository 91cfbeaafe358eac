"""train_tokenizer's options: :class:`TrainTokenizerOptions`, one field per option with its flag and help.

``tokenmill train-tokenizer`` builds its flags from these fields, and
:func:`~tokenmill.training.trainer.train_tokenizer`'s keyword defaults equal them (a test
checks it).

>>> TrainTokenizerOptions(vocab_size=1000).min_frequency
2
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tokenmill.prepare.executor import EXECUTORS
from tokenmill.prepare.options import ERROR_POLICIES
from tokenmill.tokenizers.base import ENDOFTEXT
from tokenmill.training.memory import DEFAULT_MAX_MEMORY
from tokenmill.training.patterns import DEFAULT_PATTERN, PATTERNS


def _opt(default: object, flag: str, help: str, **cli: object) -> object:
    """A field with its flag and help; ``cli`` holds argparse keywords."""
    return field(default=default, metadata={"flag": flag, "help": help, **cli})


@dataclass(frozen=True)
class TrainTokenizerOptions:
    """How :func:`~tokenmill.training.trainer.train_tokenizer` learns and writes a tokenizer.

    Pitfall: ``vocab_size`` counts everything (256 bytes + merges + special tokens) and has
    no default: a size that suits one language and corpus does not suit another.
    """

    # tokens in all: 256 bytes + merges + special tokens
    vocab_size: int = field(
        metadata={"flag": "--vocab-size", "help": "tokens in all: 256 bytes + merges + special tokens (e.g. 32000)",
                  "type": int, "required": True, "metavar": "N"}
    )
    # the pre-tokenizer regex, by name
    pattern: str = _opt(
        DEFAULT_PATTERN, "--pattern", f"pre-tokenizer: {', '.join(PATTERNS)} (default {DEFAULT_PATTERN})", metavar="NAME"
    )
    # special tokens, IDs after the merges (<|endoftext|> last, as in GPT-2)
    special_tokens: Sequence[str] = _opt(
        (ENDOFTEXT,), "--special-token", "a special token (repeatable; default: <|endoftext|>)",
        action="append", metavar="TOKEN",
    )
    # a pair seen fewer times is never merged
    min_frequency: int = _opt(2, "--min-frequency", "never merge a pair seen fewer times (default 2)", type=int, metavar="N")
    # the .jsonl key / parquet column that holds the text
    text_field: str = _opt("text", "--text-field", "the JSON key / parquet column holding the text (default text)", metavar="NAME")
    # invalid UTF-8: "replace" with U+FFFD (counted) or "strict" (raise)
    errors: str = _opt(
        "replace", "--errors", "invalid UTF-8: replace with U+FFFD and count (default), or stop", choices=ERROR_POLICIES
    )
    # skip (and count) .jsonl lines that are not JSON or lack the text
    skip_bad_lines: bool = _opt(False, "--skip-bad-lines", "skip (and count) .jsonl lines that are not JSON or lack the text field")
    # peak memory of the whole run (workers included): sets the sample of text the trainer sees
    max_memory: str | int = _opt(
        DEFAULT_MAX_MEMORY, "--max-memory",
        f"peak memory of the run, workers included, e.g. 2GB, 1.5GiB, 500MB (default {DEFAULT_MAX_MEMORY}): a bigger "
        "corpus is sampled (whole lines, by a seeded hash) to fit", metavar="SIZE",
    )
    # seed of the sample's hash
    seed: int = _opt(0, "--seed", "seed of the sample's hash (default 0)", type=int)
    # reading processes; None: every core (fewer if max_memory would not hold them)
    workers: int | None = _opt(
        None, "--workers", "reading processes (default: all cores, as many as --max-memory holds; 0: in-process)",
        type=int, metavar="N",
    )
    # what runs the reading tasks: "local" processes or "ray"
    executor: str = _opt(
        "local", "--executor", "what reads the inputs: local processes (default) or Ray (pip install 'tokenmill[ray]')",
        choices=EXECUTORS,
    )
    # executor="ray": the cluster's HOST:PORT; None: a local Ray
    ray_address: str | None = _opt(
        None, "--ray-address", "with --executor ray: the cluster's HOST:PORT (default: a local Ray on 127.0.0.1)",
        metavar="HOST:PORT",
    )
    # replace the tokenizer already in out
    overwrite: bool = _opt(False, "--overwrite", "replace the tokenizer already in DIR")
    # a progress bar on stderr (the command line's --quiet turns it off)
    progress: bool = _opt(True, "--quiet", "no progress bar", negate=True)
