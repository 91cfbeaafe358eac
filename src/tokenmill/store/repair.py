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

from tokenmill.common.files import sha256_file
from tokenmill.store.format import read_index


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


def prepare_command(directory: str | os.PathLike[str], identity: dict[str, Any] | None) -> str:
    """The `tokenmill prepare` command that (re)makes the store at ``directory``, for advice.

    From the manifest (or checkpoint) ``identity``: prepare records the command's words
    (absolute inputs and the store-defining options that differ from their defaults) as
    ``"command"``; this adds ``--out`` for where the store is now, so that advice works when
    copied. Without a recorded command, the input files by real path (when their names say
    that is the same store), else a generic command.

    >>> prepare_command("s", {"command": ["tokenmill", "prepare", "/d/a.txt", "--seed", "3"]})
    'tokenmill prepare /d/a.txt --seed 3 --out s'
    """
    generic = f"tokenmill prepare INPUT --out {shlex.quote(str(directory))}"
    identity = identity or {}
    command = identity.get("command")
    if isinstance(command, list) and len(command) > 2 and all(isinstance(w, str) for w in command):
        words = [*command, "--out", str(directory)]
    else:
        inputs = identity.get("inputs")
        options = identity.get("options")
        if not isinstance(inputs, list) or not inputs or options:
            return generic  # the options are unknown in words: advice without them would make another store
        if any(os.path.basename(i.get("path", "")) != i.get("name") for i in inputs):
            return generic  # found inside a directory argument that is not recorded
        words = ["tokenmill", "prepare", *(i["path"] for i in inputs), "--out", str(directory)]
    return " ".join(shlex.quote(w) for w in words)
