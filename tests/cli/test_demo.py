"""`tokenmill demo` end to end (in this process): every stage printed, the book's shapes, errors that teach."""

from __future__ import annotations

import pytest


@pytest.fixture
def demo(cli):
    return lambda *args: cli("demo", *args)


def test_demo_on_builtin_sample(demo):
    r = demo()
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "1. Text (built-in sample): 1,190 characters" in out
    assert "2. Tokens (gpt2, vocabulary 50,257): 280 tokens" in out
    assert "'The'=464 ' Miller'=7920" in out
    assert "'The Miller' -> ' of'" in out
    assert "69 windows, 9 batches (8 of 8 windows, then 1 of 5)" in out
    assert "token embeddings    (8, 4, 256)" in out
    assert "position embeddings (4, 256)" in out
    assert "input embeddings    (8, 4, 256)" in out


def test_demo_on_the_verdict_matches_the_book(verdict_text, tmp_path, demo):
    story = tmp_path / "the-verdict.txt"
    story.write_text(verdict_text, encoding="utf-8")
    r = demo(str(story))
    assert r.returncode == 0, r.stderr
    # The book's first batch at batch 8, max_length 4, stride 4.
    assert "[   40,   367,  2885,  1464]" in r.stdout and "[ 1807,  3619,   402,   271]" in r.stdout
    assert "5,145 tokens" in r.stdout


def test_demo_flags(demo):
    r = demo("--batch-size", "2", "--max-length", "8", "--stride", "2", "--emb-dim", "16", "--positional", "sinusoidal")
    assert r.returncode == 0, r.stderr
    assert "inputs  (2, 8)" in r.stdout and "input embeddings    (2, 8, 16)" in r.stdout


def test_demo_too_little_text_says_what_to_lower(tmp_path, demo):
    short = tmp_path / "short.txt"
    short.write_text("Too short.", encoding="utf-8")
    r = demo(str(short))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "3 tokens" in r.stderr and "--max-length" in r.stderr and "max_length" not in r.stderr


def test_demo_bad_setting_fails_before_printing(demo):
    r = demo("--emb-dim", "0")
    assert r.returncode == 2 and r.stdout == "" and "--emb-dim must be >= 1, got 0" in r.stderr and "emb_dim" not in r.stderr
