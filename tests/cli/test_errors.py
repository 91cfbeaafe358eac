"""How every subcommand fails: one line naming the problem and the fix, the policy's exit status.

Exit status (the README's Reference > Command line): 2 when the user's input or options are
wrong, 1 when a run failed, 130 on Ctrl-C, 0 when stdout's reader went away. Library errors
name Python parameters; the command line shows the flags of the command that ran.

Unreadable paths must work as root too (chmod does not stop root): a FIFO (opening it would
wait for a writer forever) and a symlink loop (open raises ELOOP) are unreadable for everyone.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers import TOKENMILL, tm, write_jsonl

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01" + bytes(range(256))


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


def assert_one_line_error(r: subprocess.CompletedProcess[str], command: str, status: int = 2) -> str:
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
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


# ---- one bad input per subcommand: one line, the policy's exit status ------------------------------------------------

WORDS = "the quick brown fox jumps over the lazy dog and the slow cat sleeps by the warm fire "


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("corpus") / "many.jsonl", [WORDS * 3, WORDS * 2])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    from tokenmill.cli import main

    out = tmp_path_factory.mktemp("store") / "store"
    assert main(["prepare", str(corpus), "--out", str(out), "--quiet", "--workers", "0"]) == 0
    return out


EXIT_TABLE = [
    (["tokenize", "hello", "--max-tokens", "0"], 2, "--max-tokens must be >= 1, got 0"),
    (["vocab", "install", "gpt2", "--from", "{tmp}/none.tiktoken"], 2, "none.tiktoken: no such file"),
    (["demo", "--stride", "0"], 2, "--stride must be >= 1, got 0"),
    (["stats", "{tmp}/no-store"], 2, "no token store at"),
    (["report", "{store}", "-o", "{tmp}/r.html", "--top", "0"], 2, "--top must be >= 1, got 0"),
]


@pytest.mark.parametrize("argv, status, said", EXIT_TABLE, ids=[a[0] for a, _, _ in EXIT_TABLE])
def test_each_subcommand_fails_in_one_line_with_the_policy_status(argv, status, said, tmp_path, store, cli):
    r = cli(*[a.format(tmp=tmp_path, store=store) for a in argv])
    line = assert_one_line_error(r, argv[0], status)
    assert said in line, line


# ---- every message on the command line names the flag, not the Python parameter -------------------------------------


BAD_FLAGS = [
    (["tokenize", "hello", "--allowed-special", "bogus"], "--allowed-special", "allowed_special"),
    (["tokenize", "hello", "--max-tokens", "0"], "--max-tokens", "max_tokens"),
    (["demo", "--max-length", "0"], "--max-length", "max_length"),
    (["demo", "--max-length", "100000"], "--max-length", "max_length"),
    (["demo", "--stride", "0"], "--stride", "stride"),
    (["demo", "--batch-size", "0"], "--batch-size", "batch_size"),
    (["demo", "--emb-dim", "0"], "--emb-dim", "emb_dim"),
    (["demo", "--emb-dim", "-3"], "--emb-dim", "emb_dim"),
    (["train-tokenizer", "{corpus}", "--vocab-size", "10", "--out", "{tmp}/t"], "--vocab-size 10", "vocab_size"),
    (["train-tokenizer", "{corpus}", "--vocab-size", "300", "--out", "{tmp}/t", "--min-frequency", "-1"],
     "--min-frequency", "min_frequency"),
    (["train-tokenizer", "{corpus}", "--vocab-size", "300", "--out", "{tmp}/t", "--special-token", "a",
      "--special-token", "a"], "--special-token", "special_tokens"),
    (["stats", "{store}", "--top", "-1"], "--top", "top"),
    (["report", "{store}", "-o", "{tmp}/r.html", "--top", "0"], "--top", "top"),
    (["report", "{store}", "-o", "{tmp}/r.html", "--samples", "-1"], "--samples", "samples"),
]


@pytest.mark.parametrize("argv, flag, python", BAD_FLAGS, ids=lambda v: None)
def test_a_bad_flag_is_named_as_a_flag(tmp_path: Path, corpus: Path, store: Path, argv: list[str], flag: str,
                                       python: str, cli) -> None:
    argv = [a.format(corpus=corpus, store=store, tmp=tmp_path) for a in argv]
    done = cli(*argv)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert flag in done.stderr and not re.search(rf"(?<![\w-]){python}(?![\w-])", done.stderr), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_options_are_spelled_by_the_parser_that_ran() -> None:
    from tokenmill.cli import build_parser
    from tokenmill.cli.errors import spelling
    from tokenmill.common.errors import ExplainedError

    demo = build_parser()._subparsers._group_actions[0].choices["demo"]  # type: ignore[union-attr]
    said = ExplainedError("unknown tokenizer {0!r}; no such file; a stride of 4; pass --stride 2", "x")
    assert said.render(spelling(demo)) == "unknown tokenizer 'x'; no such file; a stride of 4; pass --stride 2"
    named = ExplainedError("{stride} must be >= 1; {max_length=5} and {max_length} + 1")
    assert named.render(spelling(demo)) == "--stride must be >= 1; --max-length 5 and --max-length + 1"
    assert str(named) == "stride must be >= 1; max_length=5 and max_length + 1"  # Python callers read Python
    spell = spelling(demo)
    assert (spell("file", None), spell("workers", "4")) == ("FILE", "workers=4")


# ---- the policy for failures nobody (or a subcommand) raised on purpose -----------------------------------------------


def _run_raising(exc: BaseException, **defaults: object) -> int:
    import argparse

    from tokenmill.cli.errors import run_command

    parser = argparse.ArgumentParser(prog="tokenmill probe")
    parser.add_argument("--val-fraction", type=float)

    def run(args: argparse.Namespace) -> int:
        raise exc

    return run_command(argparse.Namespace(command="probe", run=run, **defaults), parser)


class PanicException(BaseException):
    """As pyo3_runtime.PanicException (a Rust panic in an extension): a BaseException."""


@pytest.mark.parametrize(
    "exc, status, said",
    [
        (RuntimeError("2 tasks failed"), 1, "tokenmill probe: error: 2 tasks failed"),
        (OSError(28, "No space left on device", "/s/x.bin"), 1,
         "tokenmill probe: error: /s/x.bin: No space left on device; check the path and the disk"),
        (FileNotFoundError(2, "No such file or directory", "in.txt"), 2,
         "tokenmill probe: error: in.txt: No such file or directory; check the path"),
        (TypeError("bad type"), 2, "tokenmill probe: error: bad type"),
        (KeyboardInterrupt(), 130, "tokenmill probe: interrupted"),
        (KeyboardInterrupt("3 of 5 files done"), 130, "tokenmill probe: interrupted; 3 of 5 files done"),
        (KeyError("x"), 1, "tokenmill probe: error: KeyError: 'x'; rerun with TOKENMILL_DEBUG=1 to see where, and report it"),
        (PanicException("boom"), 1, "tokenmill probe: error: PanicException: boom; rerun with TOKENMILL_DEBUG=1"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else None,
)
def test_the_exit_status_policy(exc, status, said, capsys) -> None:
    assert _run_raising(exc) == status
    err = capsys.readouterr().err
    assert err.startswith(said) and len(err.splitlines()) == 1, err


def test_an_option_error_is_rendered_with_the_flag(capsys) -> None:
    from tokenmill.common.errors import OptionError

    err = OptionError("val_fraction", "{val_fraction} must be in [0, 1), got {0}; e.g. {val_fraction=0.01}", 1.5)
    assert _run_raising(err) == 2
    assert capsys.readouterr().err == "tokenmill probe: error: --val-fraction must be in [0, 1), got 1.5; e.g. --val-fraction 0.01\n"


def test_a_subcommand_says_what_a_failed_run_kept(capsys) -> None:
    def kept(args: object) -> str:
        return "the finished shards in out/ are kept: rerun the same command to resume"

    assert _run_raising(KeyboardInterrupt(), after_failure=kept) == 130
    assert capsys.readouterr().err == f"tokenmill probe: interrupted; {kept(None)}\n"
    assert _run_raising(RuntimeError("a worker died"), after_failure=kept) == 1
    assert capsys.readouterr().err == f"tokenmill probe: error: a worker died; {kept(None)}\n"


def test_broken_pipe_is_quiet_and_debug_shows_the_traceback(capsys, monkeypatch) -> None:
    monkeypatch.setattr("tokenmill.cli.errors._quiet_stdout", lambda: None)
    assert _run_raising(BrokenPipeError()) == 0 and capsys.readouterr().err == ""
    monkeypatch.setenv("TOKENMILL_DEBUG", "1")
    with pytest.raises(KeyError):
        _run_raising(KeyError("x"))


def test_warnings_are_one_line_with_flags(capsys) -> None:
    import argparse
    import warnings

    from tokenmill.cli.errors import run_command
    from tokenmill.common.errors import ExplainedError

    parser = argparse.ArgumentParser()
    parser.add_argument("--min-frequency", type=int)

    def run(args: argparse.Namespace) -> int:
        warnings.warn(ExplainedError("only 3 merges; lower {min_frequency=2}"), stacklevel=1)
        warnings.warn("plain words", stacklevel=1)
        return 0

    assert run_command(argparse.Namespace(command="probe", run=run), parser) == 0
    assert capsys.readouterr().err.splitlines() == [
        "tokenmill probe: warning: only 3 merges; lower --min-frequency 2",
        "tokenmill probe: warning: plain words",
    ]


def test_stdout_closed_early_is_not_an_error(tmp_path: Path) -> None:
    story = tmp_path / "long.txt"
    story.write_text("word " * 200_000, encoding="utf-8")
    done = subprocess.run(f'"{TOKENMILL}" tokenize --file "{story}" | head -1', shell=True,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
