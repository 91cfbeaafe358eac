"""``get_tokenizer``: a tokenizer from a tiktoken name, a file or a trained directory, cached.

It sits above every tokenizer module (it chooses among them), so none of them imports it:
unpickling a tokenizer reaches it through ``base._LOADER``, which this module fills.

>>> get_tokenizer("gpt2").encode("hello world")
[31373, 995]
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from tokenmill.common.files import sha256_file
from tokenmill.common.suggest import did_you_mean
from tokenmill.tokenizers.base import _LOADER, Tokenizer
from tokenmill.tokenizers.bpe import TiktokenTokenizer, _tiktoken_by_name, _tiktoken_from_file
from tokenmill.tokenizers.hf import HFTokenizer
from tokenmill.tokenizers.ranks import verify_ranks_file
from tokenmill.tokenizers.registry import KNOWN_ENCODINGS
from tokenmill.tokenizers.trained import META_FILE, load_tokenizer_dir
from tokenmill.tokenizers.word import WordTokenizer

__all__ = ["get_tokenizer"]


@functools.lru_cache(maxsize=32)
def _load(name_or_path: str) -> Tokenizer:
    if name_or_path in KNOWN_ENCODINGS:
        return _tiktoken_by_name(name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(sorted(KNOWN_ENCODINGS))
        meant = did_you_mean(name_or_path, KNOWN_ENCODINGS)
        guess = f" (did you mean {meant}?)" if meant is not None else ""
        raise ValueError(
            f"unknown tokenizer {name_or_path!r}{guess}: not a known name ({known}) and no such file "
            f"(give a .tiktoken ranks file, a Hugging Face tokenizer.json, a saved WordTokenizer "
            f"vocabulary or a directory made by tokenmill train-tokenizer)"
        )
    if path.suffix == ".tiktoken":
        sha = sha256_file(path)
        spec = next((s for s in KNOWN_ENCODINGS.values() if s.sha256 == sha), None)
        named = next((s for s in KNOWN_ENCODINGS.values() if path.name in s.filenames), None)
        if spec is None and named is not None:  # e.g. an edited gpt2.tiktoken: refuse, never mislabel
            verify_ranks_file(path, named)
        return _tiktoken_from_file(name_or_path, path, spec, sha)
    if path.suffix == ".json":
        try:
            with open(path, encoding="utf-8") as f:
                head = f.read(4096)
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not UTF-8 JSON (byte {exc.start}: {exc.reason})") from None
        if "tokenmill-word-vocab" in head:
            return WordTokenizer.load(path)
        return HFTokenizer(path)
    raise ValueError(f"{path}: unsupported tokenizer file; expected a .tiktoken or .json file")


def get_tokenizer(name_or_path: str | os.PathLike[str] | Tokenizer) -> Tokenizer:
    """A tokenizer by tiktoken name ("gpt2", "cl100k_base", ...), file path or trained directory; cached.

    A directory made by ``tokenmill train-tokenizer`` runs on tiktoken, its ranks verified.

    Pitfall: on an offline machine the ranks file must be installed first
    (``tokenmill vocab install gpt2``); the error says so and names the file and its sha256.

    >>> get_tokenizer("gpt2").vocab_size, get_tokenizer("gpt2").eot_id
    (50257, 50256)
    """
    if isinstance(name_or_path, Tokenizer):
        return name_or_path
    if type(name_or_path).__name__ == "Encoding" and hasattr(name_or_path, "_mergeable_ranks"):
        # A tiktoken.Encoding the caller built (the book passes one): wrap it as it is.
        return TiktokenTokenizer(name_or_path.name, name_or_path, None, None)
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"expected a tokenizer name or path, got {type(name_or_path).__name__}")
    source = os.fspath(name_or_path)
    try:
        if os.path.isdir(source):  # made by `tokenmill train-tokenizer`; retraining it changes the key
            return _load_dir(source, _dir_version(source))
        return _load(source)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except Exception:
        raise
    except BaseException as exc:
        # A panic in the Rust tokenizers library (pyo3_runtime.PanicException) is a BaseException:
        # a malformed file must be one error naming it, never a traceback or a dead worker.
        why = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ValueError(
            f"tokenizer {source}: the tokenizer library crashed reading it ({type(exc).__name__}: {why}); "
            "the file is malformed: use another tokenizer file or re-create it"
        ) from exc


@functools.lru_cache(maxsize=32)
def _load_dir(source: str, version: tuple[int, int]) -> Tokenizer:
    return load_tokenizer_dir(source)


def _dir_version(source: str) -> tuple[int, int]:
    try:
        st = os.stat(os.path.join(source, META_FILE))
    except OSError:
        return (0, 0)  # not a tokenizer directory: load_tokenizer_dir says so
    return (st.st_mtime_ns, st.st_ino)


_LOADER[:] = [get_tokenizer]
