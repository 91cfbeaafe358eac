"""prepare's engines: a tokenizer that fails to load says why."""

from __future__ import annotations

from typing import Any

import pytest


def test_tiktoken_failures_are_not_all_called_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import tiktoken

    from tokenmill.tokenizers import bpe
    from tokenmill.tokenizers import ranks as vocab

    monkeypatch.setattr(vocab, "find_ranks_file", lambda spec: None)

    def boom(name: str) -> Any:
        raise RuntimeError("the encoding constructor broke")

    monkeypatch.setattr(tiktoken, "get_encoding", boom)
    with pytest.raises(ValueError, match="RuntimeError: the encoding constructor broke") as info:
        bpe._tiktoken_by_name("gpt2")
    assert "not installed" not in str(info.value)

    def offline(name: str) -> Any:
        raise ConnectionError("no network")

    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    with pytest.raises(ValueError, match="not installed.*ConnectionError"):
        bpe._tiktoken_by_name("gpt2")
