"""What ``create_dataloader`` is given: a token store's path, a store's tokenizer, a dataset's identity.

Store paths are opened here (a ``pathlib.Path``, or a str that ``looks_like_path``), a
store's tokenizer is checked against the one asked for (None: the store's own), and ``dataset_id`` names the windows
cheaply (sizes, the store's checksums or a sample of the tokens) so that a loader's state dict
cannot be restored into a loader over other data.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from typing import Any

import numpy as np

from tokenmill.common.errors import OptionError
from tokenmill.common.paths import is_url, store_path
from tokenmill.store import MANIFEST_NAME, TokenStore
from tokenmill.tokenizers.load import get_tokenizer

__all__ = ["PATH_SUFFIXES", "check_store_tokenizer", "dataset_id", "looks_like_path", "open_store_path"]

_SAMPLE_TOKENS = 4096  # tokens hashed from each end of an array (a store uses its checksums)
_TEXT_HINT = "create one with `tokenmill prepare INPUT --out DIR`, then pass TokenStore.open(DIR)"
_MAX_PATH = 4096  # longer strs are text: no file system takes such a path
# A str that starts so is a path, whatever follows: "/data/store", "~/store", "./s", "../s".
_PATH_START = re.compile(r"(?:~[\w.-]*|\.{1,2})(?:/|$)|/(?=[\w.~-])")
# One word with a "-" or "_" and nothing else but letters, digits and dots names a store ("gut-store").
_STORE_NAME = re.compile(r"[\w.]*[-_][\w.-]*")
# One word ending so is a file's name (a corpus, a store's shard, an array), not text to train on.
PATH_SUFFIXES = (
    ".txt", ".text", ".md", ".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".parquet", ".arrow",
    ".gz", ".xz", ".zst", ".bz2", ".bin", ".npy", ".tiktoken",
)
_PATH_RULE = (
    "a str is taken as a path when it is one line that names an existing file or directory "
    "(~ expanded), starts with /, ~, ./ or ../, is a URL, or is one word that holds a /, a - "
    "or _ (a store's name), or ends in a file suffix (.txt, .jsonl, .xz, .gz, .zst, .parquet, "
    ".bin, ...); to train on such a str itself, "
    "pass its token IDs: create_dataloader(get_tokenizer('gpt2').encode(text), ...)"
)


def looks_like_path(source: str) -> bool:
    """Whether the str ``source`` is taken as a path rather than as text to train on.

    One line (no newline, no NUL, at most 4096 characters) that names an existing file or
    directory after ``~`` is expanded, or starts with ``/``, ``~``, ``./`` or ``../``, or is a
    URL (``s3://b/s``), or is a single word that holds a ``/`` (``data/gut-store``), holds a
    ``-`` or ``_`` among letters, digits and dots (``gut-store``), or ends in a known file
    suffix (``.txt``, ``.jsonl``, ``.xz``, ``.bin``, ...). Pitfall: a one-line text that looks
    like a path is a path too; pass its token IDs instead.

    >>> [looks_like_path(s) for s in ("~/store", "/tmp/nostore", "the-verdict.txt", "../s")]
    [True, True, True, True]
    >>> [looks_like_path(s) for s in ("data/gut-store", "gut-store", "s3://b/s", "hello")]
    [True, True, True, False]
    >>> [looks_like_path(s) for s in ("I had always thought", "see notes.txt", "a\\nb", "~ fin ~")]
    [False, False, False, False]
    """
    if len(source) > _MAX_PATH or not source.strip() or any(c in source for c in "\n\r\x00"):
        return False
    if _PATH_START.match(source) or is_url(source):
        return True
    if not any(c.isspace() for c in source) and (
        "/" in source or _STORE_NAME.fullmatch(source) or source.lower().endswith(PATH_SUFFIXES)
    ):
        return True
    try:
        return os.path.exists(os.path.expanduser(source))
    except (OSError, ValueError):  # e.g. a name too long for this file system: text
        return False


def open_store_path(source: Any, **remote: Any) -> Any:
    """The ``TokenStore`` a path names, None if ``source`` is not a path, else ValueError.

    A ``Path`` (any ``os.PathLike``) and a str that ``looks_like_path`` are paths (``~`` is
    expanded): a store directory is opened; a file, a missing path or a directory that is no
    store is refused with what it is and how to proceed, never tokenized as its name. A URL
    (``s3://bucket/prefix``) is opened from object storage with ``remote``'s
    ``storage_options``, ``cache_dir`` and ``cache_limit`` (see ``TokenStore.open``).
    """
    if isinstance(source, str):
        if not looks_like_path(source):
            return None
    elif not isinstance(source, os.PathLike):
        return None
    if is_url(source):
        return TokenStore.open(os.fspath(source), **remote)
    path = store_path(source)
    if (path / MANIFEST_NAME).is_file():
        return TokenStore.open(path)
    shown = repr(os.fspath(source)) + (f" ({path})" if str(path) != os.fspath(source) else "")
    if path.is_file():
        # A plain text file may be read whole; a compressed or structured corpus needs prepare.
        text = path.suffix.lower() in ("", ".txt", ".text", ".md")
        read = (
            f"; or pass the file's text, open({str(path)!r}, encoding='utf-8').read() "
            f"(Path(...).read_text())" if text else ""
        )
        raise ValueError(
            f"source {shown} is a file, not a token store directory: create_dataloader takes "
            f"text, token IDs or a token store; to train on a corpus file make a store once with "
            f"`tokenmill prepare {shlex.quote(str(path))} --out DIR`, then pass "
            f"TokenStore.open(DIR){read}"
        )
    what = "a path that does not exist"
    if path.is_dir():
        what = "a directory that is not a token store"
        try:  # the store's own words: no manifest, an interrupted prepare, one being written
            TokenStore.open(path)
        except ValueError as error:
            if any(path.glob("*-[0-9]*.bin")) or any((path / n).exists() for n in (".progress.json", ".tokenmill.lock")):
                raise  # a store's own message: one line that names the directory, with its fix
            what = f"a directory that is not a token store ({error})"
    rule = f" ({_PATH_RULE})" if isinstance(source, str) else ""
    raise ValueError(
        f"source {shown} is {what}: create_dataloader takes text, token IDs or a token store; "
        f"{_TEXT_HINT}{rule}"
    )


def check_store_tokenizer(store: Any, tokenizer: Any) -> None:
    """ValueError unless ``tokenizer`` is the one the store was made with (same name or ranks).

    None means the store's own tokenizer, whatever it is: the store's IDs are read as they are.
    """
    if tokenizer is None:
        return
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
    raise OptionError(
        "tokenizer",
        # Names may be paths (":" or braces), so they go in as values, never into a {name=value}.
        "the token store at {0} was made with tokenizer {1!r}, but {tokenizer}={2!r} was given; "
        "pass {tokenizer}={1!r} (its IDs need it)",
        getattr(store, "path", "?"), want, tok.name,
    )


def dataset_id(dataset: Any, source: Any, split: str) -> dict[str, Any]:
    """What identifies ``dataset``'s windows, cheaply: sizes plus store checksums or a token sample.

    >>> from tokenmill.loader.dataset import WindowDataset
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
