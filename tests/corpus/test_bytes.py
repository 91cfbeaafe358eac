"""What "bytes of text" counts: the UTF-8 bytes of the text that is tokenized, alike everywhere."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmill.corpus import inputs, readers
from tokenmill.tokenizers.trained import META_FILE


def _docs(path: Path, **kw: object) -> list[readers.Doc]:
    f = inputs.resolve_inputs([path])[0]
    return list(readers.read_task(f, 0, None, errors="replace", text_field="text", cuttable=True, **kw))


def test_a_jsonl_line_counts_its_text_not_its_other_fields(tmp_path: Path) -> None:
    text = "naïve café " * 2500  # ~32 KB of UTF-8
    line = json.dumps({"url": "https://example.com/" + "x" * 300_000, "text": text})  # \u escapes too
    (tmp_path / "a.jsonl").write_text(line + "\n\n", encoding="utf-8")
    docs = _docs(tmp_path / "a.jsonl")
    assert [d.nbytes for d in docs] == [len(text.encode()), 0]  # the blank line: an empty document


def test_invalid_utf8_counts_the_replacement_as_tokenized(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"ok\xff!")
    [doc] = _docs(tmp_path / "a.txt")
    assert (doc.text, doc.nbytes, doc.replacements) == ("ok\ufffd!", len("ok\ufffd!".encode()), 1)


def test_bad_lines_count_no_bytes(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"body": "no text here"}\nnot json\n', encoding="utf-8")
    assert [(d.bad is not None, d.nbytes) for d in _docs(tmp_path / "a.jsonl")] == [(True, 0), (True, 0)]


@settings(max_examples=40, deadline=None)
@given(texts=st.lists(st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40), min_size=1, max_size=6))
def test_bytes_are_the_texts_utf8_length_in_every_format(tmp_path_factory: object, texts: list[str]) -> None:
    d = tmp_path_factory.mktemp("b")  # type: ignore[attr-defined]
    (d / "a.jsonl").write_text("".join(json.dumps({"text": t, "id": 7}) + "\n" for t in texts), encoding="utf-8")
    (d / "a.txt").write_bytes(texts[0].encode())
    want = sum(len(t.encode()) for t in texts)
    assert sum(doc.nbytes for doc in _docs(d / "a.jsonl")) == want
    assert sum(doc.nbytes for doc in _docs(d / "a.txt")) == len(texts[0].encode())


def test_pieces_of_a_huge_text_add_up_to_its_bytes(tmp_path: Path, monkeypatch: object) -> None:
    monkeypatch.setattr(readers, "DOC_BYTES", 3000)  # type: ignore[attr-defined]
    monkeypatch.setattr(readers, "BLOCK_BYTES", 1000)  # type: ignore[attr-defined]
    monkeypatch.setattr(readers, "HUGE_LINE_BYTES", 2000)  # type: ignore[attr-defined]
    text = "été 😀 words and more words\n" * 400
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    (tmp_path / "a.jsonl").write_text(json.dumps({"meta": "m" * 5000, "text": text}) + "\n", encoding="utf-8")
    for name in ("a.txt", "a.jsonl"):
        docs = _docs(tmp_path / name)
        assert len(docs) > 3 and sum(d.nbytes for d in docs) == len(text.encode()), name


def test_prepare_and_train_tokenizer_count_the_same_bytes(tmp_path: Path) -> None:
    from tokenmill.prepare import prepare
    from tokenmill.training.trainer import train_tokenizer

    text = "日本語のテキスト、そして English words. " * 800  # ~27 KB of text
    rows = [{"url": "https://example.com/" + "u" * 20_000, "text": text}, {"text": "短い\ud800"}, {"text": ""}]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    store = prepare([tmp_path / "a.jsonl"], tmp_path / "s", workers=0, progress=False)
    train_tokenizer([tmp_path / "a.jsonl"], tmp_path / "tok", vocab_size=300, progress=False)
    meta = json.loads((tmp_path / "tok" / META_FILE).read_text(encoding="utf-8"))
    want = len(text.encode()) + len("短い\ufffd".encode())
    assert store.manifest["stats"]["bytes_read"] == want == meta["trained_on"]["bytes_read"]
    assert store.stats(top_k=0)["total"]["bytes"] == want
