"""`tokenmill stats|report|cache` on stores on S3 (a moto server on 127.0.0.1): one-line errors, exit codes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.s3 import prepared_store, upload_store


@pytest.fixture(scope="module")
def local_store(tmp_path_factory) -> Path:
    return prepared_store(tmp_path_factory.mktemp("s3cli"))


@pytest.fixture
def remote(s3_server, local_store, tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "tmcache"))
    url = s3_server.url("cli/store")
    upload_store(local_store, url)
    return url


def test_stats_of_a_url_are_the_local_stores(cli, remote, local_store) -> None:
    got, want = cli("stats", remote, "--json"), cli("stats", str(local_store), "--json")
    assert got.returncode == 0, got.stderr
    got, want = json.loads(got.stdout), json.loads(want.stdout)
    assert got.pop("path") == remote
    want.pop("path")
    assert got == want
    table = cli("stats", remote)
    assert table.returncode == 0 and "train" in table.stdout


def test_stats_verify_of_a_url_checks_every_object_and_names_a_bad_one(cli, remote, s3_server, local_store) -> None:
    ok = cli("stats", remote, "--verify")
    assert ok.returncode == 0 and ok.stdout.startswith(f"OK: {remote}:"), ok.stderr
    bad = "val-00000-00000.idx"
    s3_server.client().put_object(Bucket=s3_server.bucket, Key=f"cli/store/{bad}", Body=b"\0" * 16)
    failed = cli("stats", remote, "--verify")
    assert failed.returncode == 1
    assert f"verify FAILED: {remote}/{bad} is corrupt: sha256 expected" in failed.stderr
    assert failed.stderr.count("\n") == 1


def test_reading_a_corrupt_object_is_exit_2_naming_it(cli, remote, s3_server) -> None:
    bad = "train-00000-00002.bin"
    s3_server.client().put_object(Bucket=s3_server.bucket, Key=f"cli/store/{bad}", Body=b"\0" * 8)
    out = cli("stats", remote)
    assert out.returncode == 2
    assert out.stderr.startswith(f"tokenmill stats: error: {remote}/{bad} is corrupt: sha256 expected")
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("gs://bucket/store", "the scheme gs:// is not supported; use s3://"),
        ("s3://{bucket}-missing/store", "does not exist (s3://"),
        ("s3://{bucket}/no/store/here", "no token store at s3://"),
    ],
)
def test_bad_urls_are_one_line_exit_2(cli, remote, s3_server, where, message) -> None:
    url = where.format(bucket=s3_server.bucket)
    for argv in (("stats", url), ("stats", url, "--verify")):
        out = cli(*argv)
        assert out.returncode == 2, out
        assert message in out.stderr and out.stderr.count("\n") == 1, out.stderr


def test_an_unreachable_endpoint_fails_within_seconds(cli, remote, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    start = time.monotonic()
    out = cli("stats", remote)
    assert time.monotonic() - start < 15
    assert out.returncode == 2
    assert f"cannot reach the S3 endpoint http://127.0.0.1:9 for {remote}/manifest.json" in out.stderr
    assert out.stderr.count("\n") == 1


def test_no_credentials_is_one_line_naming_the_url(cli, remote, monkeypatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    out = cli("stats", remote)
    assert out.returncode == 2
    assert f"no AWS credentials for {remote}/manifest.json" in out.stderr and out.stderr.count("\n") == 1


def test_report_of_a_url(cli, remote, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    out = cli("report", remote, "-o", str(tmp_path / "r.html"))
    assert out.returncode == 0, out.stderr
    assert remote in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_cache_info_and_clear(cli, remote, tmp_path) -> None:
    assert cli("stats", remote).returncode == 0  # fills the cache
    info = json.loads(cli("cache", "info", "--json").stdout)
    assert info["root"] == str(tmp_path / "tmcache" / "objects") and info["objects"] > 0 and info["bytes"] > 0
    cleared = cli("cache", "clear")
    assert cleared.returncode == 0 and f"removed {info['objects']} object(s)" in cleared.stdout
    assert json.loads(cli("cache", "info", "--json").stdout)["objects"] == 0
    helped = cli("cache", "--help")
    assert "tokenmill cache clear" in helped.stdout and "TOKENMILL_CACHE_DIR" in helped.stdout
