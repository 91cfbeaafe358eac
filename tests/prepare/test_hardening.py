"""prepare under attack: links planted under its own names, scans per task, newer formats."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest

from tests.helpers import write_jsonl
from tokenmill.prepare import prepare


@pytest.mark.parametrize("name", [".unpacked", ".tasks"])
def test_a_link_planted_under_prepares_own_directory_name_is_never_followed(
    tmp_path: Path, cli, name: str  # noqa: ANN001 - the cli fixture
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "00000.jsonl").write_text('{"text":"x"}\n')
    (victim / "00000.json").write_text('{"keep": true}\n')
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(victim, out / name)
    src = tmp_path / "a.txt"
    src.write_text("hello world " * 50)
    done = cli("prepare", str(src), "--out", str(out), "--workers", "0", "--quiet")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in victim.iterdir()) == ["00000.json", "00000.jsonl"]  # nothing deleted there
    assert (victim / "00000.json").read_text() == '{"keep": true}\n'  # nor written through the link
    assert not (out / name).is_symlink()
    assert "symbolic link" in done.stderr


def test_links_planted_under_shard_and_lock_names_are_removed_as_links(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    secret = victim / "secret"
    secret.write_text("do not touch")
    out = tmp_path / "out"
    out.mkdir()
    for name in ("train-00000-00000.bin", "train-00000-00000.idx", ".tokenmill.lock", ".progress.json"):
        os.symlink(secret, out / name)
    src = write_jsonl(tmp_path / "a.jsonl", ["one two", "three"])
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        store = prepare([src], out, workers=0, progress=False)
    assert secret.read_text() == "do not touch" and sorted(p.name for p in victim.iterdir()) == ["secret"]
    assert not any(p.is_symlink() for p in out.iterdir())
    assert store["train"][:].tolist()[-1] == 50256


def _scans_of(out: Path, n_files: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many times a prepare of ``n_files`` inputs lists the store directory."""
    inputs = tmp_path / f"in{n_files}"
    inputs.mkdir()
    files = [write_jsonl(inputs / f"{i:04d}.jsonl", [f"doc {i}"]) for i in range(n_files)]
    count = [0]
    real_scandir, real_listdir = os.scandir, os.listdir

    def scandir(path: object = ".") -> object:
        count[0] += Path(os.fsdecode(path)).absolute() == out.absolute()
        return real_scandir(path)

    def listdir(path: object = ".") -> list[str]:
        count[0] += Path(os.fsdecode(path)).absolute() == out.absolute()
        return real_listdir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "listdir", listdir)
    try:
        prepare(files, out, workers=0, progress=False, shard_tokens=1)
    finally:
        monkeypatch.undo()
    return count[0]


def test_per_task_work_never_lists_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    few = _scans_of(tmp_path / "s10", 10, tmp_path, monkeypatch)
    many = _scans_of(tmp_path / "s40", 40, tmp_path, monkeypatch)
    assert few == many, (few, many)  # a scan per task: the run's time grew with the square of the tasks


def test_disk_full_before_any_task_finished_says_what_happened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli  # noqa: ANN001
) -> None:
    import errno

    from tokenmill.common import files

    real_write = files.AtomicFile.write

    def full(self: files.AtomicFile, data: object) -> None:
        if self.path.suffix == ".bin":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.tmp))
        real_write(self, data)

    monkeypatch.setattr(files.AtomicFile, "write", full)
    src = write_jsonl(tmp_path / "a.jsonl", ["one two three"])
    out = tmp_path / "new" / "store"
    done = cli("prepare", str(src), "--out", str(out), "--workers", "0", "--quiet")
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "disk of --out is full" in done.stderr and "No space left on device" in done.stderr
    assert "nothing was kept" in done.stderr
    assert "finished task" not in done.stderr.replace("no task had finished", "") and "every worker can write" not in done.stderr
    assert "shared file system" not in done.stderr
    assert not out.exists()


def test_a_store_of_a_newer_format_version_is_refused_not_rebuilt_as_an_older_one(tmp_path: Path, cli) -> None:  # noqa: ANN001
    from tokenmill.store.format import FORMAT_VERSION

    src = write_jsonl(tmp_path / "a.jsonl", ["one two", "three"])
    out = tmp_path / "s"
    assert cli("prepare", str(src), "--out", str(out), "--workers", "0", "--quiet").returncode == 0
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    done = cli("prepare", str(src), "--out", str(out), "--workers", "0", "--quiet")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert f"format version {FORMAT_VERSION + 1}" in done.stderr and "upgrade tokenmill" in done.stderr
    assert "--overwrite" in done.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # untouched
    again = cli("prepare", str(src), "--out", str(out), "--workers", "0", "--quiet", "--overwrite")
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "manifest.json").read_text())["format_version"] == FORMAT_VERSION


def test_the_temporary_directories_of_killed_local_rays_are_removed_and_no_others(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tokenmill.prepare.ray_executor import remove_stale_temp_dirs

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    made = {}
    for name, owner, age in [("tmraydead", pid, 1000), ("tmrayfresh", pid, 0), ("tmraylive", os.getpid(), 1000), ("tmrayother", None, 1000)]:
        d = tmp_path / name
        (d / "session").mkdir(parents=True)
        if owner is not None:
            (d / "tokenmill.pid").write_text(str(owner))
        os.utime(d, (os.path.getmtime(d) - age,) * 2)
        made[name] = d
    assert remove_stale_temp_dirs(str(tmp_path)) == [str(made["tmraydead"])]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmrayfresh", "tmraylive", "tmrayother"]


def test_links_planted_inside_prepares_own_directories_are_removed_as_links(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    secret = victim / "secret"
    secret.write_text("do not touch")
    src = write_jsonl(tmp_path / "a.jsonl", ["one two", "three"])
    out = tmp_path / "out"
    (out / ".tasks").mkdir(parents=True)
    for name in ("00000.json", f"00000.json.{os.getpid()}.tmp"):  # the record, and its temp name here
        os.symlink(secret, out / ".tasks" / name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prepare([src], out, workers=0, progress=False)
    assert secret.read_text() == "do not touch"
    assert any(".tasks/00000.json" in str(w.message) for w in caught)
