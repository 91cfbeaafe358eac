"""The layers: one package per pipeline stage, imports flowing one way, fronts that only re-export.

The stages in order (a module may import its own stage and the stages above it in this list,
never one below):

    common -> storage -> tokenizers -> corpus -> store -> prepare -> training, export -> loader
    -> embeddings -> html -> book -> cli -> the package face

Imports inside functions count too: they hide a dependency, they do not remove it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tokenmill"

# Stage of each top-level name under tokenmill/ (a package or a module).
LAYERS: dict[str, float] = {
    "_version": 0, "common": 0,
    "storage": 0.5,
    "tokenizers": 1,
    "corpus": 2,
    "store": 3,
    "prepare": 4,
    "training": 5, "export": 5,
    "loader": 6, "windows": 6, "sampler": 6, "permutation": 6,
    "embeddings": 7,
    "html": 8,
    "book": 9,
    "cli": 10,
    "__main__": 11, "__init__": 11,
}
TORCH_FREE = ("common", "storage", "tokenizers", "corpus", "store", "prepare", "export")
MAX_LINES = 340  # "about 300 lines at most": a module past this wants splitting


def module_name(path: Path, root: Path = SRC) -> str:
    """``src/tokenmill/store/reader.py`` -> ``tokenmill.store.reader``; a front is its package."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = SRC) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in ``path``, at any depth, relative ones resolved."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            if base in ("tokenmill", "tokenmill.cli") or not node.module:
                # `from tokenmill import x` may name a submodule: count the submodule if it is one
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    is_module = (root.parent / Path(*sub.split("."))).with_suffix(".py").exists() or (
                        root.parent / Path(*sub.split(".")) / "__init__.py"
                    ).exists()
                    yield node.lineno, sub if is_module else base
            else:
                yield node.lineno, base


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_violations(root: Path = SRC) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        source = module_name(path, root)
        here = stage_of(source) if path != root / "__init__.py" else "__init__"
        for line, target in imports_of(path, root):
            if target != "tokenmill" and not target.startswith("tokenmill."):
                continue
            there = stage_of(target)
            if target == "tokenmill" and here != "__init__":
                found.append(f"{source}:{line} imports the package face")
            elif LAYERS.get(there, 99) > LAYERS.get(here, -1):
                found.append(f"{source}:{line} ({here}) imports {target} ({there}), a later stage")
    return found


def test_imports_flow_one_way_along_the_pipeline() -> None:
    names = {p.name.removesuffix(".py") for p in SRC.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    unknown = sorted(names - set(LAYERS))
    assert not unknown, f"modules or packages with no stage in LAYERS: {unknown}"
    assert layer_violations() == []


def test_the_layer_check_can_fail(tmp_path: Path) -> None:
    root = tmp_path / "tokenmill"
    (root / "store").mkdir(parents=True)
    (root / "loader").mkdir()
    for package in (root, root / "store", root / "loader"):
        (package / "__init__.py").write_text('"""front"""\n')
    (root / "loader" / "dataset.py").write_text("x = 1\n")
    probe = root / "store" / "probe.py"
    for text in (
        "from tokenmill.loader.dataset import x\n",
        "def f():\n    from tokenmill.loader import dataset\n",
        "from ..loader import dataset\n",
        "import tokenmill\n",
        "from tokenmill import cli\n",
    ):
        probe.write_text(text)
        assert layer_violations(root), text
    probe.write_text("from tokenmill.common.files import sha256_file\nfrom . import reader\n")
    assert layer_violations(root) == []


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    return {
        name: {t for _, t in imports_of(path, root) if t in modules and t != name}
        for name, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, found by depth-first search (one representative per back edge)."""
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_no_import_cycles_not_even_inside_functions() -> None:
    # A package front imports its modules; a module that imports its own front closes a cycle.
    assert cycles(import_graph()) == []
    assert cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]


FRONT_NODES = (ast.Import, ast.ImportFrom)


def front_problems(path: Path) -> list[str]:
    """What a package front holds besides its docstring, imports and ``__all__``."""
    problems = []
    for i, node in enumerate(ast.parse(path.read_text(encoding="utf-8")).body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, FRONT_NODES):
            if isinstance(node, ast.ImportFrom):
                problems += [
                    f"re-exports the private name {a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.endswith("__")  # dunders: PEP 562 hooks
                ]
            continue
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            continue
        problems.append(f"line {node.lineno}: {type(node).__name__}")
    return problems


def test_package_fronts_only_re_export() -> None:
    fronts = [p for p in SRC.rglob("__init__.py") if p != SRC / "__init__.py"]
    assert len(fronts) >= 9
    bad = {str(p.relative_to(SRC)): front_problems(p) for p in fronts if front_problems(p)}
    assert bad == {}


def test_the_front_check_can_fail(tmp_path: Path) -> None:
    front = tmp_path / "__init__.py"
    front.write_text('"""doc"""\nfrom a import b\n__all__ = ["b"]\n')
    assert front_problems(front) == []
    for text in ("def f():\n    pass\n", "from a import _hidden\n", "X = 1\n"):
        front.write_text(text)
        assert front_problems(front), text


def test_modules_stay_small() -> None:
    big = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert big == {}, f"split these modules (over {MAX_LINES} lines): {big}"


@pytest.mark.parametrize("stage", TORCH_FREE)
def test_early_stages_never_import_torch(stage: str) -> None:
    root = SRC / stage
    if not root.exists():
        pytest.skip(f"no {stage} stage yet")
    static = [f"{module_name(p)}:{line}" for p in root.rglob("*.py") for line, t in imports_of(p) if t.split(".")[0] == "torch"]
    assert static == []
    modules = [module_name(p) for p in root.rglob("*.py")]
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0, f"{stage} pulls in torch"
