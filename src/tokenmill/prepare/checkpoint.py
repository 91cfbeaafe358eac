"""The output directory of ``tokenmill prepare``: its lock, checkpoint, resume and cleanup.

A run holds an ``flock`` on ``.tokenmill.lock``; before any task runs it writes
``.progress.json`` (the identity of the store being made); each finished task writes its
own record in ``.tasks/`` (see :mod:`tokenmill.prepare.worker`); the manifest, written
last, marks the store complete. A rerun with the same identity skips the finished tasks,
or finds the store complete and does nothing.

Pitfall: the identity (tokenizer, stored options, inputs' paths, sizes and mtimes) decides
whether a store may be reused; touching an input (a new mtime) makes its store "other
inputs", refused unless ``overwrite``.

>>> is_ours("train-00003.bin"), is_ours(".progress.json"), is_ours("notes.txt")
(True, True, False)
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tokenmill.prepare.tasks import TASKS_DIR
from tokenmill.prepare.worker import SPLITS
from tokenmill.store import atomic_write_bytes
from tokenmill.store.format import FORMAT_VERSION, LOCK_NAME, MANIFEST_NAME, PROGRESS_NAME

PROGRESS, LOCK, MANIFEST = PROGRESS_NAME, LOCK_NAME, MANIFEST_NAME


def store_identity(tok: Any, options: dict[str, Any], inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """What a store is made of; a rerun may reuse the store only if this is unchanged.

    Pitfall: the tokenizer counts by its vocabulary's sha256 too, not just its name: a
    vocabulary file with other contents under the same name makes another store.

    >>> from tokenmill.tokenizers import get_tokenizer
    >>> store_identity(get_tokenizer("gpt2"), {"seed": 0}, [])["tokenizer"]["max_token_value"]
    50256
    """
    tokenizer = {
        "name": tok.name,
        "vocab_size": tok.vocab_size,
        "max_token_value": tok.max_token_value,
        "ranks_sha256": tok.ranks_sha256,
        "eot_id": tok.eot_id,
    }
    return {"tokenizer": tokenizer, "options": options, "inputs": inputs}


def check_out_dir(out: Path) -> Path:
    """Create ``out`` if needed; raise ValueError unless it is a writable directory."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a directory; choose a directory path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the output directory {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"the output directory {out} is not writable; choose another --out")
    return out


@contextmanager
def locked(out: Path) -> Iterator[int]:
    """Hold the store's lock; yields its file descriptor (forked workers inherit it)."""
    # flock, not a pid file: the OS drops it when the holder dies, even by kill -9.
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(
                f"another `tokenmill prepare` is writing to {out} (it holds {out / LOCK}); "
                "wait for it or use another --out"
            ) from None
        yield fd
    finally:
        os.close(fd)


def load_state(out: Path, identity: dict[str, Any], overwrite: bool) -> bool:
    """True if ``out`` already holds this store; else get ``out`` ready for the tasks and return False.

    Ready means: ``.progress.json`` names the identity being made, the manifest is gone,
    and the task records and shards of an earlier run are kept (each task checks its own
    by digest and checksum, so only what this run would write again is reused).

    Pitfall: it deletes prepare's own files only, never anything else; call it with the lock held.
    """
    complete, progress = (out / MANIFEST).exists(), _read_json(out / PROGRESS)
    if complete:
        have = _read_json(out / MANIFEST)
        if (
            not _diff(identity, have)
            and have.get("format_version") == FORMAT_VERSION
            and all(
                (out / f"{e['name']}.{x}").exists()
                for s in have["splits"].values()
                for e in s["shards"]
                for x in ("bin", "idx")
            )
        ):
            return True
    elif progress.get("failed"):
        have = None  # a run stopped by bad input: a rerun may change inputs/options (tasks check digests)
    elif progress:
        have = progress.get("identity", {})
    elif any(not is_ours(p.name) for p in out.iterdir()) and not overwrite:
        # Only prepare's own files (say, a run killed before its first checkpoint) are fine.
        raise ValueError(
            f"{out} is not empty and holds no token store; choose an empty or new --out "
            "(or pass --overwrite to write into it anyway)"
        )
    else:
        have = None
    if have is not None and (diffs := _diff(identity, have)) and not overwrite:
        raise ValueError(
            f"{out} holds a store made from other inputs or options ({'; '.join(diffs)}); "
            "pass overwrite=True (--overwrite) to replace it, or choose another --out"
        )
    (out / MANIFEST).unlink(missing_ok=True)  # first: from here on the directory is no store
    (out / TASKS_DIR).mkdir(exist_ok=True)
    save_checkpoint(out, identity)
    return False


def save_checkpoint(out: Path, identity: dict[str, Any], *, failed: bool = False) -> None:
    """Record which store ``out`` is becoming (the tasks record their own progress).

    ``failed``: the run stopped on bad input, so the rerun that follows a fix may bring
    other inputs or options without ``overwrite`` (only tasks with the same digest are reused).
    """
    state = {"format_version": FORMAT_VERSION, "identity": identity, "failed": failed}
    data = json.dumps(state, sort_keys=True).encode()
    atomic_write_bytes(out / PROGRESS, data)


def clean(out: Path, *, keep: set[str]) -> None:
    """Remove prepare's own files (never anything else) but ``keep``, the manifest first."""
    if MANIFEST not in keep:
        (out / MANIFEST).unlink(missing_ok=True)
    for p in out.iterdir():
        if not is_ours(p.name) or p.name in keep or p.name == LOCK:
            continue
        if p.name == TASKS_DIR and p.is_dir():
            for q in p.iterdir():
                if q.name.endswith((".json", ".tmp")):
                    q.unlink()
            try:
                p.rmdir()
            except OSError:  # something else in there: leave it
                pass
        elif p.is_file():
            p.unlink()


def is_ours(name: str) -> bool:
    """Is this a file prepare writes (shards of format 1 or 2, temp files, records, checkpoint, lock)?

    >>> is_ours("train-00003-00001.bin"), is_ours("train-3.bin"), is_ours(".tasks")
    (True, False, True)
    """
    if name.endswith(".tmp") or name in (PROGRESS, LOCK, MANIFEST, TASKS_DIR):
        return True
    stem, _, ext = name.rpartition(".")
    split, _, numbers = stem.partition("-")
    parts = numbers.split("-")
    return (
        ext in ("bin", "idx")
        and split in SPLITS
        and len(parts) <= 2
        and all(len(k) >= 5 and k.isdigit() for k in parts)
    )


def _diff(want: dict[str, Any], have: dict[str, Any]) -> list[str]:
    """What differs between two identities, as "key: old -> new" lines for the error."""
    out = []
    for key in ("tokenizer", "options"):
        for k in sorted(set(want[key]) | set(have.get(key, {}))):
            if want[key].get(k) != have.get(key, {}).get(k):
                out.append(f"{key}.{k}: {have.get(key, {}).get(k)!r} -> {want[key].get(k)!r}")
    if want["inputs"] != have.get("inputs"):
        old = {i["path"]: i for i in have.get("inputs", [])}
        changed = [i["path"] for i in want["inputs"] if old.get(i["path"]) != i] or [
            "(order or set of files)"
        ]
        out.append(f"inputs changed (added, removed, new size or mtime): {', '.join(changed[:5])}")
    return out


def _read_json(path: Path) -> dict[str, Any]:
    # A missing, half-written or foreign file reads as empty: then it is just not trusted.
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
