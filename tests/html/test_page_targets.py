"""A page never replaces what it should not: a token store's files, a user's file; its own page it does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_stats import make_store
from tests.helpers import all_files
from tokenmill.html.page import INVISIBLE, check_writable, is_tokenmill_page, visible_controls

pytest.importorskip("matplotlib")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    (tmp_path / "store").mkdir()
    return make_store(tmp_path / "store")


def test_report_into_the_store_manifest_leaves_the_store_intact(store: Path, cli) -> None:
    before = all_files(store)
    done = cli("report", str(store), "-o", str(store / "manifest.json"))
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1 and "inside the token store" in done.stderr
    assert "--overwrite" in done.stderr and "Traceback" not in done.stderr
    assert all_files(store) == before
    assert cli("stats", str(store)).returncode == 0


def test_report_anywhere_inside_a_store_is_refused(store: Path, cli) -> None:
    (store / "sub").mkdir()
    done = cli("report", str(store), "-o", str(store / "sub" / "page.html"))
    assert done.returncode == 2 and "inside the token store" in done.stderr
    assert not (store / "sub" / "page.html").exists()


def test_a_store_being_prepared_counts_as_a_store(tmp_path: Path, store: Path, cli) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / ".progress.json").write_text("{}")
    done = cli("tokenize", "hi", "-o", str(busy / "t.html"))
    assert done.returncode == 2 and "inside the token store" in done.stderr


def test_report_keeps_the_users_file(store: Path, tmp_path: Path, cli) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    done = cli("report", str(store), "-o", str(notes))
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "not a page tokenmill wrote" in done.stderr and "--overwrite" in done.stderr
    assert notes.read_text() == "my notes\n"
    # Someone else's HTML page is the user's file too.
    other = tmp_path / "index.html"
    other.write_text("<!DOCTYPE html><html><head><title>mine</title></head></html>")
    assert cli("report", str(store), "-o", str(other)).returncode == 2
    assert "mine" in other.read_text()


def test_a_second_report_replaces_its_own_page(store: Path, tmp_path: Path, cli) -> None:
    page = tmp_path / "page.html"
    assert cli("report", str(store), "-o", str(page)).returncode == 0
    assert '<meta name="generator" content="tokenmill ' in page.read_text()
    page.write_text(page.read_text().replace("</body>", "<p>old</p></body>"))
    done = cli("report", str(store), "-o", str(page))
    assert done.returncode == 0, done.stderr
    assert "<p>old</p>" not in page.read_text()


def test_overwrite_replaces_the_users_file(store: Path, tmp_path: Path, cli) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    assert cli("report", str(store), "-o", str(notes), "--overwrite").returncode == 0
    assert is_tokenmill_page(notes)


def test_tokenize_and_demo_pages_are_guarded_too(tmp_path: Path, cli) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("keep")
    for argv in (["tokenize", "hi", "--html", str(notes)], ["demo", "--html", str(notes)]):
        done = cli(*argv)
        assert done.returncode == 2 and "not a page tokenmill wrote" in done.stderr, argv
        assert done.stdout == "", argv  # demo refuses before it prints a stage
    assert notes.read_text() == "keep"
    assert cli("tokenize", "hi", "--html", str(notes), "--overwrite").returncode == 0


def test_pages_written_before_the_generator_tag_are_recognised(tmp_path: Path) -> None:
    from tokenmill.html.page import CSP

    old = tmp_path / "old.html"
    old.write_text(f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                   f'<meta http-equiv="Content-Security-Policy" content="{CSP}"><title>t</title>')
    assert is_tokenmill_page(old)
    assert check_writable(old) == str(old)
    (tmp_path / "empty.html").write_text("")
    with pytest.raises(ValueError, match="overwrite"):
        check_writable(tmp_path / "empty.html")


def test_a_symlink_into_a_store_is_refused(store: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.html"
    link.symlink_to(store / "manifest.json")
    with pytest.raises(ValueError, match="inside the token store"):
        check_writable(link)


# --- invisible characters --------------------------------------------------------------


@pytest.mark.parametrize("code", [0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069,
                                  0x200B, 0x200E, 0x200F, 0x2028, 0x2029, 0xFEFF, 0x061C, 0x2060])
def test_bidi_and_invisible_characters_are_shown(code: int) -> None:
    assert code in INVISIBLE
    shown = visible_controls(f"invoice_{chr(code)}fdp.exe")
    assert chr(code) not in shown and f"\\u{code:04x}" in shown


def test_joiners_stay_for_emoji_and_scripts_that_need_them() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert visible_controls(family) == family


def test_tokens_and_report_pages_hold_no_raw_bidi_control(tmp_path: Path, cli) -> None:
    from tests.helpers import write_jsonl

    hostile = "invoice_\u202efdp.exe \u2066x\u2069 zero\u200bwidth \ufeffbom line\u2028sep"
    src = write_jsonl(tmp_path / "bidi.jsonl", [hostile, "plain text here"])
    assert cli("prepare", str(src), "--out", str(tmp_path / "s"), "--quiet", "--workers", "0").returncode == 0
    for argv, page in ((["report", str(tmp_path / "s"), "-o"], "r.html"), (["tokenize", "--file", str(src), "--html"], "t.html")):
        done = cli(*argv, str(tmp_path / page))
        assert done.returncode == 0, done.stderr
        text = (tmp_path / page).read_text(encoding="utf-8")
        assert not [c for c in text if ord(c) in INVISIBLE], page
        assert "\\u202e" in text and "\\u2066" in text


def test_the_terminal_and_the_pages_escape_the_same_invisible_characters() -> None:
    from tokenmill.cli.terminal import INVISIBLE as TERMINAL

    assert sorted(TERMINAL) == sorted(INVISIBLE)
