"""train_tokenizer / `tokenmill train-tokenizer`: patterns, the exported directory, exactness
(tiktoken on the exported ranks == the Hugging Face tokenizer), bad input, and use by prepare."""

from __future__ import annotations

import json
import lzma
import pickle
from pathlib import Path

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmill import TiktokenTokenizer, get_tokenizer, prepare, train_tokenizer
from tokenmill.cli import main
from tokenmill.prepare.engines import scrub_surrogates
from tokenmill.tokenizers.ranks import sha256_of
from tokenmill.tokenizers.trained import HF_FILE, META_FILE, RANKS_FILE
from tokenmill.training import PATTERNS

tokenizers = pytest.importorskip("tokenizers")
pytestmark = pytest.mark.filterwarnings("ignore:the corpus gave only")  # tiny corpora, on purpose

# A little of many scripts, so that a small vocabulary learns merges in each.
SAMPLE = (
    "The quick brown fox jumps over the lazy dog. It's 2024; we'll see 1,234,567 of them!\n"
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所で"
    "ニャーニャー泣いていた事だけは記憶している。カタカナのコーヒーとケーキ、漢字の東京都。\n"
    "中文文本测试，没有空格。한국어 텍스트입니다. Русский текст. العربية نص. हिन्दी पाठ.\n"
    "Café naïve e\u0301 emoji 😀👍🏽👩‍👩‍👧 🇫🇷 tabs\tand  spaces   \r\n  end\n"
)


def _write_corpus(d: Path, repeat: int = 20) -> Path:
    path = d / "corpus.jsonl"
    lines = [json.dumps({"text": SAMPLE * (1 + i % 3) + f"doc {i}"}, ensure_ascii=False) for i in range(repeat)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small tokenizer per named pattern, trained on SAMPLE: pattern -> (tiktoken tok, HF tok)."""
    d = tmp_path_factory.mktemp("trained")
    corpus = _write_corpus(d)
    out = {}
    for name in PATTERNS:
        tok = train_tokenizer([corpus], d / name, vocab_size=500, pattern=name, progress=False)
        out[name] = (tok, tokenizers.Tokenizer.from_file(str(d / name / HF_FILE)))
    return out


# --- patterns ----------------------------------------------------------------------------


@settings(max_examples=200)
@given(text=st.text())
def test_every_pattern_covers_every_character(text):
    for name, pat in PATTERNS.items():
        assert "".join(regex.findall(pat, text)) == text, name


def test_multilingual_splits_at_japanese_script_changes():
    pieces = regex.findall(PATTERNS["multilingual"], "彼はコーヒーを飲んだ。東京都に行く")
    assert pieces == ["彼は", "コーヒー", "を", "飲んだ。", "東京都に", "行く"]
    # spaced scripts as GPT-2 cuts them, digits in threes as cl100k
    assert regex.findall(PATTERNS["multilingual"], "I'm here: 12345 naïve") == [
        "I", "'m", " here", ":", " ", "123", "45", " naïve"
    ]


def test_unknown_pattern_lists_the_known_ones(tmp_path):
    corpus = _write_corpus(tmp_path, 1)
    with pytest.raises(ValueError, match="unknown pattern 'bert'; known patterns: multilingual, gpt2, cl100k, o200k"):
        train_tokenizer([corpus], tmp_path / "t", vocab_size=300, pattern="bert")
    assert not (tmp_path / "t").exists()


# --- the exported directory --------------------------------------------------------------


def test_directory_holds_ranks_meta_and_hf(trained, tmp_path):
    tok, _ = trained["multilingual"]
    d = Path(tok.name)
    assert sorted(p.name for p in d.iterdir()) == sorted([RANKS_FILE, META_FILE, HF_FILE])
    meta = json.loads((d / META_FILE).read_text(encoding="utf-8"))
    assert meta["format"] == "tokenmill-tokenizer" and meta["version"] == 1
    assert meta["pattern"] == "multilingual" and meta["pat_str"] == PATTERNS["multilingual"]
    assert meta["special_tokens"] == {"<|endoftext|>": 499}
    assert meta["vocab_size"] == 500 and meta["merges"] == 500 - 257
    assert meta["ranks_sha256"] == sha256_of(d / RANKS_FILE) == tok.ranks_sha256
    assert meta["trained_on"]["documents"] == 20
    # ranks 0..255 are the bytes, in byte order, then the merges
    assert tok.decode_tokens_bytes(range(256)) == [bytes([b]) for b in range(256)]
    assert isinstance(tok, TiktokenTokenizer) and tok.eot_id == 499 and tok.vocab_size == 500
    assert tok.ranks_path == d / RANKS_FILE
    assert get_tokenizer(d) is get_tokenizer(str(d))  # cached like any other tokenizer
    again = pickle.loads(pickle.dumps(tok))
    assert again.encode(SAMPLE) == tok.encode(SAMPLE)


def test_pattern_recorded_and_used(trained):
    for name, (tok, _) in trained.items():
        assert tok.pat_str == PATTERNS[name]
        assert json.loads((Path(tok.name) / META_FILE).read_text())["pattern"] == name


def test_edited_ranks_file_is_refused(trained, tmp_path):
    import shutil

    src = Path(trained["gpt2"][0].name)
    copy = tmp_path / "copy"
    shutil.copytree(src, copy)
    lines = (copy / RANKS_FILE).read_bytes().splitlines()
    lines[300], lines[301] = lines[301].split()[0] + b" 300", lines[300].split()[0] + b" 301"
    (copy / RANKS_FILE).write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(ValueError, match="changed after training"):
        get_tokenizer(copy)


# --- exactness: tiktoken on the exported ranks == the trained HF tokenizer -----------------

_scripts = st.sampled_from(
    [
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),  # ASCII
        st.characters(min_codepoint=0x3040, max_codepoint=0x30FF),  # hiragana, katakana
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # kanji
        st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),  # emoji
        st.characters(min_codepoint=0x0300, max_codepoint=0x036F),  # combining marks
        st.sampled_from(["\u200d", "\ufe0f", "\U0001f3fd", " ", "\n", "\r", "\t", "\u3000", "、", "。", "ー"]),
        st.characters(),  # anything
        st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"]),  # lone surrogates
    ]
)
_mixed = st.lists(_scripts.flatmap(lambda s: st.text(s, min_size=1, max_size=8)), max_size=12).map("".join)


def _same_ids(tok, hf, text):
    clean, _ = scrub_surrogates(text)  # what tiktoken (and prepare) do with a lone surrogate
    ids = tok.encode_ordinary(text)
    assert ids == tok.encode_ordinary(clean)
    assert ids == hf.encode(clean, add_special_tokens=False).ids, repr(clean)
    assert tok.decode(ids) == clean


@settings(max_examples=150)
@given(text=_mixed)
def test_tiktoken_equals_hf_on_generated_unicode(trained, text):
    for tok, hf in trained.values():
        _same_ids(tok, hf, text)


def test_tiktoken_equals_hf_on_the_sample_and_specials(trained):
    for tok, hf in trained.values():
        _same_ids(tok, hf, SAMPLE)
        with_eot = "a<|endoftext|>b"
        assert tok.encode(with_eot, allowed_special={"<|endoftext|>"}) == hf.encode(with_eot).ids
        assert tok.encode(with_eot, allowed_special={"<|endoftext|>"})[1] == tok.eot_id


@pytest.mark.slow  # reads the shared corpora
@pytest.mark.parametrize("name", ["aozora-ja.jsonl.xz", "gutenberg-50mb.jsonl.xz"])
def test_tiktoken_equals_hf_on_the_corpora(corpora, tmp_path, name):
    path = corpora / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    docs = []
    with lzma.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            docs.append(json.loads(line)["text"][:30_000])
            if len(docs) == 10:
                break
    corpus = tmp_path / "train.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in docs[:7]), encoding="utf-8")
    tok = train_tokenizer([corpus], tmp_path / "tok", vocab_size=3000, progress=False)
    hf = tokenizers.Tokenizer.from_file(str(tmp_path / "tok" / HF_FILE))
    for text in docs:  # 7 seen in training, 3 not
        assert tok.encode_ordinary(text) == hf.encode(text, add_special_tokens=False).ids
        assert tok.decode(tok.encode_ordinary(text)) == text


# --- bad input ---------------------------------------------------------------------------


def test_vocab_size_too_small(tmp_path):
    corpus = _write_corpus(tmp_path, 1)
    with pytest.raises(ValueError, match=r"vocab_size=256 is too small.*at least 257"):
        train_tokenizer([corpus], tmp_path / "t", vocab_size=256)
    with pytest.raises(ValueError, match="at least 258"):
        train_tokenizer([corpus], tmp_path / "t", vocab_size=257, special_tokens=("<|endoftext|>", "<|pad|>"))
    with pytest.raises(ValueError, match="errors must be 'replace' or 'strict'"):
        train_tokenizer([corpus], tmp_path / "t", vocab_size=300, errors="ignore")
    with pytest.raises(TypeError, match="vocab_size must be an int"):
        train_tokenizer([corpus], tmp_path / "t", vocab_size="300")  # type: ignore[arg-type]


def test_more_than_the_corpus_gives_warns_and_stops(tmp_path):
    (tmp_path / "a.txt").write_text("ab ab ab cd cd", encoding="utf-8")
    with pytest.warns(UserWarning, match=r"only 4 merges.*has 261 tokens, not 5,000"):
        tok = train_tokenizer([tmp_path / "a.txt"], tmp_path / "t", vocab_size=5000, progress=False)
    assert tok.vocab_size == 261 and tok.eot_id == 260
    assert json.loads((tmp_path / "t" / META_FILE).read_text())["requested_vocab_size"] == 5000


def test_empty_corpus_is_an_error_and_leaves_nothing(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": ""}\n{"text": ""}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="no text to learn from"):
        train_tokenizer([tmp_path / "a.jsonl"], tmp_path / "t", vocab_size=300, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl"]  # no dir, no temp dir


def test_out_with_another_tokenizer_needs_overwrite(tmp_path):
    (tmp_path / "a.txt").write_text("hello world " * 20, encoding="utf-8")
    (tmp_path / "b.txt").write_text("other words here " * 20, encoding="utf-8")
    first = train_tokenizer([tmp_path / "a.txt"], tmp_path / "t", vocab_size=270, progress=False)
    sha = first.ranks_sha256
    with pytest.raises(ValueError, match="already holds a tokenizer; pass overwrite=True"):
        train_tokenizer([tmp_path / "b.txt"], tmp_path / "t", vocab_size=270, progress=False)
    assert sha256_of(tmp_path / "t" / RANKS_FILE) == sha  # untouched
    second = train_tokenizer([tmp_path / "b.txt"], tmp_path / "t", vocab_size=270, progress=False, overwrite=True)
    assert second.ranks_sha256 != sha and get_tokenizer(tmp_path / "t").ranks_sha256 == second.ranks_sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "t"]  # no temp dirs left
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a tokenizer; give a new or empty directory"):
        train_tokenizer([tmp_path / "a.txt"], tmp_path / "other", vocab_size=270, overwrite=True)


def test_bad_jsonl_line_is_named(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "hi there"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"a.jsonl, line 2 is not valid JSON.*skip_bad_lines=True"):
        train_tokenizer([tmp_path / "a.jsonl"], tmp_path / "t", vocab_size=260, progress=False)
    tok = train_tokenizer([tmp_path / "a.jsonl"], tmp_path / "t", vocab_size=260, progress=False, skip_bad_lines=True)
    meta = json.loads((tmp_path / "t" / META_FILE).read_text())
    assert meta["trained_on"]["bad_lines_skipped"] == 1 and tok.vocab_size <= 260


# --- inputs as prepare reads them, the CLI, and use by prepare/tokenize --------------------


def test_inputs_like_prepare(tmp_path):
    import gzip

    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("alpha beta " * 30, encoding="utf-8")
    with gzip.open(d / "sub" / "b.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write('{"body": "gamma delta"}\n{"body": "\\ud800 lone"}\n')
    tok = train_tokenizer([d], tmp_path / "t", vocab_size=280, text_field="body", progress=False)
    meta = json.loads((tmp_path / "t" / META_FILE).read_text())
    stats = meta["trained_on"]
    assert stats["documents"] == 3 and stats["replacements"] == 1
    assert [i["name"] for i in meta["run"]["inputs"]] == ["a.txt", "sub/b.jsonl.gz"]
    assert tok.decode(tok.encode("alpha gamma")) == "alpha gamma"


def test_cli_train_then_prepare_and_tokenize(tmp_path, capsys):
    corpus = _write_corpus(tmp_path, 6)
    out = tmp_path / "tok"
    assert main(["train-tokenizer", str(corpus), "--vocab-size", "400", "--out", str(out), "--quiet"]) == 0
    line = capsys.readouterr().out
    assert "400 tokens (143 merges, pattern multilingual) from 6 documents" in line and str(out) in line
    tok = get_tokenizer(out)
    store = prepare([corpus], tmp_path / "store", tokenizer=str(out), workers=0, progress=False)
    assert store.manifest["tokenizer"]["ranks_sha256"] == tok.ranks_sha256
    assert store["train"][:].tolist()[: len(tok.encode_ordinary(SAMPLE))] == tok.encode_ordinary(SAMPLE)
    assert main(["prepare", str(corpus), "--out", str(tmp_path / "s2"), "--tokenizer", str(out),
                 "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["tokenize", "吾輩は猫である。", "--tokenizer", str(out), "--ids"]) == 0
    ids = [int(x) for x in capsys.readouterr().out.split()]
    assert ids == tok.encode("吾輩は猫である。")


def test_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    corpus = _write_corpus(tmp_path, 1)
    assert main(["train-tokenizer", str(corpus), "--vocab-size", "10", "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--vocab-size 10 is too small" in err and "vocab_size" not in err, err
    assert main(["train-tokenizer", str(corpus), "--vocab-size", "300", "--out", str(tmp_path / "t"),
                 "--pattern", "nope"]) == 2
    assert "known patterns: multilingual, gpt2, cl100k, o200k" in capsys.readouterr().err
    assert main(["train-tokenizer", str(corpus), "--vocab-size", "100000", "--out", str(tmp_path / "t"),
                 "--quiet"]) == 0  # a warning line, not an error
    assert "warning: the corpus gave only" in capsys.readouterr().err
    assert main(["train-tokenizer", str(corpus), "--vocab-size", "300", "--out", str(tmp_path / "t")]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_train_tokenizer_keyword_defaults_equal_the_options_dataclass() -> None:
    import dataclasses
    import inspect

    from tokenmill.training import train_tokenizer
    from tokenmill.training.options import TrainTokenizerOptions

    parameters = inspect.signature(train_tokenizer).parameters
    fields = {f.name: f.default for f in dataclasses.fields(TrainTokenizerOptions)}
    assert {k: p.default for k, p in parameters.items() if p.kind is p.KEYWORD_ONLY} == fields | {
        "vocab_size": inspect.Parameter.empty
    }
    assert fields["vocab_size"] is dataclasses.MISSING
