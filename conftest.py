"""Names every doctest of the package may use without importing them (pytest's doctest_namespace).

The doctests of the store build small stores; the names they need are given here, so that a
module never imports something only its examples use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace: dict) -> None:
    from tokenmill.store.format import shard_name
    from tokenmill.store.manifest import _example_manifest, write_manifest
    from tokenmill.store.writer import write_shard

    doctest_namespace.update(
        np=np, Path=Path, shard_name=shard_name, write_shard=write_shard, write_manifest=write_manifest,
        _example_manifest=_example_manifest,
    )
