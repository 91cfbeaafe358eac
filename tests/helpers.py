"""Helpers the test modules share: the real entry point, small corpora written to tmp_path.

Import them as ``from tests.helpers import tm, write_jsonl`` (the suite's root is on sys.path
through ``conftest.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TOKENMILL = Path(sys.executable).with_name("tokenmill")


def tm(*args: str, cwd: Path | None = None, input: str | None = None, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """The real ``tokenmill`` entry point, in a process of its own.

    The timeout turns a hang (a FIFO opened for reading, a stuck pool) into a failure, not a
    stuck suite. Prefer the in-process ``cli`` fixture; use this for what only a real process
    shows (exit on a signal, stdout closed early, the console script itself).
    """
    import os

    environment = {**os.environ, **env} if env else None
    return subprocess.run(
        [str(TOKENMILL), *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, input=input, env=environment
    )


def write_jsonl(path: Path, texts: list[str], field: str = "text") -> Path:
    """One ``{field: text}`` object per line."""
    path.write_text("".join(json.dumps({field: t}) + "\n" for t in texts), encoding="utf-8")
    return path


def all_files(directory: Path) -> dict[str, bytes]:
    """Every file of a store by name (the lock aside): compare two stores byte for byte."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file() and p.name != ".tokenmill.lock"}


def set_ranks_sha256(store: Path, sha: str) -> None:
    """Make a GPT-2 store's manifest claim another vocabulary (what a store from elsewhere may hold)."""
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["tokenizer"]["ranks_sha256"] is not None
    manifest["tokenizer"]["ranks_sha256"] = sha
    (store / "manifest.json").write_text(json.dumps(manifest))


def small_hf_tokenizer(path: Path) -> object:
    """A byte-level BPE ``tokenizer.json`` of 300 tokens (``<|endoftext|>`` = 0) saved at ``path``; the tokenizer.

    Needs the ``tokenizers`` package (callers skip without it).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    hf.train_from_iterator(["hello world, hello tea"] * 50, trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"]))
    hf.save(str(path))
    return hf
