"""The token store: a directory of memory-mapped token shards plus a JSON manifest.

The layout is the contract in ``docs/format.md`` (format version 2; version 1 is read too). This module has the
write primitives that ``tokenmill.prepare`` builds a store with, and :class:`TokenStore`,
which reads one back without copying: ``store["train"]`` is a 1-D read-only array-like
over all the split's shards.

Pitfall: a store is complete only when ``manifest.json`` exists; it is written last, so a
directory of shards without a manifest is an interrupted ``tokenmill prepare``.

>>> shard_name("train", 3)
'train-00003'
>>> dtype_for(50256)  # GPT-2's largest ID fits in two bytes
dtype('uint16')
"""

from tokenmill.store.array import TokenArray, _window_reference  # noqa: F401  (tests use it)
from tokenmill.store.format import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    atomic_write_bytes,
    dtype_for,
    sha256_file,
    shard_name,
    write_shard,
)
from tokenmill.store.manifest import (
    _example_manifest,  # noqa: F401  (tests use it)
    read_manifest,
    write_manifest,
)
from tokenmill.store.reader import TokenStore

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "TokenArray",
    "TokenStore",
    "atomic_write_bytes",
    "dtype_for",
    "read_manifest",
    "sha256_file",
    "shard_name",
    "write_manifest",
    "write_shard",
]
