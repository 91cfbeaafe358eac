"""corpus: resolving inputs (unknown files skipped and counted, unreadable files refused)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import tm, write_jsonl
from tokenmill.corpus import inputs
from tokenmill.prepare import prepare


def test_unknown_files_in_a_directory_are_skipped_and_counted(tmp_path: Path) -> None:
    d = tmp_path / "books"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("one book")
    write_jsonl(d / "sub" / "b.jsonl", ["two", "three"])
    (d / "LICENSE").write_text("MIT")
    (d / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (d / "sub" / "cover.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    out = tmp_path / "store"
    done = tm("prepare", str(d), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "3 documents" in done.stdout and "3 files of unknown type skipped" in done.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stats"]["unknown_files_skipped"] == 3
    assert sorted(Path(p).name for p in manifest["skipped_inputs"]) == [".DS_Store", "LICENSE", "cover.png"]
    stats = tm("stats", str(out))
    assert re.search(r"files of unknown type skipped +3", stats.stdout), stats.stdout
    named = tm("prepare", str(d / "LICENSE"), "--out", str(tmp_path / "s2"))
    assert named.returncode == 2 and "LICENSE: unsupported input format" in named.stderr
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "LICENSE").write_text("MIT")
    empty = tm("prepare", str(tmp_path / "only"), "--out", str(tmp_path / "s3"))
    assert empty.returncode == 2 and "holds no file of a supported type" in empty.stderr
    assert not (tmp_path / "s2").exists() and not (tmp_path / "s3").exists()

def test_an_unreadable_input_is_a_one_line_error_even_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tokenmill.cli import main

    locked = write_jsonl(tmp_path / "b.jsonl", ["x"])
    real_open = open

    def deny(path: Any, *a: Any, **k: Any) -> Any:
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(inputs, "open", deny, raising=False)
    with pytest.raises(PermissionError, match=r"b\.jsonl is not readable \(permission denied\)"):
        prepare([locked], tmp_path / "s", progress=False)
    assert not (tmp_path / "s").exists()
    assert main(["prepare", str(locked), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "b.jsonl is not readable" in err and "Traceback" not in err
