"""A str that names a store is never trained on as text, and a URL is refused in one place, end to end."""

from __future__ import annotations

import pytest

from tokenmill.common.paths import store_path
from tokenmill.loader.dataloader import create_dataloader
from tokenmill.prepare import prepare
from tokenmill.store import TokenStore

URL = "s3://bucket/store"


def listing(path) -> list[str]:  # noqa: ANN001
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.mark.parametrize("typo", ["data/gut-store", "gut-store", "my_store", "runs/val"])
def test_a_store_name_that_is_not_there_is_an_error_naming_it(tmp_path, monkeypatch, typo: str) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=f"source {typo!r} is a path that does not exist"):
        create_dataloader(typo, max_length=2)


@pytest.mark.parametrize("url", ["gs://b/s", "https://example.com/store", "hf://datasets/x"])
def test_create_dataloader_refuses_an_unsupported_url_naming_it(url: str) -> None:
    with pytest.raises(ValueError, match="is not supported; use s3://") as info:
        create_dataloader(url, max_length=2)
    assert url in str(info.value) and "\n" not in str(info.value)


def test_token_store_open_refuses_an_unsupported_url_instead_of_mangling_it(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="^gs://b/s: the scheme gs:// is not supported; use s3://"):
        TokenStore.open("gs://b/s")
    assert listing(tmp_path) == []


def test_prepare_out_url_of_an_unknown_scheme_writes_nothing(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "x.txt").write_text("hello world", encoding="utf-8")
    with pytest.raises(ValueError, match="gs://bucket/x: the scheme gs:// is not supported; use s3://"):
        prepare(["x.txt"], out="gs://bucket/x", workers=0, progress=False)
    assert listing(tmp_path) == ["x.txt"]


def test_cli_prepare_out_url_of_an_unknown_scheme_exits_2_with_one_line_and_writes_nothing(
    tmp_path, monkeypatch, cli  # noqa: ANN001
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "x.txt").write_text("hello world", encoding="utf-8")
    r = cli("prepare", "x.txt", "--out", "gs://bucket/x", "--workers", "0")
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines() == [
        "tokenmill prepare: error: gs://bucket/x: the scheme gs:// is not supported; use s3://BUCKET/PREFIX "
        "(S3 or an S3-compatible server), file:// or a local path"
    ]
    assert r.stdout == "" and listing(tmp_path) == ["x.txt"]


def test_store_path_is_the_local_path() -> None:
    assert str(store_path("data/store")) == "data/store"
    with pytest.raises(ValueError, match="out s3://b is a URL") as info:
        store_path("s3://b", parameter="out")
    assert info.value.parameter == "out"  # type: ignore[attr-defined]

