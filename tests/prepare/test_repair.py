"""prepare: the command a store error advises rebuilds the store, from any directory."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import all_files, tm, write_jsonl

WORDS = "the of and a to in is you that it he was for on are as with his they I at be this".split()


def texts(n: int, seed: int = 0) -> list[str]:
    import random

    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 300))) for _ in range(n)]


def advised_prepare(stderr: str) -> list[str]:
    """The `tokenmill prepare ...` command an error advises, ready to run as written."""
    commands = re.findall(r"`(tokenmill prepare [^`]*)`", stderr)
    assert commands, f"no prepare command advised in: {stderr}"
    words = shlex.split(commands[-1])
    assert "INPUT" not in words, commands[-1]
    return [sys.executable, "-m", *words]


def _damage(store: Path, how: str) -> None:
    # Format 2 names shards by task: the second train shard, whatever task wrote it.
    train = sorted(p.name[: -len(".bin")] for p in store.glob("train-*.bin"))
    val = sorted(p.name[: -len(".bin")] for p in store.glob("val-*.bin"))
    if how == "flip a byte":
        with open(store / f"{train[1]}.bin", "r+b") as f:
            f.seek(10)
            byte = f.read(1)
            f.seek(10)
            f.write(bytes([byte[0] ^ 0xFF]))
    elif how == "truncate":
        with open(store / f"{train[1]}.bin", "r+b") as f:
            f.truncate(100)
    elif how == "index":
        offsets = np.fromfile(store / f"{val[0]}.idx", "<i8")
        offsets[1] = 10**9
        offsets.tofile(store / f"{val[0]}.idx")
    elif how == "delete":
        (store / f"{train[2]}.idx").unlink()


@pytest.mark.parametrize("how", ["flip a byte", "truncate", "index", "delete"])
def test_the_command_a_store_error_advises_repairs_it(tmp_path: Path, how: str) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", texts(80))
    store = tmp_path / "store"
    made = tm("prepare", str(src), "--out", str(store), "--shard-tokens", "2000", "--val-fraction", "0.2", "--quiet")
    assert made.returncode == 0, made.stderr
    good = all_files(store)
    _damage(store, how)
    check = tm("stats", str(store), "--verify")
    assert check.returncode == 1 and "FAILED" in check.stderr
    repair = subprocess.run(advised_prepare(check.stderr), capture_output=True, text=True, timeout=120)
    assert repair.returncode == 0 and "rebuilding" in repair.stderr, repair.stderr
    assert not repair.stdout.startswith("up to date")
    assert all_files(store) == good
    assert tm("stats", str(store), "--verify").returncode == 0
    if how in ("truncate", "index", "delete"):  # plain stats notices these too, with the same advice
        _damage(store, how)
        plain = tm("stats", str(store))
        assert plain.returncode == 2 and "Traceback" not in plain.stderr
        assert subprocess.run(advised_prepare(plain.stderr), capture_output=True, timeout=120).returncode == 0
        assert all_files(store) == good

def test_the_advice_works_from_anywhere_for_directory_and_glob_inputs(tmp_path: Path) -> None:
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    (work / "books" / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    for k, t in enumerate(texts(30)):
        (work / "books" / ("sub" if k % 2 else ".") / f"b{k:02d}.txt").write_text(t)
    write_jsonl(work / "extra-1.jsonl", texts(20, seed=2))
    args = ["prepare", "books", "extra-*.jsonl", "--out", "store", "--shard-tokens", "1500", "-t", "gpt2", "--quiet"]
    assert tm(*args, cwd=work).returncode == 0
    good = all_files(work / "store")
    _damage(work / "store", "flip a byte")
    check = tm("stats", str(work / "store"), "--verify", cwd=elsewhere)
    command = advised_prepare(check.stderr)
    assert str(work / "books") in command and str(work / "extra-*.jsonl") in command
    repair = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=elsewhere)
    assert repair.returncode == 0 and "rebuilding" in repair.stderr, repair.stderr
    assert all_files(work / "store") == good

def test_overwrite_rebuilds_and_verify_rereads(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", texts(30))
    store = tmp_path / "store"
    args = ["prepare", str(src), "--out", str(store), "--shard-tokens", "2000", "--quiet"]
    assert tm(*args).returncode == 0
    good = all_files(store)
    _damage(store, "flip a byte")
    again = tm(*args, "--overwrite")
    assert again.returncode == 0 and not again.stdout.startswith("up to date")
    assert all_files(store) == good
    verified = tm(*args, "--verify")
    assert verified.returncode == 0 and verified.stdout.startswith("up to date")


def test_a_deeply_nested_manifest_is_rebuilt_not_a_crash(tmp_path: Path) -> None:
    from tokenmill.prepare import prepare

    src = tmp_path / "a.txt"
    src.write_text("hello world")
    out = tmp_path / "s"
    prepare([src], out, workers=0, progress=False)
    want = (out / "manifest.json").read_bytes()
    (out / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.warns(UserWarning, match="nested too deeply"):
        prepare([src], out, workers=0, progress=False)
    assert (out / "manifest.json").read_bytes() == want
