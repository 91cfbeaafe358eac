"""Read one task's input as documents, inside the worker that tokenizes them.

A task (see :mod:`tokenmill.prepare.tasks`) is a whole file, or a byte range of an
uncompressed ``.jsonl``; :func:`read_task` opens, decompresses and parses it and yields
:class:`Doc` records. Finding and checking the files is :mod:`tokenmill.corpus.inputs`;
cutting huge texts is :mod:`tokenmill.corpus.cutting`.

A document's *key* (its identity in the val split, with the input's name) is the byte
offset of its line in the decompressed ``.jsonl`` (so a line's split does not depend on how
the file is cut into tasks, or compressed), its row in a parquet file, and 0 for a ``.txt``.

A document's *bytes* (:attr:`Doc.nbytes`, summed as a store's ``bytes_read``) are the
UTF-8 bytes of the text that is tokenized (:func:`text_bytes`): never the JSON around it
(keys, other fields, escapes), so prepare and train-tokenizer count alike.

Pitfall: a ``.txt`` bigger than ``DOC_BYTES``, or a ``.jsonl`` line longer than
``HUGE_LINE_BYTES``, is yielded as pieces cut where the tokenizer splits anyway (or, where
no such place is near, cut anyway and counted: :mod:`tokenmill.corpus.cutting`). A ``.jsonl``
line or parquet value is held whole while parsed: one over ``max_document_bytes`` is
refused, naming it and the option; a ``.txt`` streams whatever its size.

>>> import pathlib, tempfile
>>> from tokenmill.corpus.inputs import resolve_inputs
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
>>> _ = p.write_text('{"text": "hi"}\\n{"text": "there"}\\n')
>>> [(d.key, d.text) for d in read_task(resolve_inputs([p])[0], 0, None, errors="strict", text_field="text", cuttable=True)]
[(0, 'hi'), (15, 'there')]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO, Any, NamedTuple

from tokenmill.common.errors import ExplainedError
from tokenmill.common.files import AtomicFile
from tokenmill.corpus.cutting import Cutter, cut_pieces
from tokenmill.corpus.decoding import decode_utf8, incomplete_tail, parse_json, parse_jsonl_line, read_blocks
from tokenmill.corpus.inputs import InputFile, open_stream, read_errors

BLOCK_BYTES = 1 << 20  # bytes read at a time, and the size of a huge text's pieces
DOC_BYTES = 4 << 20  # a .txt up to this size is one task; bigger ones are cut into pieces
HUGE_LINE_BYTES = 64 << 20  # a .jsonl line longer than this is parsed here and cut into pieces


class Doc(NamedTuple):
    """A document (or a piece of one, or a bad record) as a worker reads it."""

    key: int  # identity in the val split: .jsonl line byte offset, parquet row, 0 for .txt
    text: Any  # str (a whole text or a piece); None for a bad record
    nbytes: int  # UTF-8 bytes of ``text`` (text_bytes); 0 for a bad record
    replacements: int  # U+FFFD introduced when decoding it
    first: bool = True  # is this the document's first piece / last piece?
    last: bool = True
    unsafe_cuts: int = 0  # cuts made inside the document where no safe place was near (may change IDs)
    bad: str | None = None  # why the record is bad (then text is None)
    where: Any = ""  # "path, line N" for messages (str() of it; computed only when needed)


class _LineRef:
    """"path, line N" of the line at a byte offset; N is counted only when a message needs it."""

    __slots__ = ("path", "offset", "lineno", "source")

    def __init__(self, path: str, offset: int, lineno: int | None, source: str | None = None) -> None:
        self.path, self.offset, self.lineno, self.source = path, offset, lineno, source or path

    def __str__(self) -> str:
        if self.lineno is None:  # a range task: count the lines before it (errors are rare)
            self.lineno = _count_newlines(self.source, self.offset) + 1
        return f"{self.path}, line {self.lineno}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _count_newlines(path: str, stop: int) -> int:
    n = 0
    with open(path, "rb") as f:
        while stop > 0 and (block := f.read(min(BLOCK_BYTES, stop))):
            n, stop = n + block.count(b"\n"), stop - len(block)
    return n


def read_task(
    f: InputFile,
    start: int,
    stop: int | None,
    *,
    errors: str,
    text_field: str,
    cuttable: bool,
    unpacked: str | None = None,
    max_document_bytes: int | None = None,
) -> Iterator[Doc]:
    """The documents of one task: file ``f``, or (an uncompressed .jsonl) its lines starting in [start, stop).

    ``unpacked``: read this decompressed copy of ``f`` (a .jsonl) instead; messages still
    name ``f``. ``max_document_bytes``: a .jsonl line or parquet value over it raises
    ValueError naming it (it would be held whole in memory). Pitfall: a truncated or corrupt
    file raises ValueError naming it, possibly after documents were yielded (a compressed
    stream is checked as it is read).
    """
    limit = max_document_bytes if max_document_bytes is not None else float("inf")
    try:
        if f.format == "parquet":
            yield from _parquet_docs(f, text_field, limit)
            return
        if unpacked is not None:
            with open(unpacked, "rb") as raw:
                yield from _jsonl_docs(f, raw, start, stop, errors, text_field, cuttable, unpacked, limit)
            return
        raw, stream = open_stream(f)
        with raw, stream:
            if f.format == "txt":
                yield from _txt_docs(f, stream, errors, cuttable)
            else:
                yield from _jsonl_docs(f, stream, start, stop, errors, text_field, cuttable, None, limit)
    except read_errors() as exc:  # a truncated or corrupt file: say which
        raise ValueError(f"{f.path}: cannot read it ({type(exc).__name__}: {exc}); is the file complete?") from exc


def text_bytes(text: str) -> int:
    """The UTF-8 bytes of a text as tokenized: what ``bytes_read`` and "bytes per token" count.

    Pitfall: a lone surrogate (from a JSON escape) counts 3 bytes, as the U+FFFD that
    replaces it before tokenizing.

    >>> text_bytes("h\\xe9llo"), text_bytes(chr(0xD800)), text_bytes("\\ufffd")
    (6, 3, 3)
    """
    if text.isascii():  # the common case: no copy
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def _pieces(
    pieces: Iterable[str], key: int, repl: int, first: bool, last: bool, unsafe: Any = None
) -> Iterator[Doc]:
    """One Doc per piece of a document, each with its bytes; the first carries the replacements,
    the last ``last`` and the count of unsafe cuts (``unsafe``: a list that the cutting fills as it goes)."""
    it = iter(pieces)
    piece, head = next(it), True
    for following in it:  # one piece of lookahead: is this one the last?
        yield Doc(key, piece, text_bytes(piece), repl if head else 0, first and head, False)
        piece, head = following, False
    cuts = len(unsafe) if unsafe is not None else 0
    yield Doc(key, piece, text_bytes(piece), repl if head else 0, first and head, last, unsafe_cuts=cuts)


def _txt_docs(f: InputFile, stream: IO[bytes], errors: str, cuttable: bool) -> Iterator[Doc]:
    head = stream.read(DOC_BYTES)
    more = stream.read(BLOCK_BYTES)
    if not more:
        text, repl = decode_utf8(head, errors, f.path, 0)
        yield Doc(0, text, len(head) if not repl else text_bytes(text), repl, where=f.path)
        return
    cutter, carry, offset, first = Cutter(cuttable, BLOCK_BYTES), b"", 0, True
    repl = 0  # replacements in text not yet sent: charged to the next piece
    for block in _chain(head, more, stream):
        data = carry + block
        tail = incomplete_tail(data)  # a character split across blocks is decoded with the next one
        data, carry = (data[:-tail], data[-tail:]) if tail else (data, b"")
        text, r = decode_utf8(data, errors, f.path, offset)
        offset, repl = offset + len(data), repl + r
        pieces = cutter.feed(text)
        if pieces:
            unsafe, cutter.unsafe = [None] * cutter.unsafe, 0
            yield from _pieces(pieces, 0, repl, first, False, unsafe)
            first, repl = False, 0
    text, r = decode_utf8(carry, errors, f.path, offset) if carry else ("", 0)
    unsafe = [None] * cutter.unsafe
    yield from _pieces([cutter.rest + text], 0, repl + r, first, True, unsafe)


def _chain(head: bytes, more: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    yield head
    yield more
    yield from read_blocks(stream, BLOCK_BYTES)


def unpack(f: InputFile, dest: str) -> int:
    """Decompress ``f`` into ``dest`` (written to a temp name, then renamed); its size in bytes.

    Pitfall: a corrupt or truncated input raises ValueError naming it, and leaves no ``dest``;
    an error writing ``dest`` stays an OSError (a problem of --out, not of the input).
    """
    with AtomicFile(dest) as out:
        for block in _checked_blocks(f):
            out.write(block)
    return out.size


def _checked_blocks(f: InputFile) -> Iterator[bytes]:
    try:
        raw, stream = open_stream(f)
        with raw, stream:
            yield from read_blocks(stream, BLOCK_BYTES)
    except read_errors() as exc:  # raised here, not by the caller's writes
        raise ValueError(f"{f.path}: cannot read it ({type(exc).__name__}: {exc}); is the file complete?") from exc


def _line_start(stream: IO[bytes], start: int) -> int | None:
    """The first line start at or after ``start`` (> 0) in a seekable stream; None past the end."""
    stream.seek(start - 1)  # a line starts at `start` iff the byte before it is a newline
    at = start - 1
    while block := stream.read(BLOCK_BYTES):
        i = block.find(b"\n")
        if i >= 0:
            stream.seek(at + i + 1)
            return at + i + 1
        at += len(block)
    return None


def _jsonl_docs(
    f: InputFile,
    stream: IO[bytes],
    start: int,
    stop: int | None,
    errors: str,
    text_field: str,
    cuttable: bool,
    source: str | None = None,
    limit: float = float("inf"),
) -> Iterator[Doc]:
    """The lines that start in [start, stop) (``stop`` None: to the end), one Doc each; lines over ``limit`` refused."""
    offset: int | None = start if start == 0 else _line_start(stream, start)
    if offset is None or (stop is not None and offset >= stop):
        return
    lineno = 1 if start == 0 else None  # the next line's number, when known without counting
    end_at = stop if stop is not None else float("inf")
    carry = b""
    blocks = read_blocks(stream, BLOCK_BYTES)
    for block in blocks:
        data = carry + block if carry else block
        end = data.rfind(b"\n") + 1
        if end == 0:
            # A line longer than a block: gather it in one growing buffer (no quadratic joins).
            buf = bytearray(data)
            del data
            for block in blocks:
                buf += block
                if b"\n" in block:
                    break
                if len(buf) > limit:  # refused before it is all in memory
                    _too_big(_LineRef(f.path, offset, lineno, source), len(buf), limit, "at least ")
            end = buf.find(b"\n") + 1 or len(buf)
            carry = bytes(buf[end:])
            del buf[end:]
            where = _LineRef(f.path, offset, lineno, source)
            if end > limit:
                _too_big(where, end, limit)
            if end > HUGE_LINE_BYTES:
                box = [buf]  # handed over, so that _huge_line can free the bytes once decoded
                del buf
                yield from _huge_line(box, offset, where, errors, text_field, cuttable)
            else:
                yield _line_doc(bytes(buf), offset, where, errors, text_field)
                del buf
            offset, lineno = offset + end, lineno + 1 if lineno is not None else None
            if offset >= end_at:
                return
            continue
        lines = data[:end].split(b"\n")
        lines.pop()
        for line in lines:
            if len(line) > limit:
                _too_big(_LineRef(f.path, offset, lineno, source), len(line), limit)
            yield _line_doc(line, offset, _LineRef(f.path, offset, lineno, source), errors, text_field)
            offset, lineno = offset + len(line) + 1, lineno + 1 if lineno is not None else None
            if offset >= end_at:
                return
        carry = data[end:]
    if carry:
        if len(carry) > limit:
            _too_big(_LineRef(f.path, offset, lineno, source), len(carry), limit)
        yield _line_doc(carry, offset, _LineRef(f.path, offset, lineno, source), errors, text_field)


def _too_big(where: Any, size: int, limit: float, at_least: str = "") -> None:
    raise ExplainedError(
        "{0} is a document of {1}{2} bytes, over the limit of {3} ({max_document_bytes}): a .jsonl line is held whole "
        "in memory (about 3x its size) while parsed; raise {max_document_bytes} if this machine has the "
        "memory, or split the document (a .txt file streams in pieces whatever its size)",
        str(where), at_least, f"{size:,}", f"{int(limit):,}",
    )


def _line_doc(line: bytes, offset: int, where: _LineRef, errors: str, text_field: str) -> Doc:
    if not line.strip():  # a blank line is an empty document
        return Doc(offset, "", 0, 0)
    text, repl, bad = parse_jsonl_line(line, errors=errors, text_field=text_field, where=where, offset=offset)
    return Doc(offset, text, text_bytes(text) if bad is None else 0, repl, bad=bad, where=where)


def _huge_line(
    box: list[bytearray], offset: int, where: _LineRef, errors: str, text_field: str, cuttable: bool
) -> Iterator[Doc]:
    """A .jsonl line too long to encode at once: parsed, its text yielded as pieces.

    Memory: the raw bytes are freed once decoded and the JSON text once parsed; the text
    is then cut lazily. The peak is the JSON text plus the value (while parsing).
    """
    line = box.pop()
    if line.endswith(b"\n"):
        del line[-1:]
    try:
        text, repl = str(line, "utf-8"), 0  # no bytes copy, unlike bytes(line).decode()
    except UnicodeDecodeError:
        text, repl = decode_utf8(bytes(line), errors, str(where), offset)
    del line
    value, bad = parse_json(text, text_field)
    del text
    if bad is not None or not value:
        yield Doc(offset, value if bad is None else None, 0, repl, bad=bad, where=where)
        return
    unsafe: list[int] = []
    yield from _pieces(cut_pieces(value, cuttable, BLOCK_BYTES, unsafe), offset, repl, True, True, unsafe)


def _parquet_docs(f: InputFile, text_field: str, limit: float) -> Iterator[Doc]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(f.path)
    try:
        row = 0
        for batch in pf.iter_batches(batch_size=1024, columns=[text_field]):
            for value in batch.column(0).to_pylist():
                if isinstance(value, str):
                    nbytes = text_bytes(value)
                    if nbytes > limit:
                        _too_big(f"{f.path}, row {row}", nbytes, limit)
                    yield Doc(row, value, nbytes, 0)
                else:
                    bad = f"has a {text_field!r} that is {type(value).__name__}, not a string"
                    yield Doc(row, None, 0, 0, bad=bad, where=f"{f.path}, row {row}")
                row += 1
    finally:
        pf.close()
