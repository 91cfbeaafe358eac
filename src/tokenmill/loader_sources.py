"""What ``create_dataloader`` is given: a token store's path, a store's tokenizer, a dataset's identity.

Store paths are opened here (a ``pathlib.Path``, or a str that names a store's directory), a
store's tokenizer is checked against the one asked for, and ``dataset_id`` names the windows
cheaply (sizes, the store's checksums or a sample of the tokens) so that a loader's state dict
cannot be restored into a loader over other data.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["check_store_tokenizer", "dataset_id", "open_store_path"]

_SAMPLE_TOKENS = 4096  # tokens hashed from each end of an array (a store uses its checksums)
_TEXT_HINT = "create one with `tokenmill prepare INPUT --out DIR`, then pass TokenStore.open(DIR)"


def open_store_path(source: Any) -> Any:
    """The ``TokenStore`` a path names, None if ``source`` is not a path, else ValueError.

    A ``Path`` (any ``os.PathLike``) must name a store directory. A str is a path only when it
    names an existing directory (text for training is no directory's name): a store there is
    opened, any other directory is refused rather than tokenized as the characters of its name.
    """
    from tokenmill.store import MANIFEST_NAME, TokenStore

    if isinstance(source, str):
        if "\n" in source or len(source) > 4096 or not source.strip():
            return None
        try:
            if not os.path.isdir(source):
                return None
        except (OSError, ValueError):  # e.g. a NUL character: text, not a path
            return None
    elif not isinstance(source, os.PathLike):
        return None
    path = Path(source)
    if (path / MANIFEST_NAME).is_file():
        return TokenStore.open(path)
    what = "a file, not a token store directory" if path.exists() else "a path that does not exist"
    if path.is_dir():
        try:  # the store's own words: no manifest, an interrupted prepare, one being written
            TokenStore.open(path)
        except ValueError as error:
            what = f"a directory that is not a token store ({error})"
    text = f"; to train on a text file pass its text, Path({str(path)!r}).read_text()" if path.is_file() else ""
    raise ValueError(
        f"source {str(path)!r} is {what}: create_dataloader takes text, token IDs or a token store; "
        f"{_TEXT_HINT}{text}"
    )


def check_store_tokenizer(store: Any, tokenizer: Any) -> None:
    """ValueError unless ``tokenizer`` is the one the store was made with (same name or ranks)."""
    from tokenmill.tokenizers import get_tokenizer

    manifest = getattr(store, "manifest", None)
    info = manifest.get("tokenizer", {}) if isinstance(manifest, dict) else {}
    want = info.get("name")
    if want is None or (isinstance(tokenizer, str) and tokenizer == want):
        return
    tok = get_tokenizer(tokenizer)
    have_sha, want_sha = tok.ranks_sha256, info.get("ranks_sha256")
    if have_sha and want_sha:  # the vocabulary's hash decides where both are known; names can lie
        if have_sha == want_sha:
            return
    elif tok.name == want:
        return
    raise ValueError(
        f"the token store at {getattr(store, 'path', '?')} was made with tokenizer {want!r}, but "
        f"tokenizer={tok.name!r} was given; pass tokenizer={want!r} (its IDs need it)"
    )


def dataset_id(dataset: Any, source: Any, split: str) -> dict[str, Any]:
    """What identifies ``dataset``'s windows, cheaply: sizes plus store checksums or a token sample.

    >>> from tokenmill.window_dataset import WindowDataset
    >>> ident = dataset_id(WindowDataset(list(range(9)), max_length=4, stride=2), None, "train")
    >>> sorted(ident), ident["n_tokens"]
    (['max_length', 'n_tokens', 'stride', 'tokens_sha256'], 9)
    """
    ident: dict[str, Any] = {
        "n_tokens": int(dataset.n_tokens),
        "max_length": int(dataset.max_length),
        "stride": int(dataset.stride),
    }
    manifest = getattr(source, "manifest", None)
    if isinstance(manifest, dict) and split in manifest.get("splits", {}):
        shards = manifest["splits"][split].get("shards", [])
        sums = "\n".join(str(sh.get("bin_sha256")) for sh in shards)
        ident["store_sha256"] = hashlib.sha256(f"{split}\n{sums}".encode()).hexdigest()
        return ident
    tokens, k = dataset.tokens, _SAMPLE_TOKENS
    n = int(dataset.n_tokens)
    sample = [np.asarray(tokens[:k]), np.asarray(tokens[max(k, n - k) :])]
    digest = hashlib.sha256()
    for part in sample:
        digest.update(part.astype("<i8").tobytes())
    ident["tokens_sha256"] = digest.hexdigest()
    return ident
