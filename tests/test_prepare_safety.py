"""Issue 11: prepare and the store never lose or corrupt data silently (each test fails on the old code)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenmill.corpus import inputs, readers
from tokenmill.prepare import PrepareOptions, checkpoint, prepare, run_prepare
from tokenmill.prepare import manifest as manifest_module
from tokenmill.prepare import tasks as tasks_module
from tokenmill.prepare import worker as worker_module
from tokenmill.store.writer import ShardWriter
from tokenmill.store import TokenStore
from tokenmill.tokenizers import Tokenizer, get_tokenizer

GPT2 = get_tokenizer("gpt2")
WORDS = "the of and a to in is you that it he was for on are as with his they I at be this".split()


def synthetic_docs(n: int, seed: int = 0, size: int = 200) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) + rng.choice(["", ",", ".\n"]) for _ in range(rng.randint(1, size))) for _ in range(n)]


def write_jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


def files_of(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file() and p.name != ".tokenmill.lock"}


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


# ---- 1. IDs are never wrapped -------------------------------------------------------------------


class Liar(Tokenizer):
    """Says its IDs stop at 50256 (so the store is uint16), then returns bigger ones."""

    name, vocab_size, max_token_value, eot_id = "liar", 50257, 50256, 50256
    special_tokens = {"<|endoftext|>": 50256}

    def __init__(self, big: int) -> None:
        self.big = big

    def _encode(self, text: str, allowed: set[str]) -> list[int]:
        return [self.big if w == "big" else 5 for w in text.split()]

    def decode_tokens_bytes(self, ids: Any) -> list[bytes]:
        return [b"?" for _ in ids]


@pytest.mark.parametrize("big", [70000, 60000])
def test_an_id_beyond_max_token_value_is_refused_not_wrapped(tmp_path: Path, big: int) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["small words", "a big one"])
    with pytest.raises(ValueError, match=rf"tokenizer 'liar' returned token ID {big}.*max_token_value is 50256.*uint16"):
        prepare([src], tmp_path / "s", tokenizer=Liar(big), workers=0, progress=False)
    assert not (tmp_path / "s").exists()


def test_the_shard_writer_refuses_a_cast_that_would_wrap(tmp_path: Path) -> None:
    liar = {"name": "liar", "max_token_value": 50256}
    output = ShardWriter(tmp_path, "train", 0, np.dtype("uint16"), shard_tokens=100, tokenizer=liar)
    with pytest.raises(ValueError, match="token ID 70000.*uint16"):
        output.add([np.array([1, 70000], np.uint32)], True)
    output.abandon()
    assert not list(tmp_path.iterdir())


# ---- 2. a user's files are never deleted -------------------------------------------------------------


def test_a_users_tmp_file_is_never_prepares(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["x", "y"])
    out = tmp_path / "s"
    out.mkdir()
    (out / "notes.tmp").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no token store"):
        prepare([src], out, workers=0, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["notes.tmp"]  # and no lock file dropped in it
    for overwrite in (True, False, True):  # write into it, rerun (up to date), rebuild
        prepare([src], out, workers=0, progress=False, overwrite=overwrite)
        assert (out / "notes.tmp").read_text() == "mine"
    assert not checkpoint.is_ours("notes.tmp") and not checkpoint.is_ours("train.tmp")
    assert not checkpoint.is_ours("x.123.tmp") and not checkpoint.is_ours("manifest.json.tmp")
    for name in ("train-00001.bin.tmp", "val-00000.idx.77.tmp", "manifest.json.9.tmp", ".progress.json.1.tmp"):
        assert checkpoint.is_ours(name), name


# ---- 3. an error mid-run keeps finished work ------------------------------------------------------------


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
    kept = files_of(out)
    assert ".progress.json" in kept and recorded_shards(out) > first > 0
    assert sum(n.endswith(".bin") for n in kept) == recorded_shards(out)  # the failed task's shards are gone
    assert not any(n.endswith(".tmp") for n in kept)
    reference = files_of(tmp_path / "ref")
    assert all(reference[n] == b for n, b in kept.items() if n.endswith((".bin", ".idx")))
    shards = recorded_shards(out)
    report = run_prepare([src], out, PrepareOptions(**args))
    assert report.resumed_shards == shards and files_of(out) == reference


# ---- 4. a corrupt checkpoint is never silently thrown away ---------------------------------------------


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
        before = files_of(out)
        with pytest.raises(ValueError, match=r"\.progress\.json.*corrupt.*overwrite=True"):
            prepare([src], out, **args)
        assert files_of(out) == before  # nothing deleted
    with pytest.warns(UserWarning, match=r"\.progress\.json is corrupt.*starting over"):
        prepare([src], out, overwrite=True, **args)
    assert files_of(out) == files_of(tmp_path / "ref")


# ---- 5. handles closed on errors; a kill inside finish() leaves nothing behind -------------------------


def test_open_shard_files_are_closed_and_removed_on_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", synthetic_docs(100))
    opened: list[Any] = []

    def spy_open(*a: Any, **k: Any) -> Any:
        f = open(*a, **k)
        opened.append(f)
        return f

    import tokenmill.common.files as files_module  # where the shard writer opens its files

    monkeypatch.setattr(files_module, "open", spy_open, raising=False)
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


# ---- 6. broad excepts say what went wrong -------------------------------------------------------------------


def test_tiktoken_failures_are_not_all_called_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import tiktoken

    from tokenmill import vocab
    from tokenmill.tokenizers import bpe

    monkeypatch.setattr(vocab, "find_ranks_file", lambda spec: None)

    def boom(name: str) -> Any:
        raise RuntimeError("the encoding constructor broke")

    monkeypatch.setattr(tiktoken, "get_encoding", boom)
    with pytest.raises(ValueError, match="RuntimeError: the encoding constructor broke") as info:
        bpe._tiktoken_by_name("gpt2")
    assert "not installed" not in str(info.value)

    def offline(name: str) -> Any:
        raise ConnectionError("no network")

    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    with pytest.raises(ValueError, match="not installed.*ConnectionError"):
        bpe._tiktoken_by_name("gpt2")


def test_stats_say_why_token_texts_are_missing(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["hello world"])
    prepare([src], tmp_path / "s", workers=0, progress=False)
    _set_ranks_sha(tmp_path / "s", "0" * 64)
    stats = TokenStore.open(tmp_path / "s").stats(top_k=3)
    assert stats["total"]["top_tokens"][0]["text"] is None
    assert "ranks sha256" in stats["tokenizer_error"] and "0" * 64 in stats["tokenizer_error"]
    from tokenmill.cli.stats_cmd import format_table

    assert "token texts not shown" in format_table(stats) and "ranks sha256" in format_table(stats)


# ---- 7. resume when val is ahead of train ----------------------------------------------------------------


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
    assert report.resumed_shards >= 3 and files_of(out) == files_of(tmp_path / "ref")


# ---- 9. worker-count identity with many tasks in flight, 3 workers, spawn ------------------------------------


@pytest.mark.parametrize("workers, method", [(3, None), (2, "spawn")])
def test_workers_fill_the_in_flight_window_and_still_give_identical_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int, method: str | None
) -> None:
    texts = synthetic_docs(400, seed=5, size=300)
    src = write_jsonl(tmp_path / "a.jsonl", texts)
    monkeypatch.setattr(tasks_module, "RANGE_BYTES", 4096)  # many small tasks, of varied cost
    n_tasks = len(tasks_module.plan_tasks(inputs.resolve_inputs([src]), "x"))
    assert n_tasks > 4 * 4 * workers  # several times the in-flight window: results arrive out of order
    args = dict(shard_tokens=5000, val_fraction=0.3, progress=False)
    prepare([src], tmp_path / "s0", workers=0, **args)
    if method:
        monkeypatch.setenv("TOKENMILL_START_METHOD", method)
    prepare([src], tmp_path / "sN", workers=workers, **args)
    assert files_of(tmp_path / "s0") == files_of(tmp_path / "sN")


# ---- 10. a shard closes exactly at the first document boundary past shard_tokens -------------------------


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(1, 60), min_size=1, max_size=40),
    shard_tokens=st.integers(1, 150),
    val=st.sampled_from([0.0, 0.4]),
)
def test_shards_close_at_the_first_boundary_past_shard_tokens(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], shard_tokens: int, val: float
) -> None:
    d = tmp_path_factory.mktemp("b")
    src = write_jsonl(d / "a.jsonl", [" the" * n for n in sizes])  # " the" is one token: n + 1 with the EOT
    store = prepare([src], d / "s", workers=0, shard_tokens=shard_tokens, val_fraction=val, progress=False)
    for split in store.splits:
        shards = store.manifest["splits"][split]["shards"]
        for k, sh in enumerate(shards):
            offsets = np.fromfile(store.path / f"{sh['name']}.idx", "<i8")
            last = int(offsets[-1] - offsets[-2])
            assert sh["n_tokens"] - last < shard_tokens, (split, k)  # it did not close one document late
            if split == "train" and k < len(shards) - 1:
                assert sh["n_tokens"] >= shard_tokens, k  # nor early


# ---- 11. readers refuse a tokenizer whose vocabulary differs ---------------------------------------------


def _set_ranks_sha(out: Path, sha: str) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tokenizer"]["ranks_sha256"] == GPT2.ranks_sha256 is not None
    manifest["tokenizer"]["ranks_sha256"] = sha
    (out / "manifest.json").write_text(json.dumps(manifest))


def test_decode_refuses_a_tokenizer_with_another_ranks_sha256(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["hello world"])
    prepare([src], tmp_path / "s", workers=0, progress=False)
    assert TokenStore.open(tmp_path / "s").decode(0, 2) == "hello world"
    _set_ranks_sha(tmp_path / "s", "ab" * 32)
    with pytest.raises(ValueError, match=f"ranks sha256 {GPT2.ranks_sha256}.*made with {'ab' * 32}"):
        TokenStore.open(tmp_path / "s").decode(0, 2)


# ---- 12. fsync, rename, directory fsync, in that order ----------------------------------------------------


def test_every_file_is_fsynced_renamed_and_its_directory_fsynced_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to name file descriptors")
    src = write_jsonl(tmp_path / "a.jsonl", synthetic_docs(60))
    out = tmp_path / "s"
    events: list[tuple[str, str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"), ""))
        real_fsync(fd)

    def replace(a: Any, b: Any) -> None:
        real_replace(a, b)
        events.append(("replace", os.path.realpath(a), os.path.realpath(b)))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    prepare([src], out, workers=0, shard_tokens=1500, val_fraction=0.3, progress=False)
    real_out = os.path.realpath(out)
    replaces = [i for i, e in enumerate(events) if e[0] == "replace" and os.path.dirname(e[2]) == real_out]
    names = [os.path.basename(events[i][2]) for i in replaces]
    assert sum(n.endswith(".bin") for n in names) > 3 and names[-1] == "manifest.json"
    for i in replaces:
        _, tmp, final = events[i]
        assert ("fsync", tmp, "") in events[:i], f"{final} renamed before its data was fsynced"
        later = [j for j in replaces if j > i and os.path.basename(events[j][2]) in (".progress.json", "manifest.json")]
        dir_sync = next((j for j in range(i + 1, len(events)) if events[j][:2] == ("fsync", real_out)), None)
        assert dir_sync is not None, f"the rename of {final} is never made durable"
        assert not later or dir_sync < later[0], f"{final}: recorded before its rename was durable"


# ---- 14. an unreadable input, testable as root -------------------------------------------------------------


def test_an_unreadable_input_is_a_one_line_error_even_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tokenmill.cli import main

    locked = write_jsonl(tmp_path / "b.jsonl", ["x"])
    real_open = open

    def deny(path: Any, *a: Any, **k: Any) -> Any:
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(inputs, "open", deny, raising=False)
    with pytest.raises(PermissionError, match=r"b\.jsonl is not readable \(permission denied\)"):
        prepare([locked], tmp_path / "s", progress=False)
    assert not (tmp_path / "s").exists()
    assert main(["prepare", str(locked), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "b.jsonl is not readable" in err and "Traceback" not in err
