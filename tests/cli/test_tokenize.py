"""`tokenmill tokenize` and `tokenmill vocab` end to end, in this process (the real entry point
where only a process shows it: stdin, `python -m tokenmill`)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import tm


def test_ids(cli):
    r = cli("tokenize", "hello world", "--ids")
    assert r.returncode == 0 and r.stdout == "31373 995\n"


def test_table_is_plain_when_piped(cli):
    r = cli("tokenize", "Hello, world.")
    assert r.returncode == 0 and "\x1b[" not in r.stdout
    assert r.stdout.splitlines() == [
        "15496  'Hello'",
        "   11  ','",
        "  995  ' world'",
        "   13  '.'",
        "13 characters, 4 tokens, 3.25 bytes per token (gpt2)",
    ]
    coloured = cli("tokenize", "Hello, world.", "--color", "always")
    assert coloured.stdout.startswith("\x1b[") and "Hello" in coloured.stdout


def test_json_and_file(tmp_path, cli):
    f = tmp_path / "story.txt"
    f.write_text("I HAD always thought Jack Gisburn", encoding="utf-8")
    doc = json.loads(cli("tokenize", "--file", str(f), "--json").stdout)
    assert doc["ids"] == [40, 367, 2885, 1464, 1807, 3619, 402, 271, 10899]
    assert doc["n_tokens"] == 9 and doc["characters"] == 33 and doc["tokenizer"] == "gpt2"
    assert tm("tokenize", "--file", "-", "--ids", input="hello world").stdout == "31373 995\n"


def test_special_token_error_names_the_flag(cli):
    r = cli("tokenize", "a <|endoftext|>")
    assert r.returncode == 2 and "--allowed-special" in r.stderr and "Traceback" not in r.stderr
    ok = cli("tokenize", "a <|endoftext|>", "--ids", "--allowed-special", "<|endoftext|>")
    assert ok.stdout == "64 220 50256\n"


def test_max_tokens_cuts_and_says_so(cli):
    r = cli("tokenize", "one two three four five", "--max-tokens", "2")
    assert r.returncode == 0 and "cut 3 tokens" in r.stdout
    assert cli("tokenize", "one two three four five", "--max-tokens", "2", "--ids").stdout == "1440 1936\n"
    first = cli("tokenize", "one two three four five", "--max-tokens", "2", "--keep", "first", "--ids")
    assert first.stdout == "505 734\n"


def test_errors_are_messages_not_tracebacks(tmp_path, cli):
    r = cli("tokenize", "x", "--tokenizer", "nope")
    assert r.returncode == 2 and "known name" in r.stderr and "Traceback" not in r.stderr
    r = cli("tokenize")
    assert r.returncode == 2 and "--file" in r.stderr


@pytest.fixture
def vocab_in(tmp_path, cli, monkeypatch):
    """``vocab_in(cache)(*args)``: `tokenmill vocab ARGS` with only ``cache`` as tokenmill's cache."""
    for name in ("TOKENMILL_VOCAB_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken-cache"))  # gpt2 seeds it

    def using(cache):
        monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(cache))
        return lambda *a: cli("vocab", *a)

    return using


def test_vocab_install_and_list(tmp_path, vocab_in):
    from tokenmill import get_tokenizer

    src = get_tokenizer("gpt2").ranks_path
    env_cache = tmp_path / "cache"
    run = vocab_in(env_cache)
    r = run("install", "gpt2", "--from", str(src))
    assert r.returncode == 0 and "verified" in r.stdout
    assert (env_cache / "vocab" / "gpt2.tiktoken").is_file()
    assert "already installed" in run("install", "gpt2").stdout
    assert str(env_cache / "vocab" / "gpt2.tiktoken") in run("list").stdout
    bad = tmp_path / "bad.tiktoken"
    bad.write_text("aGk= 0\n")
    r = run("install", "r50k_base", "--from", str(bad), "--force")
    assert r.returncode == 2 and "expected sha256" in r.stderr


def test_help_has_examples(cli):
    r = cli("tokenize", "--help")
    assert r.returncode == 0 and "examples:" in r.stdout and "--ids" in r.stdout
    top = subprocess.run([sys.executable, "-m", "tokenmill", "--help"], capture_output=True, text=True)
    assert "tokenize" in top.stdout and "examples:" in top.stdout


def test_split_characters_show_as_bytes_and_stay_whole_in_colour(cli):
    r = cli("tokenize", "世")
    assert r.stdout.splitlines()[:2] == ["10310  b'\\xe4\\xb8'", "  244  b'\\x96'"]
    coloured = cli("tokenize", "héllo 世界", "--color", "always").stdout.splitlines()[0]
    assert "世" in coloured and "界" in coloured and "\ufffd" not in coloured


def test_invalid_utf8_file_is_reported(tmp_path, cli):
    f = tmp_path / "bad.txt"
    f.write_bytes(b"ab\xffcd")
    r = cli("tokenize", "--file", str(f), "--ids")
    assert r.returncode == 0 and r.stdout == "397 4210 10210\n"
    assert "not valid UTF-8" in r.stderr and "offset 2" in r.stderr and "1 invalid" in r.stderr


def test_max_tokens_reports_cut_in_every_mode(cli):
    r = cli("tokenize", "one two three", "--max-tokens", "2", "--ids")
    assert r.stdout == "734 1115\n" and "cut 1 tokens" in r.stderr
    doc = json.loads(cli("tokenize", "one two three", "--max-tokens", "2", "--json").stdout)
    assert (doc["n_tokens"], doc["n_kept"], doc["truncated"], doc["ids"]) == (3, 2, 1, [734, 1115])
    bad = cli("tokenize", "x", "--max-tokens", "0")
    assert bad.returncode == 2 and "--max-tokens must be >= 1, got 0" in bad.stderr


def test_damaged_cached_file_can_be_replaced(tmp_path, vocab_in):
    from tokenmill import get_tokenizer

    cache = tmp_path / "cache"
    (cache / "vocab").mkdir(parents=True)
    (cache / "vocab" / "gpt2.tiktoken").write_text("aGk= 0\n")
    run = vocab_in(cache)
    r = run("install", "gpt2")
    assert r.returncode == 2 and "--force" in r.stderr and "found d12e8797" in r.stderr
    r = run("install", "gpt2", "--force", "--from", str(get_tokenizer("gpt2").ranks_path))
    assert r.returncode == 0 and "verified" in r.stdout
