"""Seed tiktoken's own download cache from an installed ranks file, so ``tiktoken.get_encoding`` works offline.

tiktoken 0.14's ``gpt2`` does not read ``gpt2.tiktoken``: it downloads GPT-2's original
``vocab.bpe`` (the merges) and ``encoder.json`` (token -> ID), caches each under
``sha1(url)`` in ``$TIKTOKEN_CACHE_DIR`` (else ``$DATA_GYM_CACHE_DIR``, else
``$TMPDIR/data-gym-cache``; an empty value turns caching off) and checks each file's
sha256. Both files follow from the ranks alone, byte for byte: a merge's two parts are what
byte-level BPE makes of the token with only the merges ranked before it, and
``encoder.json`` is a plain ``json.dumps`` of the tokens in rank order. ``r50k_base`` reads
the ranks file itself (cached under its URL's sha1), which is the same file as ``gpt2.tiktoken``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from tokenmill.common.files import atomic_write_bytes
from tokenmill.tokenizers.base import ENDOFTEXT
from tokenmill.tokenizers.bytelevel import byte_chars

__all__ = ["GPT2_FILES", "gpt2_data_gym_files", "seed_tiktoken_cache", "tiktoken_cache_dir"]

_BASE = "https://openaipublic.blob.core.windows.net/"
# url -> the sha256 tiktoken 0.14 (tiktoken_ext/openai_public.py) checks the cached file against.
GPT2_FILES = {
    "vocab.bpe": (
        _BASE + "gpt-2/encodings/main/vocab.bpe",
        "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
    ),
    "encoder.json": (
        _BASE + "gpt-2/encodings/main/encoder.json",
        "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    ),
    "r50k_base.tiktoken": (
        _BASE + "encodings/r50k_base.tiktoken",
        "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
    ),
}


def tiktoken_cache_dir() -> Path | None:
    """The directory tiktoken caches downloads in, as it decides it; None if caching is off."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return Path(os.environ[var]) if os.environ[var] else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _parts(token: bytes, ranks: dict[bytes, int], below: int) -> list[bytes]:
    """``token``'s bytes merged by byte-level BPE using only the merges ranked below ``below``."""
    parts = [bytes([b]) for b in token]
    while len(parts) > 1:
        best, at = below, -1
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1], below)
            if rank < best:
                best, at = rank, i
        if at < 0:
            break
        parts[at : at + 2] = [parts[at] + parts[at + 1]]
    return parts


def gpt2_data_gym_files(ranks: dict[bytes, int]) -> dict[str, bytes]:
    """``{"vocab.bpe": ..., "encoder.json": ...}`` rebuilt from GPT-2's ranks, as OpenAI published them.

    Pitfall: the bytes must match OpenAI's exactly (tiktoken checks their sha256 and deletes a
    file that differs), so the order of lines and keys is the rank order, nothing is sorted.
    """
    chars = byte_chars()

    def text(piece: bytes) -> str:
        return "".join(chars[b] for b in piece)

    by_rank = sorted(ranks.items(), key=lambda item: item[1])
    merges = ["#version: 0.2"]
    for token, rank in by_rank:
        if rank < 256:
            continue
        parts = _parts(token, ranks, rank)
        if len(parts) != 2:
            raise ValueError(f"token {token!r} (rank {rank}) is not one merge of two earlier tokens")
        merges.append(f"{text(parts[0])} {text(parts[1])}")
    encoder = {text(token): rank for token, rank in by_rank}
    encoder[ENDOFTEXT] = len(by_rank)
    return {
        "vocab.bpe": ("\n".join(merges) + "\n").encode("utf-8"),
        "encoder.json": json.dumps(encoder).encode("utf-8"),
    }


def seed_tiktoken_cache(ranks_file: str | os.PathLike[str], cache_dir: Path | None = None) -> list[Path]:
    """Write GPT-2's files into tiktoken's cache from the verified ``gpt2.tiktoken``; the paths written.

    Files already there with the right sha256 are kept. Pitfall: with caching turned off
    (``TIKTOKEN_CACHE_DIR=""``) tiktoken never reads a cache, so this raises a ValueError.
    """
    from tokenmill.tokenizers.bpe import read_ranks

    where = tiktoken_cache_dir() if cache_dir is None else cache_dir
    if where is None:
        raise ValueError(
            "TIKTOKEN_CACHE_DIR is set to the empty string, which turns tiktoken's cache off: "
            "unset it (or set it to a directory) and run `tokenmill vocab install gpt2` again"
        )
    raw = Path(ranks_file).read_bytes()
    contents = {"r50k_base.tiktoken": raw}
    todo = {
        name: (url, sha) for name, (url, sha) in GPT2_FILES.items()
        if not _cached_ok(where / hashlib.sha1(url.encode()).hexdigest(), sha)
    }
    if "vocab.bpe" in todo or "encoder.json" in todo:
        contents.update(gpt2_data_gym_files(read_ranks(ranks_file)))
    written = []
    for name, (url, sha) in todo.items():
        data = contents[name]
        if hashlib.sha256(data).hexdigest() != sha:
            raise RuntimeError(
                f"rebuilt {name} does not have the sha256 tiktoken expects ({sha}); tiktoken would "
                f"delete it and download it: report this with your tiktoken version"
            )
        where.mkdir(parents=True, exist_ok=True)
        path = where / hashlib.sha1(url.encode()).hexdigest()
        atomic_write_bytes(path, data)
        written.append(path)
    return written


def _cached_ok(path: Path, sha256: str) -> bool:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    except OSError:
        return False
