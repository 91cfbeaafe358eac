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

from tokenmill.common.files import atomic_write_bytes

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
