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
from typing import Any

from tokenmill.cli.terminal import safe
from tokenmill.corpus.documents import Documents, read_documents, text_document


class InputError(ValueError):
    """An input file that cannot be read as text: the message names it and the fix."""


TextInput = Documents  # what was read from one input: its documents and how they were found


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
    try:
        return _reported(read_documents(path, text_field=text_field), path)
    except PermissionError:
        raise InputError(f"{path}: permission denied; make it readable (chmod +r {path})") from None
    except ValueError as exc:
        raise InputError(_words(exc)) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror or exc}); check the file") from None


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


def _words(exc: BaseException) -> str:
    """A corpus error in this command's words: options as flags (``--text-field NAME``)."""
    render = getattr(exc, "render", None)
    if render is None:
        return str(exc).replace("pass --text-field", "pass --text-field NAME")
    return render(lambda name, value: "--" + name.replace("_", "-") + ("" if value is None else f" {value}"))


def _one_document(data: bytes, where: str) -> TextInput:
    try:
        return _reported(text_document(data, where), where)
    except ValueError as exc:
        raise InputError(_words(exc)) from None


def _reported(read: Documents, where: str) -> Documents:
    """``read``, after warning about replaced invalid UTF-8 (a warning, not a refusal)."""
    if read.replaced:
        at = f" (first bad byte at offset {read.first_bad})" if read.first_bad is not None else ""
        print(
            safe(f"tokenmill: warning: {where} is not valid UTF-8{at}; "
                 f"{read.replaced} invalid sequence(s) replaced by U+FFFD"),
            file=sys.stderr,
        )
    return read


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
