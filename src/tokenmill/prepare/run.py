"""``prepare()`` and ``run_prepare()``: check the inputs and options, then hand the run to the coordinator.

What happens, in order: the inputs are resolved (:mod:`tokenmill.corpus.inputs`), the
tokenizer loaded and the engine checked, the store's identity built; then an executor
(:mod:`tokenmill.prepare.executors`) is started and, with ``out`` locked
(:mod:`tokenmill.prepare.checkpoint`), :func:`tokenmill.prepare.coordinator.run_locked`
plans the tasks and runs them. Workers read the inputs and write the shards themselves
(:mod:`tokenmill.prepare.worker`); this process only plans, collects small records and
writes the manifest.

Pitfall: a run that fails before finishing any task leaves no trace; one that fails later
keeps the finished tasks, and rerunning the same call resumes.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokenmill.common.errors import ExplainedError
from tokenmill.common.paths import store_path
from tokenmill.corpus.inputs import absolute_arguments, resolve_inputs
from tokenmill.prepare.checkpoint import (
    check_out_dir,
    remove_trace,
    store_identity,
)
from tokenmill.prepare.coordinator import run_locked, tokenizer_source
from tokenmill.prepare.engines import check_parity
from tokenmill.prepare.executors import default_workers, make_executor
from tokenmill.prepare.leftovers import nothing_to_keep, remove_temporaries
from tokenmill.prepare.lock import locked
from tokenmill.prepare.options import DEFAULT_MAX_DOCUMENT_BYTES, DEFAULT_SHARD_TOKENS, PrepareOptions, PrepareReport
from tokenmill.prepare.publish import abandon, remote_of, staging_dir
from tokenmill.prepare.remote_inputs import fetch_inputs
from tokenmill.storage.base import StorageError
from tokenmill.store import TokenStore
from tokenmill.store.bundled import bundle_name
from tokenmill.tokenizers import get_tokenizer


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
    ray_timeout: float = 5.0,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    storage_options: dict[str, Any] | None = None,
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
    ``out`` must be at the same path on every node (a shared file system), unless ``out`` is a
    URL: ``out="s3://bucket/prefix"`` stages each task's shards on the machine that runs it and
    uploads them (:mod:`tokenmill.prepare.publish`; ``storage_options`` as for
    ``TokenStore.open``), publishing ``manifest.json`` last with a conditional put.
    Memory stays bounded: a ``.txt`` streams in pieces whatever its size, and a huge text is
    encoded in pieces (cut where the IDs cannot change, else cut anyway and counted in
    ``stats["unsafe_cuts"]``), yet stays one document; a ``.jsonl`` line is parsed whole
    (about 3x its size; Python holds non-ASCII text at 2-4 bytes a character), so one over
    ``max_document_bytes`` is refused, naming it.

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
        ray_timeout=ray_timeout,
        max_document_bytes=max_document_bytes,
    )
    return run_prepare(inputs, out, options, storage_options=storage_options).store


def run_prepare(
    inputs: Any, out: str | os.PathLike[str], options: PrepareOptions, *, storage_options: dict[str, Any] | None = None,
) -> PrepareReport:
    """:func:`prepare` with its options built, returning a :class:`PrepareReport`.

    Pitfall: an error never throws away finished work: when a task fails (bad input, a full
    disk), the tasks already finished keep their output and the error names the failed
    task's input; fix it and rerun: the finished tasks are skipped. A run that fails before
    finishing any task leaves nothing: no directory it created, no lock file. Ctrl-C keeps
    the directory with the finished work (and removes unfinished writes, a half-decompressed
    input included), so that ``tokenmill stats`` can say how to resume.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.txt").write_text("hello world")
    >>> options = PrepareOptions(workers=0, progress=False)
    >>> [run_prepare([d / "a.txt"], d / "s", options).up_to_date for _ in range(2)]
    [False, True]
    """
    started = time.perf_counter()
    remote = remote_of(out, storage_options)  # an unknown scheme is refused before anything is read or written
    out = staging_dir(remote.url) if remote is not None else store_path(out, parameter="out")
    tok = get_tokenizer(options.tokenizer)
    if options.eot != "none" and tok.eot_id is None:
        raise ExplainedError("tokenizer {0!r} has no end-of-text token; pass {eot='none'}", tok.name)
    # Every input error before any work; a store inside an input directory is not an input.
    skipped: list[str] = []
    fetched: list[Any] = []
    local_inputs = fetch_inputs(inputs, storage_options, skipped, fetched=fetched)  # s3:// inputs: to the cache
    files = resolve_inputs(local_inputs, text_field=options.text_field, exclude=out, skipped=skipped)
    check_parity(tok, options.engine)
    source = tokenizer_source(options.tokenizer, tok)
    identity = store_identity(
        tok,
        options.manifest_options(tok.name),
        [f.describe() for f in files],
        tokenizer_file=bundle_name(source) if source else None,
        skipped=skipped,
        command=["tokenmill", "prepare", *absolute_arguments(inputs), *options.command_words(tok.name, source)],
    )
    n_workers = default_workers() if options.workers is None else options.workers
    executor = make_executor(
        options.executor, workers=n_workers, ray_address=options.ray_address, ray_timeout=options.ray_timeout
    )
    out = Path(out)
    with executor:  # connect first: an unreachable cluster fails before anything is written
        startup = time.perf_counter() - started
        created = check_out_dir(out, overwrite=options.overwrite)
        with locked(out) as lock_fd:
            try:
                report = run_locked(
                    executor, files, out, tok, options, identity, source, lock_fd, started, remote, fetched
                )
            except KeyboardInterrupt:
                executor.__exit__(None, None, None)  # the workers stop first: nothing writes any more
                remove_temporaries(out)  # the finished work stays: `tokenmill stats` explains it, a rerun resumes
                raise
            except BaseException as error:
                # The workers stop first (killed): one still writing would race the cleaning below.
                executor.__exit__(type(error), error, error.__traceback__)
                if nothing_to_keep(out):
                    remove_trace(out, created=created)
                if remote is not None:
                    _abandon_quietly(remote)
                raise
    if options.verify and not report.up_to_date and hasattr(report.store, "verify"):
        report.store.verify()  # re-read what this run wrote
    return dataclasses.replace(report, startup_seconds=startup)


def _abandon_quietly(remote: Any) -> None:
    """Leave the bucket as found when no task finished; the run's own error is the one to report."""
    try:
        abandon(remote)
    except (StorageError, OSError, ValueError):
        pass


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
