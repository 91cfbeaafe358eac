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


def test_demo_html_without_matplotlib_fails_before_printing(tmp_path, cli, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    done = cli("demo", "--html", str(tmp_path / "d.html"))
    assert done.returncode == 2 and "matplotlib" in done.stderr
    assert done.stdout == "" and not (tmp_path / "d.html").exists()


def test_demo_refuses_a_zip_before_importing_torch(tmp_path):
    import subprocess
    import sys

    archive = tmp_path / "c.zip"
    archive.write_bytes(b"PK\x03\x04" + bytes(200))
    code = (
        "import sys; from tokenmill.cli import main; code = main(['demo', sys.argv[1]]); "
        "print(code, 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(archive)], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["2", "False"], done.stderr
    assert "c.zip" in done.stderr and len(done.stderr.splitlines()) == 1
