"""Flags as users type them: -o for every output, no silent abbreviations, "did you mean"."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write_jsonl


def test_prepare_takes_o_for_out(tmp_path: Path, cli) -> None:
    src = write_jsonl(tmp_path / "c.jsonl", ["hello world", "a second document"])
    done = cli("prepare", str(src), "-o", str(tmp_path / "store"), "--workers", "0", "--quiet")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "store" / "manifest.json").is_file()


def test_o_is_listed_in_help_and_in_the_missing_flag_message(cli) -> None:
    for command in ("prepare", "train-tokenizer"):
        assert "-o DIR" in cli(command, "--help").stdout, command
    done = cli("prepare", "x.jsonl")
    assert done.returncode == 2 and "-o" in done.stderr
    for argv in (["tokenize", "--help"], ["demo", "--help"], ["report", "--help"]):
        assert "-o OUT.html" in cli(*argv).stdout, argv


def test_tokenize_o_writes_the_page(tmp_path: Path, cli) -> None:
    done = cli("tokenize", "hello world", "-o", str(tmp_path / "t.html"))
    assert done.returncode == 0 and (tmp_path / "t.html").is_file(), done.stderr


def test_abbreviated_flags_are_errors_with_the_flag_meant(tmp_path: Path, cli) -> None:
    src = write_jsonl(tmp_path / "c.jsonl", ["hello world"])
    done = cli("prepare", str(src), "--out", str(tmp_path / "s"), "--worker", "2")
    assert done.returncode == 2 and not (tmp_path / "s").exists()
    assert "unrecognized arguments: --worker 2" in done.stderr and "did you mean '--workers'?" in done.stderr
    done = cli("tokenize", "hi", "--max-tok", "3")
    assert done.returncode == 2 and "did you mean '--max-tokens'?" in done.stderr
    done = cli("stats", str(tmp_path), "--ver")
    assert done.returncode == 2 and "--verify" in done.stderr


@pytest.mark.parametrize(("typed", "meant"), [("tokenise", "tokenize"), ("reprot", "report"), ("stat", "stats"),
                                              ("train-tokeniser", "train-tokenizer")])
def test_a_mistyped_subcommand_gets_a_suggestion(cli, typed: str, meant: str) -> None:
    done = cli(typed, "x")
    assert done.returncode == 2 and f"did you mean '{meant}'?" in done.stderr


def test_mistyped_choices_get_a_suggestion(cli) -> None:
    done = cli("vocab", "instal", "gpt2")
    assert done.returncode == 2 and "did you mean 'install'?" in done.stderr
    done = cli("tokenize", "hi", "--keep", "frist", "--max-tokens", "1")
    assert done.returncode == 2 and "did you mean 'first'?" in done.stderr


@pytest.mark.parametrize(("typed", "meant"), [("gpt-2", "gpt2"), ("cl100k", "cl100k_base"), ("GPT2", "gpt2"),
                                              ("o200k", "o200k_base"), ("cl100k-base", "cl100k_base")])
def test_a_mistyped_tokenizer_name_gets_a_suggestion(cli, typed: str, meant: str) -> None:
    done = cli("tokenize", "hi", "--tokenizer", typed)
    assert done.returncode == 2 and f"(did you mean {meant}?)" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_no_suggestion_when_nothing_is_close(cli) -> None:
    done = cli("tokenize", "hi", "--tokenizer", "banana")
    assert done.returncode == 2 and "did you mean" not in done.stderr


def test_vocab_install_and_color_have_help_and_examples(cli) -> None:
    shown = cli("vocab", "install", "--help").stdout
    assert "examples:" in shown and "tokenmill vocab install gpt2" in shown and "NAME" in shown
    assert "sha256" in shown
    assert "examples:" in cli("vocab", "list", "--help").stdout
    shown = cli("tokenize", "--help").stdout
    assert "--color {auto,always,never}" in shown and "--color always" in shown
    assert "stdout is a terminal" in " ".join(shown.split())


def test_every_parser_refuses_abbreviations() -> None:
    import argparse

    from tokenmill.cli.app import build_parser

    def parsers(p: argparse.ArgumentParser):
        yield p
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    yield from parsers(child)

    found = list(parsers(build_parser()))
    assert len(found) >= 10 and all(not p.allow_abbrev for p in found)
