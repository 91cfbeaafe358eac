"""What create_dataloader is given: a token store's path (str or Path); the windows stage's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from tokenmill import store
from tokenmill.windows import create_dataloader

import tokenmill

SRC = Path(tokenmill.__file__).resolve().parent  # the package under test


@pytest.fixture()
def store_dir(tmp_path: Path) -> Path:
    ids = np.arange(1, 401, dtype=np.uint16)
    (tmp_path / "store").mkdir()
    entry = store.write_shard(tmp_path / "store", "train-00000", ids, np.array([0, 200, 400]))
    store.write_manifest(tmp_path / "store", store._example_manifest([entry]))
    return tmp_path / "store"


def first_inputs(source: object) -> list[list[int]]:
    loader = create_dataloader(source, batch_size=2, max_length=10, stride=10, shuffle=False)
    return next(iter(loader))[0].tolist()


@pytest.mark.parametrize("as_type", [str, Path])
def test_a_store_path_opens_the_store(store_dir: Path, as_type: type) -> None:
    # Today a str is tokenized as the characters of the path, and a Path is a TypeError.
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
    (tmp_path / "train-00000.bin").write_bytes(b"")
    with pytest.raises(ValueError, match=r"interrupted.*TokenStore\.open"):
        create_dataloader(str(tmp_path))


def test_text_is_still_text() -> None:
    text = "In the heart of the city stood the old library, a relic"
    loader = create_dataloader(text, batch_size=2, max_length=4, stride=4, shuffle=False)
    assert next(iter(loader))[0].tolist() == [[818, 262, 2612, 286], [262, 1748, 6204, 262]]
    # Text that could never be a path (newlines, NUL) is never looked up on disk.
    assert len(create_dataloader(text + "\n" + text, batch_size=1, max_length=4, stride=4).dataset) > 0
    assert len(create_dataloader(text + "\x00" + text, batch_size=1, max_length=4, stride=4).dataset) > 0


def windows_modules() -> list[Path]:
    names = ("windows.py", "window_dataset.py", "sampler.py", "sampler_state.py", "permutation.py",
             "loader_sources.py", "stateful_loader.py")
    return [SRC / name for name in names if (SRC / name).is_file()]


def test_windows_stage_imports_no_private_name_from_another_module() -> None:
    # Today windows.py takes the private _positive_int from context.py.
    for path in windows_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tokenmill"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports private {private} from {node.module}"


def test_the_shared_argument_check_is_public_and_context_does_not_own_it() -> None:
    from tokenmill import checks, context

    assert "positive_int" in checks.__all__
    assert not hasattr(context, "_positive_int")
    context_imports = {
        node.module for node in ast.walk(ast.parse((SRC / "context.py").read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom)
    }
    # One direction: the stages use checks; checks imports no stage.
    assert "tokenmill.checks" in context_imports
    checks_tree = ast.parse((SRC / "checks.py").read_text(encoding="utf-8"))
    assert not [n for n in ast.walk(checks_tree) if isinstance(n, ast.ImportFrom) and "tokenmill" in (n.module or "")]
