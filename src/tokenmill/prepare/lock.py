"""The store's lock: one ``tokenmill prepare`` at a time per ``--out``, and no lock file left behind.

A run holds an ``flock`` on ``<out>/.tokenmill.lock`` (the OS drops it when the holder dies,
even by kill -9: no stale pid files). The file is removed when the run ends, so that a
finished store holds only its shards and manifest.

Pitfall: removing a lock file must not let two runs in. A run that opened the file just
before it was removed would lock a file no longer in the directory, while a third run
creates and locks a new one; so after taking the lock a run checks that the path still
names the file it locked (same device and inode) and starts over otherwise.

>>> import pathlib, tempfile
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> with locked(out):
...     (out / LOCK_NAME).exists()
True
>>> (out / LOCK_NAME).exists()
False
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tokenmill.store.format import LOCK_NAME

_TRIES = 100  # each retry means another run removed the file meanwhile: a few at most


@contextmanager
def locked(out: Path) -> Iterator[int]:
    """Hold the store's lock; yields its file descriptor (forked workers inherit it)."""
    fd = _take(out)
    try:
        yield fd
    finally:
        try:
            if _names(out / LOCK_NAME, fd):  # still ours: removed while held, so nobody holds it after
                os.unlink(out / LOCK_NAME)
        except OSError:
            pass  # a directory removed meanwhile (a run that kept nothing): nothing to tidy
        os.close(fd)


def _take(out: Path) -> int:
    path = out / LOCK_NAME
    for _ in range(_TRIES):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            os.unlink(path)  # a link planted under the lock's name: removed, never followed
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ValueError(
                f"another `tokenmill prepare` is writing to {out} (it holds {path}); "
                "wait for it or use another --out"
            ) from None
        if _names(path, fd):
            return fd
        os.close(fd)  # the run that held it removed it as it finished: lock the file there now
    raise RuntimeError(f"could not lock {path}: it keeps being replaced; is another program removing it?")


def _names(path: Path, fd: int) -> bool:
    """Does ``path`` still name the open file ``fd``?"""
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)
