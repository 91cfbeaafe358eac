"""S3 (and S3-compatible servers: MinIO, R2, moto) behind the storage interface, through obstore.

Configuration, in the order later ones win: the AWS environment variables (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``), the
``~/.aws`` files (``AWS_PROFILE`` or ``default``; used for what the environment leaves out),
then ``storage_options``: obstore's S3 keys (``endpoint``, ``region``, ``access_key_id``, ...,
and their ``aws_*`` aliases) plus tokenmill's own, :data:`DEFAULTS` (timeouts, retries).
Pitfall: obstore's and botocore's own defaults wait minutes on an unreachable endpoint;
here a connection attempt gives up after ``connect_timeout`` seconds and the retries after
``retry_timeout``, so a wrong endpoint fails within seconds. A plain ``http://`` endpoint is
allowed because the endpoint says so (a local MinIO or moto).

>>> split_s3_url("s3://bucket/some/store/")
('bucket', 'some/store')
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from tokenmill.storage.base import (
    ObjectInfo,
    Storage,
    StorageConfigError,
    StorageIOError,
    StorageNotFoundError,
    check_key,
)

__all__ = ["DEFAULTS", "S3Storage", "split_s3_url"]

# tokenmill's own storage_options (the rest go to obstore's S3 configuration)
DEFAULTS: dict[str, Any] = {
    "connect_timeout": 3.0,  # seconds to open a connection: an unreachable endpoint fails fast
    "timeout": 60.0,  # seconds for one whole request (a 1 GiB shard at ~20 MB/s fits)
    "max_retries": 3,  # retries of a failed request (5xx, connection reset), with backoff
    "retry_timeout": 10.0,  # seconds after which no further retry starts
    "profile": None,  # the ~/.aws profile to read (default: $AWS_PROFILE, else "default")
}
_CREDENTIAL_KEYS = ("access_key_id", "aws_access_key_id", "secret_access_key", "aws_secret_access_key")
_ENDPOINT_KEYS = ("endpoint", "endpoint_url", "aws_endpoint", "aws_endpoint_url")


def split_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix``; StorageConfigError without a bucket."""
    rest = url.split("://", 1)[1]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise StorageConfigError(f"{url} names no bucket: write s3://BUCKET/PREFIX")
    return bucket, prefix.strip("/")


def _aws_files(profile: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """(credentials, config) of ``profile`` from ``~/.aws`` (or AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE)."""
    profile = profile or os.environ.get("AWS_PROFILE") or "default"
    home = Path.home() / ".aws"
    found = []
    for variable, default, section in (
        ("AWS_SHARED_CREDENTIALS_FILE", home / "credentials", profile),
        ("AWS_CONFIG_FILE", home / "config", profile if profile == "default" else f"profile {profile}"),
    ):
        parser = configparser.ConfigParser()
        try:
            parser.read(os.environ.get(variable) or default, encoding="utf-8")
        except (OSError, configparser.Error):
            pass
        found.append(dict(parser[section]) if parser.has_section(section) else {})
    return found[0], found[1]


def _config(options: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """obstore's S3 config from the environment, ``~/.aws`` and ``options``; and the endpoint."""
    config = {k: v for k, v in options.items() if k not in DEFAULTS}
    credentials, profile_config = _aws_files(options.get("profile"))
    have_keys = "AWS_ACCESS_KEY_ID" in os.environ or any(k in config for k in _CREDENTIAL_KEYS)
    if not have_keys and "aws_access_key_id" in credentials:
        config["access_key_id"] = credentials["aws_access_key_id"]
        config["secret_access_key"] = credentials.get("aws_secret_access_key", "")
        if credentials.get("aws_session_token"):
            config["token"] = credentials["aws_session_token"]
    region = profile_config.get("region")
    if region and not any(k in config for k in ("region", "aws_region")) and not (
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    ):
        config["region"] = region
    if not os.environ.get("AWS_REGION") and os.environ.get("AWS_DEFAULT_REGION") and "region" not in config:
        config["region"] = os.environ["AWS_DEFAULT_REGION"]
    endpoint = next((config[k] for k in _ENDPOINT_KEYS if config.get(k)), None)
    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    endpoint = endpoint or os.environ.get("AWS_ENDPOINT") or profile_config.get("endpoint_url")
    if endpoint and not any(config.get(k) for k in _ENDPOINT_KEYS):
        config["endpoint"] = endpoint
    return config, endpoint


class S3Storage(Storage):
    """Objects under ``s3://bucket/prefix``. Pitfall: keys are relative to the prefix."""

    def __init__(self, url: str, *, storage_options: dict[str, Any] | None = None) -> None:
        try:
            import obstore  # noqa: F401 - the extra's one dependency, checked up front
            from obstore.store import S3Store
        except ImportError:
            raise StorageConfigError(
                f"reading or writing {url} needs obstore: pip install 'tokenmill[s3]'"
            ) from None
        self.url = url.rstrip("/")
        self.bucket, self.prefix = split_s3_url(url)
        options = {**DEFAULTS, **(storage_options or {})}
        config, self.endpoint = _config(dict(storage_options or {}))
        client: dict[str, Any] = {
            "connect_timeout": timedelta(seconds=float(options["connect_timeout"])),
            "timeout": timedelta(seconds=float(options["timeout"])),
        }
        if self.endpoint and self.endpoint.startswith("http://"):
            client["allow_http"] = True
        retry = {
            "max_retries": int(options["max_retries"]),
            "retry_timeout": timedelta(seconds=float(options["retry_timeout"])),
            "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=2), "base": 2},
        }
        try:
            self._store = S3Store(
                self.bucket, prefix=self.prefix or None, config=config, client_options=client, retry_config=retry
            )
        except (*_obstore_errors(), ValueError, TypeError) as exc:  # an unknown key, a bad value
            raise StorageConfigError(f"cannot configure S3 for {self.url}: {_first_line(exc)}") from None

    def _fail(self, exc: BaseException, key: str) -> Exception:
        """The one-line error for obstore's ``exc`` on ``key``, by whose fault it is."""
        text = str(exc)
        where = self.url_of(key)
        if isinstance(exc, FileNotFoundError) and "NoSuchBucket" not in text:  # first: the text holds the
            return StorageNotFoundError(f"{where} does not exist")  # endpoint, whose port may read "403"
        if "NoSuchBucket" in text:
            return StorageConfigError(f"bucket {self.bucket!r} does not exist ({where}): create it or fix the URL")
        if "169.254.169.254" in text or "credential" in text.lower() and "403" not in text:
            return StorageConfigError(
                f"no AWS credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "write ~/.aws/credentials, or pass storage_options"
            )
        if any(s in text for s in ("403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied")) or type(
            exc
        ).__name__ in ("PermissionDeniedError", "UnauthenticatedError"):
            return StorageConfigError(
                f"access denied to {where}: check the credentials (AWS_ACCESS_KEY_ID, ~/.aws, storage_options) "
                "and the bucket's permissions"
            )
        if any(s in text for s in ("error sending request", "Connect", "timed out", "dns error", "operation timed out")):
            return StorageConfigError(
                f"cannot reach the S3 endpoint {self.endpoint or 'of AWS'} for {where}: check AWS_ENDPOINT_URL "
                "(or storage_options endpoint) and the network"
            )
        return StorageIOError(f"S3 request for {where} failed: {_first_line(exc)}")

    def _call(self, key: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self._store, *args, **kwargs)
        except _obstore_errors() as exc:
            raise self._fail(exc, key) from None

    def head(self, key: str) -> ObjectInfo | None:
        import obstore

        try:
            meta = self._call(key, obstore.head, check_key(key))
        except StorageNotFoundError:
            return None
        return ObjectInfo(key, int(meta["size"]), str(meta.get("e_tag") or ""))

    def get(self, key: str) -> bytes:
        import obstore

        return bytes(self._call(key, lambda s, k: obstore.get(s, k).bytes(), check_key(key)))

    def download(self, key: str, out: IO[bytes]) -> int:
        """Stream the object into ``out`` (bounded memory); the number of bytes written."""
        import obstore

        def stream(store: Any, k: str) -> int:
            n = 0
            for chunk in obstore.get(store, k).stream(min_chunk_size=4 << 20):
                view = memoryview(chunk)
                out.write(view)
                n += view.nbytes
            return n

        return self._call(key, stream, check_key(key))

    def get_range(self, key: str, start: int, end: int) -> bytes:
        import obstore

        if end <= start:
            return b""
        return bytes(self._call(key, obstore.get_range, check_key(key), start=start, end=end))

    def put(self, key: str, data: bytes) -> None:
        import obstore

        self._call(key, obstore.put, check_key(key), data)

    def put_file(self, key: str, path: str | os.PathLike[str]) -> None:
        import obstore

        self._call(key, obstore.put, check_key(key), Path(path))

    def put_if_absent(self, key: str, data: bytes) -> bool:
        import obstore
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        try:
            obstore.put(self._store, check_key(key), data, mode="create")
        except (AlreadyExistsError, PreconditionError):
            return False
        except _obstore_errors() as exc:
            raise self._fail(exc, key) from None
        return True

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        import obstore

        # obstore lists by path segments: ask for the folder, then keep the keys that match
        folder = prefix.rpartition("/")[0] if not prefix.endswith("/") else prefix.rstrip("/")
        try:
            for batch in obstore.list(self._store, folder or None):
                for meta in batch:
                    if meta["path"].startswith(prefix):
                        yield ObjectInfo(meta["path"], int(meta["size"]), str(meta.get("e_tag") or ""))
        except _obstore_errors() as exc:
            raise self._fail(exc, prefix) from None

    def delete(self, key: str) -> None:
        import obstore

        try:
            self._call(key, obstore.delete, check_key(key))
        except StorageNotFoundError:
            pass


def _obstore_errors() -> tuple[type[BaseException], ...]:
    """What obstore raises: its own errors, and OSError subclasses (its NotFoundError is one)."""
    from obstore.exceptions import BaseError

    return (BaseError, OSError)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
