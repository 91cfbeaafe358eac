"""Corpus statistics of a token store: document lengths, top tokens, prepare's counters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tokenmill.common.checks import non_negative_int
from tokenmill.store.format import _CHUNK_BYTES

# A TokenStore: reader.py imports this module, never the other way round (duck-typed here).
TokenStore = Any


# Counts are preallocated for IDs up to max_token_value only below this: a manifest's claim
# (up to 2**32 - 1) must not allocate gigabytes for a small store; bigger IDs grow the counts
# as they are met, so memory follows the IDs actually stored.
_PREALLOCATED_IDS = 1 << 22


def token_counts(store: TokenStore, split: str = "train") -> np.ndarray:
    """How often each ID occurs in ``store[split]`` (np.bincount, streamed in chunks).

    Its length is ``max_token_value + 1`` (IDs never stored count 0), or the largest stored
    ID + 1 when that is bigger or ``max_token_value`` is above 4,194,303.
    """
    size = int(store.manifest["tokenizer"].get("max_token_value") or 0) + 1
    counts = np.zeros(size if size <= _PREALLOCATED_IDS else 1, dtype=np.int64)
    array, step = store[split], _CHUNK_BYTES // store.dtype.itemsize
    for s in range(len(array._lengths)):
        shard = array._shard(s)
        for a in range(0, len(shard), step):
            part = np.bincount(shard[a : a + step])
            if len(part) > len(counts):  # an ID beyond max_token_value: still counted
                counts = np.pad(counts, (0, len(part) - len(counts)))
            counts[: len(part)] += part
    return counts


def store_stats(store: TokenStore, *, top_k: int = 10, splits: Sequence[str] | None = None) -> dict[str, Any]:
    """Corpus statistics as a JSON-able dict: per split and in total.

    ``tokens`` counts every stored token, separators included; ``bytes`` is the input
    size prepare read (only reported for the whole store, it is not known per split).
    ``prepare`` holds the manifest's counters as recorded by prepare (documents read,
    empty documents skipped, EOT spellings kept as text, U+FFFD replacements, bad lines
    skipped): stored documents are never empty, so those are the only empty-document count.
    ``top_tokens[].text`` is the decoded token (invalid UTF-8 shown as U+FFFD); when the
    store's tokenizer cannot be loaded (not installed, or its vocabulary differs from the
    store's) the texts are None and ``tokenizer_error`` says why.
    Document-length percentiles are read from the ``.idx`` files; top tokens come from
    a chunked bincount, so memory stays bounded on big stores.
    """
    non_negative_int("top_k", top_k)
    chosen = tuple(store.splits if splits is None else splits)
    for split in chosen:
        store._split(split)
    per_split, all_lengths, all_counts = {}, [], None
    why: list[str] = []  # why token texts are missing, if they are
    for split in chosen:
        lengths = np.diff(store.document_offsets(split))
        counts = token_counts(store, split) if top_k else None
        per_split[split] = _summary(
            store, lengths, counts, top_k, shards=len(store._split(split)["shards"]), why=why
        )
        all_lengths.append(lengths)
        if counts is not None:
            if all_counts is None:
                all_counts = counts.copy()
            else:
                size = max(len(all_counts), len(counts))
                all_counts = np.pad(all_counts, (0, size - len(all_counts))) + np.pad(
                    counts, (0, size - len(counts))
                )
    lengths = np.concatenate(all_lengths) if all_lengths else np.zeros(0, np.int64)
    n_shards = sum(v["shards"] for v in per_split.values())
    total = _summary(store, lengths, all_counts, top_k, shards=n_shards, why=why)
    prepared = dict(store.manifest.get("stats", {}))
    if set(chosen) == set(store.splits) and prepared.get("bytes_read") is not None:
        total["bytes"] = int(prepared["bytes_read"])
        total["bytes_per_token"] = round(total["bytes"] / total["tokens"], 4) if total["tokens"] else None
    return {
        "path": str(store.path),
        "format_version": int(store.manifest["format_version"]),
        "tokenizer": store.tokenizer_name,
        "dtype": store.dtype.name,
        "eot": {"policy": store.eot_policy, "id": store.eot_id},
        "splits": per_split,
        "total": total,
        "prepare": prepared,
        "tokenizer_error": why[0] if why else None,
    }


def _summary(
    store: TokenStore,
    lengths: np.ndarray,
    counts: np.ndarray | None,
    top_k: int,
    *,
    shards: int,
    why: list[str],
) -> dict[str, Any]:
    out: dict[str, Any] = {"documents": int(len(lengths)), "tokens": int(lengths.sum()), "shards": shards}
    if len(lengths):
        # Nearest-rank percentiles ("inverted_cdf"): always a real document length.
        pct = np.percentile(lengths, [0, 10, 50, 90, 99, 100], method="inverted_cdf")
        keys = ("min", "p10", "p50", "p90", "p99", "max")
        out["document_tokens"] = {k: int(v) for k, v in zip(keys, pct)} | {
            "mean": round(float(lengths.mean()), 2)
        }
    else:
        out["document_tokens"] = None
    if counts is not None:
        out["top_tokens"] = _top_tokens(store, counts, top_k, int(lengths.sum()), why)
    return out


def _top_tokens(
    store: TokenStore, counts: np.ndarray, top_k: int, total: int, why: list[str]
) -> list[dict[str, Any]]:
    order = np.lexsort((np.arange(len(counts)), -counts))[:top_k]  # by count, ties by ID
    order = order[counts[order] > 0]
    try:
        pieces = store.tokenizer.decode_tokens_bytes(order.tolist())
        texts = [p.decode("utf-8", errors="replace") for p in pieces]
    except (ValueError, OSError, ImportError, KeyError) as exc:
        # Counts still work without the vocabulary; the reason is reported, never swallowed.
        texts = [None] * len(order)
        if not why:
            why.append(f"{type(exc).__name__}: {exc}")
    return [
        {
            "id": int(i),
            "count": int(counts[i]),
            "share": round(int(counts[i]) / total, 6) if total else 0.0,
            "text": t,
        }
        for i, t in zip(order.tolist(), texts)
    ]
