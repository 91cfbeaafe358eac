"""store.stats: what is missing is explained."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_stats_say_why_token_texts_are_missing(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["hello world"])
    prepare([src], tmp_path / "s", workers=0, progress=False)
    _set_ranks_sha(tmp_path / "s", "0" * 64)
    stats = TokenStore.open(tmp_path / "s").stats(top_k=3)
    assert stats["total"]["top_tokens"][0]["text"] is None
    assert "ranks sha256" in stats["tokenizer_error"] and "0" * 64 in stats["tokenizer_error"]
    from tokenmill.cli.stats_cmd import format_table

    assert "token texts not shown" in format_table(stats) and "ranks sha256" in format_table(stats)
