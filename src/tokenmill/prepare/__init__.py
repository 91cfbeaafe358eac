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

import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from tokenmill.prepare.checkpoint import (
    check_out_dir,
    load_state,
    locked,
    nothing_to_keep,
    remove_trace,
    save_checkpoint,
    store_identity,
)
from tokenmill.prepare.cutting import CUTTABLE_PATTERNS
from tokenmill.prepare.engines import ENGINES, check_parity
from tokenmill.prepare.inputs import InputFile, absolute_arguments, resolve_inputs
from tokenmill.prepare.parallel import default_workers, progress_bar, tokenized
from tokenmill.prepare.readers import iter_tasks
from tokenmill.prepare.shard_writer import ShardWriter
from tokenmill.prepare.worker import SPLITS, STAT_KEYS, Job
from tokenmill.store import TokenStore, dtype_for
from tokenmill.store.bundled import bundle_name, copy_tokenizer
from tokenmill.tokenizers import get_tokenizer
from tokenmill.vocab import KNOWN_ENCODINGS

DEFAULT_SHARD_TOKENS = 100_000_000  # 200 MB per shard with uint16
EOT_POLICIES = ("append", "prepend", "none")
ERROR_POLICIES = ("replace", "strict")
_RUN_ONLY = frozenset({"workers", "overwrite", "progress", "verify"})  # PrepareOptions that never change the store


@dataclass(frozen=True)
class PrepareOptions:
    """How :func:`prepare` tokenizes and stores a corpus; checked when built.

    Pitfall: every field but ``workers``, ``overwrite``, ``progress`` and ``verify`` defines the store:
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

    def __post_init__(self) -> None:
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
    ``engine="riptoken"``: faster, used only after a parity check against tiktoken. The
    options are those of :class:`PrepareOptions`.

    Pitfall: rerunning the same call resumes an interrupted run, or checks the finished
    store (sizes, indexes, sha256) and returns it, rebuilding it if a shard is damaged;
    ``overwrite`` rebuilds it anyway, and is needed for other inputs or options on the same
    ``out``. ``verify`` also re-reads the shards this run wrote. A tokenizer given as a file
    or directory is copied into the store (``tokenizer/``), so the store decodes anywhere.
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
        verify=verify,
    )
    return run_prepare(inputs, out, options).store


def run_prepare(inputs: Any, out: str | os.PathLike[str], options: PrepareOptions) -> PrepareReport:
    """:func:`prepare` with its options built, returning a :class:`PrepareReport`.

    Pitfall: an error never throws away finished shards: they and the checkpoint stay for
    a rerun (which resumes, or, with other inputs or options, asks for ``overwrite``); only
    what cannot be resumed from (the open shards' temp files) is removed. A run that fails
    before finishing any shard leaves nothing: no directory it created, no lock file.
    Ctrl-C keeps the directory, so that ``tokenmill stats`` can say how to resume.

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
    source = _tokenizer_source(options.tokenizer, tok)
    identity = store_identity(
        tok,
        options.manifest_options(tok.name),
        [f.describe() for f in files],
        tokenizer_file=bundle_name(source) if source else None,
        skipped=skipped,
        arguments=absolute_arguments(inputs),
    )
    out = Path(out)
    created = check_out_dir(out, overwrite=options.overwrite)
    with locked(out) as lock_fd:
        try:
            report = _run_locked(files, out, tok, options, identity, source, lock_fd, started)
        except KeyboardInterrupt:
            raise  # kept as it is: `tokenmill stats` explains it, a rerun resumes
        except BaseException:
            if nothing_to_keep(out):
                remove_trace(out, created=created)
            raise
    if options.verify and not report.up_to_date:
        report.store.verify()  # re-read what this run wrote
    return report


def _run_locked(
    files: Sequence[InputFile],
    out: Path,
    tok: Any,
    options: PrepareOptions,
    identity: dict[str, Any],
    source: str | None,
    lock_fd: int,
    started: float,
) -> PrepareReport:
    splits = SPLITS[: 2 if options.val_fraction > 0 else 1]
    state = load_state(out, identity, splits, options.overwrite)
    if state is None:
        store = TokenStore.open(out)
        if options.verify:
            store.verify()
        return PrepareReport(store, True, 0, time.perf_counter() - started)
    resumed = sum(len(s["shards"]) for s in state.values())
    if not resumed:  # a checkpoint from the start: an interrupted run can be explained and resumed
        save_checkpoint(out, identity, state)
    writer = ShardWriter(out, identity, state, dtype_for(tok), options.shard_tokens)
    job = _job(tok, options, files, writer)
    cuttable = getattr(tok, "pat_str", None) in CUTTABLE_PATTERNS
    tasks = iter_tasks(files, writer.start, errors=options.errors, text_field=options.text_field, cuttable=cuttable)
    total = sum(f.size for f in files)
    try:
        n_workers = default_workers() if options.workers is None else options.workers
        # The pool first: it may fork, which is safe only before tqdm starts its thread.
        with (
            tokenized(tasks, job, n_workers, lock_fd) as results,
            progress_bar(total, options.progress) as bar,
        ):
            for result in results:
                writer.add(result)
                bar.update(result.progress - bar.n)
                rate = writer.n_tokens / max(1e-9, time.perf_counter() - started) / 1e6
                bar.set_postfix_str(f"{rate:.2f}M tok/s", refresh=False)
        if writer.stats[0] == 0:
            raise ValueError(f"the inputs hold no documents ({_counts(writer.stats)}); nothing to store")
        if source is not None:
            copy_tokenizer(source, out)
        writer.finish()
    except BaseException:
        writer.abort()  # close and remove the open shards; finished ones stay for a rerun
        raise
    if len(splits) > 1 and not writer.splits["val"]["shards"]:
        warnings.warn(
            f"val_fraction={options.val_fraction} put none of the {writer.stats[0]:,} documents in "
            "val: the val split is empty; raise val_fraction (--val-fraction) for a usable one",
            stacklevel=4,
        )
    run_seconds = time.perf_counter() - started
    return PrepareReport(
        TokenStore.open(out), False, resumed, run_seconds, writer.run_bytes, writer.n_tokens, total
    )


def _counts(stats: Sequence[int]) -> str:
    """The counters of an empty run, in words (never a Python dict)."""
    words = [f"{n:,} {key.replace('_', ' ')}" for key, n in zip(STAT_KEYS, stats) if n and key != "documents"]
    return ", ".join(words) or "no records at all"


def _tokenizer_source(spec: Any, tok: Any) -> str | None:
    """The file or directory a tokenizer came from, when it is not a built-in name (else None)."""
    for candidate in (spec, getattr(tok, "_source", None)):
        if isinstance(candidate, (str, os.PathLike)):
            path = os.fspath(candidate)
            if path not in KNOWN_ENCODINGS and os.path.exists(path):
                return path
    return None


def _job(tok: Any, options: PrepareOptions, files: Sequence[InputFile], writer: ShardWriter) -> Job:
    """What every worker needs, from the options and where the writer resumes."""
    eot_text = next((s for s, i in tok.special_tokens.items() if i == tok.eot_id), None)
    positions = tuple(tuple(writer.splits[s]["position"]) if s in writer.splits else (0, 0) for s in SPLITS)
    return Job(
        tokenizer=tok,
        engine=options.engine,
        eot=options.eot,
        eot_id=tok.eot_id if options.eot != "none" else None,
        eot_text=eot_text,
        dtype=dtype_for(tok).name,
        val_fraction=float(options.val_fraction),
        seed=options.seed,
        text_field=options.text_field,
        errors=options.errors,
        skip_bad_lines=options.skip_bad_lines,
        paths=tuple(f.path for f in files),
        names=tuple(f.name for f in files),
        start=writer.start,
        positions=positions,
        tokenizer_info={"name": tok.name, "max_token_value": tok.max_token_value},
    )


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
