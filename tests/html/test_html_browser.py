"""The HTML pages in a real browser: Debian's headless Chromium, network off, from file URLs.

Each page must render (a non-blank screenshot, the expected headings in the DOM), log no
console error, fetch nothing, and show hostile corpus text (``<script>``, ``onerror=``,
``</div>``, ``javascript:``) as text: no dialog opens and no script runs. Skipped, with the
reason, when Chromium is not installed (`make browser` installs it as root).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.html.chromium import Browser, find_chromium
from tests.html.html_fixtures import HOSTILE, make_store

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium is not installed: run `make browser` (apt-get install chromium, as root) for the browser tests",
    ),
]
PROBE = "({pwned: typeof window.__pwned, scripts: document.scripts.length, imgs: document.images.length, " \
        "links: document.links.length})"


def tm(*args: str) -> None:
    """The command in this process; it must succeed."""
    from tokenmill.cli import main

    assert main(list(args)) == 0


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("PIL")
    b = Browser(CHROMIUM)
    yield b
    b.close()


def check_clean(page, png_path: Path | None = None) -> None:
    """Rendered, quiet, offline and script-free."""
    from PIL import Image

    png = page.screenshot()
    if png_path:
        png_path.write_bytes(page.screenshot(full_page=True))
    img = Image.open(io.BytesIO(png)).convert("L")
    hist = img.histogram()
    assert img.size == (1280, 900)
    assert sum(hist[:200]) > 0.01 * img.size[0] * img.size[1], "screenshot is (almost) blank"
    assert page.dialogs == []
    assert page.console_errors == []
    assert [u for u in page.requests if not u.startswith(("file:", "data:"))] == []
    assert page.eval(PROBE) == {"pwned": "undefined", "scripts": 0, "imgs": 0, "links": 0}


def test_the_harness_sees_scripts_dialogs_and_errors(browser, tmp_path):
    """The control: an unescaped page does run, so the checks below can fail."""
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><h1>x</h1>" + "".join(HOSTILE) + "</body></html>", encoding="utf-8")
    page = browser.load(bad)
    assert page.dialogs[:1] == ["1"]
    assert page.eval(PROBE)["pwned"] == "number" and page.eval(PROBE)["scripts"] == 2
    assert any("ERR_FILE_NOT_FOUND" in e for e in page.console_errors)  # the img's src=x


def test_tokenize_page(browser, tmp_path):
    text = "吾輩は猫である。\n\tTabs and 🙂 " + " ".join(HOSTILE)
    src = tmp_path / "in.txt"
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "tokens.html"
    tm("tokenize", "--file", str(src), "--html", str(out), "--compare", "cl100k_base")
    page = browser.load(out)
    check_clean(page)
    assert page.eval("[...document.querySelectorAll('h1,h2')].map(e => e.textContent)") == ["Tokens", "gpt2", "cl100k_base"]
    assert page.eval("[...document.querySelectorAll('.toks')].map(e => e.textContent)") == [text, text]
    shown = page.eval("document.body.innerText")
    for doc in HOSTILE:
        assert doc in shown  # visible as text (the whitespace marks are CSS, not text)
    hover = page.eval("document.querySelector('.panel .t').title")
    assert hover.startswith("ID ") and "bytes" in hover
    assert page.eval("document.querySelectorAll('.panel:first-child .partial').length") > 0


def test_report_page_with_hostile_documents(browser, tmp_path):
    store = make_store(tmp_path)
    out = tmp_path / "report.html"
    tm("report", str(store.path), "-o", str(out))  # a small store: every document is shown
    page = browser.load(out)
    check_clean(page, tmp_path / "report.png")
    headings = page.eval("[...document.querySelectorAll('h2')].map(e => e.textContent)")
    for h in ("Manifest", "Document lengths", "Token frequencies (Zipf)", "Train / val split", "Shards"):
        assert h in headings
    assert page.eval("document.querySelectorAll('svg').length") == 2
    docs = page.eval("[...document.querySelectorAll('.doc .toks')].map(e => e.textContent)")
    for doc in HOSTILE:
        assert any(doc + "<|endoftext|>" == d for d in docs)
    assert page.eval("document.querySelectorAll('h1').length") == 1  # "</div>...<h1>" stayed text


def test_demo_page(browser, tmp_path):
    out = tmp_path / "demo.html"
    tm("demo", "--html", str(out))
    page = browser.load(out)
    check_clean(page)
    headings = page.eval("[...document.querySelectorAll('h2')].map(e => e.textContent)")
    assert headings[1:4] == [
        "2. Sliding windows: inputs and shifted targets",
        "3. Position encodings: learned vs sinusoidal",
        "4. RoPE: rotating a vector pair with position",
    ]
    assert page.eval("document.querySelectorAll('table.win td.in').length") > 0
    assert page.eval("document.querySelectorAll('table.win td.tg').length") > 0
