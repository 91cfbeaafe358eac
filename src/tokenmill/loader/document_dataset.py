"""Windows that keep documents apart: ``DocumentDataset`` (``"documents"``, ``"packed"``, dict rows).

Document boundaries come from a token store's index (``TokenStore.document_offsets``) or from a
list of documents' token lists, never from scanning for an EOT token. Each row has
``max_length + 1`` token slots; ``input_ids`` are slots ``0..max_length-1`` and ``labels`` slots
``1..max_length`` (already shifted: the book's targets, so do not shift them again as Hugging
Face models do), -100 where the target is padding or belongs to another document than its input.
Dict batches also carry ``position_ids`` (restarting at 0 at each piece of a document),
``document_ids`` (the segment of the row, -1 on padding) and, from ``finish_batch``,
``cu_seqlens``, ``max_seqlen`` and ``num_items_in_batch``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from tokenmill.common.checks import non_negative_int, positive_int
from tokenmill.common.errors import OptionError
from tokenmill.loader.batches import IGNORE_INDEX, finish_batch_from_segments
from tokenmill.loader.dataset import WindowDataset
from tokenmill.loader.layouts import LAYOUTS, PACKING_VERSION, Layout, document_layout
from tokenmill.store.ranges import take_ranges

__all__ = ["DocumentDataset", "documents_of", "is_document_list"]

_NEED_BOUNDARIES = (
    "{windows=%r} with {return_dict=%r} needs document boundaries, which a {0} of token IDs has "
    "not; pass a token store (`tokenmill prepare INPUT --out DIR`, then TokenStore.open(DIR)) or a "
    "list of documents' token lists ([tok.encode(doc) for doc in docs]), or use "
    "{windows='sliding'} with {return_dict=False}"
)


def _spread(values: np.ndarray, target: np.ndarray, size: int, fill: int) -> np.ndarray:
    """``values`` placed at ``target`` in an array of ``size`` holding ``fill`` elsewhere."""
    out = np.full(size, fill, dtype=values.dtype)
    out[target] = values
    return out


def is_document_list(source: Any) -> bool:
    """Whether ``source`` is a list/tuple of documents' token lists (or 1-D arrays)."""
    return (
        isinstance(source, (list, tuple)) and len(source) > 0
        and all(isinstance(d, (list, tuple, np.ndarray, torch.Tensor)) for d in source)
    )


def documents_of(
    source: Any, split: str, what: str, *, windows: str = "packed", return_dict: bool = False,
) -> tuple[Any, np.ndarray, int]:
    """``(tokens, offsets, default pad ID)`` of a token store or a list of token lists, else ValueError.

    ``offsets`` are ``n_documents + 1`` int64 starts (the last is the token count). A store pads
    with its EOT ID (0 when it has none); a list of token lists with 0.

    >>> tokens, offsets, pad = documents_of([[5, 6], [7]], "train", "source")
    >>> tokens.tolist(), offsets.tolist(), pad
    ([5, 6, 7], [0, 2, 3], 0)
    """
    if hasattr(source, "document_offsets") and hasattr(source, "splits"):
        return source[split], source.document_offsets(split), int(source.eot_id or 0)
    if is_document_list(source):
        docs = [np.asarray(d.detach().cpu() if isinstance(d, torch.Tensor) else d) for d in source]
        for d in docs:
            if d.ndim != 1 or (d.size and d.dtype.kind not in "iu"):
                raise ValueError(
                    f"a list of documents must hold 1-D lists of integer token IDs, got one of "
                    f"shape {d.shape} dtype {d.dtype}; encode each: [tok.encode(doc) for doc in docs]"
                )
        sizes = np.array([len(d) for d in docs], np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        tokens = np.concatenate(docs).astype(np.int64) if offsets[-1] else np.empty(0, np.int64)
        return tokens, offsets, 0
    raise OptionError(
        "return_dict" if windows == "sliding" else "windows", _NEED_BOUNDARIES % (windows, return_dict), what,
    )


class DocumentDataset(Dataset):
    """Rows of ``max_length`` inputs that never mix documents, or the book's windows as dict rows.

    ``windows="documents"``: each row starts at a document's first token; a document longer than
    ``max_length + 1`` tokens continues in rows starting ``stride`` tokens apart inside it; the
    tail of a row is padding. ``"packed"``: whole documents (pieces starting every
    ``max_length`` tokens for longer ones) packed into rows by best-fit decreasing
    (``tokenmill.loader.layouts``). ``"sliding"`` (``return_dict=True`` only): the book's
    windows, cut into segments where a document starts (Megatron's reset flags).

    ``batch(indices)`` is ``[inputs, targets]`` (int64 ``(len(indices), max_length)``, targets
    -100 where ``labels`` would be) or, with ``return_dict=True``, a dict of ``input_ids``,
    ``labels``, ``position_ids``, ``document_ids`` (int32) and the batch-level fields of
    ``finish_batch``.

    Pitfall: ``labels`` are already shifted (``labels[:, i]`` is the token after
    ``input_ids[:, i]``); a Hugging Face model that shifts its labels again would learn the
    token after next.

    >>> ds = DocumentDataset([[1, 2, 3], [4, 5]], windows="packed", max_length=4, return_dict=True)
    >>> b = ds.batch([0])
    >>> b["input_ids"].tolist(), b["labels"].tolist(), b["position_ids"].tolist()
    ([[1, 2, 3, 4]], [[2, 3, -100, 5]], [[0, 1, 2, 0]])
    """

    def __init__(
        self, source: Any, *, windows: str, max_length: int, stride: int | None = None,
        pad_id: int | None = None, return_dict: bool = False, split: str = "train",
    ) -> None:
        if windows not in LAYOUTS:
            raise OptionError("windows", "{windows=%r} is not one of %s; pick one" % (windows, LAYOUTS))
        self.windows, self.return_dict = windows, bool(return_dict)
        self.max_length = positive_int("max_length", max_length)
        if windows == "packed" and stride not in (None, self.max_length):
            raise OptionError(
                "stride",
                "{windows='packed'} cuts long documents into pieces every {max_length} tokens, so "
                "{stride=%d} has no meaning there; drop {stride=} (or use {windows='documents'})"
                % stride,
            )
        self.stride = positive_int("stride", self.max_length if stride is None else stride)
        self._tokens, self._offsets, default_pad = documents_of(
            source, split, type(source).__name__, windows=windows, return_dict=self.return_dict,
        )
        self.pad_id = default_pad if pad_id is None else non_negative_int("pad_id", pad_id)
        self.n_tokens = int(self._offsets[-1])
        self._arange = np.arange(0, dtype=np.int64)  # grown by _slot_index
        if windows == "sliding":
            self._sliding: WindowDataset | None = WindowDataset(
                self._tokens, max_length=self.max_length, stride=self.stride,
            )
            self._n_rows = len(self._sliding)
        else:
            self._sliding = None
            self._layout = document_layout(
                self._offsets, windows=windows, max_length=self.max_length, stride=self.stride,
            )
            self._n_rows = self._layout.n_rows
            # O(rows): slots each row fills (every row has a piece, so reduceat sees no empty run)
            self._filled = np.add.reduceat(self._layout.length, self._layout.row_ptr[:-1]) if self._n_rows else None
            self._count = np.diff(self._layout.row_ptr)  # O(rows): pieces in each row
            self.cut_documents = self._layout.cut_documents
            # O(pieces): each piece's segment in its row (int32, as document_ids are)
            lay = self._layout
            self._in_row = (np.arange(len(lay.start)) - np.repeat(lay.row_ptr[:-1], self._count)).astype(np.int32)
            # O(pieces): each piece's shard and start inside it, so a batch skips locating them
            locate = getattr(self._tokens, "locate_runs", None)
            located = None if locate is None else locate(lay.start, lay.length)
            self._located = located is not None
            shard, local = located if located is not None else (lay.start, lay.start)
            # One row per piece, so that a batch reads all it needs of its pieces in one gather:
            # start, length, offset, its slots among the row's inputs (0 for a piece in the
            # last slot only, which is a target), shard, start in the shard. The layout's
            # arrays become views of its columns (no second copy).
            self._pieces = np.stack(
                [lay.start, lay.length, lay.offset, np.minimum(lay.length, self.max_length - lay.offset), shard, local],
                axis=1,
            )  # (pieces, 6) int64
            self._layout = Layout(self._pieces[:, 0], self._pieces[:, 1], self._pieces[:, 2], lay.row_ptr,
                                  lay.cut_documents)
            if not self._n_rows:
                raise OptionError(
                    "windows", "{0} documents hold no token, so {windows=%r} makes no window; give "
                    "documents with tokens" % windows, len(self._offsets) - 1,
                )

    @property
    def tokens(self) -> Any:
        """The underlying token array (not a copy)."""
        return self._tokens

    @property
    def layout_id(self) -> dict[str, Any]:
        """What ``dataset_id`` adds: the layout, its packing version and the documents' hash."""
        if self.windows == "sliding":
            return {}
        digest = hashlib.sha256(np.ascontiguousarray(self._offsets, dtype="<i8").tobytes()).hexdigest()
        return {"windows": self.windows, "packing_version": PACKING_VERSION, "documents_sha256": digest}

    def __len__(self) -> int:
        return self._n_rows

    def __repr__(self) -> str:
        return (
            f"DocumentDataset(windows={self.windows!r}, n_tokens={self.n_tokens}, "
            f"documents={len(self._offsets) - 1}, max_length={self.max_length}, rows={self._n_rows})"
        )

    def _rows(self, indices: Any) -> np.ndarray:
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise TypeError(f"row indices must be a 1-D sequence of ints, got dtype {idx.dtype} shape {idx.shape}")
        idx, n = idx.astype(np.int64, copy=False), self._n_rows
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = int(idx.min()) if idx.min() < -n else int(idx.max())
            raise IndexError(f"row index {bad} is out of range for {n} rows")
        return np.where(idx < 0, idx + n, idx) if idx.size and idx.min() < 0 else idx

    def _slots(self, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        """The fields of rows ``rows`` (what :meth:`batch` says the slot methods give).

        A row's pieces lie side by side from slot 0, then its padding. The pieces' tokens are
        read as one run each (``take_ranges``: only the tokens kept; rows with padding then move
        theirs to the row's head in one scatter); positions and segments are one ``np.repeat``
        of a per-piece value over the input slots.
        """
        span, width, lay, batch = self.max_length + 1, self.max_length, self._layout, len(rows)
        first, count = lay.row_ptr[rows], self._count[rows]  # (batch,) each row's first piece, its pieces (>= 1)
        before = np.cumsum(count) - count  # (batch,) each row's first piece in the batch
        n_pieces = int(count.sum())
        piece = self._slot_index(n_pieces) + np.repeat(first - before, count)  # (pieces,) index into the layout
        table = self._pieces[piece]  # (pieces, 6): see __init__
        length, offset, run = table[:, 1], table[:, 2], table[:, 3]  # (pieces,) each
        if self._located:
            tok = self._tokens.take_located(table[:, 4], table[:, 5], length)
        else:
            tok = take_ranges(self._tokens, table[:, 0], length)  # (real,) the store's dtype
        real = len(tok)
        filled = self._filled[rows]  # (batch,) slots holding a piece
        if real != batch * span:  # some row has padding: move each row's tokens to its head
            target = self._slot_index(real) + np.repeat(
                np.arange(batch, dtype=np.int64) * span - (np.cumsum(filled) - filled), filled
            )  # (real,) each real token's flat slot
            tok = _spread(tok.astype(np.int64), target, batch * span, self.pad_id)  # the pad may not fit the store's dtype
        head = np.repeat(self._slot_index(batch) * width, count) + offset  # (pieces,) flat input slot of each
        ends = offset + (length - 1)  # (pieces,) each piece's last slot in its row
        cuts = (head + (length - 1))[ends < width]
        padded = None if real == batch * span else filled
        if not self.return_dict:
            return tok.reshape(batch, span), None, None, None, cuts, 0, padded
        # Input slots only from here. A piece's run of slots is its length clipped to the row's
        # inputs; the row's last run also takes the padding, then set to (0, -1) row by row.
        longest = int(run.max()) if n_pieces else 0  # the longest segment, padding aside
        tail = np.flatnonzero(filled < width)  # rows with padding among the inputs
        if len(tail):
            pad = width - filled[tail]  # (rows with padding,)
            run[(before + count - 1)[tail]] += pad
            longest = max(longest, int(pad.max()))
        pos = np.repeat(head, run)  # (batch * max_length,) each slot's piece start, then its position:
        np.subtract(self._slot_index(batch * width), pos, out=pos)
        seg = np.repeat(self._in_row[piece], run)  # (batch * max_length,)
        pos, seg = pos.reshape(batch, width), seg.reshape(batch, width)
        starts = head[offset < width]  # segment starts: each piece starting before the last slot,
        if len(tail):  # then each row's padding
            for r, f in zip(tail.tolist(), filled[tail].tolist()):
                pos[r, f:], seg[r, f:] = 0, -1
            starts = np.sort(np.concatenate([starts, tail * width + filled[tail]]))
        return tok.reshape(batch, span), seg, pos, (starts, longest), cuts, real - n_pieces, padded

    def _slot_index(self, n: int) -> np.ndarray:
        """``np.arange(n)`` (int64), from one cached array: an arange per batch costs microseconds."""
        if len(self._arange) < n:
            self._arange = np.arange(n, dtype=np.int64)
            self._arange.flags.writeable = False
        return self._arange[:n]

    def _sliding_slots(self, indices: Any) -> tuple[np.ndarray, ...]:
        """The book's windows, each cut into segments where a document starts inside it."""
        assert self._sliding is not None
        span, width = self.max_length + 1, self.max_length
        starts = self._sliding._starts(indices)  # (batch,)
        tok = self._sliding._gather(starts)  # (batch, span) the store's dtype
        first = np.searchsorted(self._offsets, starts, side="right") - 1  # (batch,) document at slot 0
        last = np.searchsorted(self._offsets, starts + (span - 1), side="right") - 1  # (batch,)
        count = last - first + 1  # segments per row
        before = np.cumsum(count) - count
        n_segments = int(count.sum())
        in_row = np.arange(n_segments, dtype=np.int64) - np.repeat(before, count)  # (segments,)
        doc = in_row + np.repeat(first, count)
        row_start = np.repeat(starts, count)  # (segments,)
        lo = np.maximum(self._offsets[doc], row_start)
        seg_len = np.minimum(self._offsets[doc + 1], row_start + span) - lo
        seg_at = np.cumsum(seg_len) - seg_len
        slot = np.arange(len(starts) * span, dtype=np.int64)
        seg = np.repeat(in_row.astype(np.int32), seg_len).reshape(tok.shape)
        pos = (slot - np.repeat(seg_at, seg_len)).reshape(tok.shape)
        kept = seg_len > 0  # an empty document inside a window is no segment
        inside = (lo - row_start)[kept]  # (kept segments,) each one's first slot in its row
        row_at = np.repeat(np.arange(len(starts), dtype=np.int64) * width, count)[kept]
        ends = inside + seg_len[kept] - 1  # (kept segments,) each one's last slot in its row
        return (tok, seg[:, :-1], pos[:, :-1], ((row_at + inside)[inside < width], None),
                (row_at + ends)[ends < width], len(starts) * span - len(inside), None)

    def batch(self, indices: Any) -> Any:
        """Rows ``indices`` as ``[inputs, targets]`` or, with ``return_dict``, a dict batch.

        Both slot methods give the tokens of every slot ``(batch, max_length + 1)``, the segments
        and positions of the input slots ``(batch, max_length)``; then the flat input slots where
        segments start (``cu_seqlens``) with the longest segment (None: to be found) and where a segment ends before the last slot (its label
        is -100), the number of kept labels, and each row's filled slots when some row has
        padding (else None). Without ``return_dict``, ``_slots`` leaves out what only dict
        batches carry (segments, positions, starts: None).
        """
        if self._sliding is not None:
            tok, seg, pos, starts, cuts, n_items, filled = self._sliding_slots(indices)
        else:
            tok, seg, pos, starts, cuts, n_items, filled = self._slots(self._rows(indices))
        inputs = torch.from_numpy(tok[:, :-1].astype(np.int64))  # (batch, max_length)
        labels = tok[:, 1:].astype(np.int64)  # (batch, max_length), the book's targets, then cut
        labels.reshape(-1)[cuts] = IGNORE_INDEX  # the next slot starts another segment
        if filled is not None:  # padding among the inputs: a few rows, each one slice
            short = np.flatnonzero(filled < self.max_length)
            for r, f in zip(short.tolist(), filled[short].tolist()):
                labels[r, f:] = IGNORE_INDEX
        if not self.return_dict:
            return [inputs, torch.from_numpy(labels)]
        return finish_batch_from_segments({
            "input_ids": inputs,
            "labels": torch.from_numpy(labels),
            "position_ids": torch.from_numpy(np.ascontiguousarray(pos)),  # (batch, max_length)
            "document_ids": torch.from_numpy(np.ascontiguousarray(seg)),  # (batch, max_length) int32
        }, *starts, n_items=n_items)

    def __getitem__(self, index: Any) -> Any:
        if type(index) is list or type(index) is np.ndarray:  # the loaders' batches, checked first
            return self.batch(index)
        if isinstance(index, (int, np.integer)) and not isinstance(index, (bool, np.bool_)):
            out = self.batch([index])
            if isinstance(out, dict):
                return {k: out[k][0] for k in ("input_ids", "labels", "position_ids", "document_ids")}
            return out[0][0], out[1][0]
        if isinstance(index, (list, tuple, range, np.ndarray, torch.Tensor)):
            return self.batch(index)
        raise TypeError(f"index must be an int or a sequence of ints, got {type(index).__name__} {index!r}")

    def __getitems__(self, indices: Sequence[int]) -> Any:
        return self.batch(indices)
