"""Input side of ``tokenmill prepare``: find input files, stream them, cut huge texts safely.

Inputs are files, directories (recursive, sorted path order) or globs, kept in the order
given. Formats: ``.txt`` (one file = one document), ``.jsonl`` (one document per line),
``.parquet`` (a string column); ``.txt``/``.jsonl`` may be compressed (``.gz``, ``.xz``,
``.zst``).

Pitfall: BPE never merges across pre-tokenizer pieces, so a huge text may be encoded in
parts only if it is cut where the pre-tokenizer regex splits anyway. :func:`safe_cut`
finds such places (see its docstring for the proof sketch).

>>> text = "The cat sat.\\nOn the mat"
>>> cut = safe_cut(text, len(text))
>>> text[:cut], text[cut:]
('The cat sat.\\nOn the', ' mat')
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

# Pre-tokenizer patterns for which the cut rule of safe_cut() is proven (tests re-check it):
# GPT-2/r50k/p50k, cl100k_base and o200k_base. Any other pattern: huge texts are not cut.
_GPT2_PAT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
_GPT2_PAT_OLD = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_CL100K_PAT = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
CUTTABLE_PATTERNS = frozenset({_GPT2_PAT, _GPT2_PAT_OLD, _CL100K_PAT, _O200K_PAT})

# An ASCII letter followed by a space or newline: the cut goes between the two.
_CUT = re.compile(r"(?<=[A-Za-z])[ \n]")
_CUT_WINDOW = 1 << 12  # chars searched backwards for a cut first (widened x4 until one is found)

TEXT_FORMATS = (".txt", ".jsonl")
COMPRESSIONS = {".gz": "gz", ".xz": "xz", ".zst": "zst"}
SUPPORTED = ".txt, .jsonl, .parquet, and .txt/.jsonl compressed with .gz, .xz or .zst"


def safe_cut(text: str, end: int, lo: int = 0) -> int:
    """The largest ``lo <= i <= end`` where ``text[:i]`` and ``text[i:]`` may be encoded apart; 0 if none.

    Rule: ``text[i-1]`` is an ASCII letter and ``text[i]`` is a space or a newline. Why
    it is exact for the GPT-2, cl100k and o200k patterns: (1) no pre-tokenizer piece
    contains a letter followed by whitespace, so the piece holding ``text[i-1]`` ends at
    ``i`` and a new piece starts there; (2) the regex has no look-behind, so matches from
    ``i`` on depend only on ``text[i:]``; (3) before ``i``, the only alternatives that
    look past a match are ``(?!\\S)`` and ``\\s++$``, which need whitespace right before
    ``i``, and ``text[i-1]`` is a letter. So the pieces of the whole are the pieces of
    the two parts, and BPE (which never merges across pieces) gives the same IDs.
    ASCII letters only, so that Unicode-version differences between Python and the Rust
    regex engine cannot matter.

    >>> safe_cut("one two", 7), safe_cut("1 2 3", 5)
    (3, 0)
    """
    floor, lo = lo, max(lo, end - _CUT_WINDOW)
    while True:
        last = 0
        for m in _CUT.finditer(text, lo, end + 1):
            last = m.start()
        if last or lo == floor:
            return last
        lo = max(floor, end - 4 * (end - lo))


@dataclass(frozen=True)
class InputFile:
    """One input file, as found when prepare starts."""

    path: str  # as given (or as expanded from a directory/glob); part of each document's identity
    format: str  # "txt", "jsonl" or "parquet"
    compression: str | None  # None, "gz", "xz" or "zst"
    size: int  # bytes on disk; a changed size or mtime means a changed input
    mtime_ns: int

    def describe(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "mtime_ns": self.mtime_ns}


def _classify(path: str) -> tuple[str, str | None] | None:
    name = os.path.basename(path).lower()
    stem, ext = os.path.splitext(name)
    compression = COMPRESSIONS.get(ext)
    if compression is not None:
        ext = os.path.splitext(stem)[1]
        return (ext[1:], compression) if ext in TEXT_FORMATS else None
    if ext in TEXT_FORMATS or ext == ".parquet":
        return ext[1:], None
    return None


def _expand(item: str) -> list[str]:
    if os.path.isdir(item):
        found = sorted(os.path.join(root, f) for root, _, files in os.walk(item) for f in files)
        if not found:
            raise FileNotFoundError(f"input directory {item} holds no files")
        return found
    if os.path.exists(item):
        return [item]
    if glob.has_magic(item):
        found = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
        if not found:
            raise FileNotFoundError(f"no input file matches the glob {item!r}")
        return found
    raise FileNotFoundError(f"input not found: {item}")


def resolve_inputs(inputs: Sequence[str | os.PathLike[str]], *, text_field: str = "text") -> list[InputFile]:
    """Expand, check and describe the inputs; every error is raised before any work starts.

    >>> resolve_inputs(["no/such/file.txt"])
    Traceback (most recent call last):
    ...
    FileNotFoundError: input not found: no/such/file.txt
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if not inputs:
        raise ValueError("no inputs given; pass at least one file, directory or glob")
    files: list[InputFile] = []
    for item in inputs:
        for path in _expand(os.fspath(item)):
            kind = _classify(path)
            if kind is None:
                raise ValueError(f"{path}: unsupported input format; supported: {SUPPORTED} (select files with a glob)")
            try:
                with open(path, "rb"):
                    st = os.stat(path)
            except PermissionError:
                raise PermissionError(f"input {path} is not readable (permission denied)") from None
            except OSError as exc:
                raise ValueError(f"input {path} cannot be read: {exc.strerror or exc}") from None
            fmt, compression = kind
            _check_extra(path, fmt, compression, text_field)
            files.append(InputFile(path, fmt, compression, st.st_size, st.st_mtime_ns))
    return files


def _check_extra(path: str, fmt: str, compression: str | None, text_field: str) -> None:
    if compression == "zst":
        try:
            import zstandard  # noqa: F401
        except ImportError:
            raise ValueError(f"{path}: reading .zst needs the zstandard package (pip install 'tokenmill[zstd]')") from None
    if fmt == "parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ValueError(f"{path}: reading .parquet needs pyarrow (pip install 'tokenmill[parquet]')") from None
        try:
            names = pq.read_schema(path).names
        except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
            raise ValueError(f"{path}: not a readable parquet file ({exc})") from None
        if text_field not in names:
            raise ValueError(f"{path}: no column {text_field!r} (columns: {names}); pass --text-field")


def open_stream(f: InputFile) -> tuple[IO[bytes], IO[bytes]]:
    """(raw file, decompressed byte stream); ``raw.tell()`` is the on-disk progress."""
    raw = open(f.path, "rb")  # noqa: SIM115 - the caller closes it
    if f.compression == "gz":
        import gzip

        return raw, gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if f.compression == "xz":
        import lzma

        return raw, lzma.LZMAFile(raw)  # type: ignore[return-value]
    if f.compression == "zst":
        import zstandard

        return raw, zstandard.ZstdDecompressor().stream_reader(raw, read_size=1 << 20, read_across_frames=True)  # type: ignore[return-value]
    return raw, raw


def decode_utf8(data: bytes, errors: str, where: str, offset: int) -> tuple[str, int]:
    """(text, replacements): strict first; on failure ``errors="strict"`` names the byte offset.

    >>> decode_utf8(b"caf\\xe9!", "replace", "x.txt", 0)
    ('caf\\ufffd!', 1)
    >>> decode_utf8(b"ok\\xff", "strict", "x.txt", 10)
    Traceback (most recent call last):
    ...
    ValueError: x.txt: invalid UTF-8 at byte offset 12 (byte 0xff); pass errors="replace" (--errors replace) to replace it with U+FFFD
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
    # A U+FFFD that was already in the input is not a replacement.
    return text, text.count("\ufffd") - data.count(b"\xef\xbf\xbd")


def incomplete_tail(data: bytes) -> int:
    """How many trailing bytes of ``data`` are an unfinished UTF-8 sequence (0-3)."""
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


# ---- turning inputs into tasks for the tokenizing workers -------------------------------------

BLOCK_BYTES = 1 << 20  # text per task: small enough to balance 2+ workers at the end of a run
DOC_BYTES = 4 << 20  # a .txt up to this size is one task; bigger ones are cut into pieces
HUGE_LINE_BYTES = 64 << 20  # a .jsonl line longer than this is parsed here and cut into pieces


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


def parse_jsonl_line(line: bytes, *, errors: str, text_field: str, where: str, offset: int) -> tuple[Any, int, str | None]:
    """(text or None, replacements, why the line is bad or None) for one .jsonl line.

    >>> parse_jsonl_line(b'{"text": "hi"}', errors="strict", text_field="text", where="a.jsonl:1", offset=0)
    ('hi', 0, None)
    >>> parse_jsonl_line(b'{"body": "hi"}', errors="strict", text_field="text", where="a.jsonl:1", offset=0)[2]
    "has no 'text' field (keys: ['body'])"
    """
    text, replacements = decode_utf8(line, errors, where, offset)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, replacements, f"is not valid JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(obj, dict):
        return None, replacements, f"is a JSON {type(obj).__name__}, not an object"
    if text_field not in obj:
        return None, replacements, f"has no {text_field!r} field (keys: {sorted(obj)[:8]})"
    value = obj[text_field]
    if not isinstance(value, str):
        return None, replacements, f"has a {text_field!r} that is {type(value).__name__}, not a string"
    return value, replacements, None


class _Cutter:
    """Cuts a growing text into pieces of about ``target`` chars at safe_cut() places.

    Text without a safe place is only buffered (a list: no quadratic re-concatenation);
    with a non-cuttable pattern everything is buffered until the document ends.
    """

    def __init__(self, cuttable: bool, target: int) -> None:
        self.cuttable, self.target = cuttable, target
        self.parts: list[str] = []
        self.size, self.has_cut = 0, False  # does the buffer hold a safe place past its start?

    @property
    def rest(self) -> str:
        return "".join(self.parts)

    def feed(self, text: str) -> list[str]:
        if self.cuttable and not self.has_cut:
            before = self.parts[-1][-1:] if self.parts else ""  # the look-behind char
            m = _CUT.search(before + text)
            self.has_cut = m is not None and (m.start() > 0 or bool(self.size))
        self.parts.append(text)
        self.size += len(text)
        if not self.has_cut or self.size < 2 * self.target:
            return []
        text = self.rest
        pieces, start = [], 0
        while len(text) - start >= 2 * self.target:
            cut = safe_cut(text, start + self.target, lo=start + 1)
            if cut == 0:  # none in the window: the first one after it
                m = _CUT.search(text, start + self.target)
                if m is None:
                    break
                cut = m.start()
            pieces.append(text[start:cut])
            start = cut
        self.parts, self.size = [text[start:]], len(text) - start
        self.has_cut = _CUT.search(text, start + 1) is not None
        return pieces


def _piece_tasks(pieces: list[str], index: int, ordinal: int, first: bool, last: bool, nbytes: int, repl: int, progress: int) -> Iterator[Task]:
    for j, piece in enumerate(pieces):
        yield Task("piece", index, ordinal, 0, piece, first and j == 0, last and j == len(pieces) - 1,
                   nbytes if j == 0 else 0, repl if j == 0 else 0, progress)


def iter_tasks(files: Sequence[InputFile], start: tuple[int, int], *, errors: str, text_field: str, cuttable: bool) -> Iterator[Task]:
    """Stream all inputs from position ``start`` (input index, ordinal) as tasks, in order."""
    done = sum(f.size for f in files[: start[0]])
    for index in range(start[0], len(files)):
        f = files[index]
        skip = start[1] if index == start[0] else 0
        try:
            if f.format == "parquet":
                yield from _parquet_tasks(f, index, skip, done, text_field)
            else:
                raw, stream = open_stream(f)
                with raw, stream:
                    reader = _jsonl_tasks if f.format == "jsonl" else _txt_tasks
                    where = lambda done=done, raw=raw: done + raw.tell()  # on-disk progress so far
                    yield from reader(f, index, skip, stream, where, errors=errors, text_field=text_field, cuttable=cuttable)
        except _read_errors() as exc:  # a truncated or corrupt file: say which
            raise ValueError(f"{f.path}: cannot read it ({type(exc).__name__}: {exc}); is the file complete?") from exc
        done += f.size


def _read_errors() -> tuple[type[BaseException], ...]:
    import lzma
    import zlib

    errors: list[type[BaseException]] = [OSError, EOFError, lzma.LZMAError, zlib.error]
    try:
        import zstandard

        errors.append(zstandard.ZstdError)
    except ImportError:
        pass
    return tuple(errors)


def _txt_tasks(f: InputFile, index: int, skip: int, stream: IO[bytes], progress: Any, *, errors: str, text_field: str, cuttable: bool) -> Iterator[Task]:
    if skip > 0:
        return
    head = stream.read(DOC_BYTES)
    more = stream.read(BLOCK_BYTES)
    if not more:
        yield Task("doc", index, 0, 0, head, progress=progress())
        return
    cutter, carry, offset, first = _Cutter(cuttable, BLOCK_BYTES), b"", 0, True
    nbytes = repl = 0  # input behind text not yet sent: charged to the next piece sent
    for block in _chain(head, more, stream):
        data = carry + block
        tail = incomplete_tail(data)
        data, carry = (data[:-tail], data[-tail:]) if tail else (data, b"")
        text, r = decode_utf8(data, errors, f.path, offset)
        offset, nbytes, repl = offset + len(data), nbytes + len(data), repl + r
        pieces = cutter.feed(text)
        if pieces:
            yield from _piece_tasks(pieces, index, 0, first, False, nbytes, repl, progress())
            first, nbytes, repl = False, 0, 0
    text, r = decode_utf8(carry, errors, f.path, offset) if carry else ("", 0)
    yield from _piece_tasks([cutter.rest + text], index, 0, first, True, nbytes + len(carry), repl + r, progress())


def _chain(head: bytes, more: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    yield head
    yield more
    yield from read_blocks(stream, BLOCK_BYTES)


def _jsonl_tasks(f: InputFile, index: int, skip: int, stream: IO[bytes], progress: Any, *, errors: str, text_field: str, cuttable: bool) -> Iterator[Task]:
    ordinal = offset = 0
    carry = b""
    blocks = read_blocks(stream, BLOCK_BYTES)
    for block in blocks:
        data = carry + block if carry else block
        end = data.rfind(b"\n") + 1
        if end == 0 and len(data) > HUGE_LINE_BYTES:
            parts = [data]
            for block in blocks:  # the rest of this huge line, however long
                parts.append(block)
                if b"\n" in block:
                    break
            data = b"".join(parts)
            end = data.find(b"\n") + 1 or len(data)
            if ordinal >= skip:
                yield from _huge_line(f, index, ordinal, offset, data[:end], progress(), errors=errors, text_field=text_field, cuttable=cuttable)
            ordinal, offset, carry = ordinal + 1, offset + end, data[end:]
            continue
        if end == 0:
            carry = data
            continue
        n = data.count(b"\n", 0, end)
        if ordinal + n > skip:
            yield Task("lines", index, ordinal, offset, data[:end], progress=progress())
        ordinal, offset, carry = ordinal + n, offset + end, data[end:]
    if carry and ordinal >= skip:
        yield Task("lines", index, ordinal, offset, carry, progress=progress())


def _huge_line(f: InputFile, index: int, ordinal: int, offset: int, line: bytes, progress: int, *, errors: str, text_field: str, cuttable: bool) -> Iterator[Task]:
    where = f"{f.path}, line {ordinal + 1}"
    text, repl, bad = parse_jsonl_line(line.rstrip(b"\n"), errors=errors, text_field=text_field, where=where, offset=offset)
    if bad is not None or not text:
        # Not a document to cut: let the worker count/report it like any other line.
        yield Task("lines", index, ordinal, offset, line, progress=progress)
        return
    cutter = _Cutter(cuttable, BLOCK_BYTES)
    pieces = cutter.feed(text) + [cutter.rest]
    yield from _piece_tasks(pieces, index, ordinal, True, True, len(line), repl, progress)


def _parquet_tasks(f: InputFile, index: int, skip: int, done: int, text_field: str) -> Iterator[Task]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(f.path)
    total = max(1, pf.metadata.num_rows)
    ordinal = 0
    for batch in pf.iter_batches(batch_size=1024, columns=[text_field]):
        column = batch.column(0)
        n = len(column)
        if ordinal + n > skip:
            nbytes = (pc.sum(pc.binary_length(column)).as_py() or 0) if n else 0
            progress = done + f.size * (ordinal + n) // total
            yield Task("texts", index, ordinal, 0, column.to_pylist(), nbytes=nbytes, progress=progress)
        ordinal += n

