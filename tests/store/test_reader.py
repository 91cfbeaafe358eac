"""store.reader: a tokenizer with another vocabulary is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import write_jsonl
from tokenmill.prepare import prepare
from tokenmill.store import TokenStore
from tokenmill.tokenizers import get_tokenizer

GPT2 = get_tokenizer("gpt2")


def _set_ranks_sha(out: Path, sha: str) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tokenizer"]["ranks_sha256"] == GPT2.ranks_sha256 is not None
    manifest["tokenizer"]["ranks_sha256"] = sha
    (out / "manifest.json").write_text(json.dumps(manifest))


def test_decode_refuses_a_tokenizer_with_another_ranks_sha256(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["hello world"])
    prepare([src], tmp_path / "s", workers=0, progress=False)
    assert TokenStore.open(tmp_path / "s").decode(0, 2) == "hello world"
    _set_ranks_sha(tmp_path / "s", "ab" * 32)
    with pytest.raises(ValueError, match=f"ranks sha256 {GPT2.ranks_sha256}.*made with {'ab' * 32}"):
        TokenStore.open(tmp_path / "s").decode(0, 2)
