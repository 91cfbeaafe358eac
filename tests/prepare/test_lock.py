"""The store's lock: a finished store keeps no lock file, and two runs still exclude each other."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import write_jsonl
from tokenmill.prepare import lock, prepare
from tokenmill.prepare.lock import locked

LOCK = ".tokenmill.lock"


def test_a_finished_store_keeps_no_lock_file(tmp_path: Path, cli) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["hello"])
    for _ in range(2):  # made, then found up to date
        done = cli("prepare", str(src), "--out", str(tmp_path / "s"), "--quiet", "--workers", "0")
        assert done.returncode == 0 and not (tmp_path / "s" / LOCK).exists(), done.stderr
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["manifest.json", "train-00000-00000.bin", "train-00000-00000.idx"]


def test_a_run_holding_the_lock_excludes_another(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["x"])
    out = tmp_path / "s"
    out.mkdir()
    with locked(out):
        with pytest.raises(ValueError, match="another `tokenmill prepare` is writing to"):
            prepare([src], out, workers=0, progress=False)
        with pytest.raises(ValueError, match="another `tokenmill prepare` is writing to"), locked(out):
            pass
    assert prepare([src], out, workers=0, progress=False).manifest["stats"]["documents"] == 1


def test_a_run_that_locked_a_removed_lock_file_starts_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # B opens the lock file just before A, finishing, removes it; C then creates and locks a new
    # one. B's flock on the removed file succeeds: B must see that and lock the file there now,
    # which C holds, so B is refused: never two runs in one store.
    out = tmp_path / "s"
    out.mkdir()
    with locked(out):
        stale = os.open(out / LOCK, os.O_RDWR)  # B, racing
    assert not (out / LOCK).exists()
    real_open, opened = os.open, []

    def open_(path, flags, mode=0o777):  # type: ignore[no-untyped-def]
        opened.append(path)
        return stale if len(opened) == 1 else real_open(path, flags, mode)

    with locked(out):  # C
        monkeypatch.setattr(lock.os, "open", open_)
        with pytest.raises(ValueError, match="another `tokenmill prepare` is writing to"):
            with locked(out):  # B: its first open gives the removed file
                pass
        monkeypatch.undo()
    assert len(opened) == 2  # B looked again, found C's file
    with locked(out) as fd:  # and once C is done, a run gets in as before
        assert lock._names(out / LOCK, fd)
