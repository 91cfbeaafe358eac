"""Every subcommand on bad paths: one line naming the problem and the fix, exit 2, no traceback.

Unreadable paths must work as root too (chmod does not stop root): a FIFO (opening it would
wait for a writer forever) and a symlink loop (open raises ELOOP) are unreadable for everyone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TOKENMILL = Path(sys.executable).with_name("tokenmill")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01" + bytes(range(256))


def tm(*args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point, in a process of its own."""
    # The timeout turns a hang (a FIFO opened for reading) into a failure, not a stuck suite.
    return subprocess.run([str(TOKENMILL), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def bad_paths(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("hello", encoding="utf-8")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.txt"
    loop.symlink_to(loop)  # open() raises ELOOP, for root as well
    binary = tmp_path / "image.png"
    binary.write_bytes(PNG)
    binary_txt = tmp_path / "data.txt"  # binary under a text name
    binary_txt.write_bytes(PNG)
    paths = {
        "directory": folder,
        "missing": tmp_path / "no-such-file.txt",
        "fifo": fifo,
        "loop": loop,
        "binary": binary,
        "binary_txt": binary_txt,
    }
    if os.geteuid() != 0:
        locked = tmp_path / "locked.txt"
        locked.write_text("secret", encoding="utf-8")
        locked.chmod(0)
        paths["locked"] = locked
    return paths


def _argv(command: str, path: Path, out: Path) -> list[str]:
    return {
        "tokenize": ["tokenize", "--file", str(path)],
        "demo": ["demo", str(path)],
        "vocab": ["vocab", "install", "gpt2", "--from", str(path)],
        "prepare": ["prepare", str(path), "--out", str(out)],
        "stats": ["stats", str(path)],
    }[command]


def assert_one_line_error(r: subprocess.CompletedProcess[str], command: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"tokenmill {command}: error: "), lines[0]
    return lines[0]


# What the message of tokenize/demo says, per kind of bad path: the problem, then the fix.
EXPECTED = {
    "directory": ("is a directory", "tokenmill prepare"),
    "missing": ("no such file", "check the path"),
    "fifo": ("not a regular file", "pipe the text in with - as the file name"),
    "loop": ("cannot open it", "check the path"),
    "binary": ("binary", "text file"),
    "binary_txt": ("binary", "text file"),
    "locked": ("permission denied", "chmod"),
}


@pytest.mark.parametrize("command", ["tokenize", "demo"])
def test_reading_commands_name_the_problem_and_the_fix(command, bad_paths, tmp_path, cli):
    for kind, path in bad_paths.items():
        line = assert_one_line_error(cli(*_argv(command, path, tmp_path / "out")), command)
        problem, fix = EXPECTED[kind]
        assert str(path) in line and problem in line and fix in line, (kind, line)


def test_vocab_install_from_a_bad_path(bad_paths, tmp_path, cli, monkeypatch):
    env_dir = tmp_path / "cache"
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(env_dir))
    for kind, path in bad_paths.items():
        line = assert_one_line_error(cli(*_argv("vocab", path, tmp_path)), "vocab")
        assert path.name in line, (kind, line)
    assert not (env_dir / "vocab" / "gpt2.tiktoken").exists()


def test_end_to_end_a_directory_and_a_fifo_fail_in_one_line(bad_paths):
    for argv in (["demo", str(bad_paths["directory"])], ["tokenize", "-f", str(bad_paths["fifo"])]):
        line = assert_one_line_error(tm(*argv), argv[0])
        assert "is a directory" in line or "not a regular file" in line


@pytest.mark.parametrize("command", ["prepare", "stats"])
def test_store_commands_fail_in_one_line(command, bad_paths, tmp_path, cli):
    for kind, path in bad_paths.items():
        if command == "prepare" and kind in ("directory", "binary_txt"):
            continue  # valid prepare inputs (a .txt is read with --errors replace by default)
        assert_one_line_error(cli(*_argv(command, path, tmp_path / "out")), command)


def test_compressed_bytes_under_a_text_name_are_refused(tmp_path, cli):
    import gzip

    story = tmp_path / "story.txt"
    story.write_bytes(gzip.compress(b"The miller walked down to the river."))
    for command in ("tokenize", "demo"):
        line = assert_one_line_error(cli(*_argv(command, story, tmp_path)), command)
        assert "gzip-compressed data, not text" in line and "story.txt.txt.gz" not in line
        assert ".gz" in line


def test_an_unknown_error_is_still_one_line(tmp_path, cli):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe not json")
    line = assert_one_line_error(cli("tokenize", "hi", "--tokenizer", str(bad)), "tokenize")
    assert "bad.json" in line


@pytest.mark.parametrize(
    "argv",
    [
        ["tokenize", "hi", "--bogus"],
        ["demo", "--bogus"],
        ["stats", "store", "--bogus"],
        ["prepare", "in.txt", "--out", "x", "--bogus"],
        ["vocab", "install", "gpt2", "--bogus"],
        ["vocab", "list", "--bogus"],
    ],
)
def test_unknown_flag_shows_the_subcommands_usage(argv, cli):
    r = cli(*argv)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    command = " ".join(a for a in argv[:2] if a in ("tokenize", "demo", "stats", "prepare", "vocab", "install", "list"))
    assert f"usage: tokenmill {command} " in r.stderr, r.stderr
    assert f"tokenmill {command}: error: unrecognized arguments: --bogus" in r.stderr
    assert "usage: tokenmill [-h]" not in r.stderr
