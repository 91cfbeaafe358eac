"""export from / import from a bucket (a real S3 server on 127.0.0.1): the same result as from local files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import all_files, write_jsonl
from tests.s3 import S3Server
from tokenmill.export import export, import_store
from tokenmill.prepare import PrepareOptions, run_prepare


def test_import_from_a_bucket_equals_import_from_files(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "cache"))
    files = tmp_path / "nanogpt"
    files.mkdir()
    np.array([1, 2, 50256, 3, 4, 5, 50256], "<u2").tofile(files / "train.bin")
    np.array([7, 50256], "<u2").tofile(files / "val.bin")
    for path in files.iterdir():
        s3_server.client().put_object(Bucket=s3_server.bucket, Key=f"ng/{path.name}", Body=path.read_bytes())
    local = import_store(files, "nanogpt", tmp_path / "local", tokenizer="gpt2")
    remote = import_store(s3_server.url("ng"), "nanogpt", tmp_path / "remote", tokenizer="gpt2",
                          storage_options={"endpoint": s3_server.endpoint})
    assert [d.tolist() for d in remote.documents("train")] == [[1, 2, 50256], [3, 4, 5, 50256]]
    shards = {k: v for k, v in all_files(Path(local.path)).items() if k.endswith((".bin", ".idx"))}
    assert {k: all_files(Path(remote.path))[k] for k in shards} == shards


def test_export_from_a_store_in_a_bucket(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "cache"))
    corpus = write_jsonl(tmp_path / "c.jsonl", [f"text {i} " * 20 for i in range(50)])
    options = PrepareOptions(workers=0, progress=False, shard_tokens=300)
    run_prepare([corpus], tmp_path / "local", options)
    run_prepare([corpus], s3_server.url("st"), options)
    want = export(tmp_path / "local", "nanogpt", tmp_path / "from-local")
    got = export(s3_server.url("st"), "nanogpt", tmp_path / "from-bucket", storage_options={"endpoint": s3_server.endpoint})
    assert got["files"] == want["files"] and got["store"]["manifest_sha256"] == want["store"]["manifest_sha256"]
    assert all_files(tmp_path / "from-bucket")["train.bin"] == all_files(tmp_path / "from-local")["train.bin"]
