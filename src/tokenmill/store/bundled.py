"""The store's own copy of its tokenizer, so a store made with a tokenizer file decodes anywhere.

A tokenizer given by a built-in name ("gpt2") is found by that name. One given as a file
(a ``.tiktoken`` ranks file, a Hugging Face ``tokenizer.json``, a saved vocabulary) or as a
directory of files is copied into ``tokenizer/`` inside the store, and the manifest's
``tokenizer.file`` names the copy (relative to the store); readers load it from there.

Pitfall: a tokenizer object built in memory has no file to copy: its store decodes only
where a tokenizer of the same name can be found.

>>> bundle_name("/data/vocab/my.tiktoken")
'tokenizer/my.tiktoken'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tokenmill.common.files import atomic_write_bytes
from tokenmill.store.format import MANIFEST_NAME
from tokenmill.store.repair import prepare_command
from tokenmill.store.shardfile import inside

TOKENIZER_DIR = "tokenizer"


def bundle_name(source: str | os.PathLike[str]) -> str:
    """Where the copy of ``source`` (a file or a directory) lives in the store, '/'-separated."""
    return f"{TOKENIZER_DIR}/{os.path.basename(os.path.realpath(source))}"


def copy_tokenizer(source: str | os.PathLike[str], store: str | os.PathLike[str]) -> str:
    """Copy a tokenizer file, or every file of a tokenizer directory, into the store; its bundle_name.

    Each file is written atomically (temp file, fsync, rename), so a crash leaves the old
    copy or the whole new file.
    """
    name = bundle_name(source)
    dest, src = Path(store) / name, Path(source)
    if src.is_dir():
        for root, dirs, files in os.walk(src):
            dirs.sort()
            for f in sorted(files):
                path = Path(root) / f
                target = dest / path.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(target, path.read_bytes())
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(dest, src.read_bytes())
    return name


def load_store_tokenizer(store: Path, manifest: dict[str, Any]) -> Any:
    """The tokenizer of the store at ``store``: its own copy, else found by name; checked against the manifest.

    ValueError when the copy is missing or outside the store, or when the tokenizer found has
    another vocabulary (``ranks_sha256``) or another definition (``definition_sha256``: ranks,
    pattern and special tokens), since either gives other IDs.
    """
    from tokenmill.tokenizers import get_tokenizer

    info = manifest["tokenizer"]
    spec = manifest.get("options", {}).get("tokenizer")
    if info.get("file"):  # the store's own copy of a tokenizer given as a file or directory
        copy = inside(store, info["file"], what=f"{store / MANIFEST_NAME}: tokenizer.file")
        if not copy.exists():
            raise ValueError(
                f"the store at {store} keeps its tokenizer in {copy}, which is missing; "
                f"rebuild the store: `{prepare_command(store, manifest)}`"
            )
        tok = get_tokenizer(copy)
    else:
        try:
            tok = get_tokenizer(_builtin(store, info["name"], "tokenizer.name", manifest))
        except (ValueError, OSError):
            if not isinstance(spec, str) or not spec or spec == info["name"]:
                raise
            tok = get_tokenizer(_builtin(store, spec, "options.tokenizer", manifest))
    want, got = info.get("ranks_sha256"), getattr(tok, "ranks_sha256", None)
    if want and got and want != got:
        raise ValueError(
            f"tokenizer {info['name']!r} on this machine has ranks sha256 {got}, but the store at "
            f"{store} was made with {want}; install the matching vocabulary (`tokenmill vocab install`)"
        )
    want, got = info.get("definition_sha256"), getattr(tok, "definition_sha256", None)
    if want and got and want != got:
        raise ValueError(
            f"tokenizer {info.get('file') or info['name']!r} has definition sha256 {got} (ranks, pattern "
            f"and special tokens), but the store at {store} was made with {want}: it would give other "
            f"IDs; rebuild the store with the tokenizer you have: `{prepare_command(store, manifest)}`"
        )
    return tok


def _builtin(store: Path, name: str, key: str, manifest: dict[str, Any]) -> str:
    """``name`` if it is a built-in tokenizer name: a store never loads a file from outside itself."""
    from tokenmill.tokenizers.registry import KNOWN_ENCODINGS

    if name not in KNOWN_ENCODINGS:
        raise ValueError(
            f"{store / MANIFEST_NAME}: {key} {name!r} is not a built-in tokenizer name ({', '.join(sorted(KNOWN_ENCODINGS))}) "
            "and the store keeps no copy of a tokenizer file (no tokenizer.file); a store never loads a tokenizer "
            f"from outside its directory: pass the tokenizer yourself, or rebuild the store: `{prepare_command(store, manifest)}`"
        )
    return name
