"""A trained Hugging Face BPE -> tiktoken ranks + tokenizer.json + metadata, written atomically.

Hugging Face's byte-level BPE names each byte by a printable character (GPT-2's table,
:func:`bytes_to_unicode`) and numbers tokens in its own order. The export renumbers them
the way tiktoken's ranks files are laid out: ranks 0..255 are the bytes, then one rank
per merge in the order training learned them, then the special tokens. The exported
``tokenizer.json`` gets the very same numbering, so both engines give the same IDs.

Pitfall: tiktoken merges any adjacent pair whose concatenation is a token (lowest rank
first) while Hugging Face applies only the learned merges (``ignore_merges`` makes it look a
whole piece up first, as tiktoken does). For a vocabulary learned by BPE the two agree;
the tests check it on corpora and on generated Unicode.

>>> bytes_to_unicode()[ord(" ")], bytes_to_unicode()[ord("\\n")]
('Ġ', 'Ċ')
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from tokenmill.common.errors import ExplainedError, OptionError
from tokenmill.common.files import atomic_write_bytes, fsync_dir
from tokenmill.tokenizers.base import ENDOFTEXT
from tokenmill.tokenizers.trained import HF_FILE, META_FILE, RANKS_FILE, is_tokenizer_dir


@functools.lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table (printable Latin-1 bytes map to themselves)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def renumber(trained: dict[str, Any]) -> tuple[dict[bytes, int], list[tuple[str, str]]]:
    """(tiktoken ranks, merges as pairs of HF token strings) from a trained ``tokenizer.json``.

    Pitfall: a merge whose result is already a token (two merges, one string) keeps the
    first rank; tiktoken has one rank per token string.
    """
    to_byte = {c: b for b, c in bytes_to_unicode().items()}
    ranks: dict[bytes, int] = {bytes([b]): b for b in range(256)}
    merges: list[tuple[str, str]] = []
    for merge in trained["model"]["merges"]:
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        merges.append((left, right))
        token = bytes(to_byte[c] for c in left + right)
        ranks.setdefault(token, len(ranks))
    return ranks, merges


def hf_json(trained: dict[str, Any], ranks: dict[bytes, int], merges: list[tuple[str, str]],
            special_tokens: dict[str, int]) -> str:
    """The exported ``tokenizer.json``: the trained one with tiktoken's numbering and the specials."""
    table = bytes_to_unicode()
    doc = dict(trained)
    model = dict(doc["model"])
    model["vocab"] = {"".join(table[b] for b in token): rank for token, rank in ranks.items()}
    model["merges"] = [[left, right] for left, right in merges]
    model["ignore_merges"] = True  # look a whole piece up first, as tiktoken does
    doc["model"] = model
    doc["added_tokens"] = [
        {"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for s, i in special_tokens.items()
    ]
    return json.dumps(doc, ensure_ascii=False)


def ranks_text(ranks: dict[bytes, int]) -> bytes:
    """A ``.tiktoken`` file: ``BASE64 RANK`` per line, in rank order."""
    lines = (base64.b64encode(t) + b" " + str(r).encode() for t, r in sorted(ranks.items(), key=lambda x: x[1]))
    return b"\n".join(lines) + b"\n"


def check_out(out: Path, overwrite: bool) -> None:
    """Refuse an ``out`` that holds another tokenizer (unless ``overwrite``) or other files."""
    if out.exists() and not out.is_dir():
        raise OptionError("out", "{out} {0} is a file; give a directory path for the tokenizer", out)
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not is_tokenizer_dir(out):
        raise OptionError("out", "{out} {0} holds files that are not a tokenizer; give a new or empty directory", out)
    if not overwrite:
        raise ExplainedError(
            "{out} {0} already holds a tokenizer; pass {overwrite=True} to replace it, or choose another directory", out
        )


def write_dir(out: Path, ranks: bytes, hf: str, meta: dict[str, Any], *, overwrite: bool) -> None:
    """Write the three files into a hidden sibling directory, then rename it to ``out``.

    Readers see no directory, the old one, or the new one complete; never a mix.
    """
    check_out(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        hf_bytes = hf.encode("utf-8")
        meta = {**meta, "ranks_sha256": hashlib.sha256(ranks).hexdigest(),
                "tokenizer_json_sha256": hashlib.sha256(hf_bytes).hexdigest()}
        for name, data in ((RANKS_FILE, ranks), (HF_FILE, hf_bytes),
                           (META_FILE, (json.dumps(meta, ensure_ascii=False, indent=1) + "\n").encode())):
            atomic_write_bytes(tmp / name, data)
        if out.exists():
            os.replace(out, old)  # an empty dir, or the tokenizer --overwrite replaces
        os.replace(tmp, out)
        fsync_dir(out.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def openai_files_from_ranks(
    ranks: dict[bytes, int], encoder_path: str | os.PathLike[str], bpe_merges_path: str | os.PathLike[str]
) -> None:
    """Write GPT-2-style ``encoder.json`` and ``vocab.bpe`` for a tiktoken ranks table.

    tokenmill installs GPT-2's ranks file, not OpenAI's two original files; both hold the
    same vocabulary. Each token's merge is recovered by merging its bytes with the ranks
    below its own (the result must be two parts); ``<|endoftext|>`` follows the ranks.

    >>> import tempfile, os, json
    >>> d = tempfile.mkdtemp()
    >>> ranks = {bytes([b]): b for b in range(256)} | {b"ab": 256, b"abc": 257}
    >>> openai_files_from_ranks(ranks, os.path.join(d, "e.json"), os.path.join(d, "m.bpe"))
    >>> open(os.path.join(d, "m.bpe")).read().splitlines()
    ['#version: 0.2', 'a b', 'ab c']
    """
    table = bytes_to_unicode()
    name = {token: "".join(table[b] for b in token) for token in ranks}
    lines = ["#version: 0.2"]
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) < 2:
            continue
        parts = [bytes([b]) for b in token]
        while len(parts) > 2:  # merge the lowest-ranked pair among those ranked below `rank`
            candidates = [(ranks.get(a + b, rank), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            best, i = min(candidates)
            if best >= rank:
                break
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        if len(parts) != 2:
            raise ValueError(f"token {token!r} (rank {rank}) is not a merge of two lower-ranked tokens")
        lines.append(f"{name[parts[0]]} {name[parts[1]]}")
    encoder = {name[t]: r for t, r in ranks.items()}
    encoder[ENDOFTEXT] = max(ranks.values()) + 1
    with open(encoder_path, "w", encoding="utf-8") as f:
        json.dump(encoder, f, ensure_ascii=False)
    with open(bpe_merges_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
