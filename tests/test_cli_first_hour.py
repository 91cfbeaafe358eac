"""Issue 13, second pass: flags (not Python names) in CLI messages, a file given as a store,
train-tokenizer's skipped files, control characters in HTML, no stage importing the package face."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

TOKENMILL = Path(sys.executable).with_name("tokenmill")
SRC = Path(__file__).resolve().parents[1] / "src" / "tokenmill"
WORDS = "the quick brown fox jumps over the lazy dog and the slow cat sleeps by the warm fire "


def tm(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TOKENMILL), *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def write_jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "many.jsonl", [WORDS * 3, WORDS * 2])


@pytest.fixture
def store(tmp_path: Path, corpus: Path) -> Path:
    done = tm("prepare", str(corpus), "--out", str(tmp_path / "store"), "--quiet", "--workers", "0")
    assert done.returncode == 0, done.stderr
    return tmp_path / "store"


# ---- 1. every message on the command line names the flag, not the Python parameter -----------------------------------

BAD_FLAGS = [
    (["tokenize", "hello", "--allowed-special", "bogus"], "--allowed-special", "allowed_special"),
    (["tokenize", "hello", "--max-tokens", "0"], "--max-tokens", "max_tokens"),
    (["demo", "--max-length", "0"], "--max-length", "max_length"),
    (["demo", "--max-length", "100000"], "--max-length", "max_length"),
    (["demo", "--stride", "0"], "--stride", "stride"),
    (["demo", "--batch-size", "0"], "--batch-size", "batch_size"),
    (["demo", "--emb-dim", "0"], "--emb-dim", "emb_dim"),
    (["demo", "--emb-dim", "-3"], "--emb-dim", "emb_dim"),
    (["train-tokenizer", "{corpus}", "--vocab-size", "10", "--out", "{tmp}/t"], "--vocab-size 10", "vocab_size"),
    (["train-tokenizer", "{corpus}", "--vocab-size", "300", "--out", "{tmp}/t", "--min-frequency", "-1"],
     "--min-frequency", "min_frequency"),
    (["train-tokenizer", "{corpus}", "--vocab-size", "300", "--out", "{tmp}/t", "--special-token", "a",
      "--special-token", "a"], "--special-token", "special_tokens"),
    (["stats", "{store}", "--top", "-1"], "--top", "top"),
    (["report", "{store}", "-o", "{tmp}/r.html", "--top", "0"], "--top", "top"),
    (["report", "{store}", "-o", "{tmp}/r.html", "--samples", "-1"], "--samples", "samples"),
]


@pytest.mark.parametrize("argv, flag, python", BAD_FLAGS, ids=[" ".join(a[:1] + a[-2:]) for a, _, _ in BAD_FLAGS])
def test_a_bad_flag_is_named_as_a_flag(tmp_path: Path, corpus: Path, store: Path, argv: list[str], flag: str,
                                       python: str) -> None:
    argv = [a.format(corpus=corpus, store=store, tmp=tmp_path) for a in argv]
    done = tm(*argv)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert flag in done.stderr and not re.search(rf"(?<![\w-]){python}(?![\w-])", done.stderr), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_warnings_of_train_tokenizer_name_flags(tmp_path: Path, corpus: Path) -> None:
    done = tm("train-tokenizer", str(corpus), "--vocab-size", "5000", "--out", str(tmp_path / "t"), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "--min-frequency 2" in done.stderr and "min_frequency" not in done.stderr, done.stderr


def test_the_python_api_keeps_python_names(tmp_path: Path, corpus: Path) -> None:
    from tokenmill.training import train_tokenizer

    with pytest.raises(ValueError, match=r"^vocab_size=10 is too small"):
        train_tokenizer([corpus], tmp_path / "t", vocab_size=10)


def test_flag_names_leaves_ordinary_words_alone() -> None:
    from tokenmill.cli import build_parser, flag_names

    demo = build_parser()._subparsers._group_actions[0].choices["demo"]  # type: ignore[union-attr]
    said = "unknown tokenizer 'x'; no such file; a stride of 4; pass --stride 2"
    assert flag_names(said, demo) == said
    assert flag_names("stride must be >= 1; max_length=5 and max_length + 1", demo) == (
        "--stride must be >= 1; --max-length 5 and --max-length + 1"
    )


# ---- 2. a file given where a store directory goes ---------------------------------------------------------------------


@pytest.mark.parametrize("command", [["stats"], ["report", "-o", "page.html"]])
def test_a_file_given_as_a_store_gets_advice_that_works(tmp_path: Path, corpus: Path, command: list[str]) -> None:
    done = tm(command[0], "many.jsonl", *command[1:], cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "many.jsonl is a file, not a token store directory" in done.stderr, done.stderr
    assert "--out many.jsonl" not in done.stderr
    advised = re.search(r"`tokenmill (prepare [^`]+)`", done.stderr)
    assert advised and advised.group(1) == "prepare many.jsonl --out many-store/", done.stderr
    made = tm(*advised.group(1).split(), "--quiet", "--workers", "0", cwd=tmp_path)  # the advice, copied
    assert made.returncode == 0, made.stderr
    assert tm(command[0], "many-store/", *command[1:], cwd=tmp_path).returncode == 0


def test_token_store_open_on_a_file_says_so(tmp_path: Path, corpus: Path, store: Path) -> None:
    from tokenmill.store import TokenStore

    (tmp_path / "many-store").mkdir()  # taken: the advice names a directory that does not exist yet
    with pytest.raises(ValueError, match="is a file, not a token store directory") as err:
        TokenStore.open(corpus)
    assert f"--out {tmp_path / 'many-store2'}/" in str(err.value)


# ---- 3. train-tokenizer counts the files it skipped --------------------------------------------------------------------


def test_train_tokenizer_reports_skipped_files(tmp_path: Path) -> None:
    folder = tmp_path / "books"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [WORDS * 5])
    (folder / "LICENSE").write_text("MIT")
    (folder / ".DS_Store").write_bytes(b"\x00\x01Bud1")
    done = tm("train-tokenizer", str(folder), "--vocab-size", "270", "--out", str(tmp_path / "tok"), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "skipped 2 files of unknown type" in done.stdout, done.stdout
    seen = json.loads((tmp_path / "tok" / "tokenmill-tokenizer.json").read_text())["trained_on"]
    assert seen["unknown_files_skipped"] == 2
    assert sorted(Path(p).name for p in seen["skipped_inputs"]) == [".DS_Store", "LICENSE"]
    clean = tm("train-tokenizer", str(folder / "a.jsonl"), "--vocab-size", "270", "--out", str(tmp_path / "t2"),
               "--quiet")
    assert clean.returncode == 0 and "skipped" not in clean.stdout, clean.stdout


# ---- 4. control characters in a corpus are shown, never written raw into a page ---------------------------------------

RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_report_and_tokenize_html_have_no_raw_control_characters(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "nul.jsonl", ["before\x00after\x07bell\x1b[31m esc\x85 nel", WORDS])
    assert tm("prepare", str(src), "--out", str(tmp_path / "s"), "--quiet", "--workers", "0").returncode == 0
    done = tm("report", str(tmp_path / "s"), "-o", str(tmp_path / "r.html"))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert not RAW_CONTROLS.findall(page), RAW_CONTROLS.findall(page)
    assert "\u2400" in page  # U+0000 shown as the symbol for NUL
    done = tm("tokenize", "--file", str(src), "--html", str(tmp_path / "t.html"))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "t.html").read_text(encoding="utf-8")
    assert not RAW_CONTROLS.findall(page) and "\u2400" in page


def test_esc_shows_controls_and_keeps_newline_and_tab() -> None:
    from tokenmill.html.page import esc

    assert esc("a\x00b\n\tc\x7f\x9f<") == "a\u2400b\n\tc\u2421\\x9f&lt;"


# ---- 5 (item 19). no stage imports the package face ------------------------------------------------------------------


def _face_imports(path: Path, root: Path = SRC) -> list[str]:
    """Imports in ``path`` that take names from the top-level ``tokenmill`` package (its __init__)."""
    rel = path.relative_to(root.parent).with_suffix("").parts  # ("tokenmill", "store", "reader")
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolve against the module's package
                base = rel[: len(rel) - node.level]
                module = ".".join(base + ((module,) if module else ()))
            if module == "tokenmill":
                found += [f"line {node.lineno}: from tokenmill import {a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import tokenmill" for a in node.names if a.name == "tokenmill"]
    return found


def test_no_module_imports_from_the_package_face() -> None:
    checked = 0
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel == Path("__init__.py") or rel.parts[0] == "cli":
            continue
        checked += 1
        assert not _face_imports(path), f"{rel} imports from the package face: {_face_imports(path)}"
    assert checked > 30


def test_the_face_check_can_fail(tmp_path: Path) -> None:
    fake = tmp_path / "tokenmill" / "store" / "probe.py"
    fake.parent.mkdir(parents=True)
    for text in ("from tokenmill import __version__\n", "from .. import vocab\n", "import tokenmill\n"):
        fake.write_text(text)
        assert _face_imports(fake, tmp_path / "tokenmill"), text
    fake.write_text("from tokenmill._version import __version__\nfrom . import reader\nimport tokenmill.vocab\n")
    assert not _face_imports(fake, tmp_path / "tokenmill")
