"""The options of an export and an import: one frozen dataclass each, the source of the CLI flags.

Each field's metadata holds its flag and help; ``tokenmill export``/``import`` build their
flags from it, and :func:`~tokenmill.export.export` / :func:`~tokenmill.export.import_store`
take the same keywords with the same defaults.

>>> ExportOptions().block_size, ImportOptions(eot="prepend").eot
(2049, 'prepend')
>>> ImportOptions(eot="end")
Traceback (most recent call last):
...
tokenmill.common.errors.OptionError: eot must be append or prepend (where the EOT token sits in each document), got 'end'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tokenmill.common.checks import positive_int
from tokenmill.common.errors import OptionError
from tokenmill.export.litdata import DEFAULT_BLOCK_SIZE
from tokenmill.export.llmc import DEFAULT_SHARD_TOKENS, MAX_TOKENS

EXPORT_FORMATS = ("nanogpt", "llmc", "megatron", "datatrove", "litdata", "parquet")
IMPORT_FORMATS = ("megatron", "datatrove", "nanogpt", "llmc", "parquet")
INFERRED = ("nanogpt", "llmc")  # formats without document boundaries: found from the EOT token
EOT_DEFAULT = {"nanogpt": "append", "llmc": "prepend"}  # nanoGPT appends EOT; llm.c's fineweb.py prepends it


def _opt(default: Any, flag: str, help: str, **cli: Any) -> Any:
    return field(default=default, metadata={"flag": flag, "help": help, **cli})


def check_format(fmt: Any, formats: tuple[str, ...]) -> str:
    if fmt not in formats:
        raise OptionError("format", "{format} must be one of {0}, got {1!r}", ", ".join(formats), fmt)
    return fmt


@dataclass(frozen=True)
class ExportOptions:
    """How :func:`~tokenmill.export.export` names and cuts what it writes; checked when built."""

    # megatron: the file prefix instead of the split name ({prefix}_text_document.bin/.idx); one split only
    prefix: str | None = _opt(None, "--prefix", "megatron: file prefix instead of the split name "
                              "({prefix}_text_document.bin/.idx; a store with one split)", metavar="NAME")
    # litdata: the block size the chunks suit (chunks hold multiples of it, so no block is cut)
    block_size: int = _opt(DEFAULT_BLOCK_SIZE, "--block-size", "litdata: block size the chunks suit, litgpt's "
                           f"max_seq_length + 1 (default {DEFAULT_BLOCK_SIZE})", type=int, metavar="N")
    # llmc: the {name} in {name}_val_000000.bin
    name: str = _opt("tokenmill", "--name", "llmc: file name stem, as in {name}_val_000000.bin (default tokenmill)",
                     metavar="NAME")
    # llmc: tokens per shard file (llm.c's header counts them in an int32)
    shard_tokens: int = _opt(DEFAULT_SHARD_TOKENS, "--shard-tokens", "llmc: tokens per shard file, below 2**31 "
                             f"(default {DEFAULT_SHARD_TOKENS:,})", type=int, metavar="N")
    # re-read every file written and compare each token (and document end) with the store's
    check: bool = _opt(True, "--no-check", "skip re-reading the export to compare it with the store",
                       action="store_false", dest="check")

    def __post_init__(self) -> None:
        positive_int("block_size", self.block_size)
        positive_int("shard_tokens", self.shard_tokens)
        if self.shard_tokens > MAX_TOKENS:
            raise OptionError("shard_tokens", "{shard_tokens} must be below 2**31 (llm.c counts tokens in an "
                              "int32), got {0}", self.shard_tokens)
        for key in ("prefix", "name"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value or "/" in value):
                raise OptionError(key, "{%s} must be a plain file name part, got {0!r}" % key, value)


@dataclass(frozen=True)
class ImportOptions:
    """How :func:`~tokenmill.export.import_store` reads files that carry no boundaries, and the store it writes."""

    # nanogpt/llmc: where the EOT token sits in each document (None: the format's custom)
    eot: str | None = _opt(None, "--eot", "nanogpt/llmc: EOT ends each document (append, nanoGPT's default) or "
                           "starts it (prepend, llm.c's fineweb.py; the llmc default)", choices=("append", "prepend"))
    # the split name for a single file or prefix (a directory's files name their splits)
    split: str = _opt("train", "--split", "split name for a single file or prefix (default train)", metavar="NAME")
    # tokens per store shard
    shard_tokens: int = _opt(DEFAULT_SHARD_TOKENS, "--shard-tokens", "tokens per store shard "
                             f"(default {DEFAULT_SHARD_TOKENS:,})", type=int, metavar="N")

    def __post_init__(self) -> None:
        if self.eot not in (None, "append", "prepend"):
            raise OptionError("eot", "{eot} must be append or prepend (where the EOT token sits in each "
                              "document), got {0!r}", self.eot)
        if not isinstance(self.split, str) or not self.split.isidentifier():
            raise OptionError("split", "{split} must be a simple name like train, got {0!r}", self.split)
        positive_int("shard_tokens", self.shard_tokens)
