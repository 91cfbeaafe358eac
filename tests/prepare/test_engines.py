"""The opt-in riptoken engine must give exactly tiktoken's IDs, or be refused."""

from __future__ import annotations

import hashlib
import json
import lzma
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmill.prepare import engines, prepare
from tokenmill.prepare.engines import (
    PARITY_SAMPLE,
    check_parity,
    make_encoder,
    scrub_surrogates,
)
from tokenmill.prepare.worker import split_of
from tokenmill.tokenizers import get_tokenizer

pytest.importorskip("riptoken")
GPT2 = get_tokenizer("gpt2")
RIP, TIK = make_encoder(GPT2, "riptoken"), make_encoder(GPT2, "tiktoken")


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_riptoken_matches_tiktoken_on_any_text(text: str) -> None:
    assert RIP(text).tolist() == TIK(text).tolist() == GPT2.encode_ordinary(text)


def test_parity_sample_covers_the_hard_cases() -> None:
    for needle in ("<|endoftext|>", "'ll", "  ", "\t", "\r\n", "😀", "中", "123"):
        assert needle in PARITY_SAMPLE
    assert 2000 < len(PARITY_SAMPLE.encode()) < 10000
    check_parity(GPT2, "riptoken")  # passes: riptoken 0.2.4 is exact


@pytest.mark.slow  # reads the shared corpora
def test_riptoken_matches_tiktoken_on_the_corpus(corpora: Path) -> None:
    import riptoken

    with lzma.open(corpora / "gutenberg-50mb.jsonl.xz", "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    core = riptoken.CoreBPE(riptoken.load_tiktoken_bpe(GPT2.ranks_path), GPT2.special_tokens, GPT2.pat_str)
    assert core.encode_ordinary_batch(texts) == GPT2.encoding.encode_ordinary_batch(texts)


def test_a_disagreeing_engine_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = engines.make_encoder

    def off_by_one(tokenizer, engine="tiktoken"):  # type: ignore[no-untyped-def]
        encode = real(tokenizer, engine)
        if engine != "riptoken":
            return encode
        return lambda text: np.where(encode(text) == 11, 12, encode(text)).astype(np.uint32)  # "," -> "-"

    monkeypatch.setattr(engines, "make_encoder", off_by_one)
    with pytest.raises(ValueError, match=r"engine 'riptoken' disagrees with tiktoken .* first difference at token \d+.*use engine='tiktoken'"):
        check_parity(GPT2, "riptoken")


def test_prepare_with_riptoken_gives_the_tiktoken_store(tmp_path: Path) -> None:
    src = tmp_path / "a.jsonl"
    words = PARITY_SAMPLE.split()  # needs no corpus: runs on a fresh clone
    texts = [" ".join(words[k:] + words[:k]) for k in range(0, 200, 10)] + ["x <|endoftext|> y", PARITY_SAMPLE]
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    stores = {e: prepare([src], tmp_path / e, engine=e, workers=2, shard_tokens=1000, progress=False) for e in ("tiktoken", "riptoken")}
    files = {e: sorted(p.name for p in (tmp_path / e).glob("train-*")) for e in stores}
    assert files["tiktoken"] == files["riptoken"] and len(files["tiktoken"]) > 4  # same shards, not a prefix
    for name in files["tiktoken"]:
        assert (tmp_path / "tiktoken" / name).read_bytes() == (tmp_path / "riptoken" / name).read_bytes()
    assert stores["riptoken"].manifest["options"]["engine"] == "riptoken"


def test_lone_surrogates_are_replaced_like_tiktoken_and_counted(tmp_path: Path) -> None:
    assert scrub_surrogates("a\ud800b") == ("a\ufffdb", 1)
    assert GPT2.encode_ordinary("a\ud800b") == GPT2.encode_ordinary("a\ufffdb")
    src = tmp_path / "a.jsonl"
    src.write_text('{"text": "a\\ud800b"}\n{"text": "pair \\ud83d\\ude00 ok"}\n')
    for engine in ("tiktoken", "riptoken"):
        store = prepare([src], tmp_path / engine, engine=engine, workers=0, progress=False)
        assert [d.tolist() for d in store.documents()] == [GPT2.encode_ordinary(t) + [50256] for t in ["a\ufffdb", "pair 😀 ok"]]
        assert store.manifest["stats"]["replacements"] == 1


def test_split_is_a_stable_seeded_hash() -> None:
    assert [split_of(0, "a.jsonl", i, 0.5) for i in range(8)] == [0, 0, 1, 0, 0, 1, 1, 1]
    digest = hashlib.blake2b(b"0:a.jsonl:2", digest_size=8).digest()  # the rule, spelled out
    assert split_of(0, "a.jsonl", 2, 0.5) == (int.from_bytes(digest, "big") < 2**63)
    assert split_of(0, "a.jsonl", 0, 0.0) == 0
    share = np.mean([split_of(7, "corpus.jsonl", i, 0.1) for i in range(20000)])
    assert 0.09 < share < 0.11


def test_unknown_engine_and_non_bpe_tokenizer_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown engine 'fast'"):
        make_encoder(GPT2, "fast")

    class Words:
        name = "words"

    with pytest.raises(ValueError, match="only with tiktoken-style BPE tokenizers"):
        make_encoder(Words(), "riptoken")
