"""prepare --out s3://...: against a real S3 server (moto on 127.0.0.1), every object equal to a local prepare's."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import all_files, write_jsonl
from tests.prepare.kills import prepare_cmd, synthetic_corpus
from tests.s3 import S3Server
from tokenmill.prepare import PrepareOptions, run_prepare
from tokenmill.prepare.publish import staging_dir

OPTIONS = {"workers": 0, "progress": False, "shard_tokens": 2000, "val_fraction": 0.2}


def bucket_files(server: S3Server, prefix: str) -> dict[str, bytes]:
    """Every object under ``prefix/`` by key relative to it (read behind tokenmill's back)."""
    client, out = server.client(), {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=server.bucket, Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            body = client.get_object(Bucket=server.bucket, Key=obj["Key"])["Body"].read()
            out[obj["Key"][len(prefix) + 1:]] = body
    return out


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "cache"))
    return synthetic_corpus(tmp_path / "corpus.jsonl", 40, seed=1)


def local_store(corpus: Path, tmp_path: Path, **options: object) -> dict[str, bytes]:
    out = tmp_path / "local"
    run_prepare([corpus], out, PrepareOptions(**{**OPTIONS, **options}))
    return all_files(out)


@pytest.mark.parametrize("workers", [0, 2])
def test_every_object_equals_the_local_prepare(s3_server: S3Server, corpus: Path, tmp_path: Path, workers: int) -> None:
    want = local_store(corpus, tmp_path)
    report = run_prepare([corpus], s3_server.url("stores/a"), PrepareOptions(**{**OPTIONS, "workers": workers}))
    got = bucket_files(s3_server, "stores/a")
    assert sorted(got) == sorted(want) and sum(k.endswith(".bin") for k in got) > 4
    assert got == want
    assert report.store.manifest == json.loads(want["manifest.json"])
    assert not staging_dir(s3_server.url("stores/a")).exists()  # the local staging is gone
    # the same call again: up to date, nothing uploaded
    again = run_prepare([corpus], s3_server.url("stores/a"), PrepareOptions(**OPTIONS))
    assert again.up_to_date and bucket_files(s3_server, "stores/a") == want


def test_a_store_of_other_inputs_is_refused_then_overwritten(s3_server: S3Server, corpus: Path, tmp_path: Path) -> None:
    url = s3_server.url("s")
    run_prepare([corpus], url, PrepareOptions(**{**OPTIONS, "shard_tokens": 500}))  # many shards
    before = bucket_files(s3_server, "s")
    with pytest.raises(ValueError, match=r"s3://tm-test-\d+/s holds a token store made from other inputs or options.*overwrite"):
        run_prepare([corpus], url, PrepareOptions(**OPTIONS))
    assert bucket_files(s3_server, "s") == before  # nothing touched
    run_prepare([corpus], url, PrepareOptions(**{**OPTIONS, "overwrite": True}))
    # the old store's objects that the new one lacks are gone: exactly the local store's objects
    assert bucket_files(s3_server, "s") == local_store(corpus, tmp_path)


def test_a_prefix_with_other_objects_is_refused(s3_server: S3Server, corpus: Path) -> None:
    s3_server.client().put_object(Bucket=s3_server.bucket, Key="s/notes.txt", Body=b"mine")
    with pytest.raises(ValueError, match="is not empty and holds no token store"):
        run_prepare([corpus], s3_server.url("s"), PrepareOptions(**OPTIONS))
    assert bucket_files(s3_server, "s") == {"notes.txt": b"mine"}


def test_resume_skips_the_tasks_finished_in_the_bucket(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "cache"))
    inputs = [write_jsonl(tmp_path / f"in{i}.jsonl", [f"document {i} {j} " * 50 for j in range(20)]) for i in range(4)]
    want = all_files(run_prepare(inputs, tmp_path / "local", PrepareOptions(**OPTIONS)).store.path)
    bad = write_jsonl(tmp_path / "in3.jsonl", ["fine"] * 3)
    bad.write_text(bad.read_text() + "{not json\n")
    url = s3_server.url("r")
    with pytest.raises(ValueError, match="in3.jsonl"):
        run_prepare(inputs, url, PrepareOptions(**OPTIONS))
    partial = bucket_files(s3_server, "r")
    assert "manifest.json" not in partial and ".progress.json" in partial
    assert sum(k.startswith(".tasks/") for k in partial) == 3  # the tasks before the bad input
    write_jsonl(inputs[3], [f"document 3 {j} " * 50 for j in range(20)])  # fixed (same size? no: other inputs)
    report = run_prepare(inputs, url, PrepareOptions(**OPTIONS))  # after bad input, a rerun may bring a fix
    assert report.skipped_tasks == 3
    got = bucket_files(s3_server, "r")
    want_now = all_files(run_prepare(inputs, tmp_path / "local2", PrepareOptions(**OPTIONS)).store.path)
    assert got == want_now and sorted(got) == sorted(want)


def test_a_run_that_fails_before_any_task_leaves_the_bucket_as_found(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "cache"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(ValueError, match="bad.jsonl"):
        run_prepare([bad], s3_server.url("x"), PrepareOptions(**OPTIONS))
    assert bucket_files(s3_server, "x") == {}


def test_a_missing_bucket_is_one_line_and_writes_nothing(s3_server: S3Server, corpus: Path) -> None:
    with pytest.raises(ValueError, match=r"no-such-bucket") as info:
        run_prepare([corpus], "s3://no-such-bucket/s", PrepareOptions(**OPTIONS))
    assert "\n" not in str(info.value)


def test_the_cli_prepares_to_a_bucket(s3_server: S3Server, corpus: Path, tmp_path: Path, cli) -> None:  # noqa: ANN001
    url = s3_server.url("c/store")
    result = cli("prepare", str(corpus), "--out", url, "--workers", "0", "--quiet", "--shard-tokens", "2000",
                 "--val-fraction", "0.2")
    assert result.returncode == 0, result.stderr
    assert url in result.stdout
    assert bucket_files(s3_server, "c/store") == local_store(corpus, tmp_path)
    again = cli("prepare", str(corpus), "--out", url, "--workers", "0", "--quiet")
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    assert "holds a token store made from other inputs or options" in again.stderr and "--overwrite" in again.stderr
    gone = cli("prepare", str(corpus), "--out", "s3://no-such-bucket/s", "--workers", "0", "--quiet")
    assert gone.returncode == 2 and gone.stderr.count("\n") == 1 and "no-such-bucket" in gone.stderr
    odd = cli("prepare", str(corpus), "--out", "gs://b/s", "--quiet")
    assert odd.returncode == 2 and "gs://" in odd.stderr and "s3://" in odd.stderr


def _kill_when(server: S3Server, cmd: list[str], prefix: str, records: int) -> bool:
    """Start the CLI, SIGKILL it once ``records`` task records are in the bucket; True if it was killed."""
    client = server.client()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None:
            found = client.list_objects_v2(Bucket=server.bucket, Prefix=f"{prefix}/.tasks/").get("KeyCount", 0)
            if found >= records:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.01)
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize("records", [1, 5])
def test_kill_9_then_rerun_gives_the_objects_of_a_local_prepare(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, records: int
) -> None:
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "cache"))
    corpus = synthetic_corpus(tmp_path / "corpus.jsonl", 1500, seed=0)
    local = tmp_path / "local"
    subprocess.run(prepare_cmd(corpus, local), check=True, timeout=300)
    want = all_files(local)
    url = s3_server.url(f"k{records}")
    cmd = [w if w != str(tmp_path / "x") else url for w in prepare_cmd(corpus, tmp_path / "x")]
    assert _kill_when(s3_server, cmd, f"k{records}", records), "the planned kill did not happen"
    partial = bucket_files(s3_server, f"k{records}")
    assert "manifest.json" not in partial, "a killed run must not look complete"
    done = sum(k.startswith(".tasks/") for k in partial)
    rerun = subprocess.run(cmd[:-1], capture_output=True, text=True, timeout=300)  # without --quiet: the summary
    assert rerun.returncode == 0, rerun.stderr
    assert f"resumed: skipped {done}" in rerun.stdout
    assert bucket_files(s3_server, f"k{records}") == want


def test_inputs_listed_by_prefix_in_a_bucket(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "cache"))
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    write_jsonl(corpus / "a.jsonl", [f"alpha {i} " * 30 for i in range(30)])
    write_jsonl(corpus / "sub" / "b.jsonl", [f"beta {i} " * 30 for i in range(30)])
    (corpus / "LICENSE").write_text("not an input")
    client = s3_server.client()
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        client.put_object(Bucket=s3_server.bucket, Key=f"in/{path.relative_to(corpus).as_posix()}", Body=path.read_bytes())
    local = run_prepare([corpus], tmp_path / "local", PrepareOptions(**OPTIONS)).store
    fetched = run_prepare([s3_server.url("in")], tmp_path / "fetched", PrepareOptions(**OPTIONS))
    want, got = all_files(local.path), all_files(fetched.store.path)
    shards = [k for k in want if k.endswith((".bin", ".idx"))]
    assert len(shards) > 4 and {k: got[k] for k in shards} == {k: want[k] for k in shards}  # same names, same splits
    assert fetched.store.manifest["stats"] == local.manifest["stats"]
    assert fetched.store.manifest["skipped_inputs"] == [s3_server.url("in/LICENSE")]
    # unchanged objects: the same inputs, so the rerun is up to date; one object changed: other inputs
    assert run_prepare([s3_server.url("in")], tmp_path / "fetched", PrepareOptions(**OPTIONS)).up_to_date
    client.put_object(Bucket=s3_server.bucket, Key="in/a.jsonl", Body=b'{"text": "changed"}\n')
    with pytest.raises(ValueError, match="other inputs or options"):
        run_prepare([s3_server.url("in")], tmp_path / "fetched", PrepareOptions(**OPTIONS))
    with pytest.raises(FileNotFoundError, match="holds no object"):
        run_prepare([s3_server.url("nothing-here")], tmp_path / "x", PrepareOptions(**OPTIONS))
    # a worker on a machine without the coordinator's copies (Ray) fetches each file it reads
    from tokenmill.prepare.remote_inputs import fetch_input, fetch_inputs

    fetched: list = []
    [local_dir, one] = fetch_inputs([s3_server.url("in"), s3_server.url("in/sub/b.jsonl")], None, fetched=fetched)
    for path in (Path(local_dir) / "sub" / "b.jsonl", Path(one)):
        path.unlink()
        fetch_input(fetched, str(path))
        assert path.read_bytes() == (corpus / "sub" / "b.jsonl").read_bytes()


def test_a_big_compressed_input_is_unpacked_once_and_shared_through_the_bucket(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gzip

    from tokenmill.prepare import tasks as tasks_mod
    from tokenmill.prepare.publish import Remote, fetch_unpacked, share_unpacked

    monkeypatch.setattr(tasks_mod, "RANGE_BYTES", 20_000)  # the .gz is cut into ranges after unpacking
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "c.jsonl.gz"
    with gzip.open(source, "wt") as f:
        rng = random.Random(3)  # words gzip cannot squeeze below a range
        f.write("".join(json.dumps({"text": " ".join(f"{rng.getrandbits(40):x}" for _ in range(30))}) + "\n"
                        for _ in range(600)))
    want = all_files(run_prepare([source], tmp_path / "local", PrepareOptions(**OPTIONS)).store.path)
    report = run_prepare([source], s3_server.url("gz"), PrepareOptions(**OPTIONS))
    assert report.tasks > 3 and bucket_files(s3_server, "gz") == want  # no .unpacked/ object left either
    # a worker on another machine (Ray) finds no local copy: it fetches the one the unpack task shared
    remote, copy = Remote(s3_server.url("u")), tmp_path / "a" / "00000.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(b'{"text": "x"}\n' * 1000)
    share_unpacked(remote, copy)
    elsewhere = tmp_path / "b" / ".unpacked" / "00000.jsonl"
    fetch_unpacked(remote, str(elsewhere))
    assert elsewhere.read_bytes() == copy.read_bytes()


@pytest.mark.parametrize("case", ["unreachable", "no credentials"])
def test_an_unusable_endpoint_fails_fast_in_one_line_and_writes_nothing(
    s3_server: S3Server, corpus: Path, cli, monkeypatch: pytest.MonkeyPatch, case: str  # noqa: ANN001
) -> None:
    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    if case == "unreachable":
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    else:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.delenv(name)
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    started = time.monotonic()
    result = cli("prepare", str(corpus), "--out", s3_server.url("e"), "--workers", "0", "--quiet")
    assert time.monotonic() - started < 30
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert s3_server.url("e") in result.stderr
    for name, value in saved.items():  # the test server's variables again, to look into the bucket
        monkeypatch.setenv(name, value)
    assert bucket_files(s3_server, "e") == {}
