"""prepare's --out: refused folders, no litter after a failed run, a user's files never removed."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.helpers import all_files, tm, write_jsonl
from tokenmill.prepare import checkpoint, prepare

WORDS = "the of and a to in is you that it he was for on are as with his they I at be this".split()


def texts(n: int, seed: int = 0) -> list[str]:

    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 300))) for _ in range(n)]


@pytest.mark.parametrize(
    "name, content, options",
    [
        ("empty.txt", b"", []),
        ("broken.jsonl", b'{"text": "fine"}\nnot json\n', []),
        ("bad.jsonl", b'{"text": "bad \xff byte"}\n', ["--errors", "strict"]),
    ],
)
def test_a_failed_run_leaves_no_directory_it_created(tmp_path: Path, name: str, content: bytes, options: list[str]) -> None:
    (tmp_path / name).write_bytes(content)
    out = tmp_path / "new" / "store"
    done = tm("prepare", str(tmp_path / name), "--out", str(out), "--workers", "0", *options)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert not out.exists() and not out.parent.exists()  # nor the parent it made for it
    existing = tmp_path / "empty_dir"
    existing.mkdir()
    assert tm("prepare", str(tmp_path / name), "--out", str(existing), *options).returncode == 2
    assert list(existing.iterdir()) == []  # kept (not ours), and empty: no lock file

def test_a_corrupt_manifest_is_rebuilt_by_prepare(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", texts(20))
    args = ("prepare", str(src), "--out", str(tmp_path / "s"), "--shard-tokens", "1500", "--quiet")
    assert tm(*args).returncode == 0
    good = all_files(tmp_path / "s")
    (tmp_path / "s" / "manifest.json").write_text('{"format": "tokenmill-st')
    (tmp_path / "s" / "my-notes.txt").write_text("mine")
    stats = tm("stats", str(tmp_path / "s"))
    assert stats.returncode == 2 and "corrupt" in stats.stderr and "tokenmill prepare" in stats.stderr
    again = tm(*args)
    assert again.returncode == 0 and "rebuilding" in again.stderr, again.stderr
    assert all_files(tmp_path / "s") == {**good, "my-notes.txt": b"mine"}

def test_a_refused_folder_gets_no_lock_file(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["x"])
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("mine")
    done = tm("prepare", str(src), "--out", str(busy))
    assert done.returncode == 2 and "not empty" in done.stderr and "--overwrite" in done.stderr
    assert sorted(p.name for p in busy.iterdir()) == ["thesis.tex"]

def test_a_users_tmp_file_is_never_prepares(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["x", "y"])
    out = tmp_path / "s"
    out.mkdir()
    (out / "notes.tmp").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no token store"):
        prepare([src], out, workers=0, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["notes.tmp"]  # and no lock file dropped in it
    for overwrite in (True, False, True):  # write into it, rerun (up to date), rebuild
        prepare([src], out, workers=0, progress=False, overwrite=overwrite)
        assert (out / "notes.tmp").read_text() == "mine"
    assert not checkpoint.is_ours("notes.tmp") and not checkpoint.is_ours("train.tmp")
    assert not checkpoint.is_ours("x.123.tmp") and not checkpoint.is_ours("manifest.json.tmp")
    for name in ("train-00001.bin.tmp", "val-00000.idx.77.tmp", "manifest.json.9.tmp", ".progress.json.1.tmp"):
        assert checkpoint.is_ours(name), name
