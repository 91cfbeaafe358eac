"""Format 2: tasks that read their own input; the layout depends on the inputs only; v1 still reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenmill.corpus import readers
from tokenmill.corpus.inputs import resolve_inputs
from tokenmill.prepare import PrepareOptions, prepare, reference_tokens, run_prepare
from tokenmill.prepare import tasks as tasks_mod
from tokenmill.store import TokenStore, shard_name, write_manifest, write_shard
from tokenmill.store.manifest import _example_manifest


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(st.text(alphabet="ab é\n", max_size=30), min_size=1, max_size=25),
    range_bytes=st.integers(1, 90),
    final_newline=st.booleans(),
)
def test_byte_ranges_own_each_line_exactly_once(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str], range_bytes: int, final_newline: bool
) -> None:
    d = tmp_path_factory.mktemp("r")
    body = "\n".join(json.dumps({"text": t}) for t in texts) + ("\n" if final_newline else "")
    (d / "a.jsonl").write_text(body)
    f = resolve_inputs([d / "a.jsonl"])[0]
    plan = tasks_mod.plan_tasks([f], "x", range_bytes=range_bytes)
    assert len(plan) == -(-f.size // range_bytes) or f.size <= range_bytes
    docs = [doc for t in plan for doc in readers.read_task(f, t.start, t.stop, errors="strict", text_field="text", cuttable=True)]
    whole = list(readers.read_task(f, 0, None, errors="strict", text_field="text", cuttable=True))
    def plain(ds: list[readers.Doc]) -> list[tuple]:  # "path, line N" counted lazily in range tasks
        return [(*d[:-1], str(d.where)) for d in ds]

    assert plain(docs) == plain(whole)  # same lines, keys (byte offsets), byte counts, line numbers
    assert [d.text for d in whole] == texts and sum(d.nbytes for d in whole) == sum(len(t.encode()) for t in texts)


def test_the_store_does_not_depend_on_the_range_size_but_for_its_shard_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [f"document {i} " * (i % 13 + 1) for i in range(400)]
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    stores = []
    for r in (5_000, 17_000, 1 << 30):
        monkeypatch.setattr(tasks_mod, "RANGE_BYTES", r)
        store = prepare([src], tmp_path / f"s{r}", workers=0, val_fraction=0.3, shard_tokens=700, progress=False)
        stores.append((store, r))
    for store, r in stores:
        assert len(store.manifest["tasks"]["list"]) == -(-src.stat().st_size // r)
        assert [d.tolist() for d in store.documents("train")] == [d.tolist() for d in stores[0][0].documents("train")]
        assert [d.tolist() for d in store.documents("val")] == [d.tolist() for d in stores[0][0].documents("val")]
        assert store.manifest["stats"] == stores[0][0].manifest["stats"]
    train, val = stores[0][0].documents("train"), stores[0][0].documents("val")
    assert sorted(d.tolist() for d in [*train, *val]) == sorted(reference_tokens(texts))


def test_the_range_size_follows_the_inputs(tmp_path: Path) -> None:
    from tokenmill.corpus.inputs import InputFile

    def files(size: int) -> list[InputFile]:
        return [InputFile("a.jsonl", "jsonl", None, size, 0, "a.jsonl")]

    assert tasks_mod.range_bytes_for(files(50 << 20)) == 1 << 20  # 50 MB: 50 tasks, a fine resume
    assert tasks_mod.range_bytes_for(files(4 << 30)) == 16 << 20
    assert tasks_mod.range_bytes_for(files(100 << 30)) == 64 << 20  # 100 GB: 1,600 tasks
    xz = [InputFile("a.jsonl.xz", "jsonl", "xz", 50 << 20, 0, "a.jsonl.xz"), InputFile("b.txt", "txt", None, 9 << 20, 0, "b.txt")]
    assert [(t.start, t.stop) for t in tasks_mod.plan_tasks(xz, "x")] == [(0, None), (0, None)]  # never cut


def test_a_big_txt_stays_one_document_in_one_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks_mod, "RANGE_BYTES", 1000)
    text = "one long story " * 2000
    (tmp_path / "a.txt").write_text(text)
    store = prepare([tmp_path / "a.txt"], tmp_path / "s", workers=2, shard_tokens=100, progress=False)
    assert len(store.manifest["tasks"]["list"]) == 1 and store.manifest["splits"]["train"]["n_documents"] == 1
    assert [d.tolist() for d in store.documents()] == reference_tokens([text])


def test_resume_skips_finished_tasks_and_says_how_many(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenmill.prepare import worker

    monkeypatch.setattr(tasks_mod, "RANGE_BYTES", 4000)
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps({"text": f"text number {i} " * 20}) + "\n" for i in range(200)))
    prepare([src], tmp_path / "ref", workers=0, progress=False)
    real = worker._Worker._document

    def stop_in_task_5(self, doc):  # type: ignore[no-untyped-def]
        if doc.key >= 5 * 4000:
            raise KeyboardInterrupt
        real(self, doc)

    monkeypatch.setattr(worker._Worker, "_document", stop_in_task_5)
    with pytest.raises(KeyboardInterrupt):
        prepare([src], tmp_path / "s", workers=0, progress=False)
    monkeypatch.setattr(worker._Worker, "_document", real)
    report = run_prepare([src], tmp_path / "s", PrepareOptions(workers=0, progress=True))
    assert report.skipped_tasks == 5 and report.tasks == -(-src.stat().st_size // 4000)
    ref = {p.name: p.read_bytes() for p in (tmp_path / "ref").iterdir() if p.is_file() and not p.name.startswith(".")}
    got = {p.name: p.read_bytes() for p in (tmp_path / "s").iterdir() if p.is_file() and not p.name.startswith(".")}
    assert got == ref


def test_a_format_1_store_still_reads(tmp_path: Path) -> None:
    shards = [
        write_shard(tmp_path, shard_name("train", 0), np.array([31373, 995, 50256], np.uint16), np.array([0, 3])),
        write_shard(tmp_path, shard_name("train", 1), np.array([40, 50256], np.uint16), np.array([0, 2])),
    ]
    manifest = _example_manifest(shards)
    manifest["format_version"] = 1
    write_manifest(tmp_path, manifest)
    store = TokenStore.open(tmp_path)
    assert store["train"][:].tolist() == [31373, 995, 50256, 40, 50256]
    assert [d.tolist() for d in store.documents()] == [[31373, 995, 50256], [40, 50256]]
    store.verify()
    assert store.manifest["format_version"] == 1


@pytest.mark.parametrize("suffix", [".xz", ".gz"])
def test_a_big_compressed_jsonl_is_unpacked_once_then_cut_like_an_uncompressed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    import gzip
    import lzma

    monkeypatch.setattr(tasks_mod, "RANGE_BYTES", 6000)
    import random

    rng = random.Random(7)  # text that does not compress to nothing: big on disk too
    texts = [f"line {i} " + " ".join("".join(rng.choices("abcdefghij", k=5)) for _ in range(i % 17 + 1)) for i in range(300)]
    body = "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()
    (tmp_path / "plain").mkdir()
    (tmp_path / "packed").mkdir()
    (tmp_path / "plain" / "a.jsonl").write_bytes(body)
    packed = tmp_path / "packed" / f"a.jsonl{suffix}"
    packed.write_bytes(lzma.compress(body) if suffix == ".xz" else gzip.compress(body))
    args = dict(val_fraction=0.3, shard_tokens=500, progress=False)
    plain = prepare([tmp_path / "plain" / "a.jsonl"], tmp_path / "s-plain", workers=0, **args)
    def docs(store: TokenStore) -> list[list[int]]:
        return sorted(d.tolist() for split in store.splits for d in store.documents(split))

    shards = []
    for workers in (0, 2):
        report = run_prepare([packed], tmp_path / f"s{workers}", PrepareOptions(workers=workers, **args))
        assert report.tasks == len(plain.manifest["tasks"]["list"]) >= 4  # cut into ranges, not one task
        shards.append({p.name: p.read_bytes() for p in report.store.path.glob("*-*.*")})
        assert docs(report.store) == docs(plain) and report.store.manifest["stats"] == plain.manifest["stats"]
        assert not (report.store.path / ".unpacked").exists()  # the copy is gone once the store is done
    assert shards[0] == shards[1]
    # Errors name the compressed file and its line, as when it is read whole.
    bad = body.replace(b'{"text": "line 250 ', b'{"txet": "line 250 ', 1)
    packed.write_bytes(lzma.compress(bad) if suffix == ".xz" else gzip.compress(bad))
    with pytest.raises(ValueError, match=rf"a\.jsonl{suffix}, line 251 has no 'text' field"):
        prepare([packed], tmp_path / "bad", workers=2, **args)
