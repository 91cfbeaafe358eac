"""`tokenmill train-tokenizer` on the command line (in this process): warnings name flags, skipped files are counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import write_jsonl

WORDS = "the quick brown fox jumps over the lazy dog and the slow cat sleeps by the warm fire "


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "many.jsonl", [WORDS * 3, WORDS * 2])


def test_warnings_of_train_tokenizer_name_flags(tmp_path: Path, corpus: Path, cli) -> None:
    done = cli("train-tokenizer", str(corpus), "--vocab-size", "5000", "--out", str(tmp_path / "t"), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "--min-frequency 2" in done.stderr and "min_frequency" not in done.stderr, done.stderr


def test_the_python_api_keeps_python_names(tmp_path: Path, corpus: Path) -> None:
    from tokenmill.training import train_tokenizer

    with pytest.raises(ValueError, match=r"^vocab_size=10 is too small"):
        train_tokenizer([corpus], tmp_path / "t", vocab_size=10)


def test_train_tokenizer_reports_skipped_files(tmp_path: Path, cli) -> None:
    folder = tmp_path / "books"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [WORDS * 5])
    (folder / "LICENSE").write_text("MIT")
    (folder / ".DS_Store").write_bytes(b"\x00\x01Bud1")
    done = cli("train-tokenizer", str(folder), "--vocab-size", "270", "--out", str(tmp_path / "tok"), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "skipped 2 files of unknown type" in done.stdout, done.stdout
    meta = json.loads((tmp_path / "tok" / "tokenmill-tokenizer.json").read_text())
    assert meta["trained_on"]["unknown_files_skipped"] == 2
    assert sorted(Path(p).name for p in meta["run"]["skipped_inputs"]) == [".DS_Store", "LICENSE"]
    clean = cli("train-tokenizer", str(folder / "a.jsonl"), "--vocab-size", "270", "--out", str(tmp_path / "t2"),
                "--quiet")
    assert clean.returncode == 0 and "skipped" not in clean.stdout, clean.stdout
