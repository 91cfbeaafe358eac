"""The README's Python examples are run, so what it shows is what tokenmill prints."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "the README has no Python examples"
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    globs: dict = {}
    for i, block in enumerate(blocks):
        runner.run(parser.get_doctest(block, globs, f"README block {i}", str(README), 0))
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0


def test_readme_shows_what_make_demo_prints():
    import subprocess
    import sys

    text = README.read_text(encoding="utf-8")
    start = text.index("1. Text (built-in sample)")
    end = text.index("ready for the transformer", start) + len("ready for the transformer")
    tokenmill = Path(sys.executable).with_name("tokenmill")
    out = subprocess.run([str(tokenmill), "demo"], capture_output=True, text=True, check=True).stdout
    assert text[start:end] in out
