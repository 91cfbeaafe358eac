"""Tokenizers: golden IDs, the special-token rule, round trips, files, and errors that teach."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import small_hf_tokenizer
from tokenmill import WordTokenizer, get_tokenizer
from tokenmill.tokenizers import bpe, ranks
from tokenmill.tokenizers.registry import KNOWN_ENCODINGS, spec_for

BOOK_TEXT = "Hello, do you like tea? <|endoftext|> In the sunlit terraces of someunknownPlace."
BOOK_IDS = [15496, 11, 466, 345, 588, 8887, 30, 220, 50256, 554, 262, 4252, 18250, 8812, 2114, 286, 617, 34680, 27271, 13]


@pytest.fixture(scope="module")
def gpt2():
    return get_tokenizer("gpt2")


def test_gpt2_golden(gpt2):
    assert gpt2.encode("hello world") == [31373, 995]
    assert gpt2.encode(BOOK_TEXT, allowed_special={"<|endoftext|>"}) == BOOK_IDS
    assert gpt2.decode(BOOK_IDS) == BOOK_TEXT
    assert (gpt2.name, gpt2.vocab_size, gpt2.max_token_value, gpt2.eot_id) == ("gpt2", 50257, 50256, 50256)
    assert gpt2.ranks_sha256 == KNOWN_ENCODINGS["gpt2"].sha256


def test_gpt2_verdict_token_count(gpt2, verdict_text):
    assert len(verdict_text) == 20479
    assert len(gpt2.encode(verdict_text)) == 5145


def test_special_tokens_follow_tiktokens_rule(gpt2):
    with pytest.raises(ValueError, match=r"allowed_special='<\|endoftext\|>'"):
        gpt2.encode("a <|endoftext|> b")
    assert gpt2.encode("a <|endoftext|>", allowed_special="all") == [64, 220, 50256]
    assert gpt2.encode_ordinary("<|endoftext|>") == [27, 91, 437, 1659, 5239, 91, 29]
    with pytest.raises(ValueError, match="does not have"):
        gpt2.encode("a", allowed_special={"<|unk|>"})


def test_bad_input(gpt2):
    assert gpt2.encode("") == [] and gpt2.encode_ordinary("") == []
    with pytest.raises(TypeError, match="bytes"):
        gpt2.encode(b"hello")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cl100k_base.*gpt2"):
        get_tokenizer("gpt5")
    with pytest.raises(TypeError, match="int"):
        get_tokenizer(42)  # type: ignore[arg-type]


def test_batch_and_pickle(gpt2):
    texts = ["hello world", "", "tea?"]
    assert gpt2.encode_batch(texts) == [gpt2.encode(t) for t in texts]
    assert gpt2.encode_ordinary_batch(texts) == [gpt2.encode_ordinary(t) for t in texts]
    assert pickle.loads(pickle.dumps(gpt2)).encode("hello world") == [31373, 995]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_gpt2_round_trip(text):
    tok = get_tokenizer("gpt2")
    assert tok.decode(tok.encode_ordinary(text)) == text


def test_cl100k_is_offline_and_large():
    tok = get_tokenizer("cl100k_base")
    assert tok.encode("hello world") == [15339, 1917]
    assert tok.max_token_value == 100276 and tok.eot_id == 100257


def test_tiktoken_path_is_recognised_by_hash(gpt2):
    same = get_tokenizer(str(gpt2.ranks_path))
    assert same.name == "gpt2" and same.encode(BOOK_TEXT, allowed_special="all") == BOOK_IDS


def test_unknown_ranks_file_gets_gpt2_pattern(tmp_path):
    import base64

    path = tmp_path / "bytes.tiktoken"
    path.write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    tok = get_tokenizer(path)
    assert tok.encode("hi") == [104, 105] and tok.eot_id == 256 and tok.decode([104, 105]) == "hi"


def test_corrupt_ranks_file_names_file_and_line(tmp_path):
    path = tmp_path / "broken.tiktoken"
    path.write_text("aGk= 0\nnot-base64!! 1\n")
    with pytest.raises(ValueError, match=r"broken.tiktoken, line 2"):
        get_tokenizer(path)


def test_wrong_hash_names_both(tmp_path, monkeypatch):
    (tmp_path / "gpt2.tiktoken").write_text("aGk= 0\n")
    monkeypatch.setenv("TOKENMILL_VOCAB_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="expected sha256 306cd27f.*found "):
        ranks.find_ranks_file(spec_for("gpt2"))


def test_missing_ranks_file_says_how_to_install(tmp_path, monkeypatch):
    import tiktoken

    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("TOKENMILL_VOCAB_DIR", raising=False)

    def offline(name):
        raise ConnectionError("no network")

    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    with pytest.raises(ValueError) as info:
        bpe._tiktoken_by_name("p50k_base")
    msg = str(info.value)
    assert "p50k_base.tiktoken" in msg and KNOWN_ENCODINGS["p50k_base"].sha256 in msg
    assert "tokenmill vocab install p50k_base --from" in msg


def test_install_from_file(tmp_path, monkeypatch, gpt2):
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "cache"))
    target = ranks.install("gpt2", gpt2.ranks_path)
    assert target == tmp_path / "cache" / "vocab" / "gpt2.tiktoken"
    assert ranks.sha256_of(target) == KNOWN_ENCODINGS["gpt2"].sha256
    bad = tmp_path / "bad.tiktoken"
    bad.write_text("aGk= 0\n")
    with pytest.raises(ValueError, match="expected sha256"):
        ranks.install("r50k_base", bad)


# --- the book's word tokenizer ------------------------------------------------------------


def test_word_tokenizer_book_vocabulary(verdict_text):
    plain = WordTokenizer.from_text(verdict_text, special_tokens=())
    assert plain.vocab_size == 1130
    tok = WordTokenizer.from_text(verdict_text)
    assert tok.vocab_size == 1132
    assert list(tok.str_to_int.items())[:3] == [("!", 0), ('"', 1), ("'", 2)]
    assert tok.str_to_int["<|endoftext|>"] == 1130 and tok.str_to_int["<|unk|>"] == 1131
    text = '"It\'s the last he painted, you know," Mrs. Gisburn said with pardonable pride.'
    ids = [1, 56, 2, 850, 988, 602, 533, 746, 5, 1126, 596, 5, 1, 67, 7, 38, 851, 1108, 754, 793, 7]
    assert plain.encode(text) == ids
    assert plain.decode(ids) == '" It\' s the last he painted, you know," Mrs. Gisburn said with pardonable pride.'
    text2 = "Hello, do you like tea? <|endoftext|> In the sunlit terraces of the palace."
    ids2 = [1131, 5, 355, 1126, 628, 975, 10, 1130, 55, 988, 956, 984, 722, 988, 1131, 7]
    assert tok.encode(text2, allowed_special="all") == ids2
    assert tok.decode(ids2) == "<|unk|>, do you like tea? <|endoftext|> In the sunlit terraces of the <|unk|>."
    # Ordinary encoding treats the spelled special token as an (unknown) word.
    assert tok.encode_ordinary("<|endoftext|>") == [1131]


def test_word_tokenizer_errors_teach():
    tok = WordTokenizer.from_text("a b c", special_tokens=())
    with pytest.raises(ValueError, match=r"'zebra' is not in the vocabulary.*<\|unk\|>"):
        tok.encode("a zebra")
    with pytest.raises(ValueError, match="token id 99"):
        tok.decode([99])
    with pytest.raises(TypeError, match="list"):
        WordTokenizer(["a", "b"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same id"):
        WordTokenizer({"a": 0, "b": 0})


def test_word_tokenizer_save_load(tmp_path, verdict_text):
    tok = WordTokenizer.from_text(verdict_text)
    path = tmp_path / "vocab.json"
    tok.save(path)
    again = get_tokenizer(path)
    assert isinstance(again, WordTokenizer) and again.str_to_int == tok.str_to_int
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "tokenmill-word-vocab",\n "vocab": {"a": 0,,}}\n')
    with pytest.raises(ValueError, match="broken.json, line 2"):
        WordTokenizer.load(broken)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["the", "cat", ",", ".", "--", "sat", "?", "(", ")"]), min_size=1))
def test_word_tokenizer_round_trips_known_words(words):
    tok = WordTokenizer.from_text("the cat sat , . -- ? ( )")
    ids = tok.encode(" ".join(words))
    assert [tok.int_to_str[i] for i in ids] == words
    assert tok.encode(tok.decode(ids)) == ids


# --- Hugging Face tokenizer.json ----------------------------------------------------------


def test_hf_tokenizer_json(tmp_path):
    pytest.importorskip("tokenizers")
    path = tmp_path / "tokenizer.json"
    small_hf_tokenizer(path)
    tok = get_tokenizer(path)
    assert tok.eot_id == 0
    ids = tok.encode("hello tea <|endoftext|>", allowed_special="all")
    assert ids[-1] == 0 and tok.decode(ids) == "hello tea <|endoftext|>"
    with pytest.raises(ValueError, match="special token"):
        tok.encode("x <|endoftext|>")
    assert 0 not in tok.encode_ordinary("x <|endoftext|>")


def test_more_bad_input_is_explained(gpt2):
    assert gpt2.encode("a <|endoftext|>", allowed_special="<|endoftext|>") == [64, 220, 50256]
    with pytest.raises(TypeError, match="set\\(\\) to allow none"):
        gpt2.encode("a", allowed_special=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="wrap it"):
        gpt2.encode_batch("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="wrap it"):
        gpt2.encode_ordinary_batch("abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"token id 50257 is outside gpt2's vocabulary \(ids 0..50256\)"):
        gpt2.decode([50257])
    with pytest.raises(ValueError, match="token id -1"):
        gpt2.decode([-1])
    with pytest.raises(TypeError, match="integers"):
        gpt2.decode([1.5])  # type: ignore[list-item]


def test_word_tokenizer_bad_input():
    import numpy as np

    tok = WordTokenizer.from_text("a b")
    assert tok.decode(np.array([0, 1])) == "a b"
    with pytest.raises(TypeError, match="wrap it"):
        WordTokenizer.from_text("a b", special_tokens="<|unk|>")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="integers"):
        WordTokenizer({"a": "x"})  # type: ignore[dict-item]


def test_edited_ranks_file_is_refused_not_mislabelled(tmp_path, gpt2):
    lines = gpt2.ranks_path.read_bytes().splitlines(keepends=True)[:300]
    path = tmp_path / "gpt2.tiktoken"
    path.write_bytes(b"".join(lines))
    with pytest.raises(ValueError, match="expected sha256 306cd27f"):
        get_tokenizer(path)
    other = tmp_path / "mine.tiktoken"
    other.write_bytes(b"".join(lines))
    tok = get_tokenizer(other)
    assert tok.name == str(other) and tok.eot_id == 300


def test_duplicate_token_in_ranks_file(tmp_path):
    path = tmp_path / "dup.tiktoken"
    path.write_text("aGk= 0\naGk= 1\n")
    with pytest.raises(ValueError, match=r"dup.tiktoken, line 2: the token b'hi' appears twice"):
        get_tokenizer(path)


def test_non_utf8_json_names_the_file(tmp_path):
    path = tmp_path / "vocab.json"
    path.write_bytes(b'{"format": "\xff"}')
    with pytest.raises(ValueError, match="vocab.json: not UTF-8"):
        get_tokenizer(path)


def test_tiktoken_encoding_is_accepted(gpt2):
    wrapped = get_tokenizer(gpt2.encoding)
    assert wrapped.encode("hello world") == [31373, 995] and wrapped.eot_id == 50256


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_gpt2_round_trip_encode(text):
    tok = get_tokenizer("gpt2")
    assert tok.decode(tok.encode(text, allowed_special="all")) == text
