"""Find, check and open the input files of ``tokenmill prepare``.

Inputs are files, directories (recursive, sorted path order) or globs, kept in the order
given. Formats: ``.txt`` (one file = one document), ``.jsonl`` (one document per line),
``.parquet`` (a string column); ``.txt``/``.jsonl`` may be compressed (``.gz``, ``.xz``,
``.zst``).

Pitfall: the format is taken from the file name alone, so select files with a glob when a
directory also holds other files; anything else is refused before any work starts.

>>> InputFile("a.jsonl.xz", "jsonl", "xz", 10, 0).describe()
{'path': 'a.jsonl.xz', 'size': 10, 'mtime_ns': 0}
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

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

    def describe(self) -> dict[str, Any]:
        """What the manifest records of this input (and compares on a rerun)."""
        return {"path": self.path, "size": self.size, "mtime_ns": self.mtime_ns}


def resolve_inputs(inputs: Sequence[str | os.PathLike[str]], *, text_field: str = "text") -> list[InputFile]:
    """Expand, check and describe the inputs; every error is raised before any work starts.

    Pitfall: a directory is walked recursively and every file in it must have a supported
    format; a glob keeps only files, so use one to pick files out of a mixed directory.

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
                raise ValueError(
                    f"{path}: unsupported input format; supported: {SUPPORTED} (select files with a glob)"
                )
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


def _classify(path: str) -> tuple[str, str | None] | None:
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


def _expand(item: str) -> list[str]:
    # An existing path wins over a glob: a file may have "*" or "[" in its name.
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
