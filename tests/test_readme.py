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


def _signature_as_written(func) -> str:
    """``start, stop, *, split="train"``: a signature as the README writes it (no types)."""
    import inspect

    parts, star = [], False
    for p in list(inspect.signature(func).parameters.values())[1:]:  # not self
        if p.kind is p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        default = "" if p.default is p.empty else "=" + repr(p.default).replace("'", '"')
        parts.append(p.name + default)
    return ", ".join(parts)


def test_readme_gives_token_store_methods_their_real_arguments():
    from tokenmill.store import TokenStore

    text = README.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `TokenStore.open(dir)`"))
    for name in ("decode", "documents", "stats", "verify"):
        assert f"`{name}({_signature_as_written(getattr(TokenStore, name))})`" in row, name
    assert "decode(start, stop" in row


def test_readme_says_what_make_test_skips_and_how_to_get_cpu_torch():
    text = README.read_text(encoding="utf-8")
    assert "fetches test fixtures" not in text
    block = text[text.index("$ make test") :]
    block = block[: block.index("```")]
    assert re.search(r"=+ \d+ passed, \d+ skipped(, \d+ warnings?)? in ", block), "show the count a fresh clone prints"
    after = text[text.index("$ make test") :]
    assert "../shared/corpora" in after[:3000] and "is absent" in after[:3000]
    install = text[text.index("### Installing") :]
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in install
    # the CPU build first, then tokenmill: pip then keeps the torch that is there
    assert install.index("$ pip install torch --index-url") < install.index("$ pip install -e")


def test_readme_says_how_to_install_and_run_what_make_demo_built():
    text = README.read_text(encoding="utf-8")
    two_commands = text[: text.index("## Concepts")]
    assert "source .venv/bin/activate" in two_commands and ".venv/bin/tokenmill" in two_commands
    install = text[text.index("### Installing") :]
    assert "not on the package index" in install and "pip install -e ." in install
    assert "# in a clone; or: pip install tokenmill" not in text  # it is on no index to install from


def test_readme_names_the_store_format_version_it_writes():
    from tokenmill.store.format import FORMAT_VERSION

    text = README.read_text(encoding="utf-8")
    assert f"format (version {FORMAT_VERSION}" in text
    assert "the token store format, version 1." not in text
