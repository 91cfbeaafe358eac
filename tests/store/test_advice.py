"""Advice about stores: one line, true, and the command it suggests works as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.helpers import write_jsonl


def _store(tmp_path: Path, cli) -> tuple[Path, Path]:
    src = write_jsonl(tmp_path / "a.jsonl", ["hello world", "second document"])
    out = tmp_path / "s"
    assert cli("prepare", str(src), "--out", str(out), "--quiet", "--workers", "0").returncode == 0
    return src, out


def _one_error_line(done) -> str:  # type: ignore[no-untyped-def]
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


def _advised(message: str) -> list[str]:
    commands = re.findall(r"`(tokenmill [^`]+)`", message)
    assert commands, message
    return shlex.split(max(commands, key=len))[1:]


def test_stats_on_a_shard_advises_stats_on_its_store(tmp_path: Path, cli) -> None:
    _, out = _store(tmp_path, cli)
    shard = next(out.glob("*.bin"))
    err = _one_error_line(cli("stats", str(shard)))
    assert "is a file of the token store" in err and "tokenmill prepare" not in err, err
    assert cli(*_advised(err)).returncode == 0  # the advice works as written


def test_stats_on_a_file_prepare_refuses_does_not_advise_prepare(tmp_path: Path, cli) -> None:
    (tmp_path / "z.bin").write_bytes(b"\0\1")
    err = _one_error_line(cli("stats", str(tmp_path / "z.bin")))
    assert "--out" not in err and "not a token store directory" in err, err  # no command that prepare refuses
    src = write_jsonl(tmp_path / "c.jsonl", ["text"])
    err = _one_error_line(cli("stats", str(src)))  # a corpus file: prepare's advice, which works
    assert cli(*_advised(err), "--quiet", "--workers", "0").returncode == 0


def test_prepare_on_a_store_says_it_is_a_store(tmp_path: Path, cli) -> None:
    _, out = _store(tmp_path, cli)
    err = _one_error_line(cli("prepare", str(out), "--out", str(tmp_path / "t"), "--workers", "0"))
    assert f"input {out} is a token store" in err and ".tokenmill.lock" not in err and "supported type" not in err, err
    assert cli(*_advised(err)).returncode == 0
    assert not (tmp_path / "t").exists()


def test_a_deleted_manifest_is_not_called_an_interrupted_prepare(tmp_path: Path, cli) -> None:
    src, out = _store(tmp_path, cli)
    (out / "manifest.json").unlink()
    err = _one_error_line(cli("stats", str(out)))
    assert "manifest was deleted" in err and "interrupted there" not in err, err
    words = [str(src) if w == "INPUT" else w for w in _advised(err)]
    assert cli(*words, "--quiet", "--workers", "0").returncode == 0  # rebuilds it, no --overwrite needed
    assert cli("stats", str(out)).returncode == 0


def test_no_option_is_named_twice(tmp_path: Path, cli) -> None:
    src, out = _store(tmp_path, cli)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    errors = [
        cli("prepare", str(src), "--out", str(tmp_path / "full"), "--workers", "0").stderr,
        cli("prepare", str(src), "--out", str(out), "--seed", "3", "--workers", "0").stderr,
    ]
    for err in errors:
        assert err.count("--overwrite") == 1 and "(--overwrite)" not in err and "overwrite=" not in err, err
