"""``import_store(src, format, out, *, tokenizer)``: another tool's token files made into a regular store.

The result is a store like ``tokenmill prepare`` makes (shards, checksums, manifest), so
``verify``, the loader, ``stats`` and ``report`` work on it. Megatron, datatrove and parquet
files keep exact document boundaries; nanoGPT and llm.c files have none, so documents are cut
at the EOT token (``eot``: after it for ``append``, before it for ``prepend``), and the manifest
records ``"boundaries": "inferred"``.

Pitfall: the files hold IDs only; the user names the tokenizer that made them, and an ID
beyond it is refused (a wrong tokenizer would decode garbage).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tokenmill._version import __version__
from tokenmill.common.errors import ExplainedError, OptionError
from tokenmill.common.paths import is_url
from tokenmill.export.base import Staging
from tokenmill.export.options import EOT_DEFAULT, IMPORT_FORMATS, INFERRED, ImportOptions, check_format
from tokenmill.export.sources import Source, discover
from tokenmill.prepare.remote_inputs import fetch_inputs
from tokenmill.store import FORMAT, FORMAT_VERSION, ShardWriter, TokenStore, dtype_for, write_manifest


class _Ends:
    """Document ends of a source, pulled in order up to a position."""

    def __init__(self, chunks: Iterator[np.ndarray]) -> None:
        self.chunks, self.buffer = chunks, np.zeros(0, np.int64)

    def upto(self, stop: int) -> np.ndarray:
        taken = []
        while True:
            if not self.buffer.size:
                self.buffer = next(self.chunks, None)
                if self.buffer is None:
                    self.buffer = np.zeros(0, np.int64)
                    break
                self.buffer = np.asarray(self.buffer, dtype=np.int64)
                continue
            k = int(np.searchsorted(self.buffer, stop, side="right"))
            taken.append(self.buffer[:k])
            self.buffer = self.buffer[k:]
            if self.buffer.size:
                break
        return np.concatenate(taken) if taken else np.zeros(0, np.int64)


def _feed(writer: ShardWriter, source: Source, ends_in: Any, check: Any, shard_tokens: int) -> None:
    """Stream ``source`` into ``writer``, documents ending where ``ends_in(piece, pos)`` says."""
    pos, partial = 0, False
    # A last empty piece: the empty documents at the very end (or of an empty source) end there.
    for piece in itertools.chain(source.pieces(), [np.zeros(0, source.dtype)]):
        check(piece)
        local = ends_in(piece, pos) - pos  # ends inside this piece, 0..len(piece)
        if local.size:
            first, last = int(local[0]), int(local[-1])
            writer.add([piece[:first]], last=True)
            if local.size > 1:
                writer.add_documents(piece[first:last], local - first)
                if writer.n_tokens >= shard_tokens:
                    writer.close()
            rest, partial = piece[last:], False
        else:
            rest = piece
        if rest.size:
            writer.add([rest], last=False)
            partial = True
        pos += len(piece)
    if partial:  # tokens after the last separator: one more document
        writer.add([np.zeros(0, np.int64)], last=True)


def _eot_policy(out: Path, entries: list[dict[str, Any]], dtype: np.dtype, eot: int | None) -> str:
    """How the EOT token sits in every document of the written shards: append, prepend or none."""
    if eot is None:
        return "none"
    ends_ok = starts_ok = True
    for e in entries:
        offsets = np.fromfile(out / f"{e['name']}.idx", dtype="<i8")
        if not e["n_tokens"]:
            continue
        tokens = np.memmap(out / f"{e['name']}.bin", dtype=dtype, mode="r")
        lengths = np.diff(offsets)
        ends_ok = ends_ok and bool((lengths > 0).all()) and bool((tokens[offsets[1:] - 1] == eot).all())
        starts_ok = starts_ok and bool((lengths > 0).all()) and bool((tokens[offsets[:-1]] == eot).all())
    return "append" if ends_ok else "prepend" if starts_ok else "none"


def import_store(
    src: str | os.PathLike[str],
    format: str,
    out: str | os.PathLike[str],
    *,
    tokenizer: Any,
    eot: str | None = None,
    split: str = ImportOptions.split,
    shard_tokens: int = ImportOptions.shard_tokens,
    verify: bool = True,
    storage_options: dict[str, Any] | None = None,
) -> TokenStore:
    """Read ``src`` (a directory, a file, or Megatron's path prefix) in ``format`` into a new store at ``out``.

    ``tokenizer`` names the tokenizer that made the IDs (as for ``prepare``); ``eot`` where
    nanoGPT/llm.c files put the EOT token (default: nanogpt appends, llmc prepends).
    Returns the opened store. See docs/export.md.

    ``src`` may be a URL (``s3://bucket/nanogpt``: every object under it, fetched into
    tokenmill's cache first as ``prepare`` fetches its inputs; ``storage_options`` reach it).

    Pitfall: boundaries from the EOT token are a guess when a document contains that token;
    the manifest says ``"boundaries": "inferred"`` so that tools can tell.

    >>> import tempfile, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> np.array([1, 2, 50256, 3, 50256], "<u2").tofile(d + "/train.bin")
    >>> store = import_store(d, "nanogpt", d + "/store", tokenizer="gpt2")
    >>> [doc.tolist() for doc in store.documents("train")], store.manifest["boundaries"]
    ([[1, 2, 50256], [3, 50256]], 'inferred')
    """
    from tokenmill.tokenizers import get_tokenizer

    fmt = check_format(format, IMPORT_FORMATS)
    options = ImportOptions(eot=eot, split=split, shard_tokens=shard_tokens)
    if options.eot is not None and fmt not in INFERRED:
        raise OptionError("eot", "{eot} applies to nanogpt and llmc files only: {0} files keep their "
                          "document boundaries; leave {eot} out", fmt)
    tok = get_tokenizer(tokenizer)
    if is_url(src):  # the files, fetched once into the cache (kept while their etags hold)
        src = fetch_inputs([src], storage_options, everything=True)[0]
    # datatrove's own rule for a .ds without its .ds.metadata: the tokenizer's size decides
    found = discover(fmt, src, split=options.split, token_size=4 if tok.max_token_value >= 1 << 16 else 2)
    inferred = fmt in INFERRED
    policy = options.eot or EOT_DEFAULT.get(fmt)
    if inferred and tok.eot_id is None:
        raise OptionError("tokenizer", "{tokenizer} {0!r} has no EOT token, so the documents in {1} cannot be "
                          "found; name the tokenizer that made them", tok.name, src)
    dtype, top = dtype_for(tok), int(tok.max_token_value)
    staging = Staging(out, what="token store")
    with staging as stage:
        splits: dict[str, Any] = {}
        for name, source in found.items():

            def check(piece: np.ndarray, source: Source = source) -> None:
                if piece.size and (int(piece.max()) > top or int(piece.min()) < 0):
                    bad = int(piece.max()) if int(piece.max()) > top else int(piece.min())
                    raise ExplainedError(
                        "{0} holds token ID {1}, beyond tokenizer {2!r} (largest ID {3}); name the tokenizer "
                        "that made these files with {tokenizer}", source.where, bad, tok.name, top,
                    )

            if inferred:
                shift = 1 if policy == "append" else 0

                def ends_in(piece: np.ndarray, pos: int, shift: int = shift) -> np.ndarray:
                    found_at = np.flatnonzero(piece == tok.eot_id).astype(np.int64) + pos + shift
                    return found_at[found_at > 0]
            else:
                reader = _Ends(source.ends())  # type: ignore[misc]

                def ends_in(piece: np.ndarray, pos: int, reader: _Ends = reader) -> np.ndarray:
                    return reader.upto(pos + len(piece))

            writer = ShardWriter(stage.path, name, 0, dtype, shard_tokens=options.shard_tokens,
                                 tokenizer={"name": tok.name, "max_token_value": top})
            try:
                writer.begin()
                _feed(writer, source, ends_in, check, options.shard_tokens)
                writer.close()
            except BaseException:
                writer.abandon()
                raise
            splits[name] = {"n_tokens": sum(e["n_tokens"] for e in writer.entries),
                            "n_documents": sum(e["n_documents"] for e in writer.entries), "shards": writer.entries}
        if not inferred:
            entries = [e for s in splits.values() for e in s["shards"]]
            policy = _eot_policy(stage.path, entries, dtype, tok.eot_id)
        if isinstance(tokenizer, (str, os.PathLike)):  # a file keeps working from another directory
            spec = str(Path(tokenizer).absolute()) if Path(tokenizer).exists() else str(tokenizer)
        else:  # a Tokenizer object: reloaded by its name
            spec = tok.name
        command = ["tokenmill", "import", str(Path(src).absolute()), "--format", fmt, "--tokenizer", spec]
        if options.eot:
            command += ["--eot", options.eot]
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "tokenmill_version": __version__,
            "tokenizer": {"name": tok.name, "vocab_size": tok.vocab_size, "max_token_value": top,
                          "ranks_sha256": tok.ranks_sha256, "eot_id": tok.eot_id},
            "dtype": dtype.name,
            "eot": {"policy": policy, "id": tok.eot_id if policy != "none" else None},
            "splits": splits,
            "boundaries": "inferred" if inferred else "exact",
            "import": {"format": fmt, "source": str(Path(src).absolute()),
                       "sources": {s: found[s].where for s in splits}, "eot": policy if inferred else None},
            "options": {"tokenizer": spec},
            "command": command,
            "stats": {},
        }
        write_manifest(stage.path, manifest)
        if verify:
            TokenStore.open(stage.path).verify()
    return TokenStore.open(out)
