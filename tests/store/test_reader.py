"""store.reader: a tokenizer with another vocabulary is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import set_ranks_sha256, write_jsonl
from tokenmill.prepare import prepare
from tokenmill.store import TokenStore
from tokenmill.tokenizers import get_tokenizer

GPT2 = get_tokenizer("gpt2")



def test_decode_refuses_a_tokenizer_with_another_ranks_sha256(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["hello world"])
    prepare([src], tmp_path / "s", workers=0, progress=False)
    assert TokenStore.open(tmp_path / "s").decode(0, 2) == "hello world"
    set_ranks_sha256(tmp_path / "s", "ab" * 32)
    with pytest.raises(ValueError, match=f"ranks sha256 {GPT2.ranks_sha256}.*made with {'ab' * 32}"):
        TokenStore.open(tmp_path / "s").decode(0, 2)
