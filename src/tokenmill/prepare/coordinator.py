"""The coordinator of ``prepare``: plan the tasks, run them through an executor, assemble the manifest.

It never reads an input or a shard: workers do (:mod:`tokenmill.prepare.worker`). What it
handles are task specs going out and small records coming back (shard names, sizes,
checksums and counters), so its share of the work stays small however many workers run.

Pitfall: the first failed task stops new tasks from starting; the running ones finish and
keep their output, and the error raised is the failed task's with the lowest number.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokenmill.common.errors import ExplainedError, ExplainedWarning
from tokenmill.common.progress import progress_bar
from tokenmill.common.words import plural
from tokenmill.corpus.cutting import CUTTABLE_PATTERNS
from tokenmill.corpus.inputs import InputFile
from tokenmill.prepare.checkpoint import clean, load_state, save_checkpoint
from tokenmill.prepare.executor import Executor
from tokenmill.prepare.manifest import build_manifest, data_notes, finish_store, restore_records, totals
from tokenmill.prepare.options import PrepareOptions, PrepareReport
from tokenmill.prepare.publish import (
    Remote,
    abandon,
    check_remote,
    publish,
    published_store,
    reset_staging,
    save_remote_checkpoint,
)
from tokenmill.prepare.tasks import TaskSpec, describe_task, plan_tasks, range_bytes_for, unpack_tasks
from tokenmill.prepare.worker import SPLITS, Job
from tokenmill.store import TokenStore, dtype_for
from tokenmill.store.bundled import copy_tokenizer
from tokenmill.tokenizers.registry import KNOWN_ENCODINGS


def run_locked(
    executor: Executor,
    files: Sequence[InputFile],
    out: Path,
    tok: Any,
    options: PrepareOptions,
    identity: dict[str, Any],
    source: str | None,
    lock_fd: int,
    started: float,
    remote: Remote | None = None,
    fetched: Sequence[Any] = (),
) -> PrepareReport:
    """The run with the store's lock held; returns its report.

    ``remote``: ``out`` is the local staging directory of a store bound for ``remote.url``;
    ``fetched``: the s3:// inputs' local copies and URLs (workers elsewhere fetch them).
    """
    splits = SPLITS[: 2 if options.val_fraction > 0 else 1]
    disk_bytes = sum(f.size for f in files)
    damaged: list[dict[str, Any]] = []
    if remote is not None:
        published = check_remote(remote, identity, options.overwrite)
        if published is not None:
            store = published_store(remote, published)
            return PrepareReport(store, True, 0, time.perf_counter() - started, disk_bytes=disk_bytes)
        reset_staging(out, identity)
    elif load_state(out, identity, options.overwrite, damaged=damaged):
        store = TokenStore.open(out)
        if options.verify:
            store.verify()
        return PrepareReport(store, True, 0, time.perf_counter() - started, disk_bytes=disk_bytes)
    if hasattr(executor, "lock_fd"):
        executor.lock_fd = lock_fd  # forked workers close their copy of the lock
    range_bytes = range_bytes_for(files)
    job = dataclasses.replace(_job(tok, options, files, out, splits, identity), remote=remote, fetched=tuple(fetched))
    try:
        unpacked = _unpack_inputs(executor, job, unpack_tasks(files, _digest(identity), range_bytes), files, out)
        tasks = plan_tasks(files, _digest(identity), range_bytes=range_bytes, unpacked=unpacked)
        if damaged:  # the intact tasks' records come back: each task checks its own shards
            restore_records(out, damaged[0], tasks)
        records, was_skipped = _run_tasks(executor, job, tasks, options.progress, files, out, said=bool(damaged))
    except _TaskFailed as exc:  # the finished tasks stay; after bad input, the fix may change options
        try:
            save_checkpoint(out, identity, failed=exc.kind == "input")
            if remote is not None:
                save_remote_checkpoint(remote, identity, failed=exc.kind == "input")
        except OSError:  # a full disk, most likely: the task's error is the one to report
            pass
        raise exc.error from None
    manifest = build_manifest(identity, dtype_for(tok).name, splits, tasks, records, range_bytes)
    stats = manifest["stats"]
    if stats["documents"] == 0:
        clean(out, keep=set())  # nothing worth keeping: the caller then leaves no trace
        if remote is not None:
            abandon(remote, everything=True)
        raise ValueError(f"the inputs hold no documents ({_counts(stats)}); nothing to store")
    if identity.get("command"):  # how to make this store again: repair advice names it
        manifest["command"] = identity["command"]
    skipped_inputs = identity.get("skipped_inputs", [])
    if skipped_inputs:  # files of unknown type inside directory inputs: listed and counted, never silent
        manifest["skipped_inputs"] = skipped_inputs
        stats["unknown_files_skipped"] = len(skipped_inputs)
    if source is not None:
        copy_tokenizer(source, out)
    finish_store(out, manifest)
    keep = {f"{e['name']}.{x}" for s in manifest["splits"].values() for e in s["shards"] for x in ("bin", "idx")}
    if remote is not None:  # the manifest goes up last, then what the store lacks goes
        publish(remote, out, manifest, keep)
    else:
        clean(out, keep=keep | {"manifest.json"})  # task records, checkpoint, stale shards
    if len(splits) > 1:
        _warn_empty_split(manifest, options.val_fraction)
    done = [r for r, skip in zip(records, was_skipped) if not skip]
    return PrepareReport(
        TokenStore.open(out) if remote is None else published_store(remote, manifest),
        False,
        sum(len(v) for r, skip in zip(records, was_skipped) if skip for v in r["shards"].values()),
        time.perf_counter() - started,
        totals(done)["bytes_read"],
        sum(e["n_tokens"] for r in done for v in r["shards"].values() for e in v),
        disk_bytes=disk_bytes,
        tasks=len(tasks),
        skipped_tasks=sum(was_skipped),
        nodes=frozenset(executor.nodes),
        executor=options.executor,
    )


def _warn_empty_split(manifest: dict[str, Any], val_fraction: float) -> None:
    """Warn when the hash drew every document into one split: the other one is empty."""
    documents = plural(manifest["stats"]["documents"], "document")
    for split, fix in (("val", "raise {val_fraction}"), ("train", "lower {val_fraction}, or add documents")):
        if not manifest["splits"][split]["shards"]:
            message = ExplainedError(
                "{val_fraction=%s} put none of the {0} in %s: the %s split is empty; %s for a usable one"
                % (val_fraction, split, split, fix),
                documents,
            )
            warnings.warn(ExplainedWarning(message), stacklevel=6)  # the CLI renders it with its flags


def _counts(stats: dict[str, int]) -> str:
    """The counters of an empty run, in words (never a Python dict)."""
    return ", ".join(data_notes(stats)) or "no records at all"


def tokenizer_source(spec: Any, tok: Any) -> str | None:
    """The file or directory a tokenizer came from, when it is not a built-in name (else None)."""
    for candidate in (spec, getattr(tok, "_source", None)):
        if isinstance(candidate, (str, os.PathLike)):
            path = os.fspath(candidate)
            if path not in KNOWN_ENCODINGS and os.path.exists(path):
                return path
    return None


def _digest(identity: dict[str, Any]) -> str:
    """What every task's output depends on besides its input: tokenizer and options."""
    key = json.dumps({"tokenizer": identity["tokenizer"], "options": identity["options"]}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()


def _unpack_inputs(
    executor: Any, job: Job, specs: Sequence[TaskSpec], files: Sequence[InputFile], out: Path
) -> dict[int, tuple[str, int]]:
    """Run the unpack tasks (big compressed .jsonl inputs); input index -> (copy, its size)."""
    unpacked: dict[int, tuple[str, int]] = {}
    failures: list[tuple[TaskSpec, dict[str, Any]]] = []
    for spec, outcome in executor.run(job, specs, lambda: bool(failures)):
        if "error" in outcome:
            failures.append((spec, outcome))
        else:
            unpacked[spec.input_index] = (outcome["unpacked"], int(outcome["size"]))
    if failures:
        first = min(failures, key=lambda f: f[0].index)
        raise _TaskFailed(_failure(failures, files, out), first[1]["kind"])
    return unpacked


class _TaskFailed(Exception):
    """A task failed: ``error`` is what the caller raises, ``kind`` the worker's word for it."""

    def __init__(self, error: Exception, kind: str) -> None:
        super().__init__(str(error))
        self.error, self.kind = error, kind


def _run_tasks(
    executor: Any, job: Job, tasks: Sequence[TaskSpec], progress: bool, files: Sequence[InputFile], out: Path,
    *, said: bool = False,
) -> tuple[list[dict[str, Any]], list[bool]]:
    """Run every task; (records in task order, skipped flags). Stops starting tasks at a failure.

    ``said``: the damage was already warned about (a complete store's damaged shard).
    """
    records: list[Any] = [None] * len(tasks)
    skipped = [False] * len(tasks)
    repaired = 0
    failures: list[tuple[TaskSpec, dict[str, Any]]] = []
    started = time.perf_counter()
    tokens = 0
    partial: dict[int, int] = {}  # bytes a running task has reported (capped at its size)
    with progress_bar(sum(t.size for t in tasks), progress, label="prepare") as bar:
        def moved(task: int, nbytes: int) -> None:  # inside a big task
            step = min(nbytes, tasks[task].size - partial.get(task, 0))
            partial[task] = partial.get(task, 0) + step
            bar.update(step)

        if hasattr(executor, "progress"):
            executor.progress = moved
        # The rate counts this run's work only: tasks found finished take no time to "do".
        for spec, outcome in executor.run(job, tasks, lambda: bool(failures)):
            rest = spec.size - partial.pop(spec.index, 0)
            if "error" in outcome:
                failures.append((spec, outcome))
                continue
            records[spec.index] = outcome["record"]
            skipped[spec.index] = bool(outcome.get("skipped"))
            repaired += bool(outcome.get("repaired"))
            if not skipped[spec.index]:
                tokens += sum(e["n_tokens"] for v in outcome["record"]["shards"].values() for e in v)
            bar.update(rest)
            rate = tokens / max(1e-9, time.perf_counter() - started) / 1e6
            bar.set_postfix_str(f"{rate:.2f}M tok/s", refresh=False)
        if failures:  # raised inside the bar: it is cleared, and the error starts its own line
            first = min(failures, key=lambda f: f[0].index)
            raise _TaskFailed(_failure(failures, files, out), first[1]["kind"])
    if repaired and not said:  # what was skipped is in the report (the summary says it, once)
        warnings.warn(
            f"the shards of {plural(repaired, 'task')} kept from an earlier run were damaged (checksum mismatch); "
            f"{'that task was' if repaired == 1 else 'those tasks were'} redone, the others kept",
            stacklevel=4,
        )
    return records, skipped


def _failure(failures: list[tuple[TaskSpec, dict[str, Any]]], files: Sequence[InputFile], out: Path) -> Exception:
    """The error of the first failed task (in task order); finished tasks stay for the rerun."""
    spec, outcome = min(failures, key=lambda f: f[0].index)
    message = outcome["error"]
    if outcome["kind"] == "input":
        return ExplainedError(outcome["template"], *outcome["args"]) if "template" in outcome else ValueError(message)
    if outcome["kind"] == "write":
        return OSError(message)  # the CLI adds: the partial store is kept, rerun to resume
    if "task" not in message:
        message = f"task {spec.index} ({describe_task(spec, files[spec.input_index].path)}): {message}"
    return RuntimeError(message)  # what was kept: kept_work(out), which the CLI adds


def _job(
    tok: Any, options: PrepareOptions, files: Sequence[InputFile], out: Path, splits: Sequence[str], identity: dict[str, Any]
) -> Job:
    """What every worker needs, from the options."""
    eot_text = next((s for s, i in tok.special_tokens.items() if i == tok.eot_id), None)
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
        shard_tokens=options.shard_tokens,
        cuttable=getattr(tok, "pat_str", None) in CUTTABLE_PATTERNS,
        out=str(out.absolute()),
        splits=tuple(splits),
        files=tuple(files),
        key=f"{_digest(identity)}:{out.absolute()}:{options.max_document_bytes}",  # a worker is reused for this only
        tokenizer_info={"name": tok.name, "max_token_value": tok.max_token_value},
        max_document_bytes=options.max_document_bytes,
    )
