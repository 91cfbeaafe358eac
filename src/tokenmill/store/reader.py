"""``TokenStore``: a token store directory opened for reading, without copying."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tokenmill.common.files import sha256_file
from tokenmill.common.paths import is_url, store_path
from tokenmill.store.array import MAX_OPEN_SHARDS, TokenArray
from tokenmill.store.bundled import load_store_tokenizer
from tokenmill.store.format import (
    _CHUNK_BYTES,
    LOCK_NAME,
    MANIFEST_NAME,
    _le,
    read_index,
)
from tokenmill.store.manifest import read_manifest
from tokenmill.store.remote import RemoteStore
from tokenmill.store.repair import prepare_command
from tokenmill.store.shardfile import REWRITTEN, Identity, identity_of, inside
from tokenmill.store.stats import store_stats, token_counts


def _being_written(directory: Path) -> bool:
    """Does a running prepare hold the store's lock? (Tested without blocking or creating it.)"""
    import fcntl

    try:
        fd = os.open(directory / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # also drops the shared lock, if taken
    return False


class TokenStore:
    """A token store directory opened for reading (see ``docs/format.md``).

    ``store["train"]`` is a :class:`TokenArray`; ``store.documents("train")`` yields each
    document's tokens (EOT separator included, as stored).

    Opening checks the manifest against its schema, that every file it names lies inside
    the store, and every shard file's size, and records each file's identity: a shard
    rewritten after that (a rebuild while the store is open) is refused when it is mapped,
    never read as other data. At most ``max_open_shards`` shards per split stay mapped.

    Pitfall: opening does not check the checksums (that reads every byte); call
    :meth:`verify` for the full check.

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> ids = np.array([31373, 995, 50256, 40, 50256], np.uint16)
    >>> entry = write_shard(d, "train-00000", ids, np.array([0, 3, 5]))
    >>> write_manifest(d, _example_manifest([entry]))
    >>> store = TokenStore.open(d)
    >>> store.splits, len(store["train"]), store["train"][:2]
    (('train',), 5, array([31373,   995], dtype=uint16))
    >>> [doc.tolist() for doc in store.documents("train")]
    [[31373, 995, 50256], [40, 50256]]
    >>> store.decode(0, 3)
    'hello world<|endoftext|>'
    """

    def __init__(
        self, path: str | os.PathLike[str], *, max_open_shards: int = MAX_OPEN_SHARDS,
        storage_options: dict[str, Any] | None = None, cache_dir: str | os.PathLike[str] | None = None,
        cache_limit: int | str | None = None,
    ) -> None:
        self.max_open_shards = max_open_shards
        self._remote: RemoteStore | None = None
        if is_url(path):  # object storage: the manifest from the bucket, the shards through the cache
            self._remote = RemoteStore(
                os.fspath(path), storage_options=storage_options, cache_dir=cache_dir, cache_limit=cache_limit
            )
            self.path: Any = self._remote.url
            self.manifest: dict[str, Any] = self._remote.manifest
        else:
            self.path = store_path(path)
            if not (self.path / MANIFEST_NAME).exists() and _being_written(self.path):
                raise ValueError(
                    f"{self.path} is being written by a running `tokenmill prepare` (it holds "
                    f"{self.path / LOCK_NAME}); wait for it to finish, then open the store"
                )
            self.manifest = read_manifest(self.path)
        self.dtype: np.dtype = _le(np.dtype(self.manifest["dtype"]))
        names = list(self.manifest["splits"])
        self.splits: tuple[str, ...] = tuple(sorted(names, key=lambda s: (s != "train", s != "val", s)))
        self._arrays: dict[str, TokenArray] = {}
        self._tokenizer: Any = None
        self._identities: dict[Path, Identity] = {}
        # fixed at open: survives a chdir, and pickling
        self._root = self.path.absolute() if self._remote is None else self._remote.cache.root
        for split in self.splits:
            self._check_split(split)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, max_open_shards: int = MAX_OPEN_SHARDS,
        storage_options: dict[str, Any] | None = None, cache_dir: str | os.PathLike[str] | None = None,
        cache_limit: int | str | None = None,
    ) -> TokenStore:
        """Open the store at ``path``, a directory or a URL (``s3://bucket/prefix``); same as ``TokenStore(path)``.

        For a URL, ``storage_options`` configure the connection (see ``docs/storage.md``), and
        shards are read through the local cache at ``cache_dir`` (default under tokenmill's
        cache dir) holding at most ``cache_limit`` bytes (``"20GB"``) besides the shards in use.
        """
        return cls(
            path, max_open_shards=max_open_shards, storage_options=storage_options, cache_dir=cache_dir,
            cache_limit=cache_limit,
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        if self._remote is not None:
            r = self._remote
            return (_reopen_remote, (r.url, self.max_open_shards, r.storage_options, str(r.cache.root), r.cache.limit))
        # Reopen by path: the maps and the tokenizer are rebuilt, never pickled; the files must
        # still be the ones this store opened.
        ids = {path.name: i for path, i in self._identities.items()}
        return (_reopen, (str(self.path), self.max_open_shards, ids))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={self._split(s)['n_tokens']}" for s in self.splits)
        name, dtype = self.tokenizer_name, self.dtype.name
        return f"TokenStore({str(self.path)!r}, tokenizer={name!r}, dtype={dtype}, tokens: {sizes})"

    @property
    def tokenizer_name(self) -> str:
        return str(self.manifest["tokenizer"]["name"])

    @property
    def eot_id(self) -> int | None:
        """The separator ID the store holds between documents (None when the policy is "none")."""
        eot = self.manifest["eot"]
        return None if eot.get("policy") == "none" or eot.get("id") is None else int(eot["id"])

    @property
    def eot_policy(self) -> str:
        return str(self.manifest["eot"].get("policy", "none"))

    def _split(self, split: str) -> dict[str, Any]:
        if split not in self.manifest["splits"]:
            have = ", ".join(self.splits) or "none"
            raise ValueError(
                f"the token store at {self.path} has no split {split!r}; available splits: {have}"
            )
        return self.manifest["splits"][split]

    def _shard_files(self, split: str) -> list[tuple[dict[str, Any], Path, Path]]:
        shards, root = self._split(split)["shards"], self._root
        if self._remote is not None:
            local = self._remote.local_path
            return [(sh, local(sh["bin_sha256"]), local(sh["idx_sha256"])) for sh in shards]
        return [(sh, root / f"{sh['name']}.bin", root / f"{sh['name']}.idx") for sh in shards]

    def _read_index(self, idx_path: Path, n_tokens: int) -> np.ndarray:
        if self._remote is not None:
            with self._remote.pinned(idx_path) as local:
                return read_index(local, n_tokens, fix=self._fix())
        return read_index(idx_path, n_tokens, fix=self._fix(), identity=self._identities.get(idx_path))

    def _fix(self) -> str:
        """Advice that works when copied: the prepare command that made the store finds and rebuilds bad shards."""
        return f"rebuild it by rerunning the command that made it: `{prepare_command(self.path, self.manifest)}`"

    def _check_split(self, split: str) -> None:
        """Cheap structural checks (sums and file sizes); ValueError naming the bad file."""
        if self._remote is not None:
            return  # each object is checked by its sha256 (and so its size) when it is fetched
        fix = self._fix()  # the sums were checked with the manifest's schema
        for sh, bin_path, idx_path in self._shard_files(split):
            sizes = (int(sh["n_tokens"]) * self.dtype.itemsize, (int(sh["n_documents"]) + 1) * 8)
            for path, want in zip((bin_path, idx_path), sizes):
                try:  # the schema allows no "/" in a name: only a symlink can lead out of the store
                    if stat.S_ISLNK(os.lstat(path).st_mode):
                        inside(self.path, path.name, what=f"{self.path / MANIFEST_NAME}: shard {sh['name']!r}")
                    st = path.stat()
                except FileNotFoundError:
                    st = None
                if st is None or not stat.S_ISREG(st.st_mode):
                    raise ValueError(f"shard file {path} is missing; {fix}")
                if self._identities.setdefault(path, identity_of(st)) != identity_of(st):
                    raise ValueError(f"shard file {path} is not the file that was there when the store was opened; {REWRITTEN}")
                found = st.st_size
                if found != want:
                    raise ValueError(
                        f"shard file {path} has {found} bytes, expected {want} (truncated or overwritten); {fix}"
                    )

    def __contains__(self, split: object) -> bool:
        return split in self.manifest["splits"]

    def __getitem__(self, split: str) -> TokenArray:
        if split not in self._arrays:
            files = self._shard_files(split)
            lengths = [int(sh["n_tokens"]) for sh, _, _ in files]
            ids = [self._identities.get(b) for _, b, _ in files]
            self._arrays[split] = TokenArray(
                [b for _, b, _ in files], lengths, self.dtype, identities=ids, max_open=self.max_open_shards,
                remote=self._remote,
            )
        return self._arrays[split]

    def num_documents(self, split: str = "train") -> int:
        return int(self._split(split)["n_documents"])

    def num_tokens(self, split: str = "train") -> int:
        return int(self._split(split)["n_tokens"])

    def document_offsets(self, split: str = "train") -> np.ndarray:
        """Global document starts in ``store[split]`` plus its length: ``n_documents + 1`` int64."""
        parts, base = [np.zeros(1, np.int64)], 0
        for sh, _, idx_path in self._shard_files(split):
            parts.append(self._read_index(idx_path, int(sh["n_tokens"]))[1:] + base)
            base += int(sh["n_tokens"])
        return np.concatenate(parts).astype(np.int64)

    def documents(self, split: str = "train") -> Iterator[np.ndarray]:
        """Yield each document's tokens in order, as read-only views (no copy)."""
        array = self[split]
        for s, (sh, _, idx_path) in enumerate(self._shard_files(split)):
            offsets = self._read_index(idx_path, int(sh["n_tokens"]))
            shard = array._shard(s)
            for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist()):
                yield shard[a:b]

    def verify(self) -> None:
        """Check every shard's checksums and structure; None if sound, else ValueError.

        Reads every byte (streamed). The error names the shard file and shows the
        expected and found values.
        """
        if self._remote is not None:  # every object's sha256, streamed from the bucket
            self._remote.verify()
            return
        limit = self.manifest["tokenizer"].get("max_token_value")
        fix = self._fix()
        for split in self.splits:
            self._check_split(split)
            for sh, bin_path, idx_path in self._shard_files(split):
                h, top = hashlib.sha256(), -1
                with open(bin_path, "rb") as f:
                    while chunk := f.read(_CHUNK_BYTES):  # a multiple of the itemsize
                        h.update(chunk)
                        values = np.frombuffer(chunk, dtype=self.dtype)
                        top = max(top, int(values.max()) if values.size else -1)
                if h.hexdigest() != sh["bin_sha256"]:
                    raise ValueError(
                        f"shard file {bin_path} is corrupt: sha256 expected {sh['bin_sha256']}, "
                        f"found {h.hexdigest()}; {fix}"
                    )
                found = sha256_file(idx_path)
                if found != sh["idx_sha256"]:
                    raise ValueError(
                        f"shard file {idx_path} is corrupt: sha256 expected {sh['idx_sha256']}, found {found}; {fix}"
                    )
                read_index(idx_path, int(sh["n_tokens"]), fix=fix)
                if limit is not None and top > int(limit):
                    raise ValueError(
                        f"shard file {bin_path} holds token ID {top} > the tokenizer's max_token_value {limit}; {fix}"
                    )

    @property
    def tokenizer(self) -> Any:
        """The store's tokenizer (loaded on first use); ValueError if its ranks or definition differ."""
        if self._tokenizer is None:
            where = self.path if self._remote is None else self._remote.tokenizer_dir()
            self._tokenizer = load_store_tokenizer(where, self.manifest)
        return self._tokenizer

    def decode(self, start: int, stop: int, *, split: str = "train") -> str:
        """Decode the tokens ``store[split][start:stop]`` back to text."""
        return self.tokenizer.decode(self[split][start:stop].tolist())

    def token_counts(self, split: str = "train") -> np.ndarray:
        """How often each ID occurs in ``store[split]`` (np.bincount, streamed in chunks)."""
        return token_counts(self, split)

    def stats(self, *, top_k: int = 10, splits: Sequence[str] | None = None) -> dict[str, Any]:
        """Corpus statistics as a JSON-able dict, per split and in total (see `store.stats`)."""
        return store_stats(self, top_k=top_k, splits=splits)


def _reopen_remote(url: str, max_open: int, options: Any, cache_dir: str, limit: int | None) -> TokenStore:
    """A store on object storage, in another process: the same URL, options and cache."""
    return TokenStore(url, max_open_shards=max_open, storage_options=options, cache_dir=cache_dir, cache_limit=limit)


def _reopen(path: str, max_open_shards: int, identities: dict[str, Identity]) -> TokenStore:
    store = TokenStore(path, max_open_shards=max_open_shards)
    found = {file.name: i for file, i in store._identities.items()}
    for name, want in identities.items():
        if found.get(name) != tuple(want):
            raise ValueError(
                f"shard file {store.path / name} is not the file that was there when the store was opened; {REWRITTEN}"
            )
    return store
