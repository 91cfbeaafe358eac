"""`tokenize --max-tokens N` on a big file reads only the kept end, and keeps exactly what a whole read keeps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tokenmill.cli.textstream as textstream
from tokenmill.tokenizers import get_tokenizer

GPT2 = get_tokenizer("gpt2")
PIECES = ["the", " cat", "  ", "\n", "\n\n", " 吾輩は猫", "である。", "🙂", "123", "4567", "'s", "!!", " \t", "<|endoftext|>",
          "café", "\r\n", "x" * 40]


def write_big(path: Path, size: int) -> Path:
    line = "It was a bright cold day in April, and the clocks were striking thirteen. 吾輩は猫である。\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(line * (size // len(line.encode()) + 1))
    return path


@settings(max_examples=60)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=400), st.integers(1, 60), st.sampled_from(["first", "last"]),
       st.sampled_from([(), "all"]))
def test_the_kept_end_is_exactly_what_a_whole_read_keeps(tmp_path_factory, pieces, n, keep, allowed) -> None:
    text = "".join(pieces)
    assume(allowed == "all" or "<|endoftext|>" not in text)  # else the whole read refuses, as the CLI does
    path = tmp_path_factory.mktemp("s") / "t.txt"
    path.write_text(text, encoding="utf-8")
    old = textstream.FIRST_CHUNK
    textstream.FIRST_CHUNK = 16  # tiny chunks: many reads, cuts everywhere
    try:
        got = textstream.encode_end(str(path), GPT2, n, keep=keep, allowed_special=allowed)
    finally:
        textstream.FIRST_CHUNK = old
    whole = GPT2.encode(text, allowed_special=allowed)
    if got is not None:
        assert got.ids == (whole[:n] if keep == "first" else whole[-n:])


@pytest.mark.parametrize("keep", ["first", "last"])
def test_big_file_ids_match_and_say_what_was_read(tmp_path: Path, cli, keep: str) -> None:
    path = write_big(tmp_path / "big.txt", 2_000_000)
    done = cli("tokenize", "--file", str(path), "--max-tokens", "7", "--keep", keep, "--ids")
    assert done.returncode == 0, done.stderr
    whole = GPT2.encode(path.read_text(encoding="utf-8"))
    assert done.stdout.split() == [str(i) for i in (whole[:7] if keep == "first" else whole[-7:])]
    assert f"kept the {keep} 7 tokens" in done.stderr and "the rest was not tokenized" in done.stderr


def test_peak_memory_stays_small_on_a_big_file(tmp_path: Path) -> None:
    path = write_big(tmp_path / "big.txt", 40_000_000)
    work = (
        "import sys; from tokenmill.cli import main; "
        "sys.exit(main(['tokenize', '--file', sys.argv[1], '--max-tokens', '5', '--ids', '--keep', sys.argv[2]]))"
    )
    # ru_maxrss survives fork and exec: measured in a grandchild of a small Python, not of pytest.
    measure = (
        "import resource, subprocess, sys; "
        "done = subprocess.run([sys.executable, '-c', sys.argv[1], *sys.argv[2:]], stdout=subprocess.DEVNULL); "
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    for keep in ("first", "last"):
        done = subprocess.run([sys.executable, "-c", measure, work, str(path), keep],
                              capture_output=True, text=True, timeout=120)
        status, peak_kb = done.stdout.split()[-2:]
        assert status == "0", done.stderr
        # A whole read takes about 10x the file (400 MB here); streaming about what Python itself needs.
        assert int(peak_kb) < 200_000, (keep, peak_kb)


def test_help_says_which_end_is_kept(cli) -> None:
    shown = " ".join(cli("tokenize", "--help").stdout.split())
    assert "by default the LAST N" in shown and "(default: last)" in shown


def test_small_files_still_report_every_count(tmp_path: Path, cli) -> None:
    path = tmp_path / "s.txt"
    path.write_text("hello world " * 10)
    done = cli("tokenize", "--file", str(path), "--max-tokens", "3")
    assert done.returncode == 0 and "cut 18 tokens" in done.stdout, done.stdout


def test_a_binary_file_is_still_refused(tmp_path: Path, cli) -> None:
    path = tmp_path / "b.txt"
    path.write_bytes(b"\x1f\x8b\x08\x00" + bytes(300_000))
    done = cli("tokenize", "--file", str(path), "--max-tokens", "3")
    assert done.returncode == 2 and "gzip" in done.stderr
