"""prepare: an error or a kill keeps finished work, and a rerun resumes from it."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import all_files, write_jsonl
from tokenmill.corpus import readers
from tokenmill.prepare import PrepareOptions, prepare, run_prepare
from tokenmill.prepare import manifest as manifest_module
from tokenmill.prepare import tasks as tasks_module
from tokenmill.store.writer import ShardWriter

WORDS = "the of and a to in is you that it he was for on are as with his they I at be this".split()


def synthetic_docs(n: int, seed: int = 0, size: int = 200) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) + rng.choice(["", ",", ".\n"]) for _ in range(rng.randint(1, size))) for _ in range(n)]


def interrupt_after_closes(monkeypatch: pytest.MonkeyPatch, n: int, exc: BaseException = KeyboardInterrupt()) -> None:
    """Make a task raise ``exc`` right after the ``n``-th shard close of the run (many small tasks)."""
    monkeypatch.setattr(tasks_module, "RANGE_BYTES", 8000)
    real, calls = ShardWriter.close, []

    def close(self):  # type: ignore[no-untyped-def]
        real(self)
        calls.append(self.split)
        if len(calls) == n:
            monkeypatch.setattr(ShardWriter, "close", real)
            raise exc

    monkeypatch.setattr(ShardWriter, "close", close)


def recorded_shards(out: Path) -> int:
    """Shards of the tasks recorded as finished (format 2: .tasks/<task>.json)."""
    records = [json.loads(p.read_text()) for p in (out / ".tasks").glob("*.json")]
    return sum(len(v) for r in records for v in r["shards"].values())


def test_a_value_error_mid_run_keeps_the_finished_shards_of_this_and_earlier_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks_module, "RANGE_BYTES", 8000)
    src = write_jsonl(tmp_path / "a.jsonl", synthetic_docs(150))
    args = dict(workers=0, shard_tokens=2000, val_fraction=0.2, progress=False)
    prepare([src], tmp_path / "ref", **args)
    out = tmp_path / "s"
    interrupt_after_closes(monkeypatch, 6)  # an earlier run, interrupted
    with pytest.raises(KeyboardInterrupt):
        prepare([src], out, **args)
    first = recorded_shards(out)
    interrupt_after_closes(monkeypatch, 8, ValueError("a bug somewhere"))  # this run: a ValueError
    with pytest.raises(ValueError, match="a bug somewhere"):
        prepare([src], out, **args)
    kept = all_files(out)
    assert ".progress.json" in kept and recorded_shards(out) > first > 0
    assert sum(n.endswith(".bin") for n in kept) == recorded_shards(out)  # the failed task's shards are gone
    assert not any(n.endswith(".tmp") for n in kept)
    reference = all_files(tmp_path / "ref")
    assert all(reference[n] == b for n, b in kept.items() if n.endswith((".bin", ".idx")))
    shards = recorded_shards(out)
    report = run_prepare([src], out, PrepareOptions(**args))
    assert report.resumed_shards == shards and all_files(out) == reference

def test_a_corrupt_checkpoint_is_refused_and_overwrite_starts_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks_module, "RANGE_BYTES", 8000)
    src = write_jsonl(tmp_path / "a.jsonl", synthetic_docs(100))
    args = dict(workers=0, shard_tokens=2000, progress=False)
    prepare([src], tmp_path / "ref", **args)
    out = tmp_path / "s"
    interrupt_after_closes(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        prepare([src], out, **args)
    for garbage in ('{"identity": {', "[]", '{"splits": 3}'):
        (out / ".progress.json").write_text(garbage)
        before = all_files(out)
        with pytest.raises(ValueError, match=r"\.progress\.json.*corrupt.*overwrite=True"):
            prepare([src], out, **args)
        assert all_files(out) == before  # nothing deleted
    with pytest.warns(UserWarning, match=r"\.progress\.json is corrupt.*starting over"):
        prepare([src], out, overwrite=True, **args)
    assert all_files(out) == all_files(tmp_path / "ref")

def test_open_shard_files_are_closed_and_removed_on_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", synthetic_docs(100))
    opened: list[Any] = []

    import tokenmill.common.files as files_module  # where the shard writer opens its files

    real_create = files_module.create_new

    def spy_create(path: Path) -> Any:
        f = real_create(path)
        opened.append(f)
        return f

    monkeypatch.setattr(files_module, "create_new", spy_create)
    real_add, seen = ShardWriter.add, []

    def add(self, pieces, last):  # type: ignore[no-untyped-def]
        real_add(self, pieces, last)
        seen.append(1)
        if self.task >= 2 and self.file is not None:  # an open shard; earlier tasks closed theirs
            raise RuntimeError("a worker died")

    monkeypatch.setattr(ShardWriter, "add", add)
    monkeypatch.setattr(tasks_module, "RANGE_BYTES", 8000)  # finished tasks before the failing one
    readers_block = readers.BLOCK_BYTES
    monkeypatch.setattr(readers, "BLOCK_BYTES", 2000)
    with pytest.raises(RuntimeError, match="a worker died"):
        prepare([src], tmp_path / "s", workers=0, shard_tokens=3000, val_fraction=0.3, progress=False)
    assert readers_block != 2000 and opened and all(f.closed for f in opened)
    left = [p.name for p in (tmp_path / "s").iterdir()]
    assert not any(n.endswith(".tmp") for n in left) and "train-00000-00000.bin" in left
    assert not any(n.startswith("train-00002-") for n in left)  # the failed task left nothing

def test_a_kill_inside_finish_is_cleaned_up_by_the_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", synthetic_docs(40))
    real = manifest_module.write_manifest

    def write_then_die(directory, manifest):  # type: ignore[no-untyped-def]
        real(directory, manifest)
        (Path(directory) / "manifest.json.4242.tmp").write_bytes(b"half")  # another write cut short
        raise KeyboardInterrupt  # killed before the checkpoint is removed

    monkeypatch.setattr(manifest_module, "write_manifest", write_then_die)
    out = tmp_path / "s"
    with pytest.raises(KeyboardInterrupt):
        prepare([src], out, workers=0, shard_tokens=2000, progress=False)
    monkeypatch.setattr(manifest_module, "write_manifest", real)
    assert (out / ".progress.json").exists()
    report = run_prepare([src], out, PrepareOptions(workers=0, shard_tokens=2000, progress=False))
    assert report.up_to_date
    assert not (out / ".progress.json").exists() and not (out / "manifest.json.4242.tmp").exists()
    assert not (out / ".tasks").exists()

def test_resume_when_val_is_ahead_of_train(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Format 2: a task's val and train shards count only together, once its record is written.
    monkeypatch.setattr(tasks_module, "RANGE_BYTES", 8000)
    src = write_jsonl(tmp_path / "a.jsonl", synthetic_docs(300))
    args = dict(workers=0, shard_tokens=1500, val_fraction=0.8, progress=False)
    prepare([src], tmp_path / "ref", **args)
    real, checked = ShardWriter.close, []

    def close(self):  # type: ignore[no-untyped-def]
        real(self)
        if self.split == "val" and len(self.entries) >= 2 and self.task >= 2:
            checked.append(1)  # val closed on its own, train still open: stop right here
            raise KeyboardInterrupt

    monkeypatch.setattr(ShardWriter, "close", close)
    out = tmp_path / "s"
    with pytest.raises(KeyboardInterrupt):
        prepare([src], out, **args)
    monkeypatch.setattr(ShardWriter, "close", real)
    assert checked and recorded_shards(out) >= 3
    report = run_prepare([src], out, PrepareOptions(**args))
    assert report.resumed_shards >= 3 and all_files(out) == all_files(tmp_path / "ref")
