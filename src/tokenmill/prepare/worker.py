"""The worker side of ``prepare``: one task in, token arrays and counters out.

Each worker process builds its encoder once (:func:`init_worker`), then turns tasks read
by :mod:`tokenmill.prepare.readers` into a :class:`Result` per task: per split, the
tokens, document lengths and ordinals, and the running counters at each document.

Pitfall: documents stored by an interrupted run (before ``Job.positions``) are counted
again but not re-tokenized, so the counters after a resume equal an uninterrupted run's.

>>> split_of(0, "a.jsonl", 2, 0.5)
1
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from tokenmill.prepare.engines import make_encoder, scrub_surrogates
from tokenmill.prepare.readers import decode_utf8, parse_jsonl_line

SPLITS = ("train", "val")
STAT_KEYS = (
    "documents",
    "empty_documents",
    "bytes_read",
    "eot_spellings",
    "replacements",
    "bad_lines_skipped",
)
DOCS, EMPTY, BYTES, EOTS, REPL, BAD = range(len(STAT_KEYS))


@dataclass(frozen=True)
class Job:
    """Everything a worker needs, sent once when it starts."""

    tokenizer: Any  # picklable: a worker re-resolves it by name/path
    engine: str
    eot: str  # "append", "prepend" or "none"
    eot_id: int | None
    eot_text: str | None  # the EOT token's spelling, counted when it appears in text
    dtype: str  # store dtype; IDs are known to fit (dtype_for)
    val_fraction: float
    seed: int
    text_field: str
    errors: str
    skip_bad_lines: bool
    paths: tuple[str, ...]  # input paths as given (for messages)
    names: tuple[str, ...]  # input names (InputFile.name): part of each document's identity
    start: tuple[int, int]  # (input, ordinal) reading starts at; records before are ignored
    positions: tuple[tuple[int, int], ...]  # per split: its documents before this are stored
    tokenizer_info: dict[str, Any]  # the manifest's "tokenizer" (name, max_token_value): IDs are checked


class Result(NamedTuple):
    """A task's output, per split: tokens, document lengths/ordinals, counters at each document."""

    input_index: int
    progress: int
    total: tuple[int, ...]  # counters over the whole task
    tokens: tuple[np.ndarray, ...]
    lengths: tuple[np.ndarray, ...]  # tokens per document (EOT included)
    ordinals: tuple[np.ndarray, ...]
    cums: tuple[np.ndarray, ...]  # (n_documents, 6) counters of the task up to and including each
    open_doc: bool  # the last document (a piece) continues in the next task


def split_of(seed: int, name: str, ordinal: int, val_fraction: float) -> int:
    """0 (train) or 1 (val): a seeded hash of the document's identity, stable across runs.

    ``name`` is the input's :attr:`~tokenmill.prepare.inputs.InputFile.name`, not its path as
    typed, so ``x`` and ``./x`` (or a rerun from elsewhere with ``/abs/x``) split alike.

    >>> [split_of(0, "a.jsonl", i, 0.5) for i in range(6)]
    [0, 0, 1, 0, 0, 1]
    """
    if val_fraction <= 0:
        return 0
    digest = hashlib.blake2b(f"{seed}:{name}:{ordinal}".encode(), digest_size=8).digest()
    return int(int.from_bytes(digest, "big") < val_fraction * 2.0**64)


class _Worker:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.encode = make_encoder(job.tokenizer, job.engine)
        self.eot_array = np.array([job.eot_id if job.eot_id is not None else 0], dtype=np.uint32)

    def run(self, task: Any) -> Result:
        self.stats = [0] * len(STAT_KEYS)
        self.parts: list[list[Any]] = [[[], [], [], []] for _ in SPLITS]  # tokens, lengths, ordinals, cums
        self.task, self.open_doc = task, False
        getattr(self, f"_{task.kind}")(task)
        out = []
        for tokens, lengths, ordinals, cums in self.parts:
            out.append(
                (
                    self._stored(np.concatenate(tokens))
                    if tokens
                    else np.empty(0, self.job.dtype),
                    np.array(lengths, dtype=np.int64),
                    np.array(ordinals, dtype=np.int64),
                    np.array(cums, dtype=np.int64).reshape(-1, len(STAT_KEYS)),
                )
            )
        return Result(task.input_index, task.progress, tuple(self.stats), *zip(*out), self.open_doc)

    def _stored(self, ids: np.ndarray) -> np.ndarray:
        """The IDs in the store dtype, after checking that each fits: never a silent wrap-around."""
        check_ids(ids, np.dtype(self.job.dtype), self.job.tokenizer_info)
        return ids.astype(self.job.dtype)

    def _lines(self, task: Any) -> None:
        lines = task.payload.split(b"\n")
        if task.payload.endswith(b"\n"):
            lines.pop()
        offset, path = task.offset, self.job.paths[task.input_index]
        for j, line in enumerate(lines):
            ordinal, nbytes = (
                task.ordinal + j,
                len(line) + (j < len(lines) - 1 or task.payload.endswith(b"\n")),
            )
            if (task.input_index, ordinal) >= self.job.start:
                self.stats[BYTES] += nbytes
                if not line.strip():  # a blank line is an empty document
                    self.stats[EMPTY] += 1
                else:
                    where = f"{path}, line {ordinal + 1}"
                    text, repl, bad = parse_jsonl_line(
                        line,
                        errors=self.job.errors,
                        text_field=self.job.text_field,
                        where=where,
                        offset=offset,
                    )
                    self.stats[REPL] += repl
                    self._record(ordinal, text, bad, where)
            offset += nbytes

    def _doc(self, task: Any) -> None:
        text, repl = decode_utf8(task.payload, self.job.errors, self.job.paths[task.input_index], 0)
        self.stats[BYTES] += len(task.payload)
        self.stats[REPL] += repl
        self._document(0, text, True, True)

    def _texts(self, task: Any) -> None:
        path = self.job.paths[task.input_index]
        for j, value in enumerate(task.payload):
            ordinal = task.ordinal + j
            if (task.input_index, ordinal) >= self.job.start:
                self.stats[BYTES] += (
                    len(value.encode("utf-8", "surrogatepass")) if isinstance(value, str) else 0
                )
                bad = (
                    None
                    if isinstance(value, str)
                    else f"has a {self.job.text_field!r} that is {type(value).__name__}, not a string"
                )
                self._record(ordinal, value, bad, f"{path}, row {ordinal}")

    def _piece(self, task: Any) -> None:
        self.stats[BYTES] += task.nbytes
        self.stats[REPL] += task.replacements
        self._document(task.ordinal, task.payload, task.first, task.last)

    def _record(self, ordinal: int, text: Any, bad: str | None, where: str) -> None:
        if bad is None:
            self._document(ordinal, text, True, True)
        elif self.job.skip_bad_lines:
            self.stats[BAD] += 1
        else:
            raise ValueError(
                f"{where} {bad}; fix it, or pass skip_bad_lines=True (--skip-bad-lines) "
                "to skip and count such records"
            )

    def _document(self, ordinal: int, text: str, first: bool, last: bool) -> None:
        job, stats = self.job, self.stats
        if first and last and not text:
            stats[EMPTY] += 1
            return
        stats[DOCS] += last
        if job.eot_text:
            stats[EOTS] += text.count(job.eot_text)
        split = split_of(job.seed, job.names[self.task.input_index], ordinal, job.val_fraction)
        if (self.task.input_index, ordinal) < job.positions[split]:
            # Already in a shard from an interrupted run: counted exactly as then, not re-tokenized.
            if not text.isascii():
                stats[REPL] += scrub_surrogates(text)[1]
            return
        try:
            ids = self.encode(text)
        except UnicodeEncodeError:  # lone surrogates: replaced like tiktoken does, and counted
            text, n = scrub_surrogates(text)
            stats[REPL] += n
            ids = self.encode(text)
        tokens, lengths, ordinals, cums = self.parts[split]
        pieces = [self.eot_array] if first and job.eot == "prepend" else []
        pieces.append(ids)
        if last and job.eot == "append":
            pieces.append(self.eot_array)
        tokens.extend(pieces)
        lengths.append(sum(len(p) for p in pieces))
        ordinals.append(ordinal)
        cums.append(list(stats))
        self.open_doc = not last


_WORKER: _Worker | None = None
_STARTUP_ERROR: str | None = None  # why init_worker failed: reported with the first task


def check_ids(ids: np.ndarray, dtype: np.dtype, tokenizer: dict[str, Any]) -> None:
    """ValueError naming the ID, the tokenizer and the dtype if an ID is above the tokenizer's
    ``max_token_value`` (from which the store dtype was chosen) or does not fit ``dtype``.

    >>> check_ids(np.array([70000]), np.dtype("uint16"), {"name": "t", "max_token_value": 50256})
    Traceback (most recent call last):
    ...
    ValueError: tokenizer 't' returned token ID 70000, but its max_token_value is 50256 and the store dtype uint16 holds 0..65535; the ID is refused, never truncated: fix the tokenizer's max_token_value (it chooses the dtype)
    """
    if not ids.size:
        return
    lo, hi = int(ids.min()), int(ids.max())
    limit = int(np.iinfo(dtype).max)
    top = tokenizer.get("max_token_value")
    if lo < 0 or hi > (limit if top is None else min(int(top), limit)):
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"tokenizer {tokenizer.get('name')!r} returned token ID {bad}, but its max_token_value is {top} "
            f"and the store dtype {np.dtype(dtype).name} holds 0..{limit}; the ID is refused, never "
            "truncated: fix the tokenizer's max_token_value (it chooses the dtype)"
        )


def init_worker(job: Job, inherited_lock_fd: int | None = None, parent_pid: int | None = None) -> None:
    """Pool initializer: build this process's encoder once; quiet on Ctrl-C and when orphaned.

    A forked worker closes its copy of the store lock, so that the lock dies with the
    writer (kill -9 included) and never with a worker that outlives it by a moment. A
    failure here is not raised (the pool would start a new worker forever) but reported
    by :func:`run_task` as the real cause.
    """
    global _WORKER, _STARTUP_ERROR
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the pool, once
    _die_with_parent(parent_pid)
    if inherited_lock_fd is not None:
        os.close(inherited_lock_fd)
    try:
        _WORKER = _Worker(job)
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


def run_task(task: Any) -> Result:
    """Pool task: tokenize one task with this process's encoder."""
    if _WORKER is None:
        why = _STARTUP_ERROR or "init_worker() did not run"
        raise RuntimeError(f"a tokenizing worker failed to start: {why}")
    return _WORKER.run(task)
