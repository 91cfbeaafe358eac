"""``stats``/``report --max-length N``: windows per layout, padding, cut documents, a packed row."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import write_jsonl
from tokenmill.loader.layouts import layout_figures
from tokenmill.store import TokenStore

WORDS = "the of and a to in is you that it he was".split()


@pytest.fixture()
def store(tmp_path: Path, cli) -> Path:
    rng = random.Random(1)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 150))) for _ in range(40)]
    src = write_jsonl(tmp_path / "a.jsonl", texts)
    assert cli("prepare", str(src), "--out", str(tmp_path / "store"), "--quiet", "--workers", "0").returncode == 0
    return tmp_path / "store"


def test_stats_max_length_prints_and_returns_the_figures_of_each_layout(store: Path, cli) -> None:
    done = cli("stats", str(store), "--max-length", "32", "--json", "--top", "0")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)["layouts"]["train"]
    offsets = TokenStore.open(store).document_offsets("train")
    assert got == layout_figures(offsets, 32)
    sizes = np.diff(offsets)
    assert got["cut_documents"] == int((sizes > 33).sum())
    assert got["documents_windows"] >= len(sizes) and got["packed_windows"] < got["documents_windows"]
    assert got["crop_to_fit_dropped"] == int(np.maximum(sizes - 33, 0).sum())
    table = cli("stats", str(store), "--max-length", "32", "--top", "0")
    assert "windows at max_length 32" in table.stdout and "packed padding" in table.stdout
    assert "windows at max_length" not in cli("stats", str(store), "--top", "0").stdout


def test_stats_max_length_must_be_positive(store: Path, cli) -> None:
    done = cli("stats", str(store), "--max-length", "0")
    assert done.returncode == 2 and "--max-length must be >= 1, got 0" in done.stderr


def test_report_max_length_shows_one_packed_row_coloured_by_document(store: Path, tmp_path: Path, cli) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "r.html"
    done = cli("report", str(store), "-o", str(out), "--max-length", "32")
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert "Windows at max_length 32" in page
    row = page.split('id="windows"')[1] if 'id="windows"' in page else page.split("Windows at max_length 32")[1]
    assert 'class="t t0"' in row and 'class="t t1"' in row  # at least two documents in the row
    assert "Windows at max_length" not in (lambda: (cli("report", str(store), "-o", "-").stdout))()
