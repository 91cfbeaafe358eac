"""A real S3 server for the tests: moto's ThreadedMotoServer on 127.0.0.1, one bucket per test.

``s3_server`` starts the server once per session (on a free port), points the standard AWS
environment variables at it for each test (endpoint, dummy credentials, region), creates a
fresh bucket and yields an :class:`S3Server`. No network leaves the machine; nothing of
tokenmill's own code is mocked: the storage layer talks HTTP to moto as it would to S3.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["S3Server", "prepared_store", "s3_endpoint", "s3_server", "upload_store", "wrong_key"]

_BUCKETS = itertools.count()


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # "http://127.0.0.1:PORT"
    bucket: str  # a bucket created for this test, empty

    def url(self, key: str = "") -> str:
        """``s3://BUCKET/KEY``: where a test puts a store."""
        return f"s3://{self.bucket}/{key}" if key else f"s3://{self.bucket}"

    def client(self):  # noqa: ANN201 - boto3 is a dev dependency: its types stay out of the signature
        """A boto3 client on the server: for tests that damage or inspect objects behind tokenmill's back."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The endpoint of one moto server for the whole session; its per-request lines silenced."""
    pytest.importorskip("moto.server")
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import WSGIRequestHandler

    for name in ("werkzeug", "moto", "botocore", "boto3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    WSGIRequestHandler.log_request = lambda *a, **k: None  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_server(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[S3Server]:
    """An empty bucket on the session's moto server, the AWS_* variables pointing at it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ALLOW_HTTP"):
        monkeypatch.delenv(name, raising=False)
    # no ~/.aws of the machine running the tests leaks in
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config-absent"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials-absent"))
    server = S3Server(endpoint=s3_endpoint, bucket=f"tm-test-{next(_BUCKETS)}")
    server.client().create_bucket(Bucket=server.bucket)
    yield server


def upload_store(local: Path, url: str) -> list[str]:
    """Upload a locally prepared store's files to ``url`` (the manifest last, as prepare does); the keys."""
    from tokenmill.storage import open_storage

    storage = open_storage(url)
    files = sorted(p for p in local.rglob("*") if p.is_file() and not p.name.startswith("."))
    files.sort(key=lambda p: p.name == "manifest.json")
    for path in files:
        storage.put_file(path.relative_to(local).as_posix(), path)
    return [p.relative_to(local).as_posix() for p in files]


def prepared_store(directory: Path, *, documents: int = 400, shard_tokens: int = 3000, val_fraction: float = 0.1) -> Path:
    """A small local store of varied English-like documents, several shards per split."""
    from tests.helpers import write_jsonl
    from tokenmill.prepare import prepare

    words = "the quick brown fox jumps over lazy dogs while seven wizards quietly hum old tunes".split()
    texts = [" ".join(words[(i * 7 + j * 3) % len(words)] for j in range(20 + i % 37)) + f" {i}." for i in range(documents)]
    corpus = write_jsonl(directory / "corpus.jsonl", texts)
    out = directory / "store"
    prepare([corpus], out, workers=0, shard_tokens=shard_tokens, val_fraction=val_fraction, progress=False)
    return out


@contextlib.contextmanager
def wrong_key() -> Iterator[None]:
    """The AWS_* variables hold a key the server does not know, and the server checks keys (as S3 does).

    moto accepts any key unless ``moto.settings.INITIAL_NO_AUTH_ACTION_COUNT`` is 0; its
    in-process server reads that setting at every request. Both are undone on leaving, so the
    test can then look into the bucket.
    """
    from moto import settings

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    checks = settings.INITIAL_NO_AUTH_ACTION_COUNT
    os.environ.update(AWS_ACCESS_KEY_ID="AKIAWRONGWRONGWRONG0", AWS_SECRET_ACCESS_KEY="not-the-secret")
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        yield
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = checks
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
