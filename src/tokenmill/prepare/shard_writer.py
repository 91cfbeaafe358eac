"""The single writer of ``tokenmill prepare``: tokenized results -> shards, checkpoints, manifest.

Results arrive in input order; each split has at most one open shard, written to
``<name>.bin.tmp`` and renamed when it closes. A shard closes at the first document
boundary where it holds ``shard_tokens`` tokens; the open val shard also closes whenever a
train shard does (so a resume never goes back further than the last train shard). Every
close is followed by a checkpoint (see :mod:`tokenmill.prepare.checkpoint`), so a crash
loses at most the open shards.

Pitfall: documents never span shards, so one huge document makes one big shard; and a
document cut into pieces (``Result.open_doc``) is no boundary until its last piece.

>>> SPLIT_RULE.startswith("a document is in 'val' iff blake2b(")
True
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from tokenmill._version import __version__
from tokenmill.prepare.checkpoint import PROGRESS, SplitStates, save_checkpoint
from tokenmill.prepare.worker import SPLITS, STAT_KEYS, Result, check_ids
from tokenmill.store import (
    FORMAT,
    FORMAT_VERSION,
    atomic_write_bytes,
    shard_name,
    write_manifest,
)

SPLIT_RULE = (
    "a document is in 'val' iff blake2b(f'{seed}:{name}:{ordinal}', digest_size=8) "
    "as a big-endian integer < val_fraction * 2**64, where name is the input's inputs[].name "
    "(a file argument's base name, else its path relative to the directory argument or to the "
    "glob's leading directory, '/'-separated) and ordinal the document's line/row number from 0"
)


@dataclass
class _OpenShard:
    """A shard being written."""

    file: IO[bytes]  # <name>.bin.tmp
    sha256: Any  # hashlib object over the bytes written so far
    n_tokens: int = 0
    doc_ends: list[np.ndarray] = field(default_factory=lambda: [np.zeros(1, np.int64)])  # the .idx parts


class ShardWriter:
    """Appends results to each split's open shard, closes shards and checkpoints after each.

    Pitfall: call :meth:`finish` only after the last result; it writes the manifest, which
    marks the store complete.
    """

    def __init__(
        self, out: Path, identity: dict[str, Any], state: SplitStates, dtype: np.dtype, shard_tokens: int
    ) -> None:
        self.out, self.identity, self.splits, self.shard_tokens = out, identity, state, shard_tokens
        self.dtype = dtype.newbyteorder("<")
        # Reading restarts at the split that is furthest behind; the other split skips what it has.
        self.start = min(tuple(s["position"]) for s in state.values())
        self.stats = list(next(s["stats"] for s in state.values() if tuple(s["position"]) == self.start))
        self.files: dict[str, _OpenShard] = {}  # split -> its open shard
        self.n_tokens = self.run_bytes = 0  # written / read by this run

    def add(self, result: Result) -> None:
        self._done = {split: (0, 0) for split in SPLITS}  # per split: (tokens, documents) of result stored
        for split in SPLITS:
            if split in self.splits:
                self._feed(split, result, None)
        self.stats = [a + b for a, b in zip(self.stats, result.total)]
        self.run_bytes += result.total[STAT_KEYS.index("bytes_read")]

    def _feed(self, split: str, r: Result, limit: int | None) -> None:
        """Store the result's documents of ``split`` (those with an ordinal < ``limit``), closing shards."""
        s = SPLITS.index(split)
        tokens, ends = r.tokens[s], np.cumsum(r.lengths[s])
        complete = len(ends) - (1 if r.open_doc else 0)  # a piece that continues is no boundary
        if limit is not None:
            complete = min(complete, int(np.searchsorted(r.ordinals[s], limit)))
        written, i = self._done[split]
        while True:
            # Shard offset of tokens[0] (virtual once a written part went to an earlier shard).
            base = (self.files[split].n_tokens if split in self.files else 0) - written
            j = max(i, int(np.searchsorted(ends, self.shard_tokens - base, side="left")))
            if j >= complete:
                break
            self._write(split, tokens[written : ends[j]], base + ends[i : j + 1])
            written, i = int(ends[j]), j + 1
            self._done[split] = (written, i)
            position = (r.input_index, int(r.ordinals[s][j]) + 1)
            stats = [a + b for a, b in zip(self.stats, r.cums[s][j].tolist())]
            if split == "train" and "val" in self.splits:
                # The val shard closes with every train shard: a rerun then resumes from here
                # for both splits, not from the last val close (val shards fill slowly).
                self._feed("val", r, position[1])
                if "val" in self.files:
                    self._close("val", None, None)
                if tuple(self.splits["val"]["position"]) < position:
                    self.splits["val"].update(position=list(position), stats=stats)
            self._close(split, position, stats)
        stop = len(tokens) if limit is None else (int(ends[complete - 1]) if complete > i else written)
        if written < stop:
            self._write(split, tokens[written:stop], base + ends[i:complete])
            self._done[split] = (stop, max(i, complete))

    def _write(self, split: str, tokens: np.ndarray, doc_ends: np.ndarray) -> None:
        if split not in self.files:
            name = shard_name(split, len(self.splits[split]["shards"]))
            file = open(self.out / f"{name}.bin.tmp", "wb")  # noqa: SIM115 - _close closes it
            self.files[split] = _OpenShard(file, hashlib.sha256())
        f = self.files[split]
        if tokens.size and tokens.dtype.newbyteorder("=") != self.dtype.newbyteorder("="):
            check_ids(tokens, self.dtype, self.identity["tokenizer"])  # a cast must never wrap an ID
        data = memoryview(np.ascontiguousarray(tokens, dtype=self.dtype)).cast("B")
        f.file.write(data)
        f.sha256.update(data)
        f.n_tokens += len(tokens)
        f.doc_ends.append(np.asarray(doc_ends, dtype=np.int64))
        self.n_tokens += len(tokens)

    def _close(self, split: str, position: tuple[int, int] | None, stats: list[int] | None) -> None:
        """Make the open shard durable; then, with a ``position``, checkpoint up to it."""
        f = self.files.pop(split)
        name = shard_name(split, len(self.splits[split]["shards"]))
        f.file.flush()
        os.fsync(f.file.fileno())
        f.file.close()
        os.replace(self.out / f"{name}.bin.tmp", self.out / f"{name}.bin")
        idx = np.concatenate(f.doc_ends).astype("<i8").tobytes()
        atomic_write_bytes(self.out / f"{name}.idx", idx)  # fsyncs the directory too
        entry = {
            "name": name,
            "n_tokens": int(f.n_tokens),
            "n_documents": len(idx) // 8 - 1,
            "bin_sha256": f.sha256.hexdigest(),
            "idx_sha256": hashlib.sha256(idx).hexdigest(),
        }
        self.splits[split]["shards"].append(entry)
        if position is not None:
            self.splits[split].update(position=list(position), stats=stats)
            save_checkpoint(self.out, self.identity, self.splits)

    def abort(self) -> None:
        """After an error: close the open shards and remove their temp files (never resumable)."""
        for split, f in list(self.files.items()):
            f.file.close()
            Path(f.file.name).unlink(missing_ok=True)
            del self.files[split]

    def finish(self) -> None:
        """Close the open shards and write the manifest; the checkpoint is then obsolete."""
        for split in list(self.files):
            self._close(split, None, None)
        splits = {
            s: {
                "n_tokens": sum(e["n_tokens"] for e in st["shards"]),
                "n_documents": sum(e["n_documents"] for e in st["shards"]),
                "shards": st["shards"],
            }
            for s, st in self.splits.items()
        }
        opt, tokenizer = self.identity["options"], self.identity["tokenizer"]
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "tokenmill_version": __version__,
            "tokenizer": tokenizer,
            "dtype": self.dtype.name,
            "eot": {"policy": opt["eot"], "id": tokenizer["eot_id"] if opt["eot"] != "none" else None},
            "splits": splits,
            "inputs": self.identity["inputs"],
            "options": opt,
            "split_rule": SPLIT_RULE,
            "stats": dict(zip(STAT_KEYS, self.stats)),
        }
        if self.identity.get("arguments"):  # how prepare was called: repair advice names it
            manifest["arguments"] = self.identity["arguments"]
        skipped = self.identity.get("skipped_inputs", [])
        if skipped:  # files of unknown type inside directory inputs: listed and counted, never silent
            manifest["skipped_inputs"] = skipped
            manifest["stats"]["unknown_files_skipped"] = len(skipped)
        write_manifest(self.out, manifest)
        (self.out / PROGRESS).unlink(missing_ok=True)
