"""Plan ``prepare``'s work as tasks that a worker reads alone, and name what each one writes.

A task is a whole input file (any format, compressed or not) or, for an uncompressed
``.jsonl`` bigger than the range size ``R``, a byte range of it: ``[k * R, (k + 1) * R)``,
owning the lines that *start* inside it (a worker finds the boundaries itself, so planning
reads no byte of any input). ``R`` (:func:`range_bytes`) is 1/256 of all the inputs'
bytes, within [1 MiB, 64 MiB] and a whole number of MiB: a crash loses at most a few
hundredths of the work, and per-task costs (~10 ms) stay negligible. A ``.txt`` is always one task: one file
is one document, and a document never spans shards.

The plan depends only on the inputs (their order and sizes), never on
the executor or the number of workers; so do the file names each task writes
(:func:`tokenmill.store.format.task_shard_name`) and hence the whole store layout.

Pitfall: a compressed stream cannot be entered in the middle: a big compressed ``.jsonl``
is first decompressed by one worker into ``--out`` (:func:`unpack_tasks`), then cut into
ranges like an uncompressed one; a compressed ``.txt`` stays one task (see docs/format.md).

>>> from tokenmill.corpus.inputs import InputFile
>>> big = InputFile("big.jsonl", "jsonl", None, 2 * MIN_RANGE_BYTES + 5, 0, "big.jsonl")
>>> small = InputFile("a.jsonl.xz", "jsonl", "xz", 10, 0, "a.jsonl.xz")
>>> [(t.index, t.input_index, t.start, t.stop) for t in plan_tasks([small, big], "d")]
[(0, 0, 0, None), (1, 1, 0, 1048576), (2, 1, 1048576, 2097152), (3, 1, 2097152, None)]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from tokenmill.corpus.inputs import InputFile

MIN_RANGE_BYTES, MAX_RANGE_BYTES = 1 << 20, 64 << 20
RANGE_BYTES: int | None = None  # a fixed range size (tests); None: range_bytes() of the inputs
TASKS_DIR = ".tasks"  # per-task completion records (prepare's own; removed once the store is complete)
UNPACK_DIR = ".unpacked"  # decompressed copies of big compressed .jsonl inputs (removed likewise)


class TaskSpec(NamedTuple):
    """One task: what a worker reads and the name under which it writes (a tuple: cheap to send)."""

    index: int  # the task's number: its shards are <split>-<index:05d>-<k:05d>
    input_index: int  # which input file
    start: int  # byte range (of an uncompressed .jsonl): lines starting in [start, stop)
    stop: int | None  # None: to the end of the file
    size: int  # on-disk bytes behind the task (progress)
    digest: str  # identity of the task's output: options, tokenizer, the input and the range
    kind: str = "tokenize"  # or "unpack": decompress a big compressed .jsonl for range tasks
    unpacked: str | None = None  # tokenize: read this decompressed copy of the input instead


def plan_tasks(
    files: Sequence[InputFile],
    identity_digest: str,
    *,
    range_bytes: int | None = None,
    unpacked: dict[int, tuple[str, int]] | None = None,
) -> list[TaskSpec]:
    """Every task, in store order; ``identity_digest`` (tokenizer + options) goes into each digest.

    ``unpacked``: input index -> (path, size) of the decompressed copies that the
    :func:`unpack_tasks` made; those inputs are cut into ranges like uncompressed ones.
    """
    range_bytes = range_bytes or range_bytes_for(files)
    unpacked = unpacked or {}
    tasks: list[TaskSpec] = []
    for i, f in enumerate(files):
        ranges: list[tuple[int, int | None]] = [(0, None)]
        copy, length = unpacked.get(i, (None, f.size))
        if f.format == "jsonl" and (f.compression is None or copy is not None) and length > range_bytes:
            starts = range(0, length, range_bytes)
            ranges = [(a, a + range_bytes if a + range_bytes < length else None) for a in starts]
        for start, stop in ranges:
            size = ((stop if stop is not None else length) - start) * f.size // max(1, length)  # on disk
            key = json.dumps([identity_digest, f.describe(), start, stop], sort_keys=True)
            digest = hashlib.sha256(key.encode()).hexdigest()
            tasks.append(TaskSpec(len(tasks), i, start, stop, size, digest, unpacked=copy))
    return tasks


def unpack_tasks(files: Sequence[InputFile], identity_digest: str, range_bytes: int) -> list[TaskSpec]:
    """A task per compressed .jsonl big enough to be worth cutting: decompress it once, into ``--out``.

    A compressed stream cannot be entered in the middle, so one worker decompresses it (one
    core, about 1 s per 50 MB for xz) into ``.unpacked/``; its ranges are then tokenized by
    all workers. The cost: its decompressed size on the disk of ``--out``, until the store
    is complete. Picked by on-disk size (more than a range: several ranges once
    decompressed), so the plan, and the layout, still depend on the inputs only.

    >>> big = InputFile("a.jsonl.xz", "jsonl", "xz", 5 << 20, 0, "a.jsonl.xz")
    >>> [(t.kind, t.input_index) for t in unpack_tasks([big], "d", 1 << 20)]
    [('unpack', 0)]
    """
    out = []
    for i, f in enumerate(files):
        if f.format == "jsonl" and f.compression is not None and f.size > range_bytes:
            key = json.dumps([identity_digest, f.describe(), "unpack"], sort_keys=True)
            digest = hashlib.sha256(key.encode()).hexdigest()
            out.append(TaskSpec(i, i, 0, None, f.size, digest, kind="unpack"))
    return out


def unpacked_path(out: Any, input_index: int) -> Any:
    """Where the decompressed copy of input ``input_index`` goes (``out / .unpacked / <i>.jsonl``)."""
    return out / UNPACK_DIR / f"{input_index:05d}.jsonl"


def range_bytes_for(files: Sequence[InputFile]) -> int:
    """The range size of a big uncompressed .jsonl's tasks: 1/256 of all inputs, in [1, 64] MiB.

    >>> range_bytes_for([]), range_bytes_for([InputFile("a", "jsonl", None, 10**9, 0)]) >> 20
    (1048576, 3)
    """
    if RANGE_BYTES:
        return RANGE_BYTES
    total = sum(f.size for f in files)
    return min(MAX_RANGE_BYTES, max(MIN_RANGE_BYTES, (total // 256) >> 20 << 20))


def describe_task(spec: TaskSpec, path: str) -> str:
    """The task's input, as errors name it.

    >>> describe_task(TaskSpec(2, 0, 0, None, 9, ""), "a.txt"), describe_task(TaskSpec(3, 0, 5, 9, 4, ""), "b.jsonl")
    ('a.txt', 'b.jsonl (bytes 5-9)')
    """
    if spec.start == 0 and spec.stop is None:
        return path
    return f"{path} (bytes {spec.start}-{spec.stop if spec.stop is not None else 'end'})"


def record_path(out: Any, index: int) -> Any:
    """Where task ``index`` records its finished output (``out / .tasks / <index>.json``)."""
    return out / TASKS_DIR / f"{index:05d}.json"
