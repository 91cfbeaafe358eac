"""The book's BPETokenizerSimple: its printed results, GPT-2's files, and as the oracle of the fast trainer."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmill import book
from tokenmill.tokenizers import get_tokenizer, read_ranks
from tokenmill.training import BPETokenizerSimple, train_tokenizer
from tokenmill.training.export import openai_files_from_ranks
from tokenmill.training.simple import SPACE


def test_book_reexports_it():
    assert book.BPETokenizerSimple is BPETokenizerSimple


def test_the_verdict_at_1000_learns_742_merges(verdict_text, tmp_path):
    tok = BPETokenizerSimple()
    tok.train(verdict_text, vocab_size=1000, allowed_special={"<|endoftext|>"})
    assert len(tok.vocab) == 1000
    assert len(tok.bpe_merges) == 742
    # Ġ only ever leads a token (words are cut before training)
    assert not [t for t in tok.vocab.values() if SPACE in t[1:]]
    text = "Jack embraced beauty through art and life."
    ids = tok.encode(text)
    # the notebook's current code and its tests give these IDs
    assert ids == [74, 361, 310, 109, 98, 420, 397, 100, 300, 428, 116, 121, 519, 699, 299, 808, 534]
    assert tok.decode(ids) == text
    assert tok.encode(text + "<|endoftext|>", allowed_special={"<|endoftext|>"}) == ids + [257]
    with pytest.raises(ValueError, match="Disallowed special tokens"):
        tok.encode(text + "<|endoftext|>")
    tok.save_vocab_and_merges(tmp_path / "vocab.json", tmp_path / "merges.json")
    again = BPETokenizerSimple()
    again.load_vocab_and_merges(tmp_path / "vocab.json", tmp_path / "merges.json")
    assert again.encode(text) == ids and again.decode(ids) == text
    assert again.bpe_merges == tok.bpe_merges


@pytest.fixture(scope="module")
def gpt2_files(tmp_path_factory):
    """GPT-2's encoder.json and vocab.bpe, rebuilt from the installed gpt2.tiktoken."""
    tok = get_tokenizer("gpt2")
    if tok.ranks_path is None:
        pytest.skip("gpt2.tiktoken is not installed (tokenmill vocab install gpt2)")
    d = tmp_path_factory.mktemp("gpt2")
    openai_files_from_ranks(read_ranks(tok.ranks_path), d / "encoder.json", d / "vocab.bpe")
    return d / "encoder.json", d / "vocab.bpe"


@pytest.fixture(scope="module")
def gpt2_simple(gpt2_files):
    tok = BPETokenizerSimple()
    tok.load_vocab_and_merges_from_openai(*gpt2_files)
    return tok


def test_generated_gpt2_files_are_gpt2s(gpt2_files):
    encoder = json.loads(gpt2_files[0].read_text(encoding="utf-8"))
    merges = gpt2_files[1].read_text(encoding="utf-8").splitlines()
    assert len(encoder) == 50257 and encoder["Ċ"] == 198 and encoder["<|endoftext|>"] == 50256
    # the first merges of GPT-2's published vocab.bpe
    assert merges[:4] == ["#version: 0.2", "Ġ t", "Ġ a", "h e"]
    assert len(merges) == 50001


def test_gpt2_files_give_the_books_ids(gpt2_simple):
    assert len(gpt2_simple.vocab) == 50257
    assert gpt2_simple.encode("This is some text") == [1212, 318, 617, 2420]
    cases = {
        "Hello,": [15496, 11],
        "Implementations": [3546, 26908, 602],
        "asdf asdfasdf a!!, @aba 9asdf90asdfk": [
            292, 7568, 355, 7568, 292, 7568, 257, 3228, 11, 2488, 15498, 860, 292, 7568, 3829, 292, 7568, 74
        ],
        "Hello, world. Is this-- a test?": [15496, 11, 995, 13, 1148, 428, 438, 257, 1332, 30],
    }
    for text, ids in cases.items():
        assert gpt2_simple.encode(text) == ids
        assert gpt2_simple.decode(ids) == text


@pytest.mark.parametrize("text", ["a\nb", "a\n\nb", "\nHello", "Hello\n", "a\r\nb", "Hello \nworld", "Hello\n world"])
def test_gpt2_files_match_tiktoken_on_line_breaks(gpt2_simple, text):
    ids = gpt2_simple.encode(text)
    assert ids == get_tokenizer("gpt2").encode(text)
    assert ids.count(198) == text.count("\n")
    assert gpt2_simple.decode(ids) == text


def test_gpt2_files_special_tokens(gpt2_simple):
    text = "Hello<|endoftext|>\nworld"
    with pytest.raises(ValueError):
        gpt2_simple.encode(text)
    assert gpt2_simple.encode(text, allowed_special={"<|endoftext|>"}) == get_tokenizer("gpt2").encode(
        text, allowed_special={"<|endoftext|>"}
    )
    assert gpt2_simple.decode(gpt2_simple.encode("  Hello World.")) == "  Hello World."


def test_unknown_character_is_named():
    tok = BPETokenizerSimple()
    tok.train("abc abc", vocab_size=260)
    with pytest.raises(ValueError, match="Characters not found in vocab"):
        tok.encode("漢")


# --- the oracle of the fast trainer -----------------------------------------------------

_words = st.lists(st.text(alphabet="abcde", min_size=1, max_size=6), min_size=1, max_size=60)


def _oracle_merges_while_unique(text: str, vocab_size: int) -> list[str]:
    """The oracle's merges (as text, Ġ as a space), up to the first step with a tie for the top count."""
    tok = BPETokenizerSimple()
    words = Counter(tok.pretokenize_text(text))
    tok.train(text, vocab_size=vocab_size, allowed_special=set())
    seqs = {w: list(w) for w in words}
    out = []
    for pair, new_id in tok.bpe_merges.items():
        counts: Counter[tuple[str, str]] = Counter()
        for w, seq in seqs.items():
            for p in zip(seq, seq[1:]):
                counts[p] += words[w]
        top = counts.most_common(2)
        if len(top) > 1 and top[0][1] == top[1][1]:
            break  # a tie: the two trainers may break it differently
        merged = tok.vocab[new_id]
        a, b = tok.vocab[pair[0]], tok.vocab[pair[1]]
        for w, seq in seqs.items():
            new, i = [], 0
            while i < len(seq):
                if i + 1 < len(seq) and seq[i] == a and seq[i + 1] == b:
                    new.append(merged)
                    i += 2
                else:
                    new.append(seq[i])
                    i += 1
            seqs[w] = new
        out.append(merged.replace(SPACE, " "))
    return out


@pytest.mark.filterwarnings("ignore:the corpus gave only")  # a tie can leave fewer merges
@settings(max_examples=25)
@given(words=_words)
def test_fast_trainer_agrees_with_the_oracle(words, tmp_path_factory):
    """Words over a small alphabet, single spaces: both learn the same merges until a tie
    (the two trainers break ties differently, and a tie can change how many merges are
    possible), the same vocabulary when there is none, and both round-trip the text."""
    text = " ".join(words)
    d = tmp_path_factory.mktemp("oracle")
    (d / "a.txt").write_text(text, encoding="utf-8")
    simple = BPETokenizerSimple()
    simple.train(text, vocab_size=300, allowed_special=set())
    n_merges = len(simple.bpe_merges)
    fast = train_tokenizer(
        [d / "a.txt"], d / "tok", vocab_size=256 + n_merges + 1, pattern="gpt2", min_frequency=1, progress=False
    )
    want = _oracle_merges_while_unique(text, 300)
    learned = [b.decode() for b in fast.decode_tokens_bytes(range(256, fast.vocab_size - 1))]
    assert learned[: len(want)] == want  # the same merges, as long as no tie decides
    if len(want) == n_merges:  # no tie anywhere: the same vocabulary, merge for merge
        assert fast.vocab_size == 256 + n_merges + 1 and learned == want
    assert fast.decode(fast.encode(text)) == text
    assert simple.decode(simple.encode(text)) == text
