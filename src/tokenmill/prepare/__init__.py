"""``prepare``: a text corpus -> a token store (see docs/format.md), in parallel, resumable.

Worker processes tokenize batches of documents; the calling process reads and decompresses
the inputs and is the single writer, taking results in input order, so the store is
byte-identical whatever ``workers`` is, and after a crash and a rerun. The parts: finding
inputs (:mod:`tokenmill.prepare.inputs`), reading them as tasks (:mod:`tokenmill.prepare.readers`, cut by
:mod:`tokenmill.prepare.cutting`), tokenizing (:mod:`tokenmill.prepare.engines` in the processes of
:mod:`tokenmill.prepare.parallel`), writing shards (:mod:`tokenmill.prepare.shard_writer`) and the lock,
checkpoint and resume (:mod:`tokenmill.prepare.checkpoint`). This module ties them together.

Pitfalls: a shard is closed at the first document boundary where it holds ``shard_tokens``
tokens; documents never span shards, so one huge document makes one big shard. Workers are
forked on Linux when the caller runs no other thread, else spawned; then, as with any
multiprocessing code, a script that calls prepare needs ``if __name__ == "__main__":``.
Huge documents are cut only for the GPT-2, cl100k and o200k pre-tokenizers (see
``cutting.safe_cut``); with any other tokenizer a document is encoded whole.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.txt").write_text("hello world")
>>> store = prepare([d / "a.txt"], d / "store", workers=0, progress=False)
>>> store["train"][:].tolist()
[31373, 995, 50256]
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tokenmill.prepare.checkpoint import (
    check_out_dir,
    locked,
    nothing_to_keep,
    remove_trace,
    store_identity,
)
from tokenmill.prepare.coordinator import run_locked, tokenizer_source
from tokenmill.prepare.engines import ENGINES, check_parity
from tokenmill.prepare.executors import EXECUTORS, default_workers, make_executor
from tokenmill.prepare.inputs import absolute_arguments, resolve_inputs
from tokenmill.store import TokenStore
from tokenmill.store.bundled import bundle_name
from tokenmill.tokenizers import get_tokenizer

DEFAULT_SHARD_TOKENS = 100_000_000  # 200 MB per shard with uint16
EOT_POLICIES = ("append", "prepend", "none")
ERROR_POLICIES = ("replace", "strict")
_RUN_ONLY = frozenset(  # PrepareOptions that never change the store
    {"workers", "overwrite", "progress", "verify", "executor", "ray_address"}
)


@dataclass(frozen=True)
class PrepareOptions:
    """How :func:`prepare` tokenizes and stores a corpus; checked when built.

    Pitfall: every field but ``workers``, ``overwrite``, ``progress``, ``verify``, ``executor``
    and ``ray_address`` defines the store:
    it is recorded in the manifest (:meth:`manifest_options`), and a rerun that changes one
    is refused unless ``overwrite``.

    >>> options = PrepareOptions(val_fraction=0.01, workers=0)
    >>> options.manifest_options("gpt2")["val_fraction"], "workers" in options.manifest_options("gpt2")
    (0.01, False)
    >>> PrepareOptions(eot="end")
    Traceback (most recent call last):
    ...
    ValueError: eot must be one of ('append', 'prepend', 'none'), got 'end'
    """

    tokenizer: Any = "gpt2"  # a name or file for get_tokenizer, or a Tokenizer
    workers: int | None = None  # tokenizing processes; None: every CPU we may use; 0: in this process
    eot: str = "append"  # where each document's end-of-text ID goes: "append", "prepend", "none"
    val_fraction: float = 0.0  # share of documents sent to "val" by a seeded hash; 0: no val split
    seed: int = 0  # seed of that hash
    text_field: str = "text"  # the .jsonl key / parquet column that holds the text
    errors: str = "replace"  # invalid UTF-8: "replace" with U+FFFD (counted) or "strict" (raise)
    shard_tokens: int = DEFAULT_SHARD_TOKENS  # a shard closes at the first document end past this
    engine: str = "tiktoken"  # "riptoken": faster, used only after a parity check against tiktoken
    skip_bad_lines: bool = False  # skip (and count) .jsonl lines that are not JSON or lack the text
    overwrite: bool = False  # replace a store made from other inputs or options
    progress: bool = True  # a progress bar on stderr
    verify: bool = False  # also re-read every shard of the finished store and check its sha256 and IDs
    executor: str = "local"  # what runs the tasks: "local" (processes here) or "ray"
    ray_address: str | None = None  # executor="ray": the cluster's HOST:PORT; None: a local Ray

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}, got {self.executor!r}")
        if self.ray_address is not None and self.executor != "ray":
            raise ValueError("ray_address (--ray-address) needs executor='ray' (--executor ray)")
        if self.eot not in EOT_POLICIES:
            raise ValueError(f"eot must be one of {EOT_POLICIES}, got {self.eot!r}")
        if self.errors not in ERROR_POLICIES:
            raise ValueError(f"errors must be one of {ERROR_POLICIES}, got {self.errors!r}")
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        val = self.val_fraction
        if isinstance(val, bool) or not isinstance(val, (int, float)):
            raise TypeError(f"val_fraction must be a number in [0, 1), got {val!r}")
        if not 0.0 <= val < 1.0:
            raise ValueError(
                f"val_fraction must be in [0, 1), got {val!r}; e.g. 0.01 for 1% of the documents"
            )
        if isinstance(self.shard_tokens, bool) or not isinstance(self.shard_tokens, int):
            raise TypeError(f"shard_tokens must be an int, got {self.shard_tokens!r}")
        if self.shard_tokens < 1:
            raise ValueError(f"shard_tokens must be a positive int, got {self.shard_tokens!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"seed must be an int, got {self.seed!r}")
        workers = self.workers
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)):
            raise TypeError(f"workers must be an int or None, got {workers!r}")
        if workers is not None and workers < 0:
            raise ValueError(
                "workers must be an int >= 0 (0: tokenize in this process) or None (all cores), "
                f"got {workers!r}"
            )

    def manifest_options(self, tokenizer_name: str) -> dict[str, Any]:
        """The options that define the store: recorded in its manifest, compared on a rerun."""
        # Every field not known to leave the store unchanged is in: a new option is safe by default.
        options = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _RUN_ONLY}
        if not isinstance(self.tokenizer, str):  # a Tokenizer object is recorded by its name
            options["tokenizer"] = tokenizer_name
        options["val_fraction"] = float(self.val_fraction)  # 0 and 0.0 are one store
        return options


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


def prepare(
    inputs: Any,
    out: str | os.PathLike[str],
    *,
    tokenizer: Any = "gpt2",
    workers: int | None = None,
    eot: str = "append",
    val_fraction: float = 0.0,
    seed: int = 0,
    text_field: str = "text",
    errors: str = "replace",
    shard_tokens: int = DEFAULT_SHARD_TOKENS,
    engine: str = "tiktoken",
    skip_bad_lines: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    executor: str = "local",
    ray_address: str | None = None,
    verify: bool = False,
) -> TokenStore:
    """Tokenize ``inputs`` (files, directories, globs) into the token store ``out``; return it opened.

    Each document is ``encode_ordinary(text)`` plus the EOT ID (``eot``: "append",
    "prepend" or "none"); text that spells ``<|endoftext|>`` stays ordinary text (counted in
    ``manifest["stats"]["eot_spellings"]``). ``workers``: tokenizing processes (None: every
    CPU this process may use; 0: in this process). ``val_fraction`` sends documents to
    "val" by a seeded hash of (input name, ordinal): the name is the file's base name, or
    its path relative to the directory (or glob) argument it came from, so ``x`` and
    ``./x`` split alike. ``errors``: "replace" invalid UTF-8 (counted) or "strict".
    ``engine="riptoken"``: faster, used only after a parity check against tiktoken.
    ``executor``: "local" (processes on this machine) or "ray" (Ray tasks on the cluster at
    ``ray_address``, or on a local Ray started for the run, listening on 127.0.0.1 only);
    the store is byte-identical either way. The options are those of :class:`PrepareOptions`.

    Pitfall: rerunning the same call resumes an interrupted run (the finished tasks are
    skipped), or checks the finished store (sizes, indexes, sha256) and returns it,
    rebuilding it if a shard is damaged; ``overwrite`` rebuilds it anyway, and is needed for
    other inputs or options on the same ``out``. ``verify`` also re-reads the shards this
    run wrote. A tokenizer given as a file or directory is copied into the store
    (``tokenizer/``), so the store decodes anywhere. With ``executor="ray"`` the inputs and
    ``out`` must be at the same path on every node (a shared file system).
    Memory stays bounded except for one case: a ``.jsonl`` line over 64 MB is parsed whole,
    needing about 2x its size (ASCII; Python holds non-ASCII text at 2-4 bytes a character);
    ``.txt`` documents stream whatever their size.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.jsonl").write_text('{"text": "hello world"}\\n{"text": ""}\\n')
    >>> store = prepare([d / "a.jsonl"], d / "store", workers=0, progress=False)
    >>> store["train"][:].tolist(), store.manifest["stats"]["empty_documents"]
    ([31373, 995, 50256], 1)
    """
    options = PrepareOptions(
        tokenizer=tokenizer,
        workers=workers,
        eot=eot,
        val_fraction=val_fraction,
        seed=seed,
        text_field=text_field,
        errors=errors,
        shard_tokens=shard_tokens,
        engine=engine,
        skip_bad_lines=skip_bad_lines,
        overwrite=overwrite,
        progress=progress,
        executor=executor,
        ray_address=ray_address,
        verify=verify,
    )
    return run_prepare(inputs, out, options).store


def run_prepare(inputs: Any, out: str | os.PathLike[str], options: PrepareOptions) -> PrepareReport:
    """:func:`prepare` with its options built, returning a :class:`PrepareReport`.

    Pitfall: an error never throws away finished work: when a task fails (bad input, a full
    disk), the tasks already finished keep their output and the error names the failed
    task's input; fix it and rerun: the finished tasks are skipped. A run that fails before
    finishing any task leaves nothing: no directory it created, no lock file. Ctrl-C keeps
    the directory, so that ``tokenmill stats`` can say how to resume.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.txt").write_text("hello world")
    >>> options = PrepareOptions(workers=0, progress=False)
    >>> [run_prepare([d / "a.txt"], d / "s", options).up_to_date for _ in range(2)]
    [False, True]
    """
    started = time.perf_counter()
    tok = get_tokenizer(options.tokenizer)
    if options.eot != "none" and tok.eot_id is None:
        raise ValueError(f"tokenizer {tok.name!r} has no end-of-text token; pass eot='none' (--eot none)")
    # Every input error before any work; a store inside an input directory is not an input.
    skipped: list[str] = []
    files = resolve_inputs(inputs, text_field=options.text_field, exclude=out, skipped=skipped)
    check_parity(tok, options.engine)
    source = tokenizer_source(options.tokenizer, tok)
    identity = store_identity(
        tok,
        options.manifest_options(tok.name),
        [f.describe() for f in files],
        tokenizer_file=bundle_name(source) if source else None,
        skipped=skipped,
        arguments=absolute_arguments(inputs),
    )
    n_workers = default_workers() if options.workers is None else options.workers
    executor = make_executor(options.executor, workers=n_workers, ray_address=options.ray_address)
    out = Path(out)
    with executor:  # connect first: an unreachable cluster fails before anything is written
        startup = time.perf_counter() - started
        created = check_out_dir(out, overwrite=options.overwrite)
        with locked(out) as lock_fd:
            try:
                report = run_locked(executor, files, out, tok, options, identity, source, lock_fd, started)
            except KeyboardInterrupt:
                raise  # kept as it is: `tokenmill stats` explains it, a rerun resumes
            except BaseException:
                if nothing_to_keep(out):
                    remove_trace(out, created=created)
                raise
    if options.verify and not report.up_to_date:
        report.store.verify()  # re-read what this run wrote
    return dataclasses.replace(report, startup_seconds=startup)


def reference_tokens(
    texts: Sequence[str], tokenizer: Any = "gpt2", *, eot: str = "append"
) -> list[list[int]]:
    """The obvious per-document encoding, the test oracle for :func:`prepare`.

    Pitfall: empty texts are dropped, as prepare drops (and counts) empty documents.

    >>> reference_tokens(["hi", "<|endoftext|>"])
    [[5303, 50256], [27, 91, 437, 1659, 5239, 91, 29, 50256]]
    """
    tok = get_tokenizer(tokenizer)
    head, tail = ([tok.eot_id] if eot == "prepend" else []), ([tok.eot_id] if eot == "append" else [])
    return [head + tok.encode_ordinary(t) + tail for t in texts if t]
