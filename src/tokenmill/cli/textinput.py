"""The one input file of `tokenize --file` and `demo`: read as `prepare` reads it, or refused.

A ``.txt`` (or any other name) is one document; ``.jsonl`` is one document per line (its
``--text-field``); ``.parquet`` one per row; ``.txt``/``.jsonl`` may be compressed (``.gz``,
``.xz``, ``.zst``). Compressed data under a plain name, binary files, directories, FIFOs and
unreadable paths are refused with one line that says what to do, never tokenized as bytes.

Several documents are encoded one by one, each followed by the end-of-text token, exactly
as ``tokenmill prepare`` stores them with its default ``--eot append`` (a spelled
``<|endoftext|>`` inside a document stays text; no separator where the tokenizer has no
end-of-text token, as ``--eot none``).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from tokenmill.prepare.inputs import COMPRESSIONS, SUPPORTED, open_stream, read_errors, refuse_non_text, resolve_inputs
from tokenmill.prepare.readers import decode_utf8, parse_jsonl_line

class InputError(ValueError):
    """An input file that cannot be read as text: the message names it and the fix."""


@dataclass(frozen=True)
class TextInput:
    """What was read from one input: its documents and how they were found."""

    documents: list[str]  # in file order: a text file is exactly one (maybe empty), others only non-empty ones
    kind: str  # "txt", "jsonl" or "parquet"
    empty: int  # empty documents (blank .jsonl lines, empty strings) left out, as prepare does


def read_input(path: str, *, text_field: str = "text") -> TextInput:
    """Read ``path`` ('-' for stdin) as prepare would; InputError says why it cannot be."""
    if path == "-":
        return _one_document(sys.stdin.buffer.read(), "<stdin>")
    check_file(
        path,
        directory_fix=f"give one file, or read a whole directory into a token store with: "
        f"tokenmill prepare {path} --out STORE",
        stdin=True,
    )
    name = os.path.basename(path).lower()
    stem, ext = os.path.splitext(name)
    if ext in COMPRESSIONS or ext in (".jsonl", ".parquet"):
        inner = os.path.splitext(stem)[1] if ext in COMPRESSIONS else ext
        if inner not in (".txt", ".jsonl", ".parquet") or (ext in COMPRESSIONS and inner == ".parquet"):
            raise InputError(f"{path}: cannot tell what it holds from its name; name it as prepare reads: {SUPPORTED}")
        return _read_prepare_input(path, text_field)
    return _one_document(_read_bytes(path), path)


def check_file(path: str, *, directory_fix: str = "give one file", stdin: bool = False) -> None:
    """InputError unless ``path`` is an existing regular file (a FIFO would block its reader).

    >>> check_file("no/such.txt")
    Traceback (most recent call last):
    ...
    tokenmill.cli.textinput.InputError: no/such.txt: no such file; check the path
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; check the path") from None
    except OSError as exc:  # a symlink loop, a file used as a directory, a name too long...
        raise InputError(f"{path}: cannot open it ({exc.strerror or exc}); check the path") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path} is a directory; {directory_fix}")
    if not stat.S_ISREG(st.st_mode):
        # Opening a FIFO would wait for a writer forever.
        raise InputError(
            f"{path} is not a regular file (a FIFO, socket or device); give a regular file"
            + (", or pipe the text in with - as the file name" if stdin else "")
        )


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except PermissionError:
        raise InputError(f"{path}: permission denied; make it readable (chmod +r {path})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror or exc}); check the file") from None


def _one_document(data: bytes, where: str) -> TextInput:
    return TextInput([_as_text(data, where)], "txt", 0)


def _refuse_non_text(data: bytes, where: str) -> None:
    """InputError if ``data`` is compressed, an archive or binary: never tokenize those bytes."""
    try:
        refuse_non_text(data, where)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _warn_replaced(where: str, replaced: int, first_bad: int | None = None) -> None:
    at = f" (first bad byte at offset {first_bad})" if first_bad is not None else ""
    print(
        f"tokenmill: warning: {where} is not valid UTF-8{at}; "
        f"{replaced} invalid sequence(s) replaced by U+FFFD",
        file=sys.stderr,
    )


def _as_text(data: bytes, where: str) -> str:
    """Bytes of a text file -> str; compressed or binary data is refused, bad UTF-8 replaced."""
    _refuse_non_text(data, where)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text, replaced = decode_utf8(data, "replace", where, 0)
        _warn_replaced(where, replaced, exc.start)
        return text


def _read_prepare_input(path: str, text_field: str) -> TextInput:
    try:
        (f,) = resolve_inputs([path], text_field=text_field)  # checks extras and parquet columns
    except (ValueError, OSError) as exc:
        raise InputError(str(exc).replace("pass --text-field", "pass --text-field NAME")) from None
    try:
        if f.format == "parquet":
            import pyarrow.parquet as pq

            values = pq.read_table(f.path, columns=[text_field]).column(0).to_pylist()
            docs = [v for v in values if isinstance(v, str) and v]
            bad = next((i for i, v in enumerate(values) if v is not None and not isinstance(v, str)), None)
            if bad is not None:
                raise InputError(f"{path}, row {bad}: {text_field!r} is not a string; pass --text-field NAME")
            if not docs:
                raise InputError(f"{path} holds no documents ({len(values)} empty rows); give a file with some text")
            return TextInput(docs, "parquet", len(values) - len(docs))
        raw, stream = open_stream(f)
        with raw, stream:
            data = stream.read()
    except InputError:
        raise
    except (*read_errors(), ValueError) as exc:  # pyarrow's errors derive from OSError/ValueError
        raise InputError(f"{path}: cannot read it ({type(exc).__name__}: {exc}); is the file complete?") from None
    if f.format == "txt":
        return _one_document(data, path)
    _refuse_non_text(data, path)  # JSON text never holds a raw NUL byte
    docs, empty, replaced = [], 0, 0
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            empty += 1
            continue
        where = f"{path}, line {number}"
        value, repl, bad = parse_jsonl_line(line, errors="replace", text_field=text_field, where=where, offset=0)
        if bad is not None:
            raise InputError(f"{where} {bad}; fix the line (or pass --text-field NAME for another key)")
        replaced += repl
        if value:
            docs.append(value)
        else:
            empty += 1
    if replaced:
        _warn_replaced(path, replaced)
    if not docs:
        raise InputError(f"{path} holds no documents ({empty} empty); give a file with some text")
    return TextInput(docs, "jsonl", empty)


def eot_spelling(tok: Any) -> str | None:
    """The text of the tokenizer's end-of-text token, or None if it has none."""
    return next((s for s, i in tok.special_tokens.items() if i == tok.eot_id), None)


def encode_documents(tok: Any, read: TextInput, allowed_special: Collection[str] | str) -> list[int]:
    """The IDs of what was read: a text file's as ``tok.encode(text, allowed_special=...)``;
    documents as prepare stores them with ``--eot append``, each followed by the end-of-text ID.

    Pitfall: in documents, as in prepare, text that spells a special token stays text
    (``encode_ordinary``) unless ``allowed_special`` names it.
    """
    if read.kind == "txt":
        return tok.encode(read.documents[0], allowed_special=allowed_special)
    tail = [tok.eot_id] if tok.eot_id is not None else []
    ids: list[int] = []
    for doc in read.documents:
        ids += (tok.encode(doc, allowed_special=allowed_special) if allowed_special else tok.encode_ordinary(doc))
        ids += tail
    return ids


def describe(source: str, read: TextInput, tok: Any) -> str:
    """How the documents became one token sequence, for the user: '3 documents, each followed by ...'."""
    if read.kind == "txt":
        return source
    eot = eot_spelling(tok)
    n = len(read.documents)
    how = (
        f"each followed by {eot} as `tokenmill prepare` stores them"
        if eot
        else f"with no separator ({tok.name} has no end-of-text token)"
    )
    empty = f", {read.empty:,} empty left out" if read.empty else ""
    return f"{source}: {n:,} document{'s' if n != 1 else ''}{empty}, {how}"
