"""Issue 13, prepare and stats as a new user meets them: repair, no litter, honest messages (each fails on the old code)."""

from __future__ import annotations

import dataclasses

import ast
import gzip
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tokenmill.common import progress as parallel
from tokenmill.corpus import readers
from tokenmill.prepare import PrepareOptions, prepare, tasks
from tokenmill.store import TokenStore
from tokenmill.tokenizers import get_tokenizer

SRC = Path(__file__).resolve().parents[1] / "src" / "tokenmill"
WORDS = "the of and a to in is you that it he was for on are as with his they I at be this".split()


def texts(n: int, seed: int = 0) -> list[str]:
    import random

    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 300))) for _ in range(n)]


def write_jsonl(path: Path, items: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in items))
    return path


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "tokenmill", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd)


def files_of(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file() and p.name != ".tokenmill.lock"}


def advised_prepare(stderr: str) -> list[str]:
    """The `tokenmill prepare ...` command an error advises, ready to run as written."""
    commands = re.findall(r"`(tokenmill prepare [^`]*)`", stderr)
    assert commands, f"no prepare command advised in: {stderr}"
    words = shlex.split(commands[-1])
    assert "INPUT" not in words, commands[-1]
    return [sys.executable, "-m", *words]


# ---- 1. the advice in a store error repairs the store ----------------------------------------------------


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
    made = cli("prepare", str(src), "--out", str(store), "--shard-tokens", "2000", "--val-fraction", "0.2", "--quiet")
    assert made.returncode == 0, made.stderr
    good = files_of(store)
    _damage(store, how)
    check = cli("stats", str(store), "--verify")
    assert check.returncode == 1 and "FAILED" in check.stderr
    repair = subprocess.run(advised_prepare(check.stderr), capture_output=True, text=True, timeout=120)
    assert repair.returncode == 0 and "rebuilding" in repair.stderr, repair.stderr
    assert not repair.stdout.startswith("up to date")
    assert files_of(store) == good
    assert cli("stats", str(store), "--verify").returncode == 0
    if how in ("truncate", "index", "delete"):  # plain stats notices these too, with the same advice
        _damage(store, how)
        plain = cli("stats", str(store))
        assert plain.returncode == 2 and "Traceback" not in plain.stderr
        assert subprocess.run(advised_prepare(plain.stderr), capture_output=True, timeout=120).returncode == 0
        assert files_of(store) == good


def test_the_advice_works_from_anywhere_for_directory_and_glob_inputs(tmp_path: Path) -> None:
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    (work / "books" / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    for k, t in enumerate(texts(30)):
        (work / "books" / ("sub" if k % 2 else ".") / f"b{k:02d}.txt").write_text(t)
    write_jsonl(work / "extra-1.jsonl", texts(20, seed=2))
    args = ["prepare", "books", "extra-*.jsonl", "--out", "store", "--shard-tokens", "1500", "-t", "gpt2", "--quiet"]
    assert cli(*args, cwd=work).returncode == 0
    good = files_of(work / "store")
    _damage(work / "store", "flip a byte")
    check = cli("stats", str(work / "store"), "--verify", cwd=elsewhere)
    command = advised_prepare(check.stderr)
    assert str(work / "books") in command and str(work / "extra-*.jsonl") in command
    repair = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=elsewhere)
    assert repair.returncode == 0 and "rebuilding" in repair.stderr, repair.stderr
    assert files_of(work / "store") == good


def test_overwrite_rebuilds_and_verify_rereads(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", texts(30))
    store = tmp_path / "store"
    args = ["prepare", str(src), "--out", str(store), "--shard-tokens", "2000", "--quiet"]
    assert cli(*args).returncode == 0
    good = files_of(store)
    _damage(store, "flip a byte")
    again = cli(*args, "--overwrite")
    assert again.returncode == 0 and not again.stdout.startswith("up to date")
    assert files_of(store) == good
    verified = cli(*args, "--verify")
    assert verified.returncode == 0 and verified.stdout.startswith("up to date")


# ---- 2. a failed run leaves no litter -------------------------------------------------------------------------


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
    done = cli("prepare", str(tmp_path / name), "--out", str(out), "--workers", "0", *options)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert not out.exists() and not out.parent.exists()  # nor the parent it made for it
    existing = tmp_path / "empty_dir"
    existing.mkdir()
    assert cli("prepare", str(tmp_path / name), "--out", str(existing), *options).returncode == 2
    assert list(existing.iterdir()) == []  # kept (not ours), and empty: no lock file


def test_a_corrupt_manifest_is_rebuilt_by_prepare(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", texts(20))
    args = ("prepare", str(src), "--out", str(tmp_path / "s"), "--shard-tokens", "1500", "--quiet")
    assert cli(*args).returncode == 0
    good = files_of(tmp_path / "s")
    (tmp_path / "s" / "manifest.json").write_text('{"format": "tokenmill-st')
    (tmp_path / "s" / "my-notes.txt").write_text("mine")
    stats = cli("stats", str(tmp_path / "s"))
    assert stats.returncode == 2 and "corrupt" in stats.stderr and "tokenmill prepare" in stats.stderr
    again = cli(*args)
    assert again.returncode == 0 and "rebuilding" in again.stderr, again.stderr
    assert files_of(tmp_path / "s") == {**good, "my-notes.txt": b"mine"}


def test_a_refused_folder_gets_no_lock_file(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["x"])
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("mine")
    done = cli("prepare", str(src), "--out", str(busy))
    assert done.returncode == 2 and "not empty" in done.stderr and "--overwrite" in done.stderr
    assert sorted(p.name for p in busy.iterdir()) == ["thesis.tex"]


# ---- 4. index invariants are checked whenever an index is read -------------------------------------------------


def test_a_corrupt_index_is_an_error_naming_the_file(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", texts(20))
    out = tmp_path / "store"
    prepare([src], out, workers=0, shard_tokens=1000, progress=False)
    for bad in ([0, 500, 100], [5, 10, 20]):  # offsets that fall back; a first offset that is not 0
        offsets = np.fromfile(out / "train-00000-00001.idx", "<i8")
        keep = offsets.copy()
        offsets[1 : 1 + len(bad) - 1] = bad[1:]
        offsets[0] = bad[0]
        offsets.tofile(out / "train-00000-00001.idx")
        store = TokenStore.open(out)  # sizes are right: open cannot tell
        for read in (lambda: store.document_offsets(), lambda: list(store.documents()), lambda: store.stats()):
            with pytest.raises(ValueError, match=r"train-00000-00001\.idx.*offsets"):
                read()
        done = cli("stats", str(out))
        assert done.returncode == 2 and "train-00000-00001.idx" in done.stderr and "-" not in done.stdout
        keep.tofile(out / "train-00000-00001.idx")
    last = np.fromfile(out / "train-00000-00000.idx", "<i8")
    last[-1] += 1  # does not end at the shard's size
    last.tofile(out / "train-00000-00000.idx")
    with pytest.raises(ValueError, match=r"train-00000-00000\.idx: offsets must start at 0 and end at n_tokens"):
        TokenStore.open(out).document_offsets()


# ---- 5. a store made with a tokenizer file keeps a copy of it ---------------------------------------------------


def _mini_ranks(path: Path) -> Path:
    gpt2 = get_tokenizer("gpt2")
    lines = Path(gpt2.ranks_path).read_bytes().splitlines()[:1000]  # every byte, then merges
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_a_store_made_with_a_tokenizer_file_decodes_from_anywhere(tmp_path: Path) -> None:
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    _mini_ranks(work / "mini.tiktoken")
    text = "hello world, the mini vocabulary"
    (work / "a.txt").write_text(text)
    done = cli("prepare", "a.txt", "-t", "mini.tiktoken", "--out", "store", "--workers", "0", "--quiet", cwd=work)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((work / "store" / "manifest.json").read_text())
    assert manifest["tokenizer"]["file"] == "tokenizer/mini.tiktoken"
    assert (work / "store" / "tokenizer" / "mini.tiktoken").read_bytes() == (work / "mini.tiktoken").read_bytes()
    (work / "mini.tiktoken").unlink()  # the original is gone: the store still decodes
    store = TokenStore.open(work / "store")
    assert store.tokenizer.max_token_value == 1000 and store.decode(0, store.num_tokens() - 1) == text
    stats = cli("stats", str(work / "store"), "--json", cwd=elsewhere)
    assert stats.returncode == 0 and json.loads(stats.stdout)["tokenizer_error"] is None
    assert cli("prepare", "a.txt", "-t", "store/tokenizer/mini.tiktoken", "--out", "s2", "--quiet", cwd=work).returncode == 0


def test_a_store_made_with_an_hf_tokenizer_json_decodes_elsewhere(tmp_path: Path) -> None:
    pytest.importorskip("tokenizers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"])
    hf.train_from_iterator(["hello world, hello tea"] * 50, trainer)
    hf.save(str(work / "hf-tokenizer.json"))
    write_jsonl(work / "a.jsonl", ["hello tea", "world hello"])
    done = cli("prepare", "a.jsonl", "--tokenizer", "hf-tokenizer.json", "--out", "store", "--quiet", cwd=work)
    assert done.returncode == 0, done.stderr
    (work / "hf-tokenizer.json").unlink()
    probe = "from tokenmill import TokenStore; print(TokenStore.open(%r).decode(0, 99))" % str(work / "store")
    decoded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=elsewhere, timeout=60)
    assert decoded.returncode == 0 and decoded.stdout == "hello tea<|endoftext|>world hello<|endoftext|>\n", decoded.stderr


def test_a_tokenizer_directory_is_copied_whole(tmp_path: Path) -> None:
    from tokenmill.prepare.coordinator import tokenizer_source as _tokenizer_source
    from tokenmill.store.bundled import copy_tokenizer

    src = tmp_path / "my-tok"
    (src / "sub").mkdir(parents=True)
    (src / "ranks.tiktoken").write_bytes(b"AA== 0\n")
    (src / "tokenizer.json").write_text("{}")
    (src / "sub" / "x.json").write_text("[1]")
    assert _tokenizer_source(str(src), object()) == str(src)
    assert _tokenizer_source("gpt2", get_tokenizer("gpt2")) is None
    store = tmp_path / "store"
    store.mkdir()
    assert copy_tokenizer(src, store) == "tokenizer/my-tok"
    copied = {p.relative_to(store / "tokenizer/my-tok").as_posix(): p.read_bytes() for p in (store / "tokenizer/my-tok").rglob("*") if p.is_file()}
    assert copied == {"ranks.tiktoken": b"AA== 0\n", "tokenizer.json": b"{}", "sub/x.json": b"[1]"}


# ---- 8. files of unknown type inside a directory are skipped and counted -----------------------------------------


def test_unknown_files_in_a_directory_are_skipped_and_counted(tmp_path: Path) -> None:
    d = tmp_path / "books"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("one book")
    write_jsonl(d / "sub" / "b.jsonl", ["two", "three"])
    (d / "LICENSE").write_text("MIT")
    (d / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (d / "sub" / "cover.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    out = tmp_path / "store"
    done = cli("prepare", str(d), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "3 documents" in done.stdout and "skipped 3 files of unknown type" in done.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stats"]["unknown_files_skipped"] == 3
    assert sorted(Path(p).name for p in manifest["skipped_inputs"]) == [".DS_Store", "LICENSE", "cover.png"]
    stats = cli("stats", str(out))
    assert re.search(r"files of unknown type skipped +3", stats.stdout), stats.stdout
    named = cli("prepare", str(d / "LICENSE"), "--out", str(tmp_path / "s2"))
    assert named.returncode == 2 and "LICENSE: unsupported input format" in named.stderr
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "LICENSE").write_text("MIT")
    empty = cli("prepare", str(tmp_path / "only"), "--out", str(tmp_path / "s3"))
    assert empty.returncode == 2 and "holds no file of a supported type" in empty.stderr
    assert not (tmp_path / "s2").exists() and not (tmp_path / "s3").exists()


# ---- 12. CLI errors name flags, read as English, and say things once ----------------------------------------------


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
    done = cli("prepare", str(src), "--out", str(tmp_path / "s"), *options)
    assert done.returncode == 2 and flag in done.stderr and python not in done.stderr, done.stderr


def test_input_errors_name_flags_and_read_well(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"text": "ok"}\nnot json\n')
    done = cli("prepare", str(bad), "--out", str(tmp_path / "s"), "--workers", "0")
    assert "pass --skip-bad-lines" in done.stderr and "skip_bad_lines" not in done.stderr, done.stderr
    bad.write_bytes(b'{"text": "tab\tinside"}\n')  # a raw control character inside a JSON string
    done = cli("prepare", str(bad), "--out", str(tmp_path / "s"), "--workers", "0")
    assert "Invalid control character at column" in done.stderr and "at at" not in done.stderr, done.stderr
    blank = tmp_path / "blank.jsonl"
    blank.write_text('\n{"text": ""}\n')
    done = cli("prepare", str(blank), "--out", str(tmp_path / "s"), "--workers", "0")
    assert "hold no documents (2 empty documents, " in done.stderr and "{" not in done.stderr, done.stderr


def test_warnings_name_flags_too(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["x"])
    done = cli("prepare", str(src), "--out", str(tmp_path / "s"), "--val-fraction", "0.001", "--workers", "0")
    assert done.returncode == 0 and "warning: --val-fraction 0.001 put none" in done.stderr, done.stderr
    assert "val_fraction" not in done.stderr and "raise --val-fraction" in done.stderr


def test_up_to_date_is_said_once(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["x"])
    args = ("prepare", str(src), "--out", str(tmp_path / "s"), "--workers", "0")
    assert cli(*args).returncode == 0
    again = cli(*args)
    assert again.returncode == 0 and (again.stdout + again.stderr).count("up to date") == 1


# ---- 13. the progress display: units that match the summary, no \r in logs, never glued onto an error ---------------


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
    done = cli("prepare", str(tmp_path / "a.jsonl.gz"), "--out", str(tmp_path / "s"), "--quiet")
    mb_text, mb_disk = len(data) / 1e6, (tmp_path / "a.jsonl.gz").stat().st_size / 1e6
    assert f"{mb_text:,.1f} MB of text, {mb_disk:,.1f} MB on disk" in done.stdout, done.stdout
    assert "MB/s of text" in done.stdout


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


# ---- 15. -t for prepare ------------------------------------------------------------------------------------------------


def test_prepare_takes_t_for_tokenizer(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["hello"])
    done = cli("prepare", str(src), "-t", "cl100k_base", "--out", str(tmp_path / "s"), "--quiet")
    if "not installed" in done.stderr:
        pytest.skip("cl100k_base is not installed here")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "s" / "manifest.json").read_text())["tokenizer"]["name"] == "cl100k_base"


# ---- 19. one direction per pair of modules ----------------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_no_import_circles_between_store_modules_and_no_stage_reaches_up() -> None:
    assert not any(m.startswith("tokenmill.store.reader") for m in _imports(SRC / "store" / "stats.py"))
    for stage in ("prepare", "store"):
        for path in (SRC / stage).glob("*.py"):
            reached = {m for m in _imports(path) if m.startswith("tokenmill.") and m.count(".") == 1}
            faces = {m for m in reached if not (SRC / f"{m.split('.')[1]}").exists() and not (SRC / f"{m.split('.')[1]}.py").exists()}
            assert not faces, f"{path.name} imports names from the package face: {faces}"
    import tokenmill
    from tokenmill._version import __version__

    assert tokenmill.__version__ == __version__
    assert f'version = "{__version__}"' in (SRC.parents[1] / "pyproject.toml").read_text()


def test_prepare_keyword_defaults_equal_the_options_dataclass() -> None:
    import dataclasses
    import inspect

    parameters = inspect.signature(prepare).parameters
    fields = {f.name: f.default for f in dataclasses.fields(PrepareOptions)}
    assert {k: p.default for k, p in parameters.items() if p.kind is p.KEYWORD_ONLY} == fields


def test_repair_advice_names_the_options_that_differ_from_their_defaults() -> None:
    defaults = PrepareOptions()
    assert defaults.command_words("gpt2") == []
    flags = {f.name: f.metadata["flag"] for f in dataclasses.fields(PrepareOptions)}
    assert set(defaults.manifest_options("gpt2")) <= set(flags)
    assert PrepareOptions(val_fraction=0.1, shard_tokens=5).command_words("gpt2") == [
        "--val-fraction", "0.1", "--shard-tokens", "5"
    ]
