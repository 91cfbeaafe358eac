"""The worker side of ``prepare``: one task in, its shards and a completion record out.

A worker reads its task's input itself (:func:`tokenmill.corpus.readers.read_task`:
open, decompress, parse), tokenizes it and writes the task's shards
(``<split>-<task>-<k>.bin/.idx``, see docs/format.md) and then its record
``.tasks/<task>.json`` (the shards' manifest entries and the task's counters). The
coordinator only sees records. :func:`execute` is the one function every executor runs.

Pitfall: a task whose record is already there, for the same inputs and options, with
intact shards, is not redone (resume); anything else it finds under its own names (the
leftovers of a killed run) is removed first, so a task's output never mixes two runs.

>>> from tokenmill.prepare.job import split_of
>>> split_of(0, "a.jsonl", 2, 0.5)
1
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tokenmill.common.errors import ExplainedError
from tokenmill.common.files import atomic_write_bytes, sha256_file
from tokenmill.corpus.readers import read_task, unpack
from tokenmill.prepare.engines import make_encoder, scrub_surrogates
from tokenmill.prepare.job import Job, split_of
from tokenmill.prepare.own_files import SPLITS, real_dir
from tokenmill.prepare.publish import fetch_unpacked, forget_task, remote_finished, share_unpacked, upload_task
from tokenmill.prepare.remote_inputs import fetch_input
from tokenmill.prepare.tasks import TASKS_DIR, TaskSpec, describe_task, record_path, unpacked_path
from tokenmill.storage.base import StorageError
from tokenmill.store.format import PROGRESS_NAME, task_shard_name
from tokenmill.store.writer import ShardWriter

STAT_KEYS = (
    "documents",
    "empty_documents",
    "bytes_read",
    "eot_spellings",
    "replacements",
    "bad_lines_skipped",
    "empty_files",  # inputs with no document and no bad line at all (a 0-byte file); in the manifest when > 0
    "unsafe_cuts",  # cuts inside a huge document where no ID-preserving place was near (see corpus.cutting)
)
DOCS, EMPTY, BYTES, EOTS, REPL, BAD, EMPTY_FILES, UNSAFE = range(len(STAT_KEYS))
PROGRESS_BYTES = 8 << 20  # a task reports its progress every this many input bytes (big tasks move the bar)
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # out of space, quota or file size
WRITE_HINT = (
    "--out must be a directory that every worker can write, on every machine (with --executor ray: "
    "a shared file system mounted at the same path on every node)"
)


class _Worker:
    def __init__(self, job: Job) -> None:
        self.job, self.out = job, Path(job.out)
        self.encode = make_encoder(job.tokenizer, job.engine)
        self.eot_array = np.array([job.eot_id if job.eot_id is not None else 0], dtype=np.uint32)

    def run(self, spec: TaskSpec) -> dict[str, Any]:
        """Do one task (or find it done); return its record and whether it was skipped."""
        job, remote = self.job, self.job.remote
        _check_out(self.out, remote)
        self.damaged = False
        record = self._finished(spec) if remote is None else remote_finished(remote, spec, np.dtype(job.dtype).itemsize)
        if record is not None:
            return {"record": record, "skipped": True}
        damaged = self.damaged
        self._clear(spec.index)
        if remote is not None:
            forget_task(remote, spec)
        self.stats = [0] * len(STAT_KEYS)
        dtype = np.dtype(job.dtype)
        self.outputs = {
            s: ShardWriter(self.out, s, spec.index, dtype, shard_tokens=job.shard_tokens, tokenizer=job.tokenizer_info)
            for s in job.splits
        }
        f = job.files[spec.input_index]
        self.name = f.name or f.path
        self.task, self.unreported = spec.index, 0
        if remote is not None and spec.unpacked is not None and not os.path.exists(spec.unpacked):
            fetch_unpacked(remote, spec.unpacked)  # decompressed on another machine (Ray)
        if job.fetched and spec.unpacked is None and not os.path.exists(f.path):
            fetch_input(job.fetched, f.path)  # an s3:// input fetched by the coordinator, elsewhere
        try:
            docs = read_task(
                f,
                spec.start,
                spec.stop,
                errors=job.errors,
                text_field=job.text_field,
                cuttable=job.cuttable,
                unpacked=spec.unpacked,
                max_document_bytes=job.max_document_bytes,
            )
            for doc in docs:
                self._document(doc)
            whole = spec.start == 0 and spec.stop is None
            self.stats[EMPTY_FILES] = int(whole and not self.stats[DOCS] and not self.stats[BAD])
            for output in self.outputs.values():
                output.close()
        except BaseException:
            for output in self.outputs.values():
                output.abandon()
            self._clear(spec.index)  # a failed task leaves nothing half done (kill -9 aside)
            raise
        record = {
            "digest": spec.digest,
            "task": spec.index,
            "shards": {s: o.entries for s, o in self.outputs.items()},
            "stats": dict(zip(STAT_KEYS, self.stats)),
        }
        atomic_write_bytes(record_path(self.out, spec.index), json.dumps(record, sort_keys=True).encode())
        if remote is not None:  # the shards, then the record: the bucket's copy of this task is done
            upload_task(remote, self.out, record, record_path(self.out, spec.index))
        return {"record": record, "skipped": False, "repaired": damaged}

    def _finished(self, spec: TaskSpec) -> dict[str, Any] | None:
        """The task's record if a run already did it with these inputs/options and its shards are intact."""
        try:
            record = json.loads(record_path(self.out, spec.index).read_text(encoding="utf-8"))
            if record["digest"] != spec.digest:
                return None
            for entries in record["shards"].values():
                for e in entries:
                    for ext in ("bin", "idx"):
                        if sha256_file(self.out / f"{e['name']}.{ext}") != e[f"{ext}_sha256"]:
                            self.damaged = True  # a crash or a disk fault: redo it, and say so
                            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # missing, half-written, foreign or damaged: redo the task
        return record if isinstance(record, dict) else None

    def _clear(self, task: int) -> None:
        """Remove what a killed run left under this task's names (never any other file).

        By exact names, never by listing the store: a listing per task made a run's time
        grow with the square of its number of tasks. Shards are numbered from 0 without gaps;
        a killed write's ``.tmp`` (its name holds the dead writer's pid) goes at the run's end.
        """
        record_path(self.out, task).unlink(missing_ok=True)
        for split in SPLITS:
            for k in itertools.count():
                found = False
                for ext in ("bin", "idx"):
                    try:
                        os.unlink(self.out / f"{task_shard_name(split, task, k)}.{ext}")
                        found = True
                    except FileNotFoundError:
                        pass
                if not found:
                    break

    def _document(self, doc: Any) -> None:
        job, stats = self.job, self.stats
        stats[BYTES] += doc.nbytes
        stats[REPL] += doc.replacements
        stats[UNSAFE] += doc.unsafe_cuts
        self.unreported += doc.nbytes
        if self.unreported >= PROGRESS_BYTES and _PROGRESS is not None:
            _PROGRESS(self.task, self.unreported)
            self.unreported = 0
        if doc.bad is not None:
            if not job.skip_bad_lines:
                raise ExplainedError(
                    "{0} {1}; fix it, or pass {skip_bad_lines=True} to skip and count such records", doc.where, doc.bad
                )
            stats[BAD] += 1
            return
        text = doc.text
        if doc.first and doc.last and not text:
            stats[EMPTY] += 1
            return
        stats[DOCS] += doc.last
        if job.eot_text:
            stats[EOTS] += text.count(job.eot_text)
        try:
            ids = self.encode(text)
        except UnicodeEncodeError:  # lone surrogates: replaced like tiktoken does, and counted
            text, n = scrub_surrogates(text)
            stats[REPL] += n
            ids = self.encode(text)
        pieces = [self.eot_array] if doc.first and job.eot == "prepend" else []
        pieces.append(ids)
        if doc.last and job.eot == "append":
            pieces.append(self.eot_array)
        split = SPLITS[split_of(job.seed, self.name, doc.key, job.val_fraction)]
        self.outputs[split].add(pieces, doc.last)


_WORKER: _Worker | None = None
_JOB: Any = None  # the job this pool process was started with (a Job, or another stage's, see execute)
_PROGRESS: Any = None  # called (task, input bytes read) inside a task, so a big task moves the progress bar


def set_progress(callback: Any) -> None:
    """Where this process's tasks report their progress inside a task (None: nowhere)."""
    global _PROGRESS
    _PROGRESS = callback
_STARTUP_ERROR: str | None = None  # why init_worker failed: reported with the first task


def init_worker(job: Job | None, inherited_lock_fd: int | None = None, parent_pid: int | None = None) -> None:
    """Pool initializer: build this process's encoder once; quiet on Ctrl-C and when orphaned.

    A forked worker closes its copy of the store lock, so that the lock dies with the
    writer (kill -9 included) and never with a worker that outlives it by a moment. A
    failure here is not raised (the pool would start a new worker forever) but reported
    by the first task as the real cause.
    """
    global _WORKER, _JOB, _STARTUP_ERROR
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the pool, once
    # Pool.terminate() stops workers with SIGTERM. A forked worker inherits its parent's Python
    # handlers, and a parent that once ran Ray has one that does not exit: terminate() then
    # waited forever (seen in the suite after the Ray tests). The default action always ends us.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent_pid)
    if inherited_lock_fd is not None:
        os.close(inherited_lock_fd)
    _WORKER, _JOB = None, job  # not one inherited by fork from a run in the parent
    try:
        _WORKER = _Worker(job) if isinstance(job, Job) else None
    except Exception as exc:  # noqa: BLE001 - sent to the parent with its type and message
        _STARTUP_ERROR = f"{type(exc).__name__}: {exc}"


def _die_with_parent(parent_pid: int | None) -> None:
    """Exit quietly (no BrokenPipeError traceback) when the parent dies, even by kill -9."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if parent_pid is not None and os.getppid() != parent_pid:  # died before prctl took effect
        os._exit(0)


def execute(job: Job, spec: TaskSpec) -> dict[str, Any]:
    """Run one task with this process's worker for ``job`` (built once per process and job).

    Never raises for a task's own failure: returns ``{"error": message, "kind": ...}``
    (kind "input": bad input, the message names file and line; "write": --out is not
    writable here; "crash": anything else), so every executor reports it alike. A job that
    is not a :class:`Job` (train-tokenizer's reading) runs its own tasks: ``job.run(spec)``.
    """
    global _WORKER
    try:
        if not isinstance(job, Job):
            return job.run(spec)
        if spec.kind == "unpack":
            return _unpack(job, spec)
        if _WORKER is None or _WORKER.job.key != job.key:
            if _STARTUP_ERROR is not None:
                raise RuntimeError(f"a tokenizing worker failed to start: {_STARTUP_ERROR}")
            _WORKER = _Worker(job)
        return _WORKER.run(spec)
    except StorageError as exc:  # the bucket of a URL --out: the message names it and the fix
        return {"error": f"task {spec.index} could not upload its output: {exc}", "kind": "write"}
    except ValueError as exc:
        if isinstance(exc, ExplainedError):  # sent as its template: the caller spells the options
            return {"error": str(exc), "kind": "input", "template": exc.template, "args": exc.args_}
        return {"error": str(exc), "kind": "input"}
    except OSError as exc:  # reading errors are ValueErrors: this one is --out
        where = exc.filename or job.out
        what = f"{exc.strerror or exc}: {where}"
        if exc.errno in FULL_ERRNOS:  # the disk, not the sharing of --out: say so
            fix = "free space there (a store needs about 2 bytes per token with GPT-2) or choose another --out"
            return {"error": f"the disk of --out is full: task {spec.index} could not write its output ({what}); {fix}",
                    "kind": "write"}
        return {"error": f"cannot write the output of task {spec.index} ({what}); {WRITE_HINT}", "kind": "write"}
    except Exception as exc:  # noqa: BLE001 - sent to the coordinator with its type and message
        path = describe_task(spec, job.files[spec.input_index].path)
        return {"error": f"task {spec.index} ({path}) failed: {type(exc).__name__}: {exc}", "kind": "crash"}


def _unpack(job: Job, spec: TaskSpec) -> dict[str, Any]:
    """Decompress a big compressed .jsonl into ``--out`` once (kept, with its record, for a rerun)."""
    out = Path(job.out)
    _check_out(out, job.remote)
    dest = unpacked_path(out, spec.input_index)
    record = dest.with_suffix(".json")
    try:
        done = json.loads(record.read_text(encoding="utf-8"))
        if done["digest"] == spec.digest and dest.stat().st_size == done["size"]:
            return {"unpacked": str(dest), "size": done["size"], "skipped": True}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    real_dir(dest.parent)  # never a link out of --out
    record.unlink(missing_ok=True)
    size = unpack(job.files[spec.input_index], str(dest))
    if job.remote is not None:  # no shared file system: the range tasks may run elsewhere
        share_unpacked(job.remote, dest)
    atomic_write_bytes(record, json.dumps({"digest": spec.digest, "size": size}).encode())
    return {"unpacked": str(dest), "size": size, "skipped": False}


def _check_out(out: Path, remote: Any) -> None:
    """The store directory must be visible here; a staging directory (a URL's) is made where missing."""
    if remote is not None:
        os.makedirs(out / TASKS_DIR, exist_ok=True)  # on another machine (Ray): its own staging
    elif not (out / PROGRESS_NAME).is_file():  # written by the coordinator before any task
        raise FileNotFoundError(errno.ENOENT, f"the store directory is not visible on {socket.gethostname()}", str(out))


def run_pooled(spec: TaskSpec) -> dict[str, Any]:
    """A local worker process's task: :func:`execute` with the job this process was started with."""
    if _JOB is None or _STARTUP_ERROR is not None:
        why = _STARTUP_ERROR or "init_worker() did not run"
        return {"error": f"a tokenizing worker failed to start: {why}", "kind": "crash"}
    return execute(_JOB, spec)
