"""What create_dataloader is given: a token store's path (str or Path); the windows stage's imports."""

from __future__ import annotations

import ast
import base64
import inspect
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tokenmill
from tokenmill import get_tokenizer, store
from tokenmill.loader.dataloader import create_dataloader
from tokenmill.loader.sources import looks_like_path

SRC = Path(tokenmill.__file__).resolve().parent  # the package under test


@pytest.fixture()
def store_dir(tmp_path: Path) -> Path:
    ids = np.arange(1, 401, dtype=np.uint16)
    (tmp_path / "store").mkdir()
    entry = store.write_shard(tmp_path / "store", "train-00000", ids, np.array([0, 200, 400]))
    store.write_manifest(tmp_path / "store", store.manifest._example_manifest([entry]))
    return tmp_path / "store"


def first_inputs(source: object) -> list[list[int]]:
    loader = create_dataloader(source, batch_size=2, max_length=10, stride=10, shuffle=False)
    return next(iter(loader))[0].tolist()


@pytest.mark.parametrize("as_type", [str, Path])
def test_a_store_path_opens_the_store(store_dir: Path, as_type: type) -> None:
    # Neither kind of path may be tokenized as its characters or refused as the wrong type.
    want = [list(range(1, 11)), list(range(11, 21))]
    assert first_inputs(store.TokenStore.open(store_dir)) == want
    assert first_inputs(as_type(store_dir)) == want
    loader = create_dataloader(as_type(store_dir), batch_size=2, max_length=10, stride=10, seed=1)
    assert loader.sampler.dataset_id["store_sha256"]  # the store's checksums identify the data


def test_a_path_that_is_not_a_store_says_how_to_open_one(tmp_path: Path) -> None:
    text = tmp_path / "story.txt"
    text.write_text("hello world " * 50, encoding="utf-8")
    with pytest.raises(ValueError, match=r"is a file, not a token store directory.*TokenStore\.open\(DIR\).*read_text"):
        create_dataloader(text)
    with pytest.raises(ValueError, match=r"is a directory that is not a token store.*tokenmill prepare.*TokenStore\.open"):
        create_dataloader(tmp_path)
    with pytest.raises(ValueError, match=r"is a path that does not exist.*TokenStore\.open"):
        create_dataloader(tmp_path / "missing")
    # A str naming a directory that is no store is refused, not tokenized as its name.
    with pytest.raises(ValueError, match=r"is a directory that is not a token store.*TokenStore\.open"):
        create_dataloader(str(tmp_path))
    # An interrupted prepare is named as such (the store's own message), with the way to open one.
    # Shards with no checkpoint are a store whose manifest was deleted; with one, an interrupted prepare:
    # either way one line, the store's own, with the command that fixes it.
    (tmp_path / "train-00000.bin").write_bytes(b"")
    with pytest.raises(ValueError, match=r"manifest was deleted; rebuild the store with .*tokenmill prepare") as info:
        create_dataloader(str(tmp_path))
    assert "create_dataloader takes" not in str(info.value) and "\n" not in str(info.value)
    (tmp_path / ".progress.json").write_text('{"identity": {}}')
    with pytest.raises(ValueError, match=r"interrupted there .*rerun the same command to resume it") as info:
        create_dataloader(str(tmp_path))
    assert "create_dataloader takes" not in str(info.value) and str(info.value).count(str(tmp_path)) == 2


def test_text_is_still_text() -> None:
    text = "In the heart of the city stood the old library, a relic"
    loader = create_dataloader(text, batch_size=2, max_length=4, stride=4, shuffle=False)
    assert next(iter(loader))[0].tolist() == [[818, 262, 2612, 286], [262, 1748, 6204, 262]]
    # Text that could never be a path (newlines, NUL) is never looked up on disk.
    assert len(create_dataloader(text + "\n" + text, batch_size=1, max_length=4, stride=4).dataset) > 0
    assert len(create_dataloader(text + "\x00" + text, batch_size=1, max_length=4, stride=4).dataset) > 0


def loader_modules() -> list[Path]:
    return sorted((SRC / "loader").glob("*.py"))


def test_loader_imports_no_private_name_from_another_module() -> None:
    for path in loader_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tokenmill"):
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")]
                assert not private, f"{path.name} imports private {private} from {node.module}"


def test_the_shared_argument_check_is_public_and_truncate_does_not_own_it() -> None:
    from tokenmill.common import checks
    from tokenmill.tokenizers import truncate as truncate_module

    assert "positive_int" in checks.__all__
    assert not hasattr(truncate_module, "_positive_int")
    truncate_imports = {
        node.module for node in ast.walk(ast.parse((SRC / "tokenizers" / "truncate.py").read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom)
    }
    # One direction: the stages use checks; checks imports no stage.
    assert "tokenmill.common.checks" in truncate_imports
    checks_tree = ast.parse((SRC / "common" / "checks.py").read_text(encoding="utf-8"))
    assert not [
        n for n in ast.walk(checks_tree)
        if isinstance(n, ast.ImportFrom) and "tokenmill" in (n.module or "") and not n.module.startswith("tokenmill.common")
    ]


# --- a str that is a path, not text ----------------------------------------------------------

STORY = "I HAD always thought Jack Gisburn rather a cheap genius--though a good fellow enough.\n"


def prepare_store(cli, tmp_path: Path, out: Path, *flags: str) -> Path:
    """A small store made as a user makes one: `tokenmill prepare FILE --out DIR`."""
    corpus = tmp_path / "story.txt"
    corpus.write_text(STORY * 4, encoding="utf-8")
    done = cli("prepare", str(corpus), "--out", str(out), "--workers", "0", "--quiet", *flags)
    assert done.returncode == 0, done.stderr
    return out


def test_a_store_under_home_opens_from_a_tilde_path(cli, tmp_path: Path, monkeypatch) -> None:
    # "~" is expanded, so "~/store" opens the store rather than being tokenized as text.
    prepare_store(cli, tmp_path, tmp_path / "store")
    monkeypatch.setenv("HOME", str(tmp_path))
    want = first_inputs(store.TokenStore.open(tmp_path / "store"))
    assert first_inputs("~/store") == want
    assert first_inputs(Path("~/store")) == want


def test_a_file_name_is_refused_not_tokenized(tmp_path: Path, monkeypatch) -> None:
    # A file's name must never become windows of the tokens of the name itself.
    (tmp_path / "the-verdict.txt").write_text(STORY, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for name in ("the-verdict.txt", "./the-verdict.txt", str(tmp_path / "the-verdict.txt")):
        with pytest.raises(ValueError, match=r"is a file, not a token store directory.*"
                           r"tokenmill prepare .*the-verdict\.txt --out DIR.*TokenStore\.open\(DIR\).*open\("):
            create_dataloader(name, batch_size=1, max_length=2, stride=1)


@pytest.mark.parametrize("name", ["/tmp/nostore-of-tokenmill", "~/nostore", "./nostore", "../nostore",
                                  "corpus.jsonl.xz", "shard.bin", "notes.txt", "~"])
def test_a_missing_path_is_refused_not_tokenized(tmp_path: Path, monkeypatch, name: str) -> None:
    # Each of these looks like a path, so it is refused rather than trained on as characters.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "home").mkdir()
    want = "is a directory that is not a token store" if name == "~" else "is a path that does not exist"
    with pytest.raises(ValueError, match=rf"{want}.*tokenmill prepare.*TokenStore\.open.*encode\(text\)"):
        create_dataloader(name, batch_size=1, max_length=2, stride=1)


@pytest.mark.parametrize("text", ["I had always thought", "see notes.txt", "~ fin ~", "a/b is a ratio",
                                  "/* not a path */", "the end.", "nostore"])
def test_one_line_text_that_is_no_path_is_still_text(text: str) -> None:
    loader = create_dataloader(text, batch_size=1, max_length=1, stride=1, shuffle=False)
    assert [int(x) for x, _ in loader] == get_tokenizer("gpt2").encode(text)[:-1]


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text())
def test_text_with_a_line_break_is_never_a_path(head: str, tail: str) -> None:
    assert not looks_like_path(head + "\n" + tail)
    assert not looks_like_path(head + "\r" + tail)


# --- a store's own tokenizer is the default ---------------------------------------------------


def tiny_ranks_file(path: Path) -> Path:
    """A .tiktoken ranks file: the 256 bytes, then one merge ("th"), so its IDs are not GPT-2's."""
    tokens = [bytes([b]) for b in range(256)] + [b"th"]
    path.write_text("".join(f"{base64.b64encode(t).decode()} {i}\n" for i, t in enumerate(tokens)))
    return path


def test_a_store_made_with_its_own_tokenizer_loads_with_defaults(cli, tmp_path: Path) -> None:
    # tokenizer=None means the store's own tokenizer, never a default "gpt2" checked against it.
    ranks = tiny_ranks_file(tmp_path / "tiny.tiktoken")
    out = prepare_store(cli, tmp_path, tmp_path / "store", "-t", str(ranks))
    tok = get_tokenizer(ranks)
    want = [tok.encode(STORY)[:4], tok.encode(STORY)[4:8]]
    for source in (str(out), out, store.TokenStore.open(out)):
        loader = create_dataloader(source, batch_size=2, max_length=4, stride=4, shuffle=False)
        assert next(iter(loader))[0].tolist() == want
    loader = create_dataloader(out, tokenizer=str(ranks), batch_size=2, max_length=4, stride=4, shuffle=False)
    assert next(iter(loader))[0].tolist() == want  # the right tokenizer, given, is accepted
    with pytest.raises(ValueError, match=r"made with tokenizer .*tiny\.tiktoken.*tokenizer='gpt2' was given"):
        create_dataloader(out, tokenizer="gpt2", batch_size=2, max_length=4, stride=4)


def test_a_store_made_with_a_trained_tokenizer_loads_with_defaults(cli, tmp_path: Path) -> None:
    pytest.importorskip("tokenizers")
    corpus = tmp_path / "train.txt"
    corpus.write_text(STORY * 20, encoding="utf-8")
    done = cli("train-tokenizer", str(corpus), "--vocab-size", "300", "--out", str(tmp_path / "tok"), "--quiet")
    assert done.returncode == 0, done.stderr
    out = prepare_store(cli, tmp_path, tmp_path / "store", "--tokenizer", str(tmp_path / "tok"))
    tok = get_tokenizer(tmp_path / "tok")
    loader = create_dataloader(str(out), batch_size=2, max_length=4, stride=4, shuffle=False)
    assert next(iter(loader))[0].tolist() == [tok.encode(STORY)[:4], tok.encode(STORY)[4:8]]
    with pytest.raises(ValueError, match=r"tokenizer='gpt2' was given"):
        create_dataloader(str(out), tokenizer="gpt2", batch_size=2, max_length=4, stride=4)


def test_tokenizer_none_means_gpt2_for_text() -> None:
    text = "In the heart of the city stood the old library, a relic"
    for tokenizer in (None, "gpt2"):
        loader = create_dataloader(text, tokenizer=tokenizer, batch_size=2, max_length=4, stride=4, shuffle=False)
        assert next(iter(loader))[0].tolist() == [[818, 262, 2612, 286], [262, 1748, 6204, 262]]
    assert inspect.signature(create_dataloader).parameters["tokenizer"].default is None


def test_a_compressed_corpus_file_names_prepare_only(tmp_path: Path) -> None:
    (tmp_path / "my corpus.jsonl.xz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"is a file.*`tokenmill prepare '.*my corpus\.jsonl\.xz' --out DIR`") as info:
        create_dataloader(str(tmp_path / "my corpus.jsonl.xz"))
    assert "read()" not in str(info.value)  # reading it whole would give compressed bytes
