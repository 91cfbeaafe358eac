"""prepare's own names in ``--out`` are never followed out of it: links under them are removed as links.

``prepare`` treats some names in ``--out`` as its own (``.tasks``, ``.unpacked``, the shards,
the checkpoint; see :func:`tokenmill.prepare.checkpoint.is_ours`), so a directory holding
only such names is not refused. A symbolic link planted under one of those names would
otherwise be followed: task records written, or files deleted, in the directory it points
to. :func:`remove_links` runs once per run, with the store's lock held, before any task;
:func:`real_dir` makes prepare's own directories real directories inside ``--out``.

Pitfall: a link is removed (``unlink`` never follows one), and what it points to is left
untouched; a warning names the links removed.

>>> import os, tempfile, pathlib, warnings
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> os.symlink(tempfile.mkdtemp(), out / ".tasks")
>>> with warnings.catch_warnings(record=True):
...     remove_links(out)
['.tasks']
>>> real_dir(out / ".tasks").is_dir(), (out / ".tasks").is_symlink()
(True, False)
"""

from __future__ import annotations

import errno
import os
import re
import stat
import warnings
from pathlib import Path

from tokenmill.prepare.tasks import TASKS_DIR, UNPACK_DIR
from tokenmill.store.format import LOCK_NAME, MANIFEST_NAME, PROGRESS_NAME

__all__ = ["SPLITS", "is_ours", "real_dir", "remove_links"]

SPLITS = ("train", "val")  # the splits a store may have, in manifest order


def remove_links(out: Path) -> list[str]:
    """Remove every symbolic link in ``out`` under one of prepare's names (one scan); their names.

    Pitfall: only the links are removed, never their targets, and only under prepare's own
    names: a user's links stay.
    """
    removed = []
    with os.scandir(out) as entries:
        for entry in entries:
            if is_ours(entry.name) and entry.is_symlink():
                os.unlink(entry.path)
                removed.append(entry.name)
    for name in (TASKS_DIR, UNPACK_DIR):  # inside prepare's own (real) directories, every name is ours
        if os.path.isdir(out / name) and not os.path.islink(out / name):
            with os.scandir(out / name) as entries:
                for entry in entries:
                    if entry.is_symlink():
                        os.unlink(entry.path)
                        removed.append(f"{name}/{entry.name}")
    if removed:
        shown = ", ".join(sorted(removed)[:5]) + (f" and {len(removed) - 5} more" if len(removed) > 5 else "")
        warnings.warn(
            f"removed {len(removed)} symbolic link(s) in {out} under names that prepare writes ({shown}); "
            "prepare never follows a link out of --out (their targets are untouched)",
            stacklevel=3,
        )
    return sorted(removed)


def real_dir(path: Path) -> Path:
    """``path`` as a real directory (made if missing); a link or file there is removed first.

    Raises OSError (ELOOP) if a link appears there again at once (someone is racing us).
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISDIR(mode):
        os.unlink(path)  # a link or a file under prepare's own name: never followed
    try:
        os.mkdir(path)
    except FileExistsError:
        pass
    if not stat.S_ISDIR(os.lstat(path).st_mode):
        raise OSError(errno.ELOOP, "prepare's own directory is a link or a file, not a directory", str(path))
    return path


_TMP = re.compile(r"(?P<target>.+)\.\d+\.tmp")  # atomic_write_bytes: <name>.<pid>.tmp


def is_ours(name: str) -> bool:
    """Is this a file prepare writes (shards, its own temp files, checkpoint, lock, manifest)?

    Only prepare's own temporary names count: ``<shard>.bin.tmp`` and ``<file>.<pid>.tmp``
    of a file prepare writes; a user's ``notes.tmp`` is never ours.

    >>> is_ours("train-00001.bin.tmp"), is_ours("manifest.json.123.tmp"), is_ours("notes.tmp")
    (True, True, False)
    >>> is_ours("train-00003-00001.bin"), is_ours("val-00003-00000.bin.77.tmp"), is_ours("train-3.bin")
    (True, True, False)
    """
    if name in (PROGRESS_NAME, LOCK_NAME, MANIFEST_NAME, TASKS_DIR, UNPACK_DIR):
        return True
    if name.endswith(".bin.tmp"):
        return _is_shard_file(name[: -len(".tmp")])
    if (m := _TMP.fullmatch(name)) is not None:
        target = m.group("target")
        return target in (PROGRESS_NAME, MANIFEST_NAME) or _is_shard_file(target)
    return _is_shard_file(name)


def _is_shard_file(name: str) -> bool:
    stem, _, ext = name.rpartition(".")
    split, _, numbers = stem.partition("-")
    parts = numbers.split("-")  # format 1: <split>-<k>; format 2: <split>-<task>-<k>
    return ext in ("bin", "idx") and split in SPLITS and len(parts) <= 2 and all(len(k) >= 5 and k.isdigit() for k in parts)
