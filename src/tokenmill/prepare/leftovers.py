"""What an interrupted or failed ``prepare`` leaves behind, said truly and tidied.

After Ctrl-C the finished work stays (task records and their shards, decompressed copies
of big compressed inputs) and a rerun resumes from it; unfinished writes (``*.tmp``) are
removed at once. :func:`kept_work` says which of these there is, for the note the command
line adds to its error.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tokenmill.common.paths import is_url
from tokenmill.common.words import plural
from tokenmill.prepare.checkpoint import MANIFEST, is_ours
from tokenmill.prepare.tasks import TASKS_DIR, UNPACK_DIR


def remove_temporaries(out: Path) -> None:
    """Remove unfinished writes (``*.tmp`` of prepare's own names), once no worker writes any more.

    After Ctrl-C a decompressed copy in the making can be as big as its input decompressed;
    a rerun would remove it too, but the disk is the user's until then.
    """
    if not out.is_dir():
        return
    for directory in (out, out / TASKS_DIR, out / UNPACK_DIR):
        if not directory.is_dir() or directory.is_symlink():
            continue
        for p in directory.iterdir():
            ours = is_ours(p.name) if directory == out else re.fullmatch(r"\d+\.jsonl?\.\d+\.tmp", p.name)
            if ours and p.name.endswith(".tmp") and p.is_file() and not p.is_symlink():
                p.unlink(missing_ok=True)


def nothing_to_keep(out: Path) -> bool:
    """After a failed run: is there neither a store nor a finished task to keep?"""
    if (out / MANIFEST).exists():
        return False
    tasks = out / TASKS_DIR
    return not (tasks.is_dir() and not tasks.is_symlink() and any(p.name.endswith(".json") for p in tasks.iterdir()))


def kept_work(out: str | os.PathLike[str]) -> str:
    """What a failed or interrupted run left in ``out`` for a rerun, in words (always true).

    >>> import tempfile
    >>> kept_work(tempfile.mkdtemp())
    'no task had finished, so nothing was kept: rerun the same command to start again'
    """
    if is_url(out):
        return _kept_remotely(os.fspath(out))
    out = Path(out)
    tasks = _count(out / TASKS_DIR, r"\d+\.json")
    unpacked = _count(out / UNPACK_DIR, r"\d+\.json")
    if tasks:
        return f"the partial store in {out} keeps {plural(tasks, 'finished task')}: rerun the same command to resume"
    if unpacked:
        copies = plural(unpacked, "decompressed input")
        return f"no task had finished; {out} keeps {copies}: rerun the same command to go on from there"
    return "no task had finished, so nothing was kept: rerun the same command to start again"


def _kept_remotely(url: str) -> str:
    """:func:`kept_work` for a URL ``--out``: the finished tasks' records in the bucket."""
    from tokenmill.storage.base import StorageError
    from tokenmill.storage.urls import open_storage

    try:
        tasks = sum(1 for o in open_storage(url).list(TASKS_DIR + "/") if re.fullmatch(r"\d+\.json", o.key.split("/")[-1]))
    except (StorageError, OSError, ValueError):  # the bucket itself may be what failed
        return f"the tasks already finished in {url} (if any) are kept: rerun the same command to resume"
    if tasks:
        return f"the partial store at {url} keeps {plural(tasks, 'finished task')}: rerun the same command to resume"
    return "no task had finished, so nothing was kept: rerun the same command to start again"


def _count(directory: Path, pattern: str) -> int:
    try:
        return sum(1 for p in directory.iterdir() if re.fullmatch(pattern, p.name))
    except OSError:
        return 0
