"""Shared fixtures: the read-only corpora beside the checkout (tests skip when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from tests.s3 import s3_endpoint, s3_server  # noqa: F401 - fixtures for the tests of S3 stores

# Timing varies a lot on small shared machines: no per-example deadline. CI runs a fixed
# sequence of examples so that a red build is reproducible; locally they are random.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"


@pytest.fixture(scope="session")
def corpora() -> Path:
    if not CORPORA.is_dir():
        pytest.skip(f"{CORPORA} is absent")
    return CORPORA


@pytest.fixture(scope="session")
def verdict_text(corpora: Path) -> str:
    path = corpora / "the-verdict.txt"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path.read_text(encoding="utf-8")


@pytest.fixture
def cli(capsys):
    """``cli(*argv)``: ``tokenmill.cli.main(argv)`` in this process, as a CompletedProcess.

    Much faster than a subprocess (torch is imported once); an exception escaping main()
    fails the test, as a traceback would. Tests of the real entry point use subprocess.
    """
    import subprocess

    from tokenmill.cli import main

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's own errors and --help
            code = exc.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(argv), code, out, err)

    return run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that read the shared corpora are slow ones, whatever their module says."""
    for item in items:
        if "corpora" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
