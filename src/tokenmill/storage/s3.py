"""S3 (and S3-compatible servers: MinIO, R2, moto) behind the storage interface, through boto3.

Configuration is boto3's own: the AWS environment variables (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``,
``AWS_PROFILE``) and the ``~/.aws`` files, then ``storage_options``, which win:
``endpoint_url``, ``region_name``, ``aws_access_key_id``, ``aws_secret_access_key``,
``aws_session_token``, ``profile`` and tokenmill's :data:`DEFAULTS` (timeouts, retries).
Pitfall: botocore's own defaults wait a minute per attempt on an unreachable endpoint; here
a connection attempt gives up after ``connect_timeout`` seconds, after ``max_retries``
retries, so a wrong endpoint fails within seconds. Plain ``http://`` is used when the
endpoint says so (a local MinIO or moto). The client is made again in a forked process
(DataLoader workers), where the parent's connections must not be shared.

>>> split_s3_url("s3://bucket/some/store/")
('bucket', 'some/store')
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import IO, Any

from tokenmill.storage.base import (
    ObjectInfo,
    Storage,
    StorageConfigError,
    StorageIOError,
    StorageNotFoundError,
    check_key,
    join_key,
)

__all__ = ["DEFAULTS", "OPTIONS", "S3Storage", "split_s3_url"]

# tokenmill's own storage_options, with their defaults
DEFAULTS: dict[str, Any] = {
    "connect_timeout": 3.0,  # seconds to open a connection: an unreachable endpoint fails fast
    "read_timeout": 60.0,  # seconds without a byte from the server before the attempt fails
    "max_retries": 2,  # retries of a failed request (5xx, throttling, connection errors), with backoff
    "multipart_threshold": 64 << 20,  # put_file uploads files this large in parts, concurrently
}
# storage_options spellings -> boto3's client arguments (fsspec/s3fs's names are accepted too)
OPTIONS = {
    "endpoint_url": "endpoint_url", "endpoint": "endpoint_url",
    "region_name": "region_name", "region": "region_name",
    "aws_access_key_id": "aws_access_key_id", "access_key_id": "aws_access_key_id", "key": "aws_access_key_id",
    "aws_secret_access_key": "aws_secret_access_key", "secret_access_key": "aws_secret_access_key",
    "secret": "aws_secret_access_key",
    "aws_session_token": "aws_session_token", "session_token": "aws_session_token", "token": "aws_session_token",
}
_MISSING = ("NoSuchKey", "404", "NotFound")
_DENIED = ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken")


def split_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix``; StorageConfigError without a bucket."""
    rest = url.split("://", 1)[1]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise StorageConfigError(f"{url} names no bucket: write s3://BUCKET/PREFIX")
    return bucket, prefix.strip("/")


class S3Storage(Storage):
    """Objects under ``s3://bucket/prefix``. Pitfall: keys are relative to the prefix."""

    def __init__(self, url: str, *, storage_options: dict[str, Any] | None = None) -> None:
        self.url = url.rstrip("/")
        self.bucket, self.prefix = split_s3_url(url)
        options = dict(storage_options or {})
        unknown = sorted(set(options) - set(OPTIONS) - set(DEFAULTS) - {"profile"})
        if unknown:
            known = ", ".join(sorted({*OPTIONS, *DEFAULTS, "profile"}))
            raise StorageConfigError(f"unknown storage_options {unknown} for {self.url}; known: {known}")
        self.options = {**DEFAULTS, **options}
        self._client_args = {OPTIONS[k]: v for k, v in options.items() if k in OPTIONS}
        self._profile = options.get("profile")
        self._local = threading.local()
        self._pid = -1
        self._lock = threading.Lock()
        self._shared: Any = None
        self.endpoint = self._client_args.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_local=None, _lock=None, _shared=None, _pid=-1)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local, self._lock = threading.local(), threading.Lock()

    @property
    def client(self) -> Any:
        """The boto3 client of this process (made again after a fork)."""
        if self._pid != os.getpid():  # a forked child: the parent's lock may have been held at the fork
            self._lock, self._shared = threading.Lock(), None
        if self._pid != os.getpid() or self._shared is None:
            with self._lock:
                if self._pid != os.getpid() or self._shared is None:
                    self._shared, self._pid = self._make_client(), os.getpid()
        return self._shared

    def _make_client(self) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise StorageConfigError(f"reading or writing {self.url} needs boto3: pip install 'tokenmill[s3]'") from None
        o = self.options
        config = Config(
            connect_timeout=float(o["connect_timeout"]), read_timeout=float(o["read_timeout"]),
            retries={"total_max_attempts": int(o["max_retries"]) + 1, "mode": "standard"},
            max_pool_connections=32,
        )
        try:
            session = boto3.session.Session(profile_name=self._profile)
            return session.client("s3", config=config, **self._client_args)
        except Exception as exc:  # noqa: BLE001 - botocore's configuration errors (profile not found, bad region)
            raise StorageConfigError(f"cannot configure S3 for {self.url}: {_first_line(exc)}") from None

    def _key(self, key: str) -> str:
        return join_key(self.prefix, check_key(key))

    def _fail(self, exc: BaseException, key: str) -> Exception:
        """The one-line error for botocore's ``exc`` on ``key``, by whose fault it is."""
        from botocore.exceptions import (
            ClientError,
            ConnectionError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        where = self.url_of(key)
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return StorageConfigError(
                f"no AWS credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "write ~/.aws/credentials, or pass storage_options"
            )
        if isinstance(exc, (EndpointConnectionError, ConnectionError)):
            return StorageConfigError(
                f"cannot reach the S3 endpoint {self.endpoint or 'of AWS'} for {where}: check AWS_ENDPOINT_URL "
                "(or storage_options endpoint_url) and the network"
            )
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "NoSuchBucket":
                return StorageConfigError(f"bucket {self.bucket!r} does not exist ({where}): create it or fix the URL")
            if code in _DENIED:
                return StorageConfigError(
                    f"access denied to {where} ({code}): check the credentials (AWS_ACCESS_KEY_ID, ~/.aws, "
                    "storage_options) and the bucket's permissions"
                )
            if code in _MISSING:
                return StorageNotFoundError(f"{where} does not exist")
        return StorageIOError(f"S3 request for {where} failed: {_first_line(exc)}")

    def _call(self, key: str, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, key) from None

    def head(self, key: str) -> ObjectInfo | None:
        try:
            meta = self._call(key, "head_object", Key=self._key(key))
        except StorageNotFoundError:
            return None
        return ObjectInfo(key, int(meta["ContentLength"]), str(meta.get("ETag", "")))

    def get(self, key: str) -> bytes:
        return self._read(key, self._call(key, "get_object", Key=self._key(key))["Body"])

    def _read(self, key: str, body: Any) -> bytes:
        from botocore.exceptions import BotoCoreError

        try:
            return body.read()
        except (BotoCoreError, OSError) as exc:
            raise self._fail(exc, key) from None

    def download(self, key: str, out: IO[bytes]) -> int:
        """Stream the object into ``out`` (bounded memory); the number of bytes written."""
        from botocore.exceptions import BotoCoreError

        body = self._call(key, "get_object", Key=self._key(key))["Body"]
        n = 0
        try:
            for chunk in body.iter_chunks(4 << 20):
                out.write(chunk)
                n += len(chunk)
        except (BotoCoreError, OSError) as exc:
            if getattr(exc, "errno", None) is not None and not isinstance(exc, BotoCoreError):
                raise  # the local side (a full disk): the caller says what it means
            raise self._fail(exc, key) from None
        return n

    def get_range(self, key: str, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        body = self._call(key, "get_object", Key=self._key(key), Range=f"bytes={start}-{end - 1}")["Body"]
        return self._read(key, body)

    def put(self, key: str, data: bytes) -> None:
        self._call(key, "put_object", Key=self._key(key), Body=bytes(data))

    def put_file(self, key: str, path: str | os.PathLike[str]) -> None:
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError
        from s3transfer.exceptions import S3UploadFailedError

        threshold = int(self.options["multipart_threshold"])
        config = TransferConfig(multipart_threshold=threshold, multipart_chunksize=max(threshold // 4, 8 << 20))
        try:
            self.client.upload_file(os.fspath(path), self.bucket, self._key(key), Config=config)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, key) from None
        except S3UploadFailedError as exc:
            raise self._fail(exc.__cause__ or exc, key) from None

    def put_if_absent(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=bytes(data), IfNoneMatch="*")
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                return False
            raise self._fail(exc, key) from None
        except BotoCoreError as exc:
            raise self._fail(exc, key) from None
        return True

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        from botocore.exceptions import BotoCoreError, ClientError

        root = f"{self.prefix}/" if self.prefix else ""
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=root + prefix)
            for page in pages:
                for item in page.get("Contents", ()):
                    yield ObjectInfo(item["Key"][len(root):], int(item["Size"]), str(item.get("ETag", "")))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, prefix) from None

    def delete(self, key: str) -> None:
        try:
            self._call(key, "delete_object", Key=self._key(key))
        except StorageNotFoundError:
            pass


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
