"""store and stages: imports go one way."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "tokenmill"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_no_import_circles_between_store_modules_and_no_stage_reaches_up() -> None:
    assert not any(m.startswith("tokenmill.store.reader") for m in _imports(SRC / "store" / "stats.py"))
    for stage in ("prepare", "store"):
        for path in (SRC / stage).glob("*.py"):
            reached = {m for m in _imports(path) if m.startswith("tokenmill.") and m.count(".") == 1}
            faces = {m for m in reached if not (SRC / f"{m.split('.')[1]}").exists() and not (SRC / f"{m.split('.')[1]}.py").exists()}
            assert not faces, f"{path.name} imports names from the package face: {faces}"
    import tokenmill
    from tokenmill._version import __version__

    assert tokenmill.__version__ == __version__
    assert f'version = "{__version__}"' in (SRC.parents[1] / "pyproject.toml").read_text()
