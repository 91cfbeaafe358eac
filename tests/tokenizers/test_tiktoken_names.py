"""Every tokenizer class offers tiktoken's names: n_vocab, eot_token, decode_single_token_bytes."""

from __future__ import annotations

import pytest

from tests.helpers import small_hf_tokenizer
from tokenmill import WordTokenizer, get_tokenizer
from tokenmill.tokenizers.base import ENDOFTEXT


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base"])
def test_tiktoken_backed_tokenizers_match_tiktoken(name: str) -> None:
    tok = get_tokenizer(name)
    enc = tok.encoding  # the tiktoken.Encoding it runs
    assert (tok.n_vocab, tok.eot_token) == (enc.n_vocab, enc.eot_token)
    assert tok.n_vocab == tok.max_token_value + 1
    for token in (0, 1, 995, 31373, 50255, tok.eot_token):
        assert tok.decode_single_token_bytes(token) == enc.decode_single_token_bytes(token)


def test_gpt2_golden_values() -> None:
    tok = get_tokenizer("gpt2")
    assert (tok.n_vocab, tok.eot_token) == (50257, 50256)
    assert tok.decode_single_token_bytes(31373) == b"hello"
    assert tok.decode_single_token_bytes(50256) == ENDOFTEXT.encode()
    assert tok.decode_single_token_bytes(220) == b" "


def test_cl100k_n_vocab_counts_the_id_gap() -> None:
    tok = get_tokenizer("cl100k_base")
    assert (tok.n_vocab, tok.eot_token) == (100277, 100257)


@pytest.mark.parametrize("bad", [-1, 50257, 10**9])
def test_decode_single_token_bytes_refuses_ids_outside_the_vocabulary(bad: int) -> None:
    with pytest.raises(ValueError, match=str(bad)):
        get_tokenizer("gpt2").decode_single_token_bytes(bad)


def test_word_tokenizer() -> None:
    tok = WordTokenizer.from_text("I had always thought Jack Gisburn rather a cheap genius.")
    assert tok.n_vocab == tok.max_token_value + 1 == tok.vocab_size
    assert tok.eot_token == tok.str_to_int[ENDOFTEXT]
    assert tok.decode_single_token_bytes(tok.str_to_int["Jack"]) == b"Jack"
    with pytest.raises(ValueError, match="vocabulary"):
        tok.decode_single_token_bytes(tok.n_vocab)


def test_word_tokenizer_without_endoftext_says_so() -> None:
    tok = WordTokenizer({"a": 0, "b": 1})
    assert tok.n_vocab == 2
    with pytest.raises(AttributeError, match=r"no <\|endoftext\|> token"):
        tok.eot_token  # noqa: B018


def test_hf_tokenizer(tmp_path) -> None:  # noqa: ANN001
    pytest.importorskip("tokenizers")

    hf = small_hf_tokenizer(tmp_path / "tokenizer.json")
    tok = get_tokenizer(tmp_path / "tokenizer.json")
    assert tok.n_vocab == tok.max_token_value + 1 == hf.get_vocab_size()
    assert tok.eot_token == 0
    hello = tok.encode("hello")
    assert b"".join(tok.decode_single_token_bytes(i) for i in hello) == b"hello"


def test_trained_tokenizer_directory(tmp_path) -> None:  # noqa: ANN001
    pytest.importorskip("tokenizers")
    from tokenmill.training.trainer import train_tokenizer

    corpus = tmp_path / "c.txt"
    corpus.write_text("hello world, hello tea. " * 200, encoding="utf-8")
    out = tmp_path / "tok"
    train_tokenizer([corpus], out=out, vocab_size=270, progress=False)
    tok = get_tokenizer(out)
    assert tok.n_vocab == tok.max_token_value + 1
    assert tok.eot_token == tok.special_tokens[ENDOFTEXT]
    assert tok.decode_single_token_bytes(ord("h")) == b"h"  # the 256 byte tokens come first
    assert b"".join(tok.decode_single_token_bytes(i) for i in tok.encode("hello tea")) == b"hello tea"


def test_hf_byte_level_tokens_give_their_bytes_not_replacement_characters(tmp_path) -> None:  # noqa: ANN001
    pytest.importorskip("tokenizers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=270, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    hf.train_from_iterator(["hello world"] * 50, trainer)
    hf.save(str(tmp_path / "tokenizer.json"))
    tok = get_tokenizer(tmp_path / "tokenizer.json")
    ids = tok.encode("猫 <|endoftext|>", allowed_special="all")  # 猫 was never seen: three byte tokens
    assert [tok.decode_single_token_bytes(i) for i in ids] == [b"\xe7", b"\x8c", b"\xab", b" ", b"<|endoftext|>"]
