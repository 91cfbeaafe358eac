"""Read the inputs of ``tokenmill prepare`` as a stream of tasks for the tokenizing workers.

The calling process only splits bytes into tasks (about ``BLOCK_BYTES`` of text each);
workers decode and parse them, so that the reading process never becomes the bottleneck.
Finding and checking the files is :mod:`tokenmill.prepare.inputs`; cutting huge texts is
:mod:`tokenmill.prepare.cutting`.

Pitfall: a ``.txt`` bigger than ``DOC_BYTES``, or a ``.jsonl`` line longer than
``HUGE_LINE_BYTES``, is decoded here and sent as pieces; invalid UTF-8 in it is then
reported (or counted) here, not by a worker.

>>> import pathlib, tempfile
>>> from tokenmill.prepare.inputs import resolve_inputs
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
>>> _ = p.write_text('{"text": "hi"}\\n{"text": "there"}\\n')
>>> tasks = iter_tasks(resolve_inputs([p]), (0, 0), errors="strict", text_field="text", cuttable=True)
>>> [(t.kind, t.ordinal, t.payload) for t in tasks]
[('lines', 0, b'{"text": "hi"}\\n{"text": "there"}\\n')]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

from tokenmill.prepare.cutting import Cutter, cut_pieces
from tokenmill.prepare.inputs import InputFile, open_stream, read_errors

BLOCK_BYTES = 1 << 20  # text per task: small enough to balance 2+ workers at the end of a run
DOC_BYTES = 4 << 20  # a .txt up to this size is one task; bigger ones are cut into pieces
HUGE_LINE_BYTES = 64 << 20  # a .jsonl line longer than this is parsed here and cut into pieces


def decode_utf8(data: bytes, errors: str, where: str, offset: int) -> tuple[str, int]:
    """(text, replacements): strict first; on failure ``errors="strict"`` names the byte offset.

    Pitfall: a U+FFFD already in the input is not counted as a replacement.

    >>> decode_utf8(b"caf\\xe9!", "replace", "x.txt", 0)
    ('caf\\ufffd!', 1)
    >>> decode_utf8(b"ok\\xff", "strict", "x.txt", 10)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: x.txt: invalid UTF-8 at byte offset 12 (byte 0xff); pass errors="replace" ...
    """
    try:
        return data.decode("utf-8"), 0
    except UnicodeDecodeError as exc:
        if errors == "strict":
            bad = data[exc.start : exc.start + 1].hex()
            raise ValueError(
                f"{where}: invalid UTF-8 at byte offset {offset + exc.start} (byte 0x{bad}); "
                'pass errors="replace" (--errors replace) to replace it with U+FFFD'
            ) from None
    text = data.decode("utf-8", "replace")
    return text, text.count("\ufffd") - data.count(b"\xef\xbf\xbd")


def incomplete_tail(data: bytes) -> int:
    """How many trailing bytes of ``data`` are an unfinished UTF-8 sequence (0-3).

    >>> incomplete_tail("é".encode()[:1]), incomplete_tail("é".encode())
    (1, 0)
    """
    for back in range(1, min(4, len(data)) + 1):
        b = data[-back]
        if b < 0x80:
            return 0
        if b >= 0xC0:  # a lead byte: complete if it has all its continuation bytes
            need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            return back if back < need else 0
    return 0


def read_blocks(stream: IO[bytes], size: int) -> Iterator[bytes]:
    while block := stream.read(size):
        yield block


def parse_jsonl_line(
    line: bytes, *, errors: str, text_field: str, where: str, offset: int
) -> tuple[Any, int, str | None]:
    """(text or None, replacements, why the line is bad or None) for one .jsonl line.

    Pitfall: a bad line is returned, not raised, so that the caller can skip and count it.

    >>> parse_jsonl_line(b'{"text": "hi"}', errors="strict", text_field="text", where="a:1", offset=0)
    ('hi', 0, None)
    >>> parse_jsonl_line(b'{"body": "hi"}', errors="strict", text_field="text", where="a:1", offset=0)[2]
    "has no 'text' field (keys: ['body'])"
    """
    text, replacements = decode_utf8(line, errors, where, offset)
    value, bad = _parse_json(text, text_field)
    return value, replacements, bad


def _parse_json(text: str, text_field: str) -> tuple[Any, str | None]:
    """(the text field's value or None, why the JSON is bad or None)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"is not valid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})"
    if not isinstance(obj, dict):
        return None, f"is a JSON {type(obj).__name__}, not an object"
    if text_field not in obj:
        return None, f"has no {text_field!r} field (keys: {sorted(obj)[:8]})"
    value = obj[text_field]
    if not isinstance(value, str):
        return None, f"has a {text_field!r} that is {type(value).__name__}, not a string"
    return value, None


class Task(NamedTuple):
    """A unit of work for a tokenizing worker (a tuple: cheap to pickle)."""

    kind: str  # "lines" (.jsonl bytes), "doc" (a whole .txt, bytes), "texts" (parquet), "piece" (str)
    input_index: int
    ordinal: int  # ordinal (line/row number from 0) of the task's first record
    offset: int  # decompressed byte offset of the payload, for error messages
    payload: Any
    first: bool = True  # piece: is this the document's first piece / last piece?
    last: bool = True
    nbytes: int = 0  # texts/piece: input bytes behind it (lines/doc: counted by the worker)
    replacements: int = 0  # piece: U+FFFD introduced when decoding it here
    progress: int = 0  # on-disk bytes of all inputs consumed when the task was read


def iter_tasks(
    files: Sequence[InputFile], start: tuple[int, int], *, errors: str, text_field: str, cuttable: bool
) -> Iterator[Task]:
    """Stream all inputs from position ``start`` (input index, ordinal) as tasks, in order.

    Pitfall: the records of input ``start[0]`` before ``start[1]`` are read again and
    dropped (a compressed stream cannot seek), so resuming inside a big input takes a while.
    """
    done = sum(f.size for f in files[: start[0]])
    for index in range(start[0], len(files)):
        f = files[index]
        src = _Source(f, index, start[1] if index == start[0] else 0, errors, text_field, cuttable)
        try:
            if f.format == "parquet":
                yield from _parquet_tasks(src, done)
            else:
                raw, stream = open_stream(f)
                with raw, stream:
                    reader = _jsonl_tasks if f.format == "jsonl" else _txt_tasks
                    yield from reader(src, stream, lambda done=done, raw=raw: done + raw.tell())
        except read_errors() as exc:  # a truncated or corrupt file: say which
            raise ValueError(
                f"{f.path}: cannot read it ({type(exc).__name__}: {exc}); is the file complete?"
            ) from exc
        done += f.size


@dataclass(frozen=True)
class _Source:
    """One input being read, and how: what every format reader needs besides the stream."""

    file: InputFile
    index: int  # its place among the inputs; tasks carry it
    skip: int  # records (lines, rows) before this ordinal are stored already: no tasks for them
    errors: str  # invalid UTF-8 in text decoded here: "replace" (counted) or "strict" (raise)
    text_field: str  # the .jsonl key / parquet column holding the text
    cuttable: bool  # may a huge text be cut (the tokenizer's pattern is in CUTTABLE_PATTERNS)?


def _piece_tasks(pieces: Iterable[str], template: Task) -> Iterator[Task]:
    """One "piece" task per piece of one document, from ``template``; ``pieces`` may be lazy.

    The first piece carries the template's input bytes and replacements (so they are
    counted once) and its ``first`` flag; the last piece carries its ``last`` flag.
    """
    it = iter(pieces)
    piece, head = next(it), True
    for following in it:  # one piece of lookahead: is this one the last?
        yield template._replace(
            payload=piece,
            first=template.first and head,
            last=False,
            nbytes=template.nbytes if head else 0,
            replacements=template.replacements if head else 0,
        )
        piece, head = following, False
    yield template._replace(
        payload=piece,
        first=template.first and head,
        nbytes=template.nbytes if head else 0,
        replacements=template.replacements if head else 0,
    )


def _txt_tasks(src: _Source, stream: IO[bytes], progress: Callable[[], int]) -> Iterator[Task]:
    if src.skip > 0:
        return
    head = stream.read(DOC_BYTES)
    more = stream.read(BLOCK_BYTES)
    if not more:
        yield Task("doc", src.index, 0, 0, head, progress=progress())
        return
    cutter, carry, offset, first = Cutter(src.cuttable, BLOCK_BYTES), b"", 0, True
    nbytes = repl = 0  # input behind text not yet sent: charged to the next piece sent
    for block in _chain(head, more, stream):
        data = carry + block
        tail = incomplete_tail(data)  # a character split across blocks is decoded with the next one
        data, carry = (data[:-tail], data[-tail:]) if tail else (data, b"")
        text, r = decode_utf8(data, src.errors, src.file.path, offset)
        offset, nbytes, repl = offset + len(data), nbytes + len(data), repl + r
        pieces = cutter.feed(text)
        if pieces:
            template = Task("piece", src.index, 0, 0, "", first, False, nbytes, repl, progress())
            yield from _piece_tasks(pieces, template)
            first, nbytes, repl = False, 0, 0
    text, r = decode_utf8(carry, src.errors, src.file.path, offset) if carry else ("", 0)
    template = Task("piece", src.index, 0, 0, "", first, True, nbytes + len(carry), repl + r, progress())
    yield from _piece_tasks([cutter.rest + text], template)


def _chain(head: bytes, more: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    yield head
    yield more
    yield from read_blocks(stream, BLOCK_BYTES)


def _jsonl_tasks(src: _Source, stream: IO[bytes], progress: Callable[[], int]) -> Iterator[Task]:
    ordinal = offset = 0
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
            end = buf.find(b"\n") + 1 or len(buf)
            carry = bytes(buf[end:])
            del buf[end:]
            if ordinal >= src.skip and end > HUGE_LINE_BYTES:
                box = [buf]  # handed over, so that _huge_line can free the bytes once decoded
                del buf
                yield from _huge_line(src, ordinal, offset, box, progress())
            elif ordinal >= src.skip:
                yield Task("lines", src.index, ordinal, offset, bytes(buf), progress=progress())
                del buf
            ordinal, offset = ordinal + 1, offset + end
            continue
        n = data.count(b"\n", 0, end)
        if ordinal + n > src.skip:
            yield Task("lines", src.index, ordinal, offset, data[:end], progress=progress())
        ordinal, offset, carry = ordinal + n, offset + end, data[end:]
    if carry and ordinal >= src.skip:
        yield Task("lines", src.index, ordinal, offset, carry, progress=progress())


def _huge_line(
    src: _Source, ordinal: int, offset: int, box: list[bytearray], progress: int
) -> Iterator[Task]:
    """A .jsonl line too long for one task: parsed here, its text sent as pieces.

    Memory: the raw bytes are freed once decoded and the JSON text once parsed; the text
    is then cut lazily. The peak is the JSON text plus the value (while parsing).
    """
    line = box.pop()
    nbytes = len(line)
    where = f"{src.file.path}, line {ordinal + 1}"
    if line.endswith(b"\n"):
        del line[-1:]
    try:
        text, repl = str(line, "utf-8"), 0  # no bytes copy, unlike bytes(line).decode()
    except UnicodeDecodeError:
        text, repl = decode_utf8(bytes(line), src.errors, where, offset)
    del line
    value, bad = _parse_json(text, src.text_field)
    if bad is not None or not value:
        # Not a document to cut: let the worker count/report it like any other line (re-encoded:
        # a U+FFFD replaced here then reads as text; only the replacement count can differ).
        payload = text.encode("utf-8", "surrogatepass") + b"\n"
        yield Task("lines", src.index, ordinal, offset, payload, progress=progress)
        return
    del text
    template = Task("piece", src.index, ordinal, 0, "", True, True, nbytes, repl, progress)
    yield from _piece_tasks(cut_pieces(value, src.cuttable, BLOCK_BYTES), template)


def _parquet_tasks(src: _Source, done: int) -> Iterator[Task]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    f = src.file
    pf = pq.ParquetFile(f.path)
    total = max(1, pf.metadata.num_rows)
    ordinal = 0
    for batch in pf.iter_batches(batch_size=1024, columns=[src.text_field]):
        column = batch.column(0)
        n = len(column)
        if ordinal + n > src.skip:
            nbytes = (pc.sum(pc.binary_length(column)).as_py() or 0) if n else 0
            progress = done + f.size * (ordinal + n) // total  # parquet is not streamed: rows done
            yield Task("texts", src.index, ordinal, 0, column.to_pylist(), nbytes=nbytes, progress=progress)
        ordinal += n
