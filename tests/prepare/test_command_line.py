"""tokenmill prepare on the command line: errors and warnings name flags, the progress display, the summary."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import tm, write_jsonl
from tokenmill.common import progress as parallel
from tokenmill.common.words import human_bytes
from tokenmill.prepare import tasks

WORDS = "the of and a to in is you that it he was for on are as with his they I at be this".split()


def texts(n: int, seed: int = 0) -> list[str]:
    import random

    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 300))) for _ in range(n)]


@pytest.mark.parametrize(
    "options, flag, python",
    [
        (["--val-fraction", "1.5"], "--val-fraction must be in [0, 1)", "val_fraction"),
        (["--workers", "-1"], "--workers must be >= 0", "None"),
        (["--shard-tokens", "0"], "--shard-tokens must be", "shard_tokens"),
    ],
)
def test_option_errors_name_the_flag(tmp_path: Path, options: list[str], flag: str, python: str) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["x"])
    done = tm("prepare", str(src), "--out", str(tmp_path / "s"), *options)
    assert done.returncode == 2 and flag in done.stderr and python not in done.stderr, done.stderr

def test_input_errors_name_flags_and_read_well(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"text": "ok"}\nnot json\n')
    done = tm("prepare", str(bad), "--out", str(tmp_path / "s"), "--workers", "0")
    assert "pass --skip-bad-lines" in done.stderr and "skip_bad_lines" not in done.stderr, done.stderr
    bad.write_bytes(b'{"text": "tab\tinside"}\n')  # a raw control character inside a JSON string
    done = tm("prepare", str(bad), "--out", str(tmp_path / "s"), "--workers", "0")
    assert "Invalid control character at column" in done.stderr and "at at" not in done.stderr, done.stderr
    blank = tmp_path / "blank.jsonl"
    blank.write_text('\n{"text": ""}\n')
    done = tm("prepare", str(blank), "--out", str(tmp_path / "s"), "--workers", "0")
    assert "hold no documents (2 empty documents skipped, 1 empty input file)" in done.stderr and "{" not in done.stderr, done.stderr

def test_warnings_name_flags_too(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["x"])
    done = tm("prepare", str(src), "--out", str(tmp_path / "s"), "--val-fraction", "0.001", "--workers", "0")
    assert done.returncode == 0 and "warning: --val-fraction 0.001 put none" in done.stderr, done.stderr
    assert "val_fraction" not in done.stderr and "raise --val-fraction" in done.stderr

def test_up_to_date_is_said_once(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["x"])
    args = ("prepare", str(src), "--out", str(tmp_path / "s"), "--workers", "0")
    assert tm(*args).returncode == 0
    again = tm(*args)
    assert again.returncode == 0 and (again.stdout + again.stderr).count("up to date") == 1

def test_progress_in_a_log_is_whole_lines_and_an_error_starts_its_own_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tokenmill.cli import main

    src = tmp_path / "late.jsonl"
    write_jsonl(src, texts(400))
    with open(src, "a") as f:
        f.write("not json\n")
    monkeypatch.setattr(parallel, "LINE_INTERVAL", 0.0)  # a line per update, to see them
    monkeypatch.setattr(tasks, "RANGE_BYTES", 4096)  # many tasks: updates before the error
    assert main(["prepare", str(src), "--out", str(tmp_path / "s"), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert any(line.startswith("prepare: ") and "MB of input on disk" in line for line in lines), err
    assert lines[-1].startswith("tokenmill prepare: error: ") and sum("error" in line for line in lines) == 1

def test_the_summary_names_text_and_disk_bytes(tmp_path: Path) -> None:
    data = "".join(json.dumps({"text": t}) + "\n" for t in texts(50)).encode()
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(data))
    done = tm("prepare", str(tmp_path / "a.jsonl.gz"), "--out", str(tmp_path / "s"), "--quiet")
    text, disk = human_bytes(sum(len(t.encode()) for t in texts(50))), human_bytes((tmp_path / "a.jsonl.gz").stat().st_size)
    assert f"{text} of text, {disk} on disk" in done.stdout, done.stdout  # the text: not the JSON around it
    assert "B/s of text" in done.stdout

def test_a_progress_bar_on_a_terminal_is_cleared_before_an_error(tmp_path: Path) -> None:
    import fcntl
    import os
    import pty
    import struct
    import termios

    src = tmp_path / "late.jsonl"
    write_jsonl(src, texts(3000))
    with open(src, "a") as f:
        f.write("not json\n")
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal 100 wide
    cmd = [sys.executable, "-m", "tokenmill", "prepare", str(src), "--out", str(tmp_path / "s"), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=60) == 2
    out = b"".join(chunks).decode(errors="replace")
    assert "prepare (input on disk)" in out  # the bar was there
    before = out[: out.index("tokenmill prepare: error")]
    assert before.endswith("\r"), f"the error is glued onto {before[-80:]!r}"
    last_line = before[:-1].rsplit("\r", 1)[-1]
    assert last_line.strip() == "", f"the bar is left above the error: {last_line!r}"  # cleared

def test_prepare_takes_t_for_tokenizer(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["hello"])
    done = tm("prepare", str(src), "-t", "cl100k_base", "--out", str(tmp_path / "s"), "--quiet")
    if "not installed" in done.stderr:
        pytest.skip("cl100k_base is not installed here")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "s" / "manifest.json").read_text())["tokenizer"]["name"] == "cl100k_base"
