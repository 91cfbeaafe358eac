"""``prepare --out s3://bucket/prefix``: stage locally, upload task by task, publish the manifest last.

With a URL for ``--out``, the run works in a local staging directory (under tokenmill's cache
directory, one per URL, on each machine that runs tasks: no shared file system) exactly as it
does for a local ``--out``, and the bucket receives, in this order: ``.progress.json`` (which
store is being made), each task's shards (``.bin``, ``.idx``) and then its record
(``.tasks/<task>.json``), and finally ``manifest.json`` with a conditional put (If-None-Match),
which refuses to replace a store that someone else published meanwhile. The objects are
byte-identical to the files of a local prepare of the same inputs. A reader looks for the
manifest, so a half-uploaded store is never taken for a finished one.

Resume works against the bucket: a task whose record there has this run's digest and whose
shards are all there with their sizes is skipped, so a rerun after kill -9 redoes only the
unfinished tasks, whichever machine ran them. ``overwrite`` removes the old manifest first (from
then on the prefix holds no store) and, once the new manifest is up, every object of prepare's
own names that the new store lacks.

Pitfall: two runs to the same URL from different machines are not locked against each other
(the local lock covers one machine); the conditional put of the manifest stops the second from
replacing the first's store, and ``--overwrite`` is the way to replace it deliberately.

>>> staging_dir("s3://bucket/store").parent.name
'staging'
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokenmill.common.errors import ExplainedError
from tokenmill.common.files import AtomicFile, cache_dir
from tokenmill.common.paths import is_url
from tokenmill.prepare.checkpoint import clean, save_checkpoint
from tokenmill.prepare.own_files import is_ours, real_dir
from tokenmill.prepare.tasks import TASKS_DIR, UNPACK_DIR, TaskSpec
from tokenmill.storage.base import Storage, StorageNotFoundError
from tokenmill.storage.urls import open_storage
from tokenmill.store.format import FORMAT_VERSION, MANIFEST_NAME, PROGRESS_NAME

__all__ = [
    "Remote", "abandon", "check_remote", "save_remote_checkpoint", "published_store", "remote_finished", "remote_of", "staging_dir",
    "upload_task",
]

_OPEN: dict[str, Storage] = {}  # per process: one client per (URL, options), reused by every task


@dataclass(frozen=True)
class Remote:
    """Where a prepare publishes: the store's URL and how to reach it (sent to every worker)."""

    url: str  # s3://bucket/prefix (no trailing slash)
    storage_options: dict[str, Any] | None = field(default=None, hash=False)

    def storage(self) -> Storage:
        """This process's client for the URL (made once)."""
        # per process: a client (its runtime threads) inherited through fork would hang
        key = json.dumps([os.getpid(), self.url, self.storage_options], sort_keys=True, default=str)
        if key not in _OPEN:
            _OPEN[key] = open_storage(self.url, storage_options=self.storage_options)
        return _OPEN[key]


def remote_of(out: Any, storage_options: dict[str, Any] | None) -> Remote | None:
    """A :class:`Remote` when ``out`` is a URL (its scheme checked now), else None."""
    if not is_url(out):
        return None
    remote = Remote(os.fspath(out).rstrip("/"), storage_options)
    remote.storage()  # an unknown scheme, or no bucket in the URL, fails here: nothing contacted
    return remote


def staging_dir(url: str) -> Path:
    """The local directory where this machine stages a store bound for ``url`` (under the cache)."""
    return cache_dir() / "staging" / hashlib.sha256(url.encode()).hexdigest()[:20]


def _get_json(storage: Storage, key: str) -> tuple[dict[str, Any] | None, str | None]:
    """(the JSON object at ``key`` or None, why it is unusable or None); an absent key is (None, None)."""
    try:
        data = json.loads(storage.get(key))
    except StorageNotFoundError:
        return None, None
    except ValueError as exc:
        if isinstance(exc, ExplainedError) or type(exc).__module__.startswith("tokenmill.storage"):
            raise
        return None, f"not JSON ({exc})"
    return (data, None) if isinstance(data, dict) else (None, f"a JSON {type(data).__name__}")


def _same_store(identity: dict[str, Any], have: dict[str, Any]) -> list[str]:
    """What differs between the identity being made and a manifest's or checkpoint's."""
    return [k for k in ("tokenizer", "options", "inputs") if identity.get(k) != have.get(k)]


def check_remote(remote: Remote, identity: dict[str, Any], overwrite: bool) -> dict[str, Any] | None:
    """The bucket's manifest if it already holds this store, else get the bucket ready (None).

    Refused (ValueError, nothing written): a store or an unfinished prepare of other inputs or
    options, or objects that are no store, unless ``overwrite``. Ready means: the old
    manifest removed (``overwrite``) and ``.progress.json`` naming the store being made.
    """
    storage = remote.storage()
    manifest, bad_manifest = _get_json(storage, MANIFEST_NAME)  # the first request: bad bucket/credentials fail here
    fix = "pass {overwrite=True} to replace it, or choose another {out}"
    if manifest is not None and not overwrite:
        differs = _same_store(identity, manifest)
        if not differs:
            return manifest
        raise ExplainedError(
            "{0} holds a token store made from other inputs or options (its {1} differ); " + fix,
            remote.url, " and ".join(differs),
        )
    if bad_manifest is not None and not overwrite:
        raise ExplainedError("{0}/manifest.json is not a token store manifest ({1}); " + fix, remote.url, bad_manifest)
    if manifest is None and not overwrite:
        progress, _ = _get_json(storage, PROGRESS_NAME)
        have = (progress or {}).get("identity")
        if isinstance(have, dict) and not progress.get("failed") and (differs := _same_store(identity, have)):
            raise ExplainedError(
                "{0} holds an unfinished prepare of other inputs or options (its {1} differ); " + fix,
                remote.url, " and ".join(differs),
            )
        if progress is None and next(iter(storage.list()), None) is not None:
            raise ExplainedError(
                "{0} is not empty and holds no token store; choose an empty prefix for {out} (or pass "
                "{overwrite=True}: prepare's own objects there are replaced)", remote.url,
            )
    if manifest is not None or bad_manifest is not None:
        storage.delete(MANIFEST_NAME)  # first: from here on the prefix holds no store
    save_remote_checkpoint(remote, identity)
    return None


def save_remote_checkpoint(remote: Remote, identity: dict[str, Any], *, failed: bool = False) -> None:
    """``.progress.json`` in the bucket: which store is being made (``failed``: stopped on bad input)."""
    state = {"format_version": FORMAT_VERSION, "identity": identity, "failed": failed}
    remote.storage().put(PROGRESS_NAME, json.dumps(state, sort_keys=True).encode())


def _record_key(index: int) -> str:
    return f"{TASKS_DIR}/{index:05d}.json"


def remote_finished(remote: Remote, spec: TaskSpec, itemsize: int) -> dict[str, Any] | None:
    """Task ``spec``'s record in the bucket if an earlier run finished it with these inputs/options."""
    storage = remote.storage()
    record, _ = _get_json(storage, _record_key(spec.index))
    try:
        if record is None or record["digest"] != spec.digest:
            return None
        for entries in record["shards"].values():
            for e in entries:
                shard = storage.head(f"{e['name']}.bin")
                if shard is None or shard.size != e["n_tokens"] * itemsize or storage.head(f"{e['name']}.idx") is None:
                    return None
    except (KeyError, TypeError, AttributeError):
        return None
    return record


def forget_task(remote: Remote, spec: TaskSpec) -> None:
    """Remove task ``spec``'s record from the bucket before redoing it (its shards are then replaced)."""
    remote.storage().delete(_record_key(spec.index))


def upload_task(remote: Remote, staging: Path, record: dict[str, Any], record_file: Path) -> None:
    """Upload a finished task's shards, then its record; the staged copies are removed after."""
    storage = remote.storage()
    files = [f"{e['name']}.{ext}" for entries in record["shards"].values() for e in entries for ext in ("bin", "idx")]
    for name in files:
        storage.put_file(name, staging / name)
    storage.put(_record_key(record["task"]), record_file.read_bytes())  # last: the task is done
    for name in files:
        (staging / name).unlink(missing_ok=True)
    record_file.unlink(missing_ok=True)


def share_unpacked(remote: Remote, path: Path) -> None:
    """Upload a decompressed input (``.unpacked/<i>.jsonl``) so that workers on other machines read it too."""
    remote.storage().put_file(f"{UNPACK_DIR}/{path.name}", path)


def fetch_unpacked(remote: Remote, path: str) -> None:
    """The decompressed input ``path`` of another machine's unpack task, from the bucket (streamed)."""
    storage, key = remote.storage(), f"{UNPACK_DIR}/{Path(path).name}"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with AtomicFile(path) as out:  # tasks on one machine may fetch it at once: each renames a whole copy
        if hasattr(storage, "download"):
            storage.download(key, out)
        else:
            out.write(storage.get(key))


def publish(remote: Remote, staging: Path, manifest: dict[str, Any], keep: set[str]) -> None:
    """Upload the staged tokenizer copy, then the manifest (conditional put), then remove what the store lacks."""
    storage = remote.storage()
    bundled = [p for p in staging.rglob("*") if p.is_file() and p.relative_to(staging).parts[0] == "tokenizer"]
    for path in sorted(bundled):
        key = path.relative_to(staging).as_posix()
        storage.put_file(key, path)
        keep.add(key)
    if not storage.put_if_absent(MANIFEST_NAME, (staging / MANIFEST_NAME).read_bytes()):
        raise ExplainedError(
            "{0} got a manifest from another prepare while this one ran: it was not replaced; "
            "pass {overwrite=True} to replace it", remote.url,
        )
    keep.add(MANIFEST_NAME)
    for obj in list(storage.list()):  # what an old store or this run's bookkeeping left
        top = obj.key.split("/", 1)[0]
        if obj.key not in keep and (is_ours(top) or top in ("tokenizer", TASKS_DIR, UNPACK_DIR)):
            storage.delete(obj.key)
    shutil.rmtree(staging, ignore_errors=True)


def reset_staging(staging: Path, identity: dict[str, Any]) -> None:
    """Get the local staging directory ready: prepare's own files there go (decompressed inputs stay)."""
    clean(staging, keep={UNPACK_DIR})
    real_dir(staging / TASKS_DIR)
    save_checkpoint(staging, identity)


def abandon(remote: Remote, *, everything: bool = False) -> None:
    """After a run that finished no task: remove its ``.progress.json`` (the bucket is left as found).

    ``everything``: remove every object of prepare's own names (a run that found nothing to store).
    """
    storage = remote.storage()
    if everything:
        for obj in list(storage.list()):
            if is_ours(obj.key.split("/", 1)[0]) and obj.key != MANIFEST_NAME:
                storage.delete(obj.key)
    if next(iter(storage.list(TASKS_DIR + "/")), None) is None:
        storage.delete(PROGRESS_NAME)


def published_store(remote: Remote, manifest: dict[str, Any]) -> Any:
    """The published store, opened through its URL (``TokenStore.open`` with ``storage_options``)."""
    from tokenmill.store import TokenStore

    return TokenStore.open(remote.url, storage_options=remote.storage_options)
