"""How pages read: the language they declare, the report's title and options, shard names, sizes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import write_jsonl
from tokenmill.html.page import language_of

pytest.importorskip("matplotlib")
JA = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"


def html_lang(page: str) -> str:
    return re.search(r'<html lang="([^"]*)"', page).group(1)


@pytest.mark.parametrize(("text", "lang"), [(JA, "ja"), ("It was a bright cold day in April.", "en"),
                                            ("カタカナだけ", "ja"), ("你好，世界", "und"), ("12345 !?", "und"),
                                            ("Ein schöner Tag, ça va.", "en"), (JA + " a few English words", "ja")])
def test_language_of(text: str, lang: str) -> None:
    assert language_of(text) == lang


def test_tokenize_page_declares_japanese(tmp_path: Path, cli) -> None:
    f = tmp_path / "ja.txt"
    f.write_text(JA, encoding="utf-8")
    assert cli("tokenize", "--file", str(f), "--html", str(tmp_path / "ja.html")).returncode == 0
    assert html_lang((tmp_path / "ja.html").read_text(encoding="utf-8")) == "ja"
    assert cli("tokenize", "hello world", "--html", str(tmp_path / "en.html")).returncode == 0
    assert html_lang((tmp_path / "en.html").read_text(encoding="utf-8")) == "en"


def test_demo_page_declares_japanese(tmp_path: Path, cli) -> None:
    f = tmp_path / "ja.txt"
    f.write_text(JA * 3, encoding="utf-8")
    assert cli("demo", str(f), "--html", str(tmp_path / "d.html")).returncode == 0
    assert html_lang((tmp_path / "d.html").read_text(encoding="utf-8")) == "ja"


@pytest.fixture(scope="module")
def ja_report(tmp_path_factory) -> tuple[str, str, Path]:
    from tokenmill.cli import main

    d = tmp_path_factory.mktemp("ja-store")
    src = write_jsonl(d / "ja.jsonl", [JA, JA + "二つ目。", "英語も少し: a short English note."])
    store = d / "ja-store"
    assert main(["prepare", str(src), "--out", str(store), "--quiet", "--workers", "0"]) == 0
    out = d / "r.html"
    assert main(["report", str(store), "-o", str(out)]) == 0
    return out.read_text(encoding="utf-8"), store.name, store


def test_report_declares_the_language_of_its_documents(ja_report) -> None:
    page, _, _ = ja_report
    assert html_lang(page) == "ja"
    assert '<div lang="en">' in page and '<div lang="ja">' in page  # each document its own


def test_report_title_does_not_repeat_the_store_name(ja_report) -> None:
    page, name, store = ja_report
    title = re.search(r"<title>(.*?)</title>", page).group(1)
    h1 = re.search(r"<h1>(.*?)</h1>", page).group(1)
    assert name not in title and name not in h1
    assert page.count(str(store)) >= 1  # the path, once as the subtitle


def test_report_options_have_no_python_reprs(ja_report) -> None:
    page, _, _ = ja_report
    row = re.search(r"<td>options</td><td>(.*?)</td>", page).group(1)
    assert "=False" not in row and "=True" not in row and "None" not in row and "[" not in row
    assert "skip-bad-lines no" in row


def test_report_shard_names_do_not_wrap(ja_report) -> None:
    page, _, _ = ja_report
    assert re.search(r'<td><span class="mono nowrap">train-[\d-]+</span></td>', page)
    assert ".nowrap{white-space:nowrap}" in page


def test_small_sizes_read_in_bytes_or_kb(tmp_path: Path, cli, ja_report) -> None:
    _, _, store = ja_report
    done = cli("report", str(store), "-o", str(tmp_path / "r.html"))
    assert re.search(r"\(\d+\.\d kB, ", done.stdout), done.stdout
    assert "0.0 MB" not in done.stdout and "0.00 MB" not in done.stdout
