"""Inputs that are token stores: refused with words that say so (their shards are tokens, not text).

>>> import tempfile
>>> refuse_store(tempfile.mkdtemp())  # an ordinary directory passes
"""

from __future__ import annotations

import os


def refuse_store(item: str) -> None:
    """A token store given as an input: say so (its shards are tokens, not text to tokenize)."""
    if not os.path.isdir(item):
        return
    # The names of docs/format.md (the store layer, above this one, owns the constants).
    marks = (".progress.json", ".tokenmill.lock")
    shards = any(n.startswith(("train-", "val-")) and n.endswith(".bin") for n in os.listdir(item))
    if any(os.path.exists(os.path.join(item, m)) for m in marks) or (
        shards and os.path.isfile(os.path.join(item, "manifest.json"))
    ):
        raise ValueError(
            f"input {item} is a token store (made by `tokenmill prepare`), not a corpus: use it as it is "
            f"(`tokenmill stats {item}`; TokenStore.open in Python), or give the files it was made from"
        )
