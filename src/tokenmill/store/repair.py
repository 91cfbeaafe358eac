"""What is wrong with a store, and the command that rebuilds it (advice that works when copied).

``tokenmill prepare`` checks every shard it would keep with :func:`shard_problem` before it
calls a store up to date or resumes from a checkpoint; errors about a store end with
:func:`prepare_command`, the command that made it, which finds and rebuilds what is bad.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from tokenmill.store.format import read_index, sha256_file


def shard_problem(out: Path, entry: dict[str, Any], itemsize: int) -> str | None:
    """What is wrong with a recorded shard's files (sizes, index, sha256), or None if sound."""
    try:
        name, n_tokens, n_docs = entry["name"], int(entry["n_tokens"]), int(entry["n_documents"])
        for ext, size in (("bin", n_tokens * itemsize), ("idx", (n_docs + 1) * 8)):
            path = out / f"{name}.{ext}"
            if not path.is_file():
                return f"shard file {path} is missing"
            if (found := path.stat().st_size) != size:
                return f"shard file {path} has {found} bytes, expected {size} (truncated or overwritten)"
        read_index(out / f"{name}.idx", n_tokens)
        for ext in ("bin", "idx"):
            if (found := sha256_file(out / f"{name}.{ext}")) != entry[f"{ext}_sha256"]:
                return f"shard file {out / f'{name}.{ext}'} is corrupt (sha256 {found}, expected {entry[f'{ext}_sha256']})"
    except ValueError as exc:
        return str(exc)
    except (OSError, KeyError, TypeError) as exc:
        return f"shard {entry.get('name') if isinstance(entry, dict) else entry!r} cannot be checked ({exc})"
    return None


# The `tokenmill prepare` flags of the options a manifest records, and their defaults (a test
# keeps these equal to PrepareOptions'): repair advice names only the options that differ.
_PREPARE_FLAGS = {
    "tokenizer": ("--tokenizer", "gpt2"),
    "eot": ("--eot", "append"),
    "val_fraction": ("--val-fraction", 0.0),
    "seed": ("--seed", 0),
    "text_field": ("--text-field", "text"),
    "errors": ("--errors", "replace"),
    "shard_tokens": ("--shard-tokens", 100_000_000),
    "engine": ("--engine", "tiktoken"),
    "skip_bad_lines": ("--skip-bad-lines", False),
}


def prepare_command(directory: str | os.PathLike[str], identity: dict[str, Any] | None) -> str:
    """The `tokenmill prepare` command that (re)makes the store at ``directory``, for advice.

    From the manifest (or checkpoint) ``identity``, so that advice works when copied: the
    input arguments as recorded (absolute), else the input files by real path. Without an
    identity (or when an input was found inside a directory argument that is not recorded,
    whose name a file argument would not reproduce) it is generic.

    >>> prepare_command("s", {"inputs": [{"path": "/d/a.txt", "name": "a.txt"}], "options": {"seed": 3}})
    'tokenmill prepare /d/a.txt --out s --seed 3'
    """
    generic = f"tokenmill prepare INPUT --out {shlex.quote(str(directory))}"
    identity = identity or {}
    arguments = identity.get("arguments")
    if not (isinstance(arguments, list) and arguments and all(isinstance(a, str) for a in arguments)):
        inputs = identity.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            return generic
        if any(os.path.basename(i.get("path", "")) != i.get("name") for i in inputs):
            return generic  # found inside a directory argument that is not recorded
        arguments = [i["path"] for i in inputs]
    words = ["tokenmill", "prepare", *arguments, "--out", str(directory)]
    for key, (flag, default) in _PREPARE_FLAGS.items():
        value = identity.get("options", {}).get(key, default)
        if value != default:
            words += [flag] if isinstance(value, bool) else [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)
