"""``prepare s3://bucket/prefix ...``: inputs listed by prefix in object storage, fetched to a local cache.

An input argument that is a URL stands for every object under it (``s3://bucket/corpus`` lists
``corpus/...``; a URL that names one object is that file). Each object of a format prepare reads
is downloaded once into tokenmill's cache directory (``inputs/<hash of the URL>/<key>``, written
under a temporary name and renamed; kept while its size and etag are unchanged), and the
argument becomes that local directory (or file): its files get the names they have under the
prefix, so a document's split is the same as for a local copy of the same files. Objects of
other types are skipped and counted, as files of other types inside a directory are.

Pitfall: a file's modification time is set from its etag, so an unchanged object is the same
input on a rerun (the store's identity compares sizes and times) and a changed one is not.

>>> fetch_inputs(["a.txt", "b/"], None)
['a.txt', 'b/']
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from tokenmill.common.files import AtomicFile, atomic_write_bytes, cache_dir
from tokenmill.common.paths import is_url
from tokenmill.corpus.inputs import classify
from tokenmill.storage.urls import open_storage

__all__ = ["fetch_input", "fetch_inputs", "input_cache"]


def input_cache(url: str) -> Path:
    """The local directory that holds the objects fetched for the input argument ``url``."""
    return cache_dir() / "inputs" / hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:20]


def fetch_inputs(
    inputs: Any, storage_options: dict[str, Any] | None, skipped: list[str] | None = None, *, everything: bool = False,
    fetched: list[tuple[str, str, Any]] | None = None,
) -> Any:
    """``inputs`` with each URL replaced by the local copy of its objects; ``skipped`` gets the others.

    ``everything``: fetch objects of any name (an import's ``.bin``/``.idx`` files), not only
    prepare's inputs. ``fetched`` gets ``(local copy, URL, storage_options)`` per URL, which
    :func:`fetch_input` uses on a machine that lacks the copy (a Ray worker elsewhere).
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out = [_fetch(os.fspath(i), storage_options, skipped, everything) if is_url(i) else i for i in inputs]
    if fetched is not None:
        fetched += [(local, os.fspath(i).rstrip("/"), storage_options) for i, local in zip(inputs, out) if is_url(i)]
    return out


def fetch_input(fetched: Any, path: str) -> None:
    """Fetch the input file ``path`` (a local copy made on the coordinator) from its URL, here."""
    for local, url, options in fetched:
        if path == local:  # one object named exactly
            parent, _, key = url.rpartition("/")
        elif path.startswith(local + os.sep):
            parent, key = url, os.path.relpath(path, local).replace(os.sep, "/")
        else:
            continue
        storage = open_storage(parent, storage_options=options)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with AtomicFile(path) as out:
            if hasattr(storage, "download"):
                storage.download(key, out)
            else:
                out.write(storage.get(key))
        return


def _fetch(url: str, storage_options: dict[str, Any] | None, skipped: list[str] | None, everything: bool) -> str:
    url = url.rstrip("/")
    scheme, rest = url.split("://", 1)
    root_key = rest.partition("/")[2]
    local, marks = input_cache(url) / "files", input_cache(url) / "etags"
    if root_key:  # one object named exactly: that file, under its base name
        parent_url, _, name = url.rpartition("/")
        single = open_storage(parent_url, storage_options=storage_options)
        info = single.head(name)
        if info is not None:
            _download(single, info.key, info.size, info.etag, local / name, marks / name)
            return str(local / name)
    storage = open_storage(url, storage_options=storage_options)
    objects = sorted(storage.list(), key=lambda o: o.key)
    if not objects:
        raise FileNotFoundError(f"input not found: {url} holds no object (list it with: aws s3 ls {url}/)")
    wanted = set()
    for obj in objects:
        if not (everything or classify(obj.key) is not None):
            if skipped is not None:
                skipped.append(f"{url}/{obj.key}")
            continue
        parts = obj.key.split("/")
        _download(storage, obj.key, obj.size, obj.etag, local.joinpath(*parts), marks.joinpath(*parts))
        wanted.add(local.joinpath(*parts))
    for path in [p for p in local.rglob("*") if p.is_file() and p not in wanted]:
        path.unlink()  # an object deleted since the last fetch is no input any more
    return str(local)


def _download(storage: Any, key: str, size: int, etag: str, path: Path, mark: Path) -> None:
    """``key`` at ``path`` unless the copy there has its size and the etag in ``mark``; its mtime from the etag."""
    stamp = int(hashlib.sha256(f"{etag}:{size}".encode()).hexdigest()[:10], 16)  # ns, stable per version
    try:
        if path.stat().st_size == size and mark.read_text() == etag:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, storage.get(key))
    os.utime(path, ns=(stamp, stamp))
    mark.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(mark, etag.encode())
