"""What the CLI prints never drives the terminal: escapes in manifests, arguments and file names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli.test_stats import make_store
from tokenmill.cli.terminal import display_width, rjust_display, safe, safe_json

# What a terminal would obey: ESC (CSI, OSC), BEL, C1 (CSI as \x9b), bidi overrides.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b\u200e\u200f\u2028\u2029\ufeff]")
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"  # OSC 52: write the clipboard
CLEAR = "\x1b[2J\x1b[H"  # clear the screen
TITLE = "\x9b31m\x1b]0;owned\x07\u202e"


@pytest.fixture
def hostile_store(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    store.mkdir()
    make_store(store)
    manifest = json.loads((store / "manifest.json").read_text())
    manifest["tokenizer"]["name"] = "gpt2" + CLIPBOARD
    manifest["dtype"] = "uint16"
    manifest["stats"][CLEAR + "note" + TITLE] = 1
    (store / "manifest.json").write_text(json.dumps(manifest))
    return store


def test_stats_prints_manifest_strings_escaped(hostile_store: Path, cli) -> None:
    done = cli("stats", str(hostile_store), "--top", "0")
    shown = done.stdout + done.stderr
    assert not RAW.findall(shown), RAW.findall(shown)
    assert "\\x1b]52;c;" in shown or "\\x1b" in shown
    assert done.stdout.count("\n") > 5  # the table's own lines are kept


def test_errors_and_file_names_are_escaped(tmp_path: Path, cli) -> None:
    name = tmp_path / f"a{CLEAR}b{TITLE}.txt"
    done = cli("tokenize", "--file", str(name))
    assert done.returncode == 2 and not RAW.findall(done.stderr), done.stderr
    assert "\\x1b[2J" in done.stderr and "\\u202e" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_recorded_arguments_in_advice_are_escaped(tmp_path: Path, cli) -> None:
    done = cli("stats", str(tmp_path / f"gone{CLIPBOARD}"))
    assert done.returncode == 2 and not RAW.findall(done.stderr), done.stderr


def test_tokenize_file_name_and_json_are_escaped(tmp_path: Path, cli) -> None:
    f = tmp_path / f"x{CLEAR}.jsonl"
    f.write_text(json.dumps({"text": "hi \x9b2J there \u202eevil"}) + "\n")
    done = cli("tokenize", "--file", str(f))
    assert done.returncode == 0 and not RAW.findall(done.stdout), done.stdout
    done = cli("tokenize", "--file", str(f), "--json")
    assert not RAW.findall(done.stdout)
    assert json.loads(done.stdout)["tokens"]  # still JSON


def test_safe_escapes_what_a_terminal_obeys_and_keeps_text() -> None:
    assert safe("吾輩は猫 café 🙂") == "吾輩は猫 café 🙂"
    assert safe(CLIPBOARD) == "\\x1b]52;c;cm0gLXJmIH4=\\x07"
    assert safe("a\nb") == "a\\x0ab" and safe("a\nb\tc", keep_newlines=True) == "a\nb\tc"
    assert json.loads(safe_json(json.dumps({"k": "\x85\u202e"}, ensure_ascii=False))) == {"k": "\x85\u202e"}


def test_display_width_counts_wide_characters_as_two() -> None:
    assert display_width("abc") == 3 and display_width("吾輩") == 4 and display_width("ｱ") == 1
    assert display_width("ＡＢ") == 4 and display_width("e\u0301") == 1
    assert rjust_display("'吾' + b'\\xe8'", 20).endswith("'吾' + b'\\xe8'")
    assert display_width(rjust_display("'吾輩'", 20)) == 20


def test_demo_arrows_align_on_japanese_text(tmp_path: Path, cli) -> None:
    f = tmp_path / "ja.txt"
    f.write_text("吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。", encoding="utf-8")
    done = cli("demo", str(f), "--max-length", "8")
    assert done.returncode == 0, done.stderr
    stage3 = [line for line in done.stdout.splitlines() if " -> " in line and not line.startswith(("4.", "1."))]
    assert len(stage3) == 8
    columns = {display_width(line.split(" -> ")[0]) for line in stage3}
    assert columns == {43}, stage3  # 3 spaces + 40 columns, whatever the characters


def test_coloured_text_keeps_only_tokenmills_own_escapes(tmp_path: Path, cli) -> None:
    f = tmp_path / "e.txt"
    f.write_text(f"hello {CLEAR} world\n")
    done = cli("tokenize", "--file", str(f), "--color", "always")
    assert done.returncode == 0
    first = done.stdout.splitlines()[0]
    assert "\x1b[48;5;" in first  # the colours themselves
    text = re.sub(r"\x1b\[(?:48;5;\d+|30|0)m", "", first)
    assert "\x1b" not in text and text.startswith("hello \\x1b[2J")
