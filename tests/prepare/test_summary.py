"""What prepare tells a user: its summary line, data problems, interruptions, in words that are true."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.helpers import write_jsonl
from tests.prepare.test_resume import interrupt_after_closes, synthetic_docs
from tokenmill.common.words import human_bytes, plural
from tokenmill.corpus import readers
from tokenmill.prepare import PrepareOptions, prepare, run_prepare, worker
from tokenmill.prepare import tasks as tasks_module
from tokenmill.prepare.leftovers import kept_work


def test_the_summary_counts_every_data_problem(tmp_path: Path, cli) -> None:
    d = tmp_path / "in"
    d.mkdir()
    (d / "empty.jsonl").write_bytes(b"")
    (d / "blank.jsonl").write_text("\n\n")
    (d / "bad.jsonl").write_text('{"text": "fine"}\nnot json\n{"body": "no text"}\n')
    (d / "latin1.txt").write_bytes("café".encode("latin-1") + b" \xff\xfe ok")
    done = cli("prepare", str(d), "--out", str(tmp_path / "s"), "--skip-bad-lines", "--quiet", "--workers", "0")
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith("2 documents, ") and "\n" not in line, line
    assert "data: 3 U+FFFD replacements (invalid UTF-8), 2 bad lines skipped, 2 empty documents skipped, " in line
    assert "2 empty input files" in line, line
    stats = json.loads((tmp_path / "s" / "manifest.json").read_text())["stats"]
    assert (stats["empty_files"], stats["bad_lines_skipped"], stats["replacements"]) == (2, 2, 3)
    again = cli("prepare", str(d), "--out", str(tmp_path / "s"), "--skip-bad-lines", "--quiet", "--workers", "0")
    assert again.stdout.startswith("up to date: 2 documents, ") and "2 empty input files" in again.stdout


def test_a_sound_store_keeps_the_counters_it_always_had(tmp_path: Path) -> None:
    store = prepare([write_jsonl(tmp_path / "a.jsonl", ["x"])], tmp_path / "s", workers=0, progress=False)
    assert "empty_files" not in store.manifest["stats"]


def test_one_of_each_is_singular_and_small_sizes_have_units(tmp_path: Path, cli) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["hello"])
    done = cli("prepare", str(src), "--out", str(tmp_path / "s"), "--quiet", "--workers", "0")
    line = done.stdout.strip()
    assert line.startswith("1 document, 2 tokens, 5 bytes of text, ") and "1 shard -> " in line, line
    assert "0.0 MB" not in line and " documents" not in line and "(s)" not in line, line


def test_a_val_fraction_that_empties_train_is_said(tmp_path: Path, cli) -> None:
    src = write_jsonl(tmp_path / "one.jsonl", ["only one"])
    # seed 0 draws the single document into val at 0.5 (the split rule is a seeded hash)
    assert worker.split_of(0, "one.jsonl", 0, 0.5) == 1
    done = cli("prepare", str(src), "--out", str(tmp_path / "s"), "--val-fraction", "0.5", "--quiet", "--workers", "0")
    assert done.returncode == 0
    assert "train split EMPTY" in done.stdout and "lower --val-fraction" in done.stdout, done.stdout
    assert "warning: --val-fraction 0.5 put none of the 1 document in train" in done.stderr, done.stderr


def test_a_resume_says_what_it_skipped_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", synthetic_docs(120))
    args = ("prepare", str(src), "--out", str(tmp_path / "s"), "--workers", "0")
    interrupt_after_closes(monkeypatch, 4)
    first = cli(*args)
    assert first.returncode == 130
    kept = len(list((tmp_path / "s" / ".tasks").glob("*.json")))
    assert f"keeps {plural(kept, 'finished task')}: rerun the same command to resume" in first.stderr, first.stderr
    done = cli(*args)  # with the progress bar: the skipped count is said once, in the summary
    assert done.returncode == 0, done.stderr
    assert (done.stdout + done.stderr).count("finished by an earlier run") == 1, done.stdout + done.stderr
    assert f"resumed: skipped {kept} of " in done.stdout


def test_ctrl_c_while_unpacking_says_the_truth_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    data = "".join(json.dumps({"text": t}) + "\n" for t in synthetic_docs(400)).encode()
    (tmp_path / "big.jsonl.gz").write_bytes(gzip.compress(data, compresslevel=0))
    monkeypatch.setattr(tasks_module, "RANGE_BYTES", 16_000)  # big enough to be decompressed first
    seen: list[Path] = []

    def killed_while_unpacking(f, dest):  # type: ignore[no-untyped-def]
        # As a worker stopped by the pool: half a copy under its temporary name, no cleanup.
        tmp = Path(f"{dest}.{12345}.tmp")
        tmp.write_bytes(data[: len(data) // 2])
        seen.append(tmp)
        raise KeyboardInterrupt

    monkeypatch.setattr(worker, "unpack", killed_while_unpacking)
    out = tmp_path / "s"
    done = cli("prepare", str(tmp_path / "big.jsonl.gz"), "--out", str(out), "--workers", "0", "--quiet")
    assert done.returncode == 130 and seen
    assert done.stderr.endswith("interrupted; no task had finished, so nothing was kept: rerun the same command to start again\n")
    assert "keeps" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert not seen[0].exists() and not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_kept_work_counts_decompressed_copies_apart_from_tasks(tmp_path: Path) -> None:
    (tmp_path / ".unpacked").mkdir()
    (tmp_path / ".unpacked" / "00000.json").write_text("{}")
    assert kept_work(tmp_path).startswith(f"no task had finished; {tmp_path} keeps 1 decompressed input: ")
    (tmp_path / ".tasks").mkdir()
    for i in range(2):
        (tmp_path / ".tasks" / f"{i:05d}.json").write_text("{}")
    assert kept_work(tmp_path) == f"the partial store in {tmp_path} keeps 2 finished tasks: rerun the same command to resume"


def test_sizes_in_words() -> None:
    assert [human_bytes(n) for n in (0, 1, 999, 1000, 27_912, 999_960, 27_912_345)] == [
        "0 bytes", "1 byte", "999 bytes", "1.0 kB", "27.9 kB", "1.0 MB", "27.9 MB",
    ]
    assert readers.text_bytes("日本") == 6


def test_a_truncated_shard_rebuilds_only_its_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import all_files
    from tokenmill.prepare.worker import _Worker

    monkeypatch.setattr(tasks_module, "RANGE_BYTES", 8000)
    src = write_jsonl(tmp_path / "a.jsonl", synthetic_docs(120))
    out = tmp_path / "s"
    store = prepare([src], out, workers=0, progress=False, val_fraction=0.2)
    reference, n_tasks = all_files(out), len(store.manifest["tasks"]["list"])
    assert n_tasks > 4 and len(store.manifest["tasks"]["stats"]) == n_tasks
    victim = store.manifest["splits"]["train"]["shards"][2]["name"]
    with open(out / f"{victim}.bin", "r+b") as f:
        f.truncate(10)
    redone: list[int] = []
    real = _Worker._clear

    def clear(self, task):  # type: ignore[no-untyped-def]
        redone.append(task)
        real(self, task)

    monkeypatch.setattr(_Worker, "_clear", clear)
    with pytest.warns(UserWarning, match="rebuilding the tasks whose shards are damaged"):
        again = run_prepare([src], out, PrepareOptions(workers=0, progress=False, val_fraction=0.2))
    assert redone == [int(victim.split("-")[1])], redone  # one task redone, not all of them
    assert (again.skipped_tasks, again.tasks) == (n_tasks - 1, n_tasks)
    assert all_files(out) == reference and again.store.manifest == store.manifest


def test_help_explains_shards_per_task_and_o_is_out(tmp_path: Path, cli) -> None:
    helped = cli("prepare", "--help").stdout
    flat = " ".join(helped.split())
    assert "Each task (a file, or a 1-64 MB range of a big .jsonl) writes its own shards" in flat, flat
    assert "gaps in the numbers" in flat and "-o DIR, --out DIR" in flat
    src = write_jsonl(tmp_path / "a.jsonl", ["x"])
    assert cli("prepare", str(src), "-o", str(tmp_path / "s"), "--quiet", "--workers", "0").returncode == 0
    assert (tmp_path / "s" / "manifest.json").is_file()


def test_a_ray_run_says_it_ran_on_ray(tmp_path: Path) -> None:
    import dataclasses

    from tokenmill.cli.prepare_cmd import summary

    src = write_jsonl(tmp_path / "a.jsonl", ["hello", "world"])
    report = run_prepare([src], tmp_path / "s", PrepareOptions(workers=0, progress=False))
    assert "Ray" not in summary(report)
    line = summary(dataclasses.replace(report, executor="ray", nodes=frozenset({"node-a"})))
    assert line.endswith("; tasks ran on Ray (1 node)"), line
