"""prepare's options and report: :class:`PrepareOptions` (one source of truth) and :class:`PrepareReport`.

Each option is a field with its default, a comment, and its command-line flag and help in
the field's metadata; ``tokenmill prepare`` builds its flags from these fields, and
:func:`~tokenmill.prepare.run.prepare`'s keyword defaults equal them (a test checks it).

Pitfall: every field whose metadata does not say ``"store": False`` defines the store: it
is recorded in the manifest (:meth:`PrepareOptions.manifest_options`), and a rerun that
changes one is refused unless ``overwrite``.

>>> PrepareOptions.field_flag("val_fraction")
'--val-fraction'
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

from tokenmill.common.checks import is_int, non_negative_int, positive_int
from tokenmill.common.errors import ExplainedError, OptionError, OptionTypeError
from tokenmill.prepare.engines import ENGINES
from tokenmill.prepare.executor import EXECUTORS
from tokenmill.store import TokenStore

DEFAULT_SHARD_TOKENS = 100_000_000  # 200 MB per shard with uint16
DEFAULT_MAX_DOCUMENT_BYTES = 256 << 20  # a .jsonl line is parsed whole: about 3x this in memory
EOT_POLICIES = ("append", "prepend", "none")
ERROR_POLICIES = ("replace", "strict")


def _opt(default: Any, flag: str, help: str, **cli: Any) -> Any:
    """A field with its flag and help; ``cli`` holds argparse keywords and ``store=False`` for run-only options."""
    return field(default=default, metadata={"flag": flag, "help": help, **cli})


@dataclass(frozen=True)
class PrepareOptions:
    """How :func:`~tokenmill.prepare.run.prepare` tokenizes and stores a corpus; checked when built.

    Pitfall: ``workers``, ``overwrite``, ``progress``, ``verify``, ``executor``,
    ``ray_address``, ``ray_timeout`` and ``max_document_bytes`` only change how a run goes; every other
    field defines the store.

    >>> options = PrepareOptions(val_fraction=0.01, workers=0)
    >>> options.manifest_options("gpt2")["val_fraction"], "workers" in options.manifest_options("gpt2")
    (0.01, False)
    >>> PrepareOptions(eot="end")
    Traceback (most recent call last):
    ...
    tokenmill.common.errors.OptionError: eot must be one of ('append', 'prepend', 'none'), got 'end'
    """

    # a name or file for get_tokenizer, or a Tokenizer
    tokenizer: Any = _opt(
        "gpt2", "--tokenizer", "tiktoken name, or a tokenizer file or directory (copied into the store; default gpt2)",
        short="-t",
    )
    # tokenizing processes; None: every CPU we may use; 0: in this process
    workers: int | None = _opt(
        None, "--workers", "tokenizing processes (default: all cores; 0: in-process)", type=int, metavar="N", store=False
    )
    # where each document's end-of-text ID goes
    eot: str = _opt("append", "--eot", "where each document's end-of-text token goes (default append)", choices=EOT_POLICIES)
    # share of documents sent to "val" by a seeded hash; 0: no val split
    val_fraction: float = _opt(
        0.0, "--val-fraction", "fraction of documents for the val split, by a seeded hash (default 0)", type=float, metavar="F"
    )
    # seed of that hash
    seed: int = _opt(0, "--seed", "seed of the train/val hash (default 0)", type=int)
    # the .jsonl key / parquet column that holds the text
    text_field: str = _opt("text", "--text-field", "the JSON key / parquet column holding the text (default text)", metavar="NAME")
    # invalid UTF-8: "replace" with U+FFFD (counted) or "strict" (raise)
    errors: str = _opt(
        "replace", "--errors", "invalid UTF-8: replace with U+FFFD and count (default), or stop", choices=ERROR_POLICIES
    )
    # a shard closes at the first document end past this; shards are per task (see the help)
    shard_tokens: int = _opt(
        DEFAULT_SHARD_TOKENS, "--shard-tokens",
        f"the most tokens in a shard (default {DEFAULT_SHARD_TOKENS:,}: 200 MB of uint16; a shard closes at the "
        "first document end past it). Each task (a file, or a 1-64 MB range of a big .jsonl) writes its own "
        "shards, <split>-<task>-<k>, so most shards are smaller: a 50 MB corpus of 47 tasks gives ~47 shards "
        "of ~0.25M tokens; a task with no document in a split writes no shard there (gaps in the numbers)",
        type=int, metavar="N",
    )
    # "riptoken": faster, used only after a parity check against tiktoken
    engine: str = _opt(
        "tiktoken", "--engine", "tokenizing engine (riptoken: faster, pip install 'tokenmill[fast]')", choices=ENGINES
    )
    # skip (and count) .jsonl lines that are not JSON or lack the text
    skip_bad_lines: bool = _opt(False, "--skip-bad-lines", "skip (and count) .jsonl lines that are not JSON or lack the text field")
    # a .jsonl line or parquet value is held whole while parsed: bigger ones are refused (memory)
    max_document_bytes: int = _opt(
        DEFAULT_MAX_DOCUMENT_BYTES, "--max-document-bytes",
        f"refuse a .jsonl line or parquet value over N bytes, naming it (default {DEFAULT_MAX_DOCUMENT_BYTES:,}: "
        "parsing one takes about 3x its size in memory); a .txt streams in pieces whatever its size",
        type=int, metavar="N", store=False,
    )
    # replace a store made from other inputs or options
    overwrite: bool = _opt(
        False, "--overwrite", "replace a store made from other inputs or options (or rebuild this one)", store=False
    )
    # a progress bar on stderr (the command line's --quiet turns it off)
    progress: bool = _opt(True, "--quiet", "no progress bar", store=False, negate=True)
    # also re-read every shard of the finished store and check its sha256 and IDs
    verify: bool = _opt(
        False, "--verify", "also re-read every shard written and check its sha256 (kept shards are always checked)",
        store=False,
    )
    # what runs the tasks: "local" (processes here) or "ray"
    executor: str = _opt(
        "local", "--executor", "what runs the tasks: local processes (default) or Ray (pip install 'tokenmill[ray]')",
        choices=EXECUTORS, store=False,
    )
    # executor="ray": the cluster's HOST:PORT; None: a local Ray
    ray_address: str | None = _opt(
        None, "--ray-address", "with --executor ray: the cluster's HOST:PORT (default: start a local Ray on 127.0.0.1)",
        metavar="ADDR", store=False,
    )
    # executor="ray" with an address: seconds the head has to accept and answer before we give up
    ray_timeout: float = _opt(
        5.0, "--ray-timeout", "with --ray-address: seconds the Ray head has to answer (default 5)",
        type=float, metavar="SECONDS", store=False,
    )

    def __post_init__(self) -> None:
        for name, allowed in (("executor", EXECUTORS), ("eot", EOT_POLICIES), ("errors", ERROR_POLICIES), ("engine", ENGINES)):
            if getattr(self, name) not in allowed:
                raise OptionError(name, "{%s} must be one of {0}, got {1!r}" % name, allowed, getattr(self, name))
        if self.ray_address is not None and self.executor != "ray":
            raise ExplainedError("{ray_address} needs {executor=ray}")
        val = self.val_fraction
        if isinstance(val, bool) or not isinstance(val, (int, float)):
            raise OptionTypeError("val_fraction", "{val_fraction} must be a number in [0, 1), got {0!r}", val)
        if not 0.0 <= val < 1.0:
            raise OptionError(
                "val_fraction", "{val_fraction} must be in [0, 1), got {0!r}; e.g. 0.01 for 1% of the documents", val
            )
        positive_int("shard_tokens", self.shard_tokens)
        timeout = self.ray_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
            raise OptionError("ray_timeout", "{ray_timeout} must be a number of seconds > 0, got {0!r}", timeout)
        positive_int("max_document_bytes", self.max_document_bytes)
        if not is_int(self.seed):
            raise OptionTypeError("seed", "{seed} must be an int, got {0!r}", self.seed)
        if self.workers is not None and not is_int(self.workers):
            raise OptionTypeError("workers", "{workers} must be an int or None, got {0!r}", self.workers)
        if self.workers is not None:
            non_negative_int("workers", self.workers)

    def manifest_options(self, tokenizer_name: str) -> dict[str, Any]:
        """The options that define the store: recorded in its manifest, compared on a rerun."""
        # Every field not marked run-only is in: a new option is safe by default.
        options = {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("store", True)}
        if not isinstance(self.tokenizer, str):  # a Tokenizer object is recorded by its name
            options["tokenizer"] = tokenizer_name
        options["val_fraction"] = float(self.val_fraction)  # 0 and 0.0 are one store
        return options

    def command_words(self, tokenizer_name: str, tokenizer_source: str | None = None) -> list[str]:
        """The flags of the store-defining options that differ from their defaults, as argument words.

        >>> PrepareOptions(seed=3, skip_bad_lines=True, workers=2).command_words("gpt2")
        ['--seed', '3', '--skip-bad-lines']
        """
        words: list[str] = []
        recorded = self.manifest_options(tokenizer_name)
        if tokenizer_source is not None:  # a file: by its absolute path, to work from anywhere
            recorded["tokenizer"] = os.path.abspath(tokenizer_source)
        for f in fields(self):
            if f.name in recorded and recorded[f.name] != f.default:
                value = recorded[f.name]
                words += [f.metadata["flag"]] if isinstance(value, bool) else [f.metadata["flag"], str(value)]
        return words

    @classmethod
    def field_flag(cls, name: str) -> str:
        """The command-line flag of the option ``name``."""
        return next(f.metadata["flag"] for f in fields(cls) if f.name == name)


@dataclass(frozen=True)
class PrepareReport:
    """What one prepare run did (the CLI prints its summary line from this)."""

    store: TokenStore  # the finished store, opened
    up_to_date: bool  # the store was already complete with these inputs/options: nothing done
    resumed_shards: int  # shards kept from an interrupted run
    seconds: float  # wall time of this run
    run_bytes: int = 0  # input bytes this run read (less than stats["bytes_read"] when resumed)
    run_tokens: int = 0  # tokens this run wrote
    tasks: int = 0  # tasks in the plan
    skipped_tasks: int = 0  # tasks found finished by an earlier run, not redone
    nodes: frozenset[str] = field(default_factory=frozenset)  # where tasks ran (hosts / Ray node IDs)
    startup_seconds: float = 0.0  # of ``seconds``: starting the executor (a local Ray: seconds)
    disk_bytes: int = 0  # size of the input files on disk (compressed, when they are)
    executor: str = "local"  # what ran the tasks ("local" or "ray")
