"""tokenizers: a tokenizer.json that makes the Rust library panic; the whole definition's hash (ranks, pattern, specials)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from tests.helpers import tm
from tokenmill.tokenizers import get_tokenizer

GPT2_DEFINITION = "1d7f58071ae1790f80e4f099cc3face0d20278080d484ce6ab42c1ddb166b327"


def panicking_tokenizer_json(path: Path) -> Path:
    """A tokenizer.json whose Precompiled normalizer the `tokenizers` library panics on (a BaseException)."""
    pytest.importorskip("tokenizers")
    charsmap = base64.b64encode(b"\xff\xff\xff\x7fgarbage").decode()
    path.write_text(
        json.dumps(
            {
                "version": "1.0",
                "normalizer": {"type": "Precompiled", "precompiled_charsmap": charsmap},
                "model": {"type": "WordLevel", "vocab": {"a": 0, "[UNK]": 1}, "unk_token": "[UNK]"},
            }
        )
    )
    return path


def test_a_panicking_tokenizer_json_is_one_value_error_naming_the_file(tmp_path: Path, capfd) -> None:
    bad = panicking_tokenizer_json(tmp_path / "tokenizer.json")
    with pytest.raises(ValueError, match=rf"tokenizer {bad}: the tokenizer library crashed reading it \(PanicException: Precompiled") as info:
        get_tokenizer(bad)
    assert "\n" not in str(info.value)
    assert "panicked" not in capfd.readouterr().err  # the Rust print is held back: the error says it


@pytest.mark.slow
def test_the_cli_and_a_prepare_worker_report_a_panicking_tokenizer_in_one_line(tmp_path: Path) -> None:
    bad = panicking_tokenizer_json(tmp_path / "tokenizer.json")
    src = tmp_path / "a.txt"
    src.write_text("hello world\n")
    r = tm("tokenize", "hello", "--tokenizer", str(bad))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and str(bad) in r.stderr, r.stderr
    for workers in ("0", "1"):
        r = tm("prepare", str(src), "--out", str(tmp_path / f"s{workers}"), "--tokenizer", str(bad), "--workers", workers)
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and f"tokenizer {bad}" in r.stderr and "memory" not in r.stderr, r.stderr


def test_definition_sha256_hashes_ranks_pattern_and_specials() -> None:
    tok = get_tokenizer("gpt2")
    text = json.dumps(
        {"pat_str": tok.pat_str, "ranks_sha256": tok.ranks_sha256, "special_tokens": {"<|endoftext|>": 50256}},
        sort_keys=True,
        separators=(",", ":"),
    )
    assert tok.definition_sha256 == hashlib.sha256(text.encode()).hexdigest() == GPT2_DEFINITION
    assert get_tokenizer("cl100k_base").definition_sha256 not in (None, GPT2_DEFINITION)


def _trained(tmp_path: Path) -> Path:
    from tokenmill import train_tokenizer

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. the dog sat on the log. " * 40)
    with pytest.warns(Warning):  # a tiny corpus: fewer merges than asked, on purpose
        train_tokenizer([corpus], tmp_path / "tok", vocab_size=300, progress=False)
    return tmp_path / "tok"


@pytest.mark.filterwarnings("ignore")
def test_editing_pat_str_of_a_trained_tokenizer_is_detected(tmp_path: Path) -> None:
    from tokenmill.prepare import prepare
    from tokenmill.store import TokenStore
    from tokenmill.tokenizers.trained import META_FILE

    tok_dir = _trained(tmp_path)
    src = tmp_path / "a.txt"
    src.write_text("the cat sat on the mat")
    prepare([src], tmp_path / "s", tokenizer=str(tok_dir), workers=0, progress=False)
    store = TokenStore.open(tmp_path / "s")
    info = store.manifest["tokenizer"]
    assert info["definition_sha256"] == get_tokenizer(tok_dir).definition_sha256
    assert store.decode(0, store.num_tokens() - 1) == "the cat sat on the mat"
    copy = tmp_path / "s" / info["file"] / META_FILE
    meta = json.loads(copy.read_text())
    meta["pat_str"] = r"\S+|\s+"  # same ranks file, other IDs
    copy.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"has definition sha256 [0-9a-f]{64} \(ranks, pattern and special tokens\), but the store .* was made with"):
        _ = TokenStore.open(tmp_path / "s").tokenizer


def test_a_store_without_definition_sha256_still_reads(tmp_path: Path) -> None:
    from tokenmill.prepare import prepare
    from tokenmill.store import TokenStore

    src = tmp_path / "a.txt"
    src.write_text("hello world")
    prepare([src], tmp_path / "s", workers=0, progress=False)
    manifest_path = tmp_path / "s" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["tokenizer"]["definition_sha256"] == GPT2_DEFINITION
    del manifest["tokenizer"]["definition_sha256"]
    manifest_path.write_text(json.dumps(manifest))
    assert TokenStore.open(tmp_path / "s").decode(0, 2) == "hello world"
