"""prepare and train-tokenizer never tokenize compressed or binary bytes under a text name, nor hang on a FIFO."""

from __future__ import annotations

import gzip
import lzma
import os
from pathlib import Path

import pytest

from tests.helpers import tm as run  # the real entry point: a FIFO must not hang it


@pytest.mark.parametrize(
    "name, data, what",
    [
        ("corpus.txt", gzip.compress(b"hello world\n" * 50), "gzip-compressed"),
        ("corpus.jsonl", lzma.compress(b'{"text": "hello"}\n' * 50), "xz-compressed"),
        ("corpus.txt", b"PK\x03\x04" + b"\x00" * 40, "zip archive"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
    ],
)
@pytest.mark.parametrize("command", ["prepare", "train-tokenizer"])
def test_disguised_inputs_are_refused(tmp_path: Path, name: str, data: bytes, what: str, command: str) -> None:
    (tmp_path / name).write_bytes(data)
    extra = ["--vocab-size", "300"] if command == "train-tokenizer" else []
    done = run(command, name, "--out", "out", *extra, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert name in line and what in line
    assert not (tmp_path / "out").exists()


def test_disguised_file_inside_a_directory_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.jsonl").write_text('{"text": "fine"}\n')
    (d / "b.txt").write_bytes(gzip.compress(b"secret bytes\n" * 20))
    done = run("prepare", "d", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2 and "gzip-compressed" in done.stderr and "b.txt" in done.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_input_is_refused_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    done = run("prepare", "pipe.txt", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2 and "not a regular file" in done.stderr
