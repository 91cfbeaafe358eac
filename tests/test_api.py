"""The public API: every exported name resolves, and the torch-free stages stay torch-free."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tokenmill


def test_all_names_resolve():
    for name in tokenmill.__all__:
        assert getattr(tokenmill, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tokenmill.nope  # noqa: B018


@pytest.mark.parametrize(
    "module", ["tokenmill", "tokenmill.tokenizers", "tokenmill.store", "tokenmill.prepare", "tokenmill.tokenizers.truncate"]
)
def test_torch_free_stages(module):
    code = f"import sys, {module}; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, f"{module} imports torch"
