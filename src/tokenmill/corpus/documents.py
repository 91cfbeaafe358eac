"""One input file as a list of documents, read as ``prepare`` reads it: :func:`read_documents`.

A ``.txt`` (or any other name) is one document; ``.jsonl`` one per line (its ``text_field``);
``.parquet`` one per row; ``.txt``/``.jsonl`` may be compressed (``.gz``, ``.xz``, ``.zst``).
Compressed data under a plain name and binary files are refused, never read as text.

Pitfall: the whole file is read into memory (this is for one file a person gives, not a
corpus: ``prepare`` streams its inputs in tasks); invalid UTF-8 is replaced by U+FFFD and
counted in ``replaced``, never raised.

>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
>>> _ = p.write_text('{"text": "hi"}\\n\\n{"text": "there"}\\n')
>>> read_documents(p)
Documents(documents=['hi', 'there'], kind='jsonl', empty=1, replaced=0, first_bad=None)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from tokenmill.common.errors import ExplainedError
from tokenmill.corpus.inputs import COMPRESSIONS, SUPPORTED, open_stream, read_errors, refuse_non_text, resolve_inputs
from tokenmill.corpus.readers import decode_utf8, parse_jsonl_line

__all__ = ["Documents", "read_documents", "text_document"]


@dataclass(frozen=True)
class Documents:
    """The documents of one input and how they were found."""

    documents: list[str]  # in file order: a text file is exactly one (maybe empty), others only non-empty ones
    kind: str  # "txt", "jsonl" or "parquet"
    empty: int  # empty documents (blank .jsonl lines, empty strings) left out, as prepare does
    replaced: int = 0  # invalid UTF-8 sequences replaced by U+FFFD
    first_bad: int | None = None  # a text file's offset of its first invalid byte


def read_documents(path: str | os.PathLike[str], *, text_field: str = "text") -> Documents:
    """The documents of the file ``path``; ValueError (or OSError) says why it cannot be read."""
    path = os.fspath(path)
    name = os.path.basename(path).lower()
    stem, ext = os.path.splitext(name)
    if ext in COMPRESSIONS or ext in (".jsonl", ".parquet"):
        inner = os.path.splitext(stem)[1] if ext in COMPRESSIONS else ext
        if inner not in (".txt", ".jsonl", ".parquet") or (ext in COMPRESSIONS and inner == ".parquet"):
            raise ValueError(f"{path}: cannot tell what it holds from its name; name it as prepare reads: {SUPPORTED}")
        return _read_input(path, text_field)
    with open(path, "rb") as f:
        return text_document(f.read(), path)


def text_document(data: bytes, where: str) -> Documents:
    """Bytes of a text file as its one document; compressed or binary data is refused."""
    refuse_non_text(data, where)
    try:
        return Documents([data.decode("utf-8")], "txt", 0)
    except UnicodeDecodeError as exc:
        text, replaced = decode_utf8(data, "replace", where, 0)
        return Documents([text], "txt", 0, replaced, exc.start)


def _read_input(path: str, text_field: str) -> Documents:
    (f,) = resolve_inputs([path], text_field=text_field)  # checks extras and parquet columns
    try:
        if f.format == "parquet":
            return _parquet(path, f.path, text_field)
        raw, stream = open_stream(f)
        with raw, stream:
            data = stream.read()
    except ExplainedError:
        raise
    except (*read_errors(), ValueError) as exc:  # pyarrow's errors derive from OSError/ValueError
        raise ValueError(f"{path}: cannot read it ({type(exc).__name__}: {exc}); is the file complete?") from None
    if f.format == "txt":
        return text_document(data, path)
    return _jsonl(data, path, text_field)


def _parquet(path: str, real: str, text_field: str) -> Documents:
    import pyarrow.parquet as pq

    values = pq.read_table(real, columns=[text_field]).column(0).to_pylist()
    docs = [v for v in values if isinstance(v, str) and v]
    bad = next((i for i, v in enumerate(values) if v is not None and not isinstance(v, str)), None)
    if bad is not None:
        raise ExplainedError("{0}, row {1}: {2!r} is not a string; pass {text_field=NAME}", path, bad, text_field)
    if not docs:
        raise ValueError(f"{path} holds no documents ({len(values)} empty rows); give a file with some text")
    return Documents(docs, "parquet", len(values) - len(docs))


def _jsonl(data: bytes, path: str, text_field: str) -> Documents:
    refuse_non_text(data, path)  # JSON text never holds a raw NUL byte
    docs, empty, replaced = [], 0, 0
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            empty += 1
            continue
        where = f"{path}, line {number}"
        value, repl, bad = parse_jsonl_line(line, errors="replace", text_field=text_field, where=where, offset=0)
        if bad is not None:
            raise ExplainedError("{0} {1}; fix the line (or pass {text_field=NAME} for another key)", where, bad)
        replaced += repl
        if value:
            docs.append(value)
        else:
            empty += 1
    if not docs:
        raise ValueError(f"{path} holds no documents ({empty} empty); give a file with some text")
    return Documents(docs, "jsonl", empty, replaced)
