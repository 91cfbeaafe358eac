"""The storage interface, the same tests for a local directory and for S3 (a moto server on 127.0.0.1)."""

from __future__ import annotations

import time

import pytest

from tokenmill.storage import (
    LocalStorage,
    StorageConfigError,
    StorageNotFoundError,
    open_storage,
)


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "root")
    server = request.getfixturevalue("s3_server")
    return open_storage(server.url("some/prefix"))


def test_put_get_head_range_list_delete(storage, tmp_path) -> None:
    assert storage.head("a.bin") is None
    storage.put("a.bin", b"0123456789")
    storage.put("shards/train-00000.bin", b"x" * 100)
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    storage.put_file("shards/train-00001.bin", big)
    assert storage.get("a.bin") == b"0123456789"
    assert storage.get_range("a.bin", 2, 5) == b"234"
    assert storage.get("shards/train-00001.bin") == big.read_bytes()
    info = storage.head("a.bin")
    assert (info.key, info.size) == ("a.bin", 10)
    assert sorted(o.key for o in storage.list()) == ["a.bin", "shards/train-00000.bin", "shards/train-00001.bin"]
    assert [o.key for o in storage.list("shards/train-00001")] == ["shards/train-00001.bin"]
    assert sorted(o.key for o in storage.list("shards/")) == ["shards/train-00000.bin", "shards/train-00001.bin"]
    storage.delete("a.bin")
    storage.delete("a.bin")  # already gone: no error
    assert storage.head("a.bin") is None
    with pytest.raises(StorageNotFoundError, match="a.bin does not exist") as err:
        storage.get("a.bin")
    assert isinstance(err.value, FileNotFoundError)


def test_put_if_absent_refuses_an_existing_key(storage) -> None:
    assert storage.put_if_absent("manifest.json", b"first") is True
    assert storage.put_if_absent("manifest.json", b"second") is False
    assert storage.get("manifest.json") == b"first"
    assert [o.key for o in storage.list()] == ["manifest.json"]  # no temporary left over


def test_keys_cannot_leave_the_root(storage) -> None:
    for key in ("../x", "/abs", "a//b", ""):
        with pytest.raises(ValueError, match="storage key"):
            storage.put(key, b"")


def test_unknown_schemes_are_refused_naming_the_supported_ones() -> None:
    with pytest.raises(StorageConfigError, match=r"gs:// is not supported; use s3://") as err:
        open_storage("gs://bucket/x")
    assert isinstance(err.value, ValueError)
    with pytest.raises(StorageConfigError, match="names no bucket"):
        open_storage("s3:///x")


def test_file_urls_are_local_directories(tmp_path) -> None:
    s = open_storage(f"file://{tmp_path}")
    s.put("k", b"v")
    assert (tmp_path / "k").read_bytes() == b"v"


def test_a_missing_bucket_is_named(s3_server) -> None:
    s = open_storage(f"s3://{s3_server.bucket}-absent/store")
    with pytest.raises(StorageConfigError, match=r"bucket 'tm-test-\d+-absent' does not exist \(s3://"):
        s.get("manifest.json")
    with pytest.raises(StorageConfigError, match="does not exist"):
        list(s.list())


def test_an_unreachable_endpoint_fails_within_seconds(s3_server) -> None:
    s = open_storage(s3_server.url("store"), storage_options={"endpoint": "http://127.0.0.1:9"})
    start = time.monotonic()
    with pytest.raises(StorageConfigError, match=r"cannot reach the S3 endpoint http://127.0.0.1:9 for s3://") as err:
        s.get("manifest.json")
    assert time.monotonic() - start < 15
    assert "\n" not in str(err.value)


def test_storage_options_override_the_environment(s3_server, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # wrong: the options fix it
    s = open_storage(s3_server.url("p"), storage_options={"endpoint_url": s3_server.endpoint})
    s.put("k", b"v")
    assert s.get("k") == b"v"


def test_credentials_come_from_the_aws_files_when_the_environment_has_none(s3_server, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    creds = tmp_path / "credentials"
    creds.write_text("[team]\naws_access_key_id = a\naws_secret_access_key = b\n")
    config = tmp_path / "config"
    config.write_text(f"[profile team]\nregion = us-east-1\nendpoint_url = {s3_server.endpoint}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "team")
    s = open_storage(s3_server.url("p"))
    s.put("k", b"v")
    assert s.get("k") == b"v"
