"""tokenmill.prepare: exact tokens, deterministic parallel output, resume safety, bad input, CLI."""

from __future__ import annotations

import fcntl
import functools
import gzip
import itertools
import json
import lzma
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import all_files, write_jsonl
from tokenmill.corpus import cutting, inputs, readers
from tokenmill.corpus.cutting import _CUT, safe_cut
from tokenmill.prepare import PrepareOptions, prepare, reference_tokens, run_prepare
from tokenmill.prepare import tasks as tasks_mod
from tokenmill.store import TokenStore
from tokenmill.store.writer import ShardWriter
from tokenmill.tokenizers import Tokenizer, get_tokenizer
from tokenmill.tokenizers import registry as vocab

GPT2 = get_tokenizer("gpt2")
WORDS = (
    "the of and a to in is you that it he was for on are as with his they "
    "I at be this have from or one had by"
).split()


def docs_of(store: TokenStore, split: str = "train") -> list[list[int]]:
    return [d.tolist() for d in store.documents(split)]


def synthetic_docs(n: int, seed: int = 0, size: int = 300) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [
            rng.choice(WORDS) + rng.choice(["", "", "", ",", ".", "!\n", "\n\n", "'s"])
            for _ in range(rng.randint(1, size))
        ]
        out.append(" ".join(words))
    return out


# ---- exact tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize("eot", ["append", "prepend", "none"])
def test_documents_are_encode_ordinary_plus_eot(tmp_path: Path, eot: str) -> None:
    texts = [
        "Hello, world!",
        "It's <|endoftext|> spelled, not a separator.",
        "",
        "naïve café 😀\n\n  x",
        "x" * 5000,
    ]
    store = prepare(
        [write_jsonl(tmp_path / "a.jsonl", texts)], tmp_path / "s", eot=eot, workers=0, progress=False
    )
    assert docs_of(store) == reference_tokens(texts, eot=eot)
    head, tail = ([50256] if eot == "prepend" else []), ([50256] if eot == "append" else [])
    assert docs_of(store)[0] == head + [15496, 11, 995, 0] + tail
    stats = store.manifest["stats"]
    assert (stats["documents"], stats["empty_documents"], stats["eot_spellings"]) == (4, 1, 1)
    assert store.manifest["eot"] == {"policy": eot, "id": None if eot == "none" else 50256}
    assert store.manifest["dtype"] == "uint16" and store["train"].dtype == np.uint16


@pytest.mark.slow  # reads the shared corpora
def test_golden_gutenberg_prefix(tmp_path: Path, corpora: Path) -> None:
    with lzma.open(corpora / "gutenberg-50mb.jsonl.xz", "rt", encoding="utf-8") as f:
        texts = [json.loads(next(f))["text"] for _ in range(3)]
    src = write_jsonl(tmp_path / "g.jsonl", texts)
    store = prepare([src], tmp_path / "s", workers=2, shard_tokens=50_000, progress=False)
    assert docs_of(store) == reference_tokens(texts)
    assert all(s["n_tokens"] >= 50_000 for s in store.manifest["splits"]["train"]["shards"][:-1])


def test_uint32_for_a_large_vocabulary(tmp_path: Path) -> None:
    try:
        tok = get_tokenizer("cl100k_base")
    except ValueError as exc:
        pytest.skip(f"cl100k_base unavailable: {exc}")
    src = tmp_path / "a.txt"
    src.write_text("Hello world, 12345 tokens!")
    store = prepare([src], tmp_path / "s", tokenizer="cl100k_base", workers=0, progress=False)
    assert store.manifest["dtype"] == "uint32" and store["train"].dtype == np.uint32
    assert docs_of(store) == [tok.encode_ordinary(src.read_text()) + [tok.eot_id]]


def test_tokenizer_without_eot_needs_eot_none(tmp_path: Path) -> None:
    class NoEot(Tokenizer):
        name, vocab_size, max_token_value, eot_id, special_tokens = "noeot", 300, 299, None, {}

        def encode_ordinary(self, text: str) -> list[int]:
            return list(text.encode())

    src = tmp_path / "a.txt"
    src.write_text("abc")
    with pytest.raises(ValueError, match="no end-of-text token.*eot='none'"):
        prepare([src], tmp_path / "s", tokenizer=NoEot(), workers=0, progress=False)
    store = prepare([src], tmp_path / "s", tokenizer=NoEot(), eot="none", workers=0, progress=False)
    assert docs_of(store) == [[97, 98, 99]]


# ---- cutting huge documents --------------------------------------------------------------------

PATTERNS = {"gpt2": vocab.GPT2_PATTERN, "cl100k": vocab.CL100K_PATTERN, "o200k": vocab.O200K_PATTERN}


@functools.cache
def _encoding(pattern: str) -> tiktoken.Encoding:
    # The cut rule is about the pre-tokenizer regex alone: BPE merges happen inside its
    # pieces, so GPT-2's ranks with each pattern test that pattern (o200k's ranks are not offline).
    return tiktoken.Encoding(
        f"test-{hash(pattern)}",
        pat_str=pattern,
        mergeable_ranks=GPT2.encoding._mergeable_ranks,
        special_tokens={},
    )


def _pieces_equal_whole(pattern: str, text: str, cuts: list[int]) -> bool:
    enc = _encoding(pattern)
    bounds = [0, *cuts, len(text)]
    pieces = [enc.encode_ordinary(text[a:b]) for a, b in itertools.pairwise(bounds)]
    return list(itertools.chain.from_iterable(pieces)) == enc.encode_ordinary(text)


chars = st.sampled_from(
    list("ab Zq  \n\n\t\r1'.,!?-é中😀\u00a0\u2003s\u0301")
    + ["'s", "'ll", "'S", "<|endoftext|>", "   ", " \n ", "ǅ", "ʰ"]
)


def test_the_cut_patterns_are_the_known_encodings() -> None:
    assert set(PATTERNS.values()) <= cutting.CUTTABLE_PATTERNS
    assert GPT2.pat_str in cutting.CUTTABLE_PATTERNS


@pytest.mark.parametrize("name", sorted(PATTERNS))
@settings(max_examples=150, deadline=None)
@given(parts=st.lists(chars, min_size=1, max_size=60))
def test_every_safe_cut_keeps_the_ids(name: str, parts: list[str]) -> None:
    text = "".join(parts)
    cuts = [m.start() for m in _CUT.finditer(text) if m.start() > 0]
    assert _pieces_equal_whole(PATTERNS[name], text, cuts)


@pytest.mark.slow  # reads the shared corpora
@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_safe_cuts_on_real_text(name: str, verdict_text: str) -> None:
    rng = random.Random(0)
    allowed = [m.start() for m in _CUT.finditer(verdict_text)]
    for _ in range(20):
        assert _pieces_equal_whole(PATTERNS[name], verdict_text, sorted(rng.sample(allowed, 40)))
    assert _pieces_equal_whole(PATTERNS[name], verdict_text, allowed)  # every safe place at once


@pytest.mark.slow  # reads the shared corpora
def test_naive_cuts_would_change_the_ids(verdict_text: str) -> None:
    # The rule matters: a cut after the space, or inside a word, changes the IDs.
    gpt2 = PATTERNS["gpt2"]
    assert not _pieces_equal_whole(gpt2, "hello world", [6])
    assert not _pieces_equal_whole(gpt2, "a 12", [3])
    assert not _pieces_equal_whole(gpt2, "I'll go", [2])
    assert not _pieces_equal_whole(gpt2, verdict_text, [verdict_text.index(" genius") + 1])


def test_safe_cut_finds_the_last_place() -> None:
    assert safe_cut("one two three", 13) == 7
    assert safe_cut("one two three", 6) == 3
    assert safe_cut("12 34 56", 8) == 0


@pytest.mark.slow  # reads the shared corpora
def test_huge_documents_are_tokenized_in_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verdict_text: str
) -> None:
    # Shrink the limits so a 20 kB text counts as huge: it goes out as many pieces.
    monkeypatch.setattr(readers, "DOC_BYTES", 3000)
    monkeypatch.setattr(readers, "BLOCK_BYTES", 1000)
    monkeypatch.setattr(readers, "HUGE_LINE_BYTES", 2000)
    verdict_text = verdict_text.replace("e", "é").replace("--", "😀")  # multi-byte chars across block edges
    (tmp_path / "v.txt").write_text(verdict_text, encoding="utf-8")
    write_jsonl(tmp_path / "v.jsonl", ["small one", verdict_text, "after"])
    files = inputs.resolve_inputs([tmp_path / "v.txt"])
    docs = list(readers.read_task(files[0], 0, None, errors="strict", text_field="text", cuttable=True))
    assert len(docs) > 10 and [(d.first, d.last) for d in docs[:: len(docs) - 1]] == [(True, False), (False, True)]
    for workers in (0, 2):
        sources = [tmp_path / "v.txt", tmp_path / "v.jsonl"]
        store = prepare(sources, tmp_path / f"s{workers}", workers=workers, progress=False)
        assert docs_of(store) == reference_tokens([verdict_text, "small one", verdict_text, "after"])
        expected_bytes = 2 * len(verdict_text.encode()) + len("small one") + len("after")  # the text, no JSON
        assert store.manifest["stats"]["bytes_read"] == expected_bytes


# ---- determinism: workers, splits ---------------------------------------------------------------


def test_huge_documents_without_safe_places_are_encoded_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "DOC_BYTES", 3000)
    monkeypatch.setattr(readers, "BLOCK_BYTES", 1000)
    text = "中文文本测试没有空格" * 800 + " end of it"  # no ASCII letter before a space until the end
    (tmp_path / "c.txt").write_bytes(text.encode() + b"\xff tail")
    store = prepare([tmp_path / "c.txt"], tmp_path / "s", workers=2, progress=False)
    assert docs_of(store) == reference_tokens([text + "\ufffd tail"])
    assert store.manifest["stats"]["replacements"] == 1
    with pytest.raises(ValueError, match=rf"c\.txt: invalid UTF-8 at byte offset {len(text.encode())} "):
        prepare([tmp_path / "c.txt"], tmp_path / "s2", errors="strict", workers=0, progress=False)


def test_workers_1_and_2_give_byte_identical_stores(tmp_path: Path) -> None:
    texts = synthetic_docs(400, size=2000)
    src = write_jsonl(tmp_path / "a.jsonl", texts)
    (tmp_path / "b.txt").write_text(texts[0])
    stores = {}
    for workers in (0, 1, 2):
        out = tmp_path / f"s{workers}"
        sources = [src, tmp_path / "b.txt"]
        prepare(sources, out, workers=workers, shard_tokens=20_000, val_fraction=0.2, progress=False)
        stores[workers] = all_files(out)
    assert stores[0] == stores[1] == stores[2]
    assert sum(n.endswith(".bin") for n in stores[0]) > 4
    store = TokenStore.open(tmp_path / "s2")
    train, val = docs_of(store, "train"), docs_of(store, "val")
    assert 0.1 < len(val) / (len(val) + len(train)) < 0.3
    assert sorted(train + val) == sorted(reference_tokens(texts + [texts[0]]))
    assert "blake2b" in store.manifest["split_rule"] and store.manifest["options"]["val_fraction"] == 0.2


def test_window_dataset_reads_the_store(tmp_path: Path) -> None:
    from tokenmill.windows import WindowDataset

    src = write_jsonl(tmp_path / "a.jsonl", synthetic_docs(20))
    store = prepare([src], tmp_path / "s", workers=0, shard_tokens=500, progress=False)
    ds = WindowDataset(store["train"], max_length=8, stride=8)
    flat = np.concatenate([np.array(d) for d in docs_of(store)])
    x, y = ds[3]
    assert x.tolist() == flat[24:32].tolist() and y.tolist() == flat[25:33].tolist()


# ---- reruns, lock, options ------------------------------------------------------------------------


def test_rerun_is_up_to_date_and_other_options_are_refused(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", synthetic_docs(10))
    out = tmp_path / "s"
    prepare([src], out, workers=0, progress=False)
    before = all_files(out)
    prepare([src], out, workers=0, progress=False)
    assert all_files(out) == before
    with pytest.raises(ValueError, match=r"--seed: 0 -> 1.*overwrite=True"):
        prepare([src], out, workers=0, seed=1, val_fraction=0.5, progress=False)
    os.utime(src, ns=(1, 1))
    with pytest.raises(ValueError, match="inputs changed.*a.jsonl"):
        prepare([src], out, workers=0, progress=False)
    store = prepare([src], out, workers=0, seed=1, val_fraction=0.5, overwrite=True, progress=False)
    assert store.manifest["options"]["seed"] == 1 and "val" in store.manifest["splits"]


def test_a_running_prepare_locks_the_store(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["x"])
    out = tmp_path / "s"
    out.mkdir()
    with open(out / ".tokenmill.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ValueError, match="another `tokenmill prepare` is writing to"):
            prepare([src], out, workers=0, progress=False)
    assert prepare([src], out, workers=0, progress=False).manifest["stats"]["documents"] == 1


def test_a_partial_store_resumes_and_damaged_shards_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks_mod, "RANGE_BYTES", 20_000)  # many tasks: a fine resume
    src = write_jsonl(tmp_path / "a.jsonl", synthetic_docs(200))
    full = tmp_path / "full"
    prepare([src], full, workers=0, shard_tokens=2000, val_fraction=0.3, progress=False)
    reference = all_files(full)
    # Interrupt a run after its 12th shard (kill -9 is in test_prepare_crash.py), then rerun.
    real_close, calls = ShardWriter.close, []

    def close_and_stop(self):  # type: ignore[no-untyped-def]
        real_close(self)
        calls.append(1)
        if len(calls) == 12:
            raise KeyboardInterrupt

    for out in (tmp_path / "s2", tmp_path / "s3"):
        calls.clear()
        monkeypatch.setattr(ShardWriter, "close", close_and_stop)
        with pytest.raises(KeyboardInterrupt):
            prepare([src], out, workers=0, shard_tokens=2000, val_fraction=0.3, progress=False)
        monkeypatch.setattr(ShardWriter, "close", real_close)
        assert (out / ".progress.json").exists() and not (out / "manifest.json").exists()
        assert len(list((out / ".tasks").iterdir())) >= 1  # finished tasks are recorded
    options = PrepareOptions(workers=0, shard_tokens=2000, val_fraction=0.3, progress=False)
    report = run_prepare([src], tmp_path / "s2", options)
    assert all_files(tmp_path / "s2") == reference
    assert 1 <= report.skipped_tasks < report.tasks
    # A damaged kept shard is not trusted: its task is redone and the store still matches.
    first = sorted((tmp_path / "s3").glob("train-*.bin"))[0]
    with open(first, "r+b") as f:
        f.write(b"\xff\xff")
    with pytest.warns(UserWarning, match="damaged"):
        report = run_prepare([src], tmp_path / "s3", options)
    assert all_files(tmp_path / "s3") == reference and report.skipped_tasks >= 1


# ---- bad input --------------------------------------------------------------------------------------


def test_invalid_utf8_strict_names_file_and_offset_and_leaves_no_store(tmp_path: Path) -> None:
    src = tmp_path / "a.jsonl"
    src.write_bytes(b'{"text": "fine"}\n{"text": "bad \xff byte"}\n')
    out = tmp_path / "s"
    with pytest.raises(ValueError, match=r"a\.jsonl, line 2: invalid UTF-8 at byte offset 31 \(byte 0xff\)"):
        prepare([src], out, errors="strict", workers=0, progress=False)
    assert not out.exists()  # a failed run leaves no directory it created (not even a lock file)
    with pytest.raises(ValueError, match="invalid UTF-8 at byte offset 31"):
        prepare([src], out, errors="strict", workers=2, progress=False)
    store = prepare([src], out, workers=0, progress=False)  # errors="replace": a rerun just works
    assert store.manifest["stats"]["replacements"] == 1
    assert docs_of(store)[1] == GPT2.encode_ordinary("bad \ufffd byte") + [50256]


def test_invalid_utf8_in_txt_and_existing_fffd_not_counted(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes("ok \ufffd already\n".encode() + b"\xc3\x28 two bad \xe2\x82")
    store = prepare([tmp_path / "a.txt"], tmp_path / "s", workers=0, progress=False)
    assert store.manifest["stats"]["replacements"] == 2
    with pytest.raises(ValueError, match=r"a\.txt: invalid UTF-8 at byte offset 15 \(byte 0xc3\)"):
        prepare([tmp_path / "a.txt"], tmp_path / "s2", errors="strict", workers=0, progress=False)


def test_bad_jsonl_lines_error_or_are_skipped_and_counted(tmp_path: Path) -> None:
    src = tmp_path / "a.jsonl"
    src.write_text('{"text": "one"}\nnot json\n{"body": "x"}\n{"text": 5}\n[1]\n\n{"text": "two"}\n')
    with pytest.raises(ValueError, match=r"a\.jsonl, line 2 is not valid JSON.*skip_bad_lines=True"):
        prepare([src], tmp_path / "s", workers=0, progress=False)
    src.write_text('{"text": "one"}\n{"body": "x"}\n')
    with pytest.raises(ValueError, match=r"line 2 has no 'text' field \(keys: \['body'\]\)"):
        prepare([src], tmp_path / "s", workers=2, progress=False)
    src.write_text('{"text": "one"}\nnot json\n{"body": "x"}\n{"text": 5}\n[1]\n\n{"text": "two"}\n')
    store = prepare([src], tmp_path / "s", skip_bad_lines=True, workers=0, progress=False)
    stats = store.manifest["stats"]
    assert (stats["bad_lines_skipped"], stats["empty_documents"], stats["documents"]) == (4, 1, 2)
    assert docs_of(store) == reference_tokens(["one", "two"])


def test_input_errors_come_before_any_work(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "a.jsonl", ["x"])
    out = tmp_path / "s"
    with pytest.raises(FileNotFoundError, match="input not found: .*missing.txt"):
        prepare([good, tmp_path / "missing.txt"], out, progress=False)
    with pytest.raises(FileNotFoundError, match="no input file matches the glob"):
        prepare([str(tmp_path / "*.nothing")], out, progress=False)
    (tmp_path / "notes.md").write_text("x")
    with pytest.raises(
        ValueError, match=r"notes\.md: unsupported input format; supported: \.txt, \.jsonl, \.parquet"
    ):
        prepare([good, tmp_path / "notes.md"], out, progress=False)
    assert not out.exists()
    if os.geteuid() != 0:
        locked = write_jsonl(tmp_path / "b.jsonl", ["x"])
        locked.chmod(0)
        with pytest.raises(PermissionError, match="b.jsonl is not readable"):
            prepare([locked], out, progress=False)


def test_truncated_compressed_input_is_a_clear_error(tmp_path: Path) -> None:
    data = lzma.compress(("".join(json.dumps({"text": t}) + "\n" for t in synthetic_docs(50))).encode())
    (tmp_path / "a.jsonl.xz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"a\.jsonl\.xz: cannot read it \(EOFError"):
        prepare([tmp_path / "a.jsonl.xz"], tmp_path / "s", workers=0, progress=False)
    assert not (tmp_path / "s" / "manifest.json").exists()


def test_parquet_without_the_text_column_is_refused_up_front(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "a.parquet")
    with pytest.raises(
        ValueError, match=r"a\.parquet: no column 'text' \(columns: \['body'\]\); pass --text-field"
    ):
        prepare([tmp_path / "a.parquet"], tmp_path / "s", progress=False)
    store = prepare([tmp_path / "a.parquet"], tmp_path / "s", text_field="body", workers=0, progress=False)
    assert docs_of(store) == reference_tokens(["x"])


def test_bad_output_directories(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["x"])
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a directory"):
        prepare([src], tmp_path / "file", progress=False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no token store"):
        prepare([src], tmp_path / "busy", progress=False)
    prepare([src], tmp_path / "busy", overwrite=True, workers=0, progress=False)
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"
    # What a run killed before its first checkpoint leaves is ours: cleaned, not refused.
    (tmp_path / "killed").mkdir()
    for name in ("train-00000.bin", "train-00000-00000.idx", "train-00001.bin.tmp", ".progress.json.123.tmp"):
        (tmp_path / "killed" / name).write_bytes(b"junk")
    store = prepare([src], tmp_path / "killed", workers=0, progress=False)
    assert sorted(p.name for p in store.path.iterdir()) == [  # no lock file left either
        "manifest.json",
        "train-00000-00000.bin",
        "train-00000-00000.idx",
    ]
    assert docs_of(store) == reference_tokens(["x"])


def test_manifest_options_are_the_fields_that_define_the_store() -> None:
    # The manifest's "options" are compared on every rerun: their keys and values are format.
    options = PrepareOptions(workers=3, overwrite=True, progress=False, val_fraction=0)
    assert options.manifest_options("gpt2") == {
        "tokenizer": "gpt2", "eot": "append", "val_fraction": 0.0, "seed": 0, "text_field": "text",
        "errors": "replace", "shard_tokens": 100_000_000, "skip_bad_lines": False, "engine": "tiktoken",
    }  # fmt: skip
    assert isinstance(options.manifest_options("gpt2")["val_fraction"], float)
    assert PrepareOptions(tokenizer=GPT2).manifest_options("gpt2")["tokenizer"] == "gpt2"
    with pytest.raises(TypeError, match="seed must be an int, got 1.5"):
        PrepareOptions(seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="workers must be an int or None, got True"):
        PrepareOptions(workers=True)


def test_bad_options() -> None:
    for kwargs, match in [
        ({"eot": "end"}, "eot must be one of"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"shard_tokens": 0}, "shard_tokens"),
        ({"engine": "x"}, "engine"),
        ({"errors": "ignore"}, "errors"),
        ({"workers": -1}, "workers"),
    ]:
        with pytest.raises(ValueError, match=match):
            prepare(["x.txt"], "out", **kwargs)


# ---- CLI, every format ------------------------------------------------------------------------------


def test_cli_end_to_end_every_format(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard

    texts = synthetic_docs(12, seed=3)
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text(texts[0])
    write_jsonl(d / "b.jsonl", texts[1:3])
    jsonl_c = "".join(json.dumps({"text": t}) + "\n" for t in texts[3:5]).encode()
    (d / "sub" / "c.jsonl.gz").write_bytes(gzip.compress(jsonl_c))
    (tmp_path / "d.txt.xz").write_bytes(lzma.compress(texts[5].encode()))
    jsonl_e = "".join(json.dumps({"text": t}) + "\n" for t in texts[6:8]).encode()
    (tmp_path / "e.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(jsonl_e))
    pq.write_table(pa.table({"text": texts[8:10], "id": [1, 2]}), tmp_path / "f.parquet")
    (tmp_path / "g1.txt").write_text(texts[10])
    (tmp_path / "g2.txt").write_text(texts[11])
    out = tmp_path / "store"
    inputs = [str(d), *(str(tmp_path / name) for name in ("d.txt.xz", "e.jsonl.zst", "f.parquet", "g*.txt"))]
    options = ["--out", str(out), "--workers", "2", "--shard-tokens", "300"]
    cmd = [sys.executable, "-m", "tokenmill", "prepare", *inputs, *options]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.startswith("12 documents, ")
        and f"-> {out}" in done.stdout
        and done.stdout.count("\n") == 1
    )
    assert "\r" not in done.stderr  # stderr is a pipe: no bar redrawn in place (a line every 10 s at most)
    store = TokenStore.open(out)
    assert docs_of(store) == reference_tokens(texts)  # a.txt, b.jsonl, sub/c.jsonl.gz, then the rest in order
    store.verify()
    again = subprocess.run([*cmd, "--quiet"], check=False, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and again.stdout.startswith("up to date") and again.stderr == ""
    refused = subprocess.run(
        [*cmd, "--seed", "3", "--quiet"], check=False, capture_output=True, text=True, timeout=60
    )
    assert (
        refused.returncode == 2
        and "--seed: 0 -> 3" in refused.stderr
        and "--overwrite" in refused.stderr
    )
    assert "Traceback" not in refused.stderr


def test_prepare_never_imports_torch(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["hello"])
    code = (
        "import sys\nfrom tokenmill.prepare import prepare\nimport tokenmill.corpus.readers, tokenmill.prepare.engines\n"
        f"prepare([{str(src)!r}], {str(tmp_path / 's')!r}, workers=1, progress=False)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


# ---- review fixes: identity of inputs, expansion, --out inside inputs, val shards, workers -------


def _val_docs(store: TokenStore) -> list[list[int]]:
    return docs_of(store, "val") if "val" in store.splits else []


def test_val_split_does_not_depend_on_how_the_path_is_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    write_jsonl(tmp_path / "data" / "big.jsonl", synthetic_docs(60, size=20))
    monkeypatch.chdir(tmp_path / "data")
    options = {"workers": 0, "val_fraction": 0.3, "progress": False}
    a = prepare(["big.jsonl"], tmp_path / "a", **options)
    b = prepare(["./big.jsonl"], tmp_path / "b", **options)
    c = prepare([str(tmp_path / "data")], tmp_path / "c", **options)  # a directory: name relative to it
    d = prepare([str(tmp_path / "data" / "*.jsonl")], tmp_path / "d", **options)  # a glob: likewise
    assert 5 < len(_val_docs(a)) < 40
    assert _val_docs(a) == _val_docs(b) == _val_docs(c) == _val_docs(d)
    assert a.manifest["inputs"][0]["name"] == "big.jsonl" and "inputs[].name" in a.manifest["split_rule"]
    assert a.manifest["inputs"] == b.manifest["inputs"]
    assert a.manifest["inputs"][0]["path"] == os.path.realpath(tmp_path / "data" / "big.jsonl")
    # Rerun from another working directory with an absolute path: the same store, not "inputs changed".
    monkeypatch.chdir(tmp_path)
    before = all_files(tmp_path / "a")
    prepare([str(tmp_path / "data" / "big.jsonl")], tmp_path / "a", **options)
    assert all_files(tmp_path / "a") == before


def test_symlinked_dirs_and_dirs_matched_by_a_glob_are_read(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "real").mkdir(parents=True)
    (root / "real" / "a.txt").write_text("alpha")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "b.txt").write_text("beta")
    (root / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (root / "real" / "loop").symlink_to(root, target_is_directory=True)  # a cycle: walked once
    store = prepare([root], tmp_path / "s", workers=0, progress=False)
    assert docs_of(store) == reference_tokens(["beta", "alpha"])  # link/b.txt, real/a.txt
    names = [f.name for f in inputs.resolve_inputs([root])]
    assert names == ["link/b.txt", "real/a.txt"]
    found = inputs.resolve_inputs([str(tmp_path / "e*")])  # the glob matches a directory
    assert [f.name for f in found] == ["elsewhere/b.txt"]


def test_an_unlistable_subdirectory_is_an_error_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "a.txt").write_text("x")
    real_scandir = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]  # chmod 000 does not stop root: simulate it
        if os.fspath(path).endswith("sub"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    expected = r"input directory .*sub cannot be listed \(Permission denied\)"
    with pytest.raises(PermissionError, match=expected):
        inputs.resolve_inputs([tmp_path / "in"])


def test_overlapping_inputs_are_read_once_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    write_jsonl(tmp_path / "in" / "a.jsonl", ["one", "two"])
    with pytest.warns(UserWarning, match=r"a\.jsonl is already among the inputs: overlapping inputs are read once"):
        store = prepare(
            [tmp_path / "in", str(tmp_path / "in" / "*.jsonl")], tmp_path / "s", workers=0, progress=False
        )
    assert store.manifest["stats"]["documents"] == 2 and len(store.manifest["inputs"]) == 1


def test_out_inside_an_input_directory_is_skipped(tmp_path: Path) -> None:
    d = tmp_path / "dd"
    d.mkdir()
    (d / "b.txt").write_text("hello world")
    cmd = [sys.executable, "-m", "tokenmill", "prepare", "dd", "--out", "dd/store", "--quiet"]
    first = subprocess.run(cmd, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("1 document, 3 tokens") and "1 shard ->" in first.stdout
    again = subprocess.run(cmd, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and again.stdout.startswith("up to date"), again.stderr


def test_the_layout_is_shards_per_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks_mod, "RANGE_BYTES", 30_000)
    texts = synthetic_docs(300)
    src = write_jsonl(tmp_path / "a.jsonl", texts)
    (tmp_path / "b.txt").write_text("one document")
    store = prepare([src, tmp_path / "b.txt"], tmp_path / "s", workers=0, shard_tokens=2000, val_fraction=0.1, progress=False)
    n_tasks = -(-src.stat().st_size // 30_000) + 1
    assert len(store.manifest["tasks"]["list"]) == n_tasks and store.manifest["format_version"] == 2
    names = [e["name"] for s in store.manifest["splits"].values() for e in s["shards"]]
    assert {n.split("-")[1] for n in names} == {f"{t:05d}" for t in range(n_tasks)}
    for split in ("train", "val"):
        shards = store.manifest["splits"][split]["shards"]
        assert [e["name"] for e in shards] == sorted(e["name"] for e in shards)
        for e in shards:  # --shard-tokens bounds a shard: it closes at the first document end past it
            docs = np.fromfile(store.path / f"{e['name']}.idx", dtype="<i8")
            assert docs[-2] < 2000 or len(docs) == 2
    # Lines are split by task boundaries, never lost or repeated; the val split depends only on the line.
    assert sorted(docs_of(store) + _val_docs(store)) == sorted(reference_tokens([*texts, "one document"]))
    monkeypatch.setattr(tasks_mod, "RANGE_BYTES", 1 << 30)
    one = prepare([src, tmp_path / "b.txt"], tmp_path / "one", workers=0, shard_tokens=2000, val_fraction=0.1, progress=False)
    assert docs_of(one) == docs_of(store) and _val_docs(one) == _val_docs(store)


def test_an_empty_val_split_is_warned_about(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["one", "two"])
    with pytest.warns(UserWarning, match=r"val_fraction=0\.001 put none of the 2 documents in val"):
        store = prepare([src], tmp_path / "s", workers=0, val_fraction=0.001, progress=False)
    assert store.manifest["splits"]["val"]["n_documents"] == 0
    cmd = [sys.executable, "-m", "tokenmill", "prepare", str(src), "--out", str(tmp_path / "t")]
    args = [*cmd, "--val-fraction", "0.001", "--quiet"]
    done = subprocess.run(args, check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "val split EMPTY" in done.stdout and "put none" in done.stderr


def test_start_method_ignores_tqdms_monitor_thread(tmp_path: Path) -> None:
    from tokenmill.prepare.local_executor import start_method

    src = write_jsonl(tmp_path / "a.jsonl", ["one", "two"])
    code = (
        "import threading, tqdm, time\n"
        "from tokenmill.prepare import prepare\nfrom tokenmill.prepare.local_executor import start_method\n"
        "if __name__ == '__main__':\n"
        "    tqdm.tqdm.monitor_interval = 0.01\n"
        "    with tqdm.tqdm(total=1, disable=False, file=open('/dev/null', 'w')) as bar: time.sleep(0.05)\n"
        "    assert any(type(t).__name__ == 'TMonitor' for t in threading.enumerate())\n"
        "    print(start_method())\n"
        f"    prepare([{str(src)!r}], {str(tmp_path / 's')!r}, workers=1, progress=False)\n"
    )
    script = tmp_path / "two.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["fork"]
    assert start_method() in ("fork", "spawn")


def test_a_worker_that_fails_at_startup_reports_the_cause(tmp_path: Path) -> None:
    import dataclasses

    from tokenmill.prepare.coordinator import _job
    from tokenmill.prepare.local_executor import LocalExecutor
    from tokenmill.prepare.tasks import plan_tasks

    src = write_jsonl(tmp_path / "a.jsonl", ["one"])
    files = inputs.resolve_inputs([src])
    identity = {"tokenizer": {}, "options": {}}
    job = _job(GPT2, PrepareOptions(workers=1), files, tmp_path, ("train",), identity)
    job = dataclasses.replace(job, engine="nope")
    with LocalExecutor(workers=1) as executor:
        outcomes = list(executor.run(job, plan_tasks(files, "x"), lambda: False))
    assert outcomes[0][1]["kind"] == "crash"
    assert "worker failed to start: ValueError: unknown engine 'nope'" in outcomes[0][1]["error"]


def test_disk_errors_keep_the_partial_store_and_say_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import errno

    from tokenmill.cli import main

    src = write_jsonl(tmp_path / "a.jsonl", synthetic_docs(50))

    def full(self, *args):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "s" / "train-00001-00000.bin.tmp"))

    real_write, calls = ShardWriter.add, []

    def write_then_fail(self, *args):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real_write(self, *args) if len(calls) < 40 else full(self, *args)

    monkeypatch.setattr(tasks_mod, "RANGE_BYTES", 10_000)
    monkeypatch.setattr(ShardWriter, "add", write_then_fail)
    out = tmp_path / "s"
    options = ["--workers", "0", "--shard-tokens", "500", "--quiet"]
    code = main(["prepare", str(src), "--out", str(out), *options])
    err = capsys.readouterr().err
    assert code == 1 and "No space left on device" in err and "Traceback" not in err
    assert "partial store" in err and "rerun the same command to resume" in err
    assert (out / ".progress.json").exists() and len(list((out / ".tasks").iterdir())) >= 1


def test_default_workers_follow_the_cpu_affinity() -> None:
    from tokenmill.prepare.local_executor import default_workers

    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert default_workers() == expected


def test_a_huge_jsonl_line_is_not_held_many_times_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracemalloc

    monkeypatch.setattr(readers, "HUGE_LINE_BYTES", 1 << 20)
    text = " ".join(synthetic_docs(1, size=20)[0] for _ in range(400_000))[: 8 << 20]  # 8 MB, ASCII
    (tmp_path / "h.jsonl").write_text('{"text": "a"}\n' + json.dumps({"text": text}))  # no final newline
    files = inputs.resolve_inputs([tmp_path / "h.jsonl"])
    tracemalloc.start()
    try:
        pieces = []
        for doc in readers.read_task(files[0], 0, None, errors="strict", text_field="text", cuttable=True):
            if not (doc.first and doc.last):
                pieces.append(len(doc.text))  # like a worker: each piece is dropped once encoded
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(pieces) == len(text) and len(pieces) > 4
    # raw bytes, JSON text and value never all at once; pieces cut lazily (it was > 5x).
    assert peak < 2.6 * len(text), peak / len(text)
    store = prepare([tmp_path / "h.jsonl"], tmp_path / "s", workers=0, progress=False)
    assert docs_of(store) == reference_tokens(["a", text])


def test_a_process_that_loaded_ray_spawns_its_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from tokenmill.prepare.local_executor import LocalExecutor, start_method

    monkeypatch.delenv("TOKENMILL_START_METHOD", raising=False)
    monkeypatch.setitem(sys.modules, "ray", types.ModuleType("ray"))
    assert start_method() == "spawn"
    seen = []
    monkeypatch.setattr("multiprocessing.get_context", lambda method: seen.append(method) or (_ for _ in ()).throw(RuntimeError("stop")))
    with pytest.raises(RuntimeError, match="stop"), LocalExecutor(workers=1) as ex:
        ex._pool_for(types.SimpleNamespace(key="k"))
    assert seen == ["spawn"]
