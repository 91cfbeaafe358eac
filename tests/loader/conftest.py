"""Fixtures of the loader tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture()
def token_file(tmp_path: Path) -> tuple[Path, np.ndarray]:
    ids = np.random.default_rng(0).integers(0, 50257, size=200_003).astype(np.uint16)
    path = tmp_path / "tokens.bin"
    ids.tofile(path)
    return path, ids
