"""Big documents in bounded memory: encoded in bounded pieces, yet one document; refused only over the option."""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from tokenmill.corpus import cutting, readers
from tokenmill.prepare import coordinator, prepare, worker

KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん日本語文章"


def japanese(n_chars: int, seed: int = 0) -> str:
    """Text with no ASCII letter before a space: no place where a cut is proven to keep the IDs."""
    rng = random.Random(seed)
    return "".join(rng.choice(KANA) + ("。" if rng.random() < 0.03 else "") for _ in range(n_chars))


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> int:
    """Pieces of 1,000 chars (files over 4,000 bytes stream), as 1 MiB pieces are for big files."""
    monkeypatch.setattr(readers, "BLOCK_BYTES", 1000)
    monkeypatch.setattr(readers, "DOC_BYTES", 4000)
    return 1000


def _spy_encoder(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    real = worker.make_encoder

    def make(tokenizer: Any, engine: str) -> Any:
        encode = real(tokenizer, engine)
        return lambda text: seen.append(len(text)) or encode(text)

    monkeypatch.setattr(worker, "make_encoder", make)
    return seen


@pytest.mark.parametrize("suffix", [".txt", ".jsonl"])
def test_a_big_document_without_safe_cuts_is_encoded_in_bounded_pieces_and_stays_one_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_pieces: int, suffix: str
) -> None:
    monkeypatch.setattr(readers, "HUGE_LINE_BYTES", 4000)
    text = japanese(60_000)
    src = tmp_path / f"big{suffix}"
    src.write_text(text if suffix == ".txt" else json.dumps({"text": text}, ensure_ascii=False) + "\n", encoding="utf-8")
    seen = _spy_encoder(monkeypatch)
    store = prepare([src], tmp_path / "s", workers=0, progress=False)
    assert max(seen) <= (cutting.FORCE_FACTOR + 1) * small_pieces  # it was the whole 60,000-char text
    assert store.manifest["splits"]["train"]["n_documents"] == 1  # the format's rule: never cut in the index
    cuts = store.manifest["stats"]["unsafe_cuts"]
    assert cuts >= len(text) // ((cutting.FORCE_FACTOR + 1) * small_pieces)
    assert store.decode(0, len(store["train"])) == text + "<|endoftext|>"  # the text survives whole


def test_english_is_still_cut_only_where_the_ids_cannot_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_pieces: int
) -> None:
    rng = random.Random(3)
    text = " ".join(rng.choice(["alpha", "beta,", "gamma.\n", "日本"]) for _ in range(20_000))
    (tmp_path / "en.txt").write_text(text, encoding="utf-8")
    store = prepare([tmp_path / "en.txt"], tmp_path / "s", workers=0, progress=False)
    from tokenmill.prepare import reference_tokens

    assert store["train"][:].tolist() == reference_tokens([text])[0]
    assert "unsafe_cuts" not in store.manifest["stats"]  # optional: absent when 0


def test_a_jsonl_line_over_max_document_bytes_is_refused_naming_it_and_the_flag(tmp_path: Path, cli) -> None:  # noqa: ANN001
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps({"text": "ok"}) + "\n" + json.dumps({"text": "x" * 5000}) + "\n")
    done = cli("prepare", str(src), "--out", str(tmp_path / "s"), "--workers", "0", "--quiet", "--max-document-bytes", "1000")
    assert done.returncode == 2, done.stderr
    assert f"{src}, line 2" in done.stderr and "--max-document-bytes" in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1
    ok = cli("prepare", str(src), "--out", str(tmp_path / "s"), "--workers", "0", "--quiet", "--max-document-bytes", "6000")
    assert ok.returncode == 0, ok.stderr


def test_a_huge_line_is_refused_before_it_is_all_in_memory(tmp_path: Path, small_pieces: int) -> None:
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps({"text": "y" * 50_000}) + "\n")
    from tokenmill.corpus.inputs import resolve_inputs

    f = resolve_inputs([src])[0]
    with pytest.raises(ValueError, match=r"at least \d[\d,]* bytes, over the limit of 10,000 \(max_document_bytes\)"):
        list(readers.read_task(f, 0, None, errors="strict", text_field="text", cuttable=True, max_document_bytes=10_000))


def test_the_progress_bar_moves_inside_one_big_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_pieces: int
) -> None:
    updates: list[int] = []

    class Bar:
        def update(self, n: int) -> None:
            updates.append(n)

        def set_postfix_str(self, *_: Any, **__: Any) -> None:
            pass

    @contextlib.contextmanager
    def bar(total: int, enabled: bool, **_: Any) -> Any:
        yield Bar()

    monkeypatch.setattr(coordinator, "progress_bar", bar)
    monkeypatch.setattr(worker, "PROGRESS_BYTES", 5000)
    (tmp_path / "one.txt").write_text("word " * 20_000)  # one task of 100,000 bytes
    prepare([tmp_path / "one.txt"], tmp_path / "s", workers=0)
    assert len(updates) > 5 and sum(updates) == 100_000, updates  # was one update, at the task's end
