"""Find, check and open the input files of ``tokenmill prepare``.

Inputs are files, directories (recursive, sorted path order) or globs, kept in the order
given. Formats: ``.txt`` (one file = one document), ``.jsonl`` (one document per line),
``.parquet`` (a string column); ``.txt``/``.jsonl`` may be compressed (``.gz``, ``.xz``,
``.zst``).

Each file also gets a *name*, its identity in the val split: a file argument's base name,
else the file's path relative to the directory argument (or to the fixed leading directory
of the glob) it was found in, with ``/`` separators. So ``x``, ``./x`` and ``/abs/x`` give
the same name and the same val split, whatever the working directory.

Pitfall: the format is taken from the file name alone; inside a directory, files of other
types are skipped and counted, while a file named explicitly must be of a supported type
(refused before any work starts). A file
reached twice (a directory and a glob over it, or a symlink) is read once, at its first
place, with a warning; symlinked directories are followed (a cycle is walked once).

>>> InputFile("a.jsonl.xz", "jsonl", "xz", 10, 0, "a.jsonl.xz").describe()["name"]
'a.jsonl.xz'
"""

from __future__ import annotations

import glob
import os
import stat
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from tokenmill.corpus.stores import refuse_store

TEXT_FORMATS = (".txt", ".jsonl")
COMPRESSIONS = {".gz": "gz", ".xz": "xz", ".zst": "zst"}
SUPPORTED = ".txt, .jsonl, .parquet, and .txt/.jsonl compressed with .gz, .xz or .zst"


@dataclass(frozen=True)
class InputFile:
    """One input file, as found when prepare starts."""

    path: str  # as given (or as expanded from a directory/glob); part of each document's identity
    format: str  # "txt", "jsonl" or "parquet"
    compression: str | None  # None, "gz", "xz" or "zst"
    size: int  # bytes on disk; a changed size or mtime means a changed input
    mtime_ns: int
    name: str = ""  # its identity in the val split (see the module docstring); "" -> path

    def describe(self) -> dict[str, Any]:
        """What the manifest records of this input (and compares on a rerun).

        ``path`` is the real path, so a rerun from another working directory, or with
        ``./x`` for ``x``, is the same store.
        """
        real = os.path.realpath(self.path)
        return {"path": real, "name": self.name or self.path, "size": self.size, "mtime_ns": self.mtime_ns}


def resolve_inputs(
    inputs: Sequence[str | os.PathLike[str]],
    *,
    text_field: str = "text",
    exclude: str | os.PathLike[str] | None = None,
    skipped: list[str] | None = None,
) -> list[InputFile]:
    """Expand, check and describe the inputs; every error is raised before any work starts.

    Pitfall: inside a directory (walked recursively) a file of unknown type (``LICENSE``,
    ``.DS_Store``, an image) is skipped and its path appended to ``skipped``, for the
    summary and the manifest; a file named explicitly (or matched by a glob) must have a
    supported format. ``exclude`` (prepare's ``--out``) and everything under it is
    skipped, so a store may live inside an input directory.

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
    skip = os.path.realpath(exclude) if exclude is not None else None
    seen: dict[str, str] = {}  # real path -> the path it was first found as
    for item in inputs:
        unknown: list[str] = []
        refuse_store(os.fspath(item))
        found = _expand(os.fspath(item), skip)
        for path, name, walked in found:
            real = os.path.realpath(path)
            if real in seen:
                again = "" if seen[real] == path else f" (as {seen[real]})"
                warnings.warn(
                    f"input {path} is already among the inputs{again}: overlapping inputs are read once",
                    stacklevel=2,
                )
                continue
            seen[real] = path
            kind = classify(path)
            if kind is None and walked:
                unknown.append(path)
                continue
            if kind is None:
                raise ValueError(
                    f"{path}: unsupported input format; supported: {SUPPORTED} (select files with a glob)"
                )
            try:
                st = os.stat(path)
                if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
                    raise ValueError(f"input {path} is not a regular file; give a text, .jsonl or .parquet file")
                with open(path, "rb") as fh:
                    head = fh.read(HEAD_BYTES)
            except PermissionError:
                raise PermissionError(f"input {path} is not readable (permission denied)") from None
            except OSError as exc:
                raise ValueError(f"input {path} cannot be read: {exc.strerror or exc}") from None
            fmt, compression = kind
            if fmt != "parquet" and compression is None:
                refuse_non_text(head, path)
            _check_extra(path, fmt, compression, text_field)
            files.append(InputFile(path, fmt, compression, st.st_size, st.st_mtime_ns, name))
        if unknown and len(unknown) == len(found):
            raise ValueError(
                f"input {os.fspath(item)} holds no file of a supported type ({SUPPORTED}); "
                f"{len(unknown)} other file{'' if len(unknown) == 1 else 's'} skipped, e.g. {unknown[0]}"
            )
        if skipped is not None:
            skipped += unknown
    return files


def absolute_arguments(inputs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str]) -> list[str]:
    """The input arguments made absolute, giving the same files under the same names from any directory.

    Recorded with a store so that repair advice is a command that works as written.
    Symlinks are kept (``abspath``, not ``realpath``): a file argument's name is its base name.

    >>> absolute_arguments(["/data/a.txt", "/data/books/*.txt"])
    ['/data/a.txt', '/data/books/*.txt']
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out = []
    for item in map(os.fspath, inputs):
        if "://" in item:  # a URL (s3://bucket/prefix) names the same objects from anywhere
            out.append(item)
        elif not os.path.exists(item) and glob.has_magic(item):
            root = _glob_root(item)  # matches are named relative to it: keep it, made absolute
            out.append(os.path.join(os.path.abspath(root), os.path.relpath(item, root)))
        else:
            out.append(os.path.abspath(item))
    return out


def classify(path: str) -> tuple[str, str | None] | None:
    """(format, compression) from the file name, or None if it is not a supported input."""
    name = os.path.basename(path).lower()
    stem, ext = os.path.splitext(name)
    compression = COMPRESSIONS.get(ext)
    if compression is not None:
        ext = os.path.splitext(stem)[1]
        return (ext[1:], compression) if ext in TEXT_FORMATS else None
    if ext in TEXT_FORMATS or ext == ".parquet":
        return ext[1:], None
    return None


def _expand(item: str, skip: str | None) -> list[tuple[str, str, bool]]:
    """(path, name, found by walking a directory) of one input argument's files, in order."""
    # An existing path wins over a glob: a file may have "*" or "[" in its name.
    if os.path.isdir(item):
        found = [(p, _name(p, item), True) for p in _walk(item, skip)]
        if not found:
            raise FileNotFoundError(f"input directory {item} holds no files")
        return found
    if os.path.exists(item):
        return [(item, os.path.basename(item), False)]
    if glob.has_magic(item):
        root = _glob_root(item)
        found = []
        for match in sorted(glob.glob(item, recursive=True)):
            if _under(match, skip):
                continue
            walked = os.path.isdir(match)
            paths = _walk(match, skip) if walked else [match]
            found += [(p, _name(p, root), walked) for p in paths if os.path.isfile(p)]
        if not found:
            raise FileNotFoundError(f"no input file matches the glob {item!r}")
        return found
    raise FileNotFoundError(f"input not found: {item}")


def _walk(top: str, skip: str | None) -> list[str]:
    """Every file under ``top`` in sorted path order; symlinked directories are followed once."""

    def fail(exc: OSError) -> None:  # os.walk would silently skip the directory
        raise PermissionError(
            f"input directory {exc.filename} cannot be listed ({exc.strerror or exc}); "
            "fix its permissions or leave it out of the inputs"
        ) from None

    found, visited = [], set()
    for root, dirs, files in os.walk(top, onerror=fail, followlinks=True):
        real = os.path.realpath(root)
        if real in visited or _under(root, skip):
            dirs[:] = []  # a symlink cycle, a directory reached twice, or the store itself
            continue
        visited.add(real)
        dirs.sort()
        found += (os.path.join(root, f) for f in files if not _under(os.path.join(root, f), skip))
    return sorted(found)


def _under(path: str, skip: str | None) -> bool:
    if skip is None:
        return False
    real = os.path.realpath(path)
    return real == skip or real.startswith(skip.rstrip(os.sep) + os.sep)


def _name(path: str, root: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


def _glob_root(pattern: str) -> str:
    """The leading directories of a glob that hold no wildcard ("." if none)."""
    head = pattern
    while glob.has_magic(head):
        head = os.path.dirname(head)
    return head or "."


HEAD_BYTES = 1 << 16  # the first bytes of an uncompressed input, checked for what it really is

# Leading bytes of formats that are not text, and the name that makes prepare read them.
MAGIC = (
    (b"\x1f\x8b", "gzip-compressed", ".gz"),
    (b"\xfd7zXZ\x00", "xz-compressed", ".xz"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", ".zst"),
    (b"PAR1", "a parquet file", ".parquet"),
    (b"PK\x03\x04", "a zip archive", None),
    (b"BZh", "bzip2-compressed", None),
)


def refuse_non_text(head: bytes, where: str) -> None:
    """ValueError if ``head`` (a file's first bytes) is compressed, an archive or binary.

    Why: a name that hides what a file is (``corpus.txt`` holding gzip data) must never
    become millions of U+FFFD tokens in a store.

    >>> refuse_non_text(b"\\x1f\\x8b\\x08\\x00", "a.jsonl")
    Traceback (most recent call last):
    ...
    ValueError: a.jsonl is gzip-compressed data, not text; name it for what it is (e.g. a.jsonl.gz) or decompress it
    """
    for magic, what, suffix in MAGIC:
        if head.startswith(magic):
            if suffix == ".parquet":
                fix = "name it .parquet"
            elif suffix:
                base = os.path.basename(where)
                named = base if base.lower().endswith((".txt", ".jsonl")) else base + ".txt"
                fix = f"name it for what it is (e.g. {named}{suffix}) or decompress it"
            else:
                fix = "unpack it first"
            raise ValueError(f"{where} is {what} data, not text; {fix}")
    nul = head.find(b"\x00")
    if nul >= 0:
        raise ValueError(
            f"{where} looks binary (a NUL byte at offset {nul}), not UTF-8 text; give a text file "
            f"(UTF-16 text: convert it with iconv -f UTF-16 -t UTF-8)"
        )


def _check_extra(path: str, fmt: str, compression: str | None, text_field: str) -> None:
    """Optional dependencies and the parquet column: checked now, not minutes into the run."""
    if compression == "zst":
        try:
            import zstandard  # noqa: F401
        except ImportError:
            raise ValueError(
                f"{path}: reading .zst needs the zstandard package (pip install 'tokenmill[zstd]')"
            ) from None
    if fmt == "parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ValueError(
                f"{path}: reading .parquet needs pyarrow (pip install 'tokenmill[parquet]')"
            ) from None
        try:
            names = pq.read_schema(path).names
        except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
            raise ValueError(f"{path}: not a readable parquet file ({exc})") from None
        if text_field not in names:
            raise ValueError(f"{path}: no column {text_field!r} (columns: {names}); pass --text-field")


def open_stream(f: InputFile) -> tuple[IO[bytes], IO[bytes]]:
    """(raw file, decompressed byte stream); ``raw.tell()`` is the on-disk progress.

    Pitfall: close both, the stream first (gzip and xz leave ``raw`` open); parquet is not
    read through a stream.
    """
    raw = open(f.path, "rb")  # noqa: SIM115 - the caller closes it
    if f.compression == "gz":
        import gzip

        return raw, gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if f.compression == "xz":
        import lzma

        return raw, lzma.LZMAFile(raw)  # type: ignore[return-value]
    if f.compression == "zst":
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_size=1 << 20, read_across_frames=True)
        return raw, reader  # type: ignore[return-value]
    return raw, raw


def read_errors() -> tuple[type[BaseException], ...]:
    """What reading a truncated or corrupt input raises, whatever its compression."""
    import lzma
    import zlib

    errors: list[type[BaseException]] = [OSError, EOFError, lzma.LZMAError, zlib.error]
    try:
        import zstandard

        errors.append(zstandard.ZstdError)
    except ImportError:
        pass
    return tuple(errors)
