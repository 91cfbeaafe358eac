"""The manifest's schema and bounds (docs/format.md section 4), checked before anything uses it.

A manifest may come from anyone: every key the readers use is checked for its type and
range here, so a malformed one is a ValueError naming the file and the key, never a
``KeyError``, an ``AttributeError`` or a huge allocation later.

>>> m = {"format": "tokenmill-store", "format_version": 2, "dtype": "uint16", "eot": {"policy": "none"},
...      "tokenizer": {"name": "t", "max_token_value": 70000}, "splits": {}}
>>> validate_manifest(m, "s/manifest.json")
Traceback (most recent call last):
...
ValueError: s/manifest.json: tokenizer.max_token_value is 70000 but dtype is 'uint16' (uint16 iff max_token_value < 65536); the manifest is damaged or was edited
"""

from __future__ import annotations

import os
import re
from typing import Any

_SHA = re.compile(r"[0-9a-f]{64}")
_SHARD = re.compile(r"(?P<split>[A-Za-z_][A-Za-z0-9_]*)-[0-9]{5,}(?:-[0-9]{5,})?")
_BIG = 1 << 62  # counts past this would overflow the int64 arithmetic on offsets
_POLICIES = ("append", "prepend", "none")


class _Bad(Exception):
    pass


def _get(obj: dict[str, Any], key: str, where: str, kinds: tuple[type, ...], *, optional: bool = False) -> Any:
    if key not in obj:
        if optional:
            return None
        raise _Bad(f"the required key {where}{key} is missing")
    value = obj[key]
    if value is None and type(None) in kinds:
        return None
    if isinstance(value, bool) or not isinstance(value, kinds):
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise _Bad(f"{where}{key} must be {names}, got {type(value).__name__} {_short(value)}")
    return value


def _count(
    obj: dict[str, Any], key: str, where: str, *, optional: bool = False, null: bool = False, top: int = _BIG
) -> int | None:
    value = _get(obj, key, where, (int, type(None)) if null else (int,), optional=optional)
    if value is not None and not 0 <= value < top:
        raise _Bad(f"{where}{key} is {_short(value)}, outside 0..{top - 1}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_manifest(manifest: Any, path: str | os.PathLike[str]) -> None:
    """ValueError naming ``path`` and the key unless ``manifest`` follows the documented schema."""
    try:
        _validate(manifest)
    except _Bad as exc:
        raise ValueError(f"{os.fspath(path)}: {exc}; the manifest is damaged or was edited") from None


def _validate(m: Any) -> None:
    if not isinstance(m, dict):
        raise _Bad(f"the manifest must be a JSON object, got {type(m).__name__}")
    dtype = _get(m, "dtype", "", (str,))
    if dtype not in ("uint16", "uint32"):
        raise _Bad(f"dtype is {_short(dtype)}, expected 'uint16' or 'uint32'")
    tok = _get(m, "tokenizer", "", (dict,))
    _get(tok, "name", "tokenizer.", (str,))
    top = _count(tok, "max_token_value", "tokenizer.", optional=True, top=1 << 32)
    if top is not None and (top < 1 << 16) != (dtype == "uint16"):
        raise _Bad(f"tokenizer.max_token_value is {top} but dtype is {dtype!r} (uint16 iff max_token_value < 65536)")
    _count(tok, "vocab_size", "tokenizer.", optional=True, top=(1 << 32) + 1)
    _count(tok, "eot_id", "tokenizer.", optional=True, null=True, top=1 << 32)
    for key in ("ranks_sha256", "definition_sha256"):
        sha = _get(tok, key, "tokenizer.", (str, type(None)), optional=True)
        if sha is not None and not _SHA.fullmatch(sha):
            raise _Bad(f"tokenizer.{key} is {_short(sha)}, not a lowercase hex sha256")
    _get(tok, "file", "tokenizer.", (str,), optional=True)  # inside the store: checked where it is opened
    eot = _get(m, "eot", "", (dict,))
    policy = _get(eot, "policy", "eot.", (str,), optional=True)
    if policy is not None and policy not in _POLICIES:
        raise _Bad(f"eot.policy is {_short(policy)}, expected one of {', '.join(_POLICIES)}")
    eot_id = _count(eot, "id", "eot.", optional=True, null=True, top=1 << 32)
    if eot_id is not None and top is not None and eot_id > top:
        raise _Bad(f"eot.id {eot_id} is above tokenizer.max_token_value {top}")
    _splits(_get(m, "splits", "", (dict,)))
    for key, kind in (
        ("options", dict), ("stats", dict), ("inputs", list), ("command", list), ("tasks", dict),
        ("skipped_inputs", list), ("tokenmill_version", str), ("split_rule", str),
    ):
        _get(m, key, "", (kind,), optional=True)
    for k, item in enumerate(m.get("inputs", [])):
        if not isinstance(item, dict):
            raise _Bad(f"inputs[{k}] must be an object, got {type(item).__name__}")
        for key in ("path", "name"):
            _get(item, key, f"inputs[{k}].", (str,), optional=True)
        _count(item, "size", f"inputs[{k}].", optional=True)
        _get(item, "mtime_ns", f"inputs[{k}].", (int,), optional=True)  # may be < 0: before 1970
    for key, value in m.get("stats", {}).items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _BIG):
            raise _Bad(f"stats.{key} must be a count (an int >= 0), got {_short(value)}")
    for key in ("command", "skipped_inputs"):
        if not all(isinstance(w, str) for w in m.get(key, [])):
            raise _Bad(f"{key} must be a list of strings")


def _splits(splits: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for split, entry in splits.items():
        where = f"splits.{split}."
        if not split.isidentifier() or not split.isascii():
            raise _Bad(f"split name {_short(split)} is not a simple identifier like 'train'")
        if not isinstance(entry, dict):
            raise _Bad(f"splits.{split} must be an object, got {type(entry).__name__}")
        sums = {key: _count(entry, key, where) for key in ("n_tokens", "n_documents")}
        shards = _get(entry, "shards", where, (list,))
        found = {"n_tokens": 0, "n_documents": 0}
        for k, sh in enumerate(shards):
            at = f"{where}shards[{k}]."
            if not isinstance(sh, dict):
                raise _Bad(f"{where}shards[{k}] must be an object, got {type(sh).__name__}")
            name = _get(sh, "name", at, (str,))
            match = _SHARD.fullmatch(name)
            if match is None or match["split"] != split:
                raise _Bad(
                    f"{at}name is {_short(name)}, not a shard name of split {split!r} "
                    f"({split}-TTTTT-KKKKK, or {split}-KKKKK in format 1)"
                )
            if name in seen:
                raise _Bad(f"shard {name!r} is listed twice (in splits.{seen[name]} and splits.{split})")
            seen[name] = split
            n_tokens, n_docs = _count(sh, "n_tokens", at), _count(sh, "n_documents", at)
            if n_docs == 0 and n_tokens:
                raise _Bad(f"{at}n_tokens is {n_tokens} but n_documents is 0 (tokens belong to documents)")
            for key in ("bin_sha256", "idx_sha256"):
                if not _SHA.fullmatch(_get(sh, key, at, (str,))):
                    raise _Bad(f"{at}{key} is {_short(sh[key])}, not a lowercase hex sha256")
            found["n_tokens"] += n_tokens or 0
            found["n_documents"] += n_docs or 0
        for key, total in found.items():
            if total != sums[key]:
                raise _Bad(f"splits.{split}.{key} is {sums[key]} but its shards sum to {total}")
