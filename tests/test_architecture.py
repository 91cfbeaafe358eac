"""The layers: no module of the library imports the package face (``tokenmill/__init__``)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "tokenmill"


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
