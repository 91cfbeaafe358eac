"""prepare: a store made with a tokenizer file or directory keeps a copy and decodes anywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import small_hf_tokenizer, tm, write_jsonl
from tokenmill.store import TokenStore
from tokenmill.tokenizers import get_tokenizer


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
    done = tm("prepare", "a.txt", "-t", "mini.tiktoken", "--out", "store", "--workers", "0", "--quiet", cwd=work)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((work / "store" / "manifest.json").read_text())
    assert manifest["tokenizer"]["file"] == "tokenizer/mini.tiktoken"
    assert (work / "store" / "tokenizer" / "mini.tiktoken").read_bytes() == (work / "mini.tiktoken").read_bytes()
    (work / "mini.tiktoken").unlink()  # the original is gone: the store still decodes
    store = TokenStore.open(work / "store")
    assert store.tokenizer.max_token_value == 1000 and store.decode(0, store.num_tokens() - 1) == text
    stats = tm("stats", str(work / "store"), "--json", cwd=elsewhere)
    assert stats.returncode == 0 and json.loads(stats.stdout)["tokenizer_error"] is None
    assert tm("prepare", "a.txt", "-t", "store/tokenizer/mini.tiktoken", "--out", "s2", "--quiet", cwd=work).returncode == 0

def test_a_store_made_with_an_hf_tokenizer_json_decodes_elsewhere(tmp_path: Path) -> None:
    pytest.importorskip("tokenizers")

    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    small_hf_tokenizer(work / "hf-tokenizer.json")
    write_jsonl(work / "a.jsonl", ["hello tea", "world hello"])
    done = tm("prepare", "a.jsonl", "--tokenizer", "hf-tokenizer.json", "--out", "store", "--quiet", cwd=work)
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
