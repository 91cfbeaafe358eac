"""The token store: a directory of memory-mapped token shards plus a JSON manifest.

The layout is the contract in ``docs/format.md`` (format version 2; version 1 is read too). The store implements
both sides: :mod:`~tokenmill.store.writer` (the streaming :class:`ShardWriter` prepare's
workers write with, and ``write_shard``), :mod:`~tokenmill.store.format` (names, dtypes, the
index check), :mod:`~tokenmill.store.manifest`, and :class:`TokenStore`, which reads a store
back without copying: ``store["train"]`` is a 1-D read-only array-like
over all the split's shards.

Pitfall: a store is complete only when ``manifest.json`` exists; it is written last, so a
directory of shards without a manifest is an interrupted ``tokenmill prepare``.

>>> shard_name("train", 3)
'train-00003'
>>> dtype_for(50256)  # GPT-2's largest ID fits in two bytes
dtype('uint16')
"""

from tokenmill.common.files import atomic_write_bytes, sha256_file
from tokenmill.store.array import TokenArray
from tokenmill.store.format import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    dtype_for,
    shard_name,
    task_shard_name,
)
from tokenmill.store.manifest import read_manifest, write_manifest
from tokenmill.store.reader import TokenStore
from tokenmill.store.writer import ShardWriter, write_shard

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "ShardWriter",
    "TokenArray",
    "TokenStore",
    "atomic_write_bytes",
    "dtype_for",
    "read_manifest",
    "sha256_file",
    "shard_name",
    "task_shard_name",
    "write_manifest",
    "write_shard",
]
