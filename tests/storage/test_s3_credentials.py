"""A wrong key fails within seconds, in one line naming the URL, and writes nothing: every entry point.

The moto server checks keys here (``tests.s3.wrong_key``), as S3 does; nothing of tokenmill's
own code is mocked.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.helpers import all_files
from tests.prepare.kills import synthetic_corpus
from tests.s3 import S3Server, prepared_store, upload_store, wrong_key
from tokenmill.storage import StorageConfigError

SECONDS = 15  # botocore's defaults would retry for minutes; a wrong key is not worth one retry
ADVICE = "check the credentials (AWS_ACCESS_KEY_ID, ~/.aws, storage_options)"


@pytest.fixture(scope="module")
def local_store(tmp_path_factory) -> Path:
    return prepared_store(tmp_path_factory.mktemp("creds"), documents=120)


@pytest.fixture
def remote(s3_server: S3Server, local_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "tmcache"))
    url = s3_server.url("creds/store")
    upload_store(local_store, url)
    return url


def _one_line(message: str, url: str) -> None:
    assert f"access denied to {url}/manifest.json (InvalidAccessKeyId): {ADVICE}" in message, message
    assert "\n" not in message.rstrip("\n")


def test_token_store_open(remote: str, tmp_path: Path) -> None:
    from tokenmill.store import TokenStore

    started = time.monotonic()
    with wrong_key(), pytest.raises(StorageConfigError) as err:
        TokenStore.open(remote, cache_dir=tmp_path / "c")
    assert time.monotonic() - started < SECONDS
    _one_line(str(err.value), remote)
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").rglob("sha256/*"))


def test_create_dataloader(remote: str, tmp_path: Path) -> None:
    from tokenmill import create_dataloader

    started = time.monotonic()
    with wrong_key(), pytest.raises(StorageConfigError) as err:
        create_dataloader(remote, batch_size=2, max_length=16, seed=0, cache_dir=tmp_path / "c", cache_limit="1MB")
    assert time.monotonic() - started < SECONDS
    _one_line(str(err.value), remote)
    assert not any(p.is_file() for p in (tmp_path / "c").rglob("*") if "locks" not in p.parts)


def test_stats_is_exit_2_one_line(cli, remote: str, tmp_path: Path) -> None:
    for argv in (("stats", remote), ("stats", remote, "--verify")):
        started = time.monotonic()
        with wrong_key():
            out = cli(*argv)
        assert time.monotonic() - started < SECONDS
        assert out.returncode == 2, out
        assert out.stderr.startswith("tokenmill stats: error: access denied to "), out.stderr
        assert "Traceback" not in out.stderr and out.stdout == ""
        _one_line(out.stderr, remote)
    assert not any(p.is_file() for p in (tmp_path / "tmcache").rglob("*") if "locks" not in p.parts)


@pytest.mark.parametrize("workers", ["0", "2"])
def test_prepare_to_a_bucket_writes_nothing(cli, s3_server: S3Server, tmp_path: Path, monkeypatch, workers: str) -> None:
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "tmcache"))
    (tmp_path / "in").mkdir()
    corpus = synthetic_corpus(tmp_path / "in" / "corpus.jsonl", 20, seed=3)
    url = s3_server.url("creds/prepared")
    started = time.monotonic()
    with wrong_key():
        out = cli("prepare", str(corpus), "--out", url, "--workers", workers, "--quiet")
    assert time.monotonic() - started < SECONDS + 15  # process start of the workers included
    assert out.returncode == 2, out
    assert out.stderr.startswith("tokenmill prepare: error: access denied to s3://"), out.stderr
    assert url in out.stderr and ADVICE in out.stderr and out.stderr.count("\n") == 1
    listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix="creds/")
    assert listed.get("KeyCount", 0) == 0
    assert list(all_files(tmp_path / "in")) == ["corpus.jsonl"]
    assert not any(p.is_file() for p in (tmp_path / "tmcache").rglob("*") if "locks" not in p.parts)
