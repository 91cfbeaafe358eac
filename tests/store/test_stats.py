"""store.stats: what is missing is explained."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import set_ranks_sha256, write_jsonl
from tokenmill.prepare import prepare
from tokenmill.store import TokenStore
from tokenmill.tokenizers import get_tokenizer

GPT2 = get_tokenizer("gpt2")



def test_stats_say_why_token_texts_are_missing(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["hello world"])
    prepare([src], tmp_path / "s", workers=0, progress=False)
    set_ranks_sha256(tmp_path / "s", "0" * 64)
    stats = TokenStore.open(tmp_path / "s").stats(top_k=3)
    assert stats["total"]["top_tokens"][0]["text"] is None
    assert "ranks sha256" in stats["tokenizer_error"] and "0" * 64 in stats["tokenizer_error"]
    from tokenmill.cli.stats_cmd import format_table

    assert "token texts not shown" in format_table(stats) and "ranks sha256" in format_table(stats)
