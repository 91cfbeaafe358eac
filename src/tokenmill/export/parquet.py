"""Parquet: one row per document, an ``input_ids`` list column, one row group per store shard.

Hugging Face ``datasets.load_dataset("parquet", data_files=...)`` reads it as
``{"input_ids": List(Value("uint16"))}`` (or uint32).

Pitfall: needs pyarrow (``pip install 'tokenmill[parquet]'``); a row group holds a whole
shard's documents, so memory follows the store's shard size, not the store's size.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tokenmill.common.errors import ExplainedError
from tokenmill.export.base import Written, read_pieces, shards_of


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("exporting to parquet needs pyarrow: pip install 'tokenmill[parquet]'") from None
    return pa, pq


def write(store: Any, split: str, written: Written) -> list[str]:
    """``{split}.parquet``: each document a row of ``input_ids``."""
    pa, pq = _pyarrow()
    name = f"{split}.parquet"
    value_type = pa.uint16() if store.dtype.itemsize == 2 else pa.uint32()
    schema = pa.schema([("input_ids", pa.list_(value_type))])
    path = written.root / name  # inside the staging directory: renamed into place only when whole
    # no dictionary: token IDs barely repeat within a page, and it made writing 4x slower for 25% less size
    with pq.ParquetWriter(path, schema, use_dictionary=False) as writer:
        for shard in shards_of(store, split):
            if shard.n_tokens >= 1 << 31:
                raise ExplainedError("{0} holds {1} tokens; a parquet row group takes under 2**31: "
                                     "prepare the store with a smaller --shard-tokens", shard.bin, shard.n_tokens)
            pieces = [*read_pieces(shard.bin, store.dtype, count=shard.n_tokens), np.zeros(0, store.dtype)]
            tokens = np.concatenate(pieces).astype(store.dtype.newbyteorder("="))
            column = pa.ListArray.from_arrays(pa.array(shard.offsets().astype(np.int32)), pa.array(tokens))
            writer.write_table(pa.table({"input_ids": column.cast(pa.list_(value_type))}))
    written.record(name)
    return [name]


def read(path: Path) -> tuple[np.dtype, Iterator[tuple[np.ndarray, np.ndarray]]]:
    """The dtype and the (tokens, document lengths) of each row group of a parquet file we wrote."""
    pa, pq = _pyarrow()
    file = pq.ParquetFile(path)
    names = file.schema_arrow.names
    if "input_ids" not in names:
        raise ValueError(f"{path} has no input_ids column (columns: {', '.join(names)}); tokenmill imports "
                         "parquet files with one list of token IDs per row in input_ids")
    kind = file.schema_arrow.field("input_ids").type
    if not pa.types.is_list(kind) and not pa.types.is_large_list(kind) or not pa.types.is_integer(kind.value_type):
        raise ValueError(f"{path}: input_ids is {kind}, not a list of integer token IDs")
    dtype = np.dtype(kind.value_type.to_pandas_dtype())

    def groups() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for k in range(file.num_row_groups):
            column = file.read_row_group(k, columns=["input_ids"]).column(0).combine_chunks()
            offsets = np.asarray(column.offsets, dtype=np.int64)
            tokens = column.values.to_numpy(zero_copy_only=False)
            yield tokens, np.diff(offsets)

    return dtype, groups()
