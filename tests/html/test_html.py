"""The HTML pages without a browser: the data behind each plot, escaping, size bounds, the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser

import numpy as np
import pytest

from tests.helpers import tm, write_jsonl
from tests.html.html_fixtures import HOSTILE, make_store
from tokenmill.html import (
    ReportOptions,
    length_histogram,
    report_data,
    report_page,
    token_groups,
    tokens_page,
    zipf_points,
)
from tokenmill.html.demo import position_tables, rope_pairs, rope_scores, window_rows
from tokenmill.html.report import sample_documents
from tokenmill.html.tokens import render_tokens, visible
from tokenmill.tokenizers import get_tokenizer

pytest.importorskip("matplotlib")
GPT2 = get_tokenizer("gpt2")
WORDS = "the quick brown fox jumps over the lazy dog and the slow cat sleeps by the warm fire "


class Texts(HTMLParser):
    """Collects the text inside each element with class ``toks`` (what a reader sees)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth, self.blocks, self.tags = 0, [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if self.depth:
            self.depth += 1
        elif "toks" in (dict(attrs).get("class") or "").split():
            self.depth = 1
            self.blocks.append("")

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.blocks[-1] += data


def parse(document: str) -> Texts:
    p = Texts()
    p.feed(document)
    return p


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("html"))


# --- tokens -------------------------------------------------------------------------------


def test_token_spans_keep_the_text_exactly():
    text = 'a <script>alert(1)</script>\n\tb  日本語 🙂 "q" &amp;'
    ids = GPT2.encode(text)
    blocks = parse(render_tokens(GPT2, ids)).blocks
    assert blocks == [text]


def test_partial_characters_are_grouped_and_marked():
    ids = GPT2.encode("猫🙂a")
    groups = token_groups(GPT2, ids)
    assert [g.text for g in groups] == ["猫", "🙂", "a"]
    assert [g.partial for g in groups] == [True, True, False]
    assert sum(len(g.ids) for g in groups) == len(ids)
    html = render_tokens(GPT2, ids)
    assert html.count("partial") == 2 and "ID 163" in html  # hover names each token's ID and bytes


def test_ids_that_end_inside_a_character_are_shown_not_dropped():
    ids = GPT2.encode("猫")[:1]
    (g,) = token_groups(GPT2, ids)
    assert g.partial and g.text == "\ufffd" and g.ids == ids


def test_whitespace_is_marked_but_stays_text():
    assert visible("a b") == 'a<span class="ws sp"> </span>b'
    assert visible("\r\n\t") == '<span class="ws nl">\r\n</span><span class="ws tab">\t</span>'


def test_tokens_page_counts_side_by_side():
    cl = get_tokenizer("cl100k_base")
    text = "吾輩は猫である。"
    page = tokens_page(text, [(GPT2, GPT2.encode(text)), (cl, cl.encode(text))])
    assert page.count('class="panel"') == 2
    for tok in (GPT2, cl):
        n = len(tok.encode(text))
        assert f"<b>{n}</b><span>tokens</span>" in page
    assert f"<b>{len(text.encode())}</b><span>bytes (UTF-8)</span>" in page
    assert "<script" not in page.lower()


def test_long_text_is_cut_and_says_so():
    ids = GPT2.encode("word " * 3000)
    html = render_tokens(GPT2, ids, limit=100)
    assert html.count('class="t ') == 100 and f"{len(ids) - 100:,} more tokens not shown" in html


# --- the data behind the report's plots ---------------------------------------------------


def test_histogram_counts_equal_the_store_document_lengths(store):
    data = report_data(store)
    lengths = [len(doc) for s in store.splits for doc in store.documents(s)]  # the oracle: one by one
    edges, counts = data["histogram"]
    assert counts.sum() == len(lengths) == data["stats"]["total"]["documents"]
    for i in range(len(counts)):
        assert counts[i] == sum(edges[i] <= n < edges[i + 1] for n in lengths)
    assert sorted(data["lengths"].tolist()) == sorted(lengths)


def test_zipf_points_are_the_store_token_frequencies(store):
    data = report_data(store)
    oracle = Counter(int(t) for s in store.splits for doc in store.documents(s) for t in doc)
    ranks, freq = data["zipf"]
    want = sorted(oracle.values(), reverse=True)
    assert freq.tolist() == [want[r - 1] for r in ranks.tolist()]
    assert data["distinct_tokens"] == len(oracle)
    top = data["stats"]["total"]["top_tokens"]
    assert [t["count"] for t in top] == want[: len(top)]  # the table and the plot agree with stats
    assert data["eot_count"] == oracle[store.eot_id] == data["stats"]["total"]["documents"]


@pytest.mark.parametrize("lengths", [[0, 0, 3], [1], [5, 5, 5], list(range(1, 5000, 7)), [70_000, 1]])
def test_histogram_bins_are_exact(lengths):
    edges, counts = length_histogram(np.array(lengths))
    assert counts.sum() == len(lengths) and len(edges) == len(counts) + 1
    assert np.all(np.diff(edges) > 0) and edges[0] <= min(lengths) and edges[-1] > max(lengths)
    assert counts.tolist() == np.histogram(lengths, bins=edges - 0.5)[0].tolist()


def test_zipf_thins_big_vocabularies():
    counts = np.arange(100_000)
    ranks, freq = zipf_points(counts, max_points=300)
    assert ranks[0] == 1 and ranks[-1] == 99_999 and len(ranks) <= 300
    assert freq[0] == 99_999 and freq[-1] == 1 and np.all(np.diff(freq) <= 0)


def test_sample_is_spread_and_bounded(store):
    picks = sample_documents(store, 4)
    assert {s for s, _ in picks} == set(store.splits) and len(picks) <= 5
    assert sample_documents(store, 0) == []
    n = store.num_documents("train") + store.num_documents("val")
    assert len(report_data(store)["sample"]) == n  # a small store shows every document
    assert len(report_data(store, ReportOptions(show_all_below=0, sample_documents=3))["sample"]) == 3


# --- safety and size ----------------------------------------------------------------------


def test_report_escapes_hostile_documents(store):
    page = report_page(store, ReportOptions(sample_documents=100))
    assert "<script" not in page.lower() and "onerror=" not in page.replace("onerror=&quot;", "")
    assert "<img" not in page and "<a " not in page and "javascript:" not in page.replace("javascript:alert", "")
    texts = "".join(parse(page).blocks)
    for doc in HOSTILE:
        assert doc in texts  # shown as text, whole
    assert [t for t, _ in parse(page).tags if t in ("script", "img", "a", "iframe", "object")] == []
    assert 'http-equiv="Content-Security-Policy"' in page


def test_report_shows_every_section(store):
    page = report_page(store)
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings == [
        "Manifest", "Document lengths", "Token frequencies (Zipf)", "Top 50 tokens",
        "Separators, replacements and skipped input", "Train / val split", "Shards", "Sample of 12 documents",
    ]  # 12 documents: a small store shows them all
    m = store.manifest
    for sh in m["splits"]["train"]["shards"]:
        assert sh["bin_sha256"] in page and sh["idx_sha256"] in page
    assert "<svg" in page and "http://" not in page.replace("http://www.w3.org", "")
    assert re.search(r"bad lines skipped</td><td class=\"n\">1<", page)
    assert re.search(r"U\+FFFD replacements.*?</td><td class=\"n\">2<", page)


def test_page_size_is_bounded_on_a_big_store(tmp_path):
    from tokenmill.store import TokenStore, shard_name, write_manifest, write_shard
    from tokenmill.store.manifest import _example_manifest

    rng, eot, entries = np.random.default_rng(0), 50256, []
    for k in range(30):  # shard 0: 3,000 documents up to 5,000 tokens; then 29 small shards
        lengths = rng.integers(1, 5000, size=3000 if k == 0 else 3)
        tokens = rng.integers(0, eot, size=int(lengths.sum()), dtype=np.uint16)
        tokens[np.cumsum(lengths) - 1] = eot
        entries.append(write_shard(tmp_path, shard_name("train", k), tokens, np.concatenate([[0], np.cumsum(lengths)])))
    write_manifest(tmp_path, _example_manifest(entries))
    store = TokenStore.open(tmp_path)
    options = ReportOptions(max_shards=10, sample_documents=20, sample_tokens=300)
    page = report_page(store, options)
    assert len(page.encode()) < 1_500_000  # the tokens alone are ~7.5M; the page holds a sample
    assert "… 20 more shards (all in manifest.json)" in page
    assert page.count('class="doc"') == 20 and page.count("more tokens not shown") >= 15
    assert report_data(store, options)["histogram"][1].sum() == store.num_documents()


# --- the chapter-2 pictures' data ---------------------------------------------------------


def test_window_rows_are_inputs_and_shifted_targets():
    from tokenmill.windows import WindowDataset

    ds = WindowDataset(list(range(100, 130)), max_length=4, stride=3)
    rows = window_rows(ds, 3)
    assert rows == [(0, [100, 101, 102, 103], [101, 102, 103, 104]), (3, [103, 104, 105, 106], [104, 105, 106, 107]),
                    (6, [106, 107, 108, 109], [107, 108, 109, 110])]


def test_position_tables_and_rope():
    tables = position_tables(16, 8, seed=1)
    assert tables["learned"].shape == tables["sinusoidal"].shape == (16, 8)
    assert np.allclose(tables["sinusoidal"][:, 0], np.sin(np.arange(16)))
    (j0, xy0), (j1, xy1) = rope_pairs(6, pairs=(0, 1))
    assert np.allclose(np.hypot(*xy0.T), np.hypot(1, 0.4), atol=1e-5)  # a rotation keeps the length
    angle = np.unwrap(np.arctan2(xy0[:, 1], xy0[:, 0]) - np.arctan2(0.4, 1))
    assert np.allclose(angle, np.arange(6), atol=1e-5)  # pair 0 turns 1 radian per position
    angle1 = np.unwrap(np.arctan2(xy1[:, 1], xy1[:, 0]) - np.arctan2(0.4, 1))
    assert np.allclose(angle1, np.arange(6) * 10000 ** (-2 / 8), atol=1e-5)
    (n0, s0), (n1, s1), (n2, s2) = rope_scores(8, starts=(0, 7, 300))
    assert (n0, n1, n2) == (0, 7, 300) and np.allclose(s0, s1, atol=1e-4) and np.allclose(s0, s2, atol=1e-4)
    assert not np.allclose(s0, s0[0])  # the score does change with distance


# --- the CLI ------------------------------------------------------------------------------


def test_cli_tokenize_html_and_compare(tmp_path, cli):
    f = tmp_path / "ja.txt"
    f.write_text("吾輩は猫である。<script>alert(1)</script>", encoding="utf-8")
    out = tmp_path / "t.html"
    r = cli("tokenize", "--file", str(f), "--html", str(out), "--compare", "cl100k_base")
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and "cl100k_base" in r.stdout
    page = out.read_text(encoding="utf-8")
    assert parse(page).blocks == [f.read_text(encoding="utf-8")] * 2
    assert "<script>" not in page


def test_cli_html_errors_are_one_line(tmp_path, cli):
    r = cli("tokenize", "hi", "--compare", "cl100k_base")
    assert r.returncode == 2 and "--html" in r.stderr and "Traceback" not in r.stderr
    r = cli("tokenize", "hi", "--html", str(tmp_path / "x.html"), "--max-tokens", "1")
    assert r.returncode == 2 and "--max-tokens" in r.stderr
    r = cli("report", str(tmp_path / "nope"), "-o", str(tmp_path / "r.html"))
    assert r.returncode == 2 and "tokenmill prepare" in r.stderr and "Traceback" not in r.stderr
    r = cli("tokenize", "hi", "--html", str(tmp_path))
    assert r.returncode == 2 and "is a directory" in r.stderr and len(r.stderr.splitlines()) == 1
    r = cli("tokenize", "hi", "--html", str(tmp_path / "no" / "x.html"))
    assert r.returncode == 2 and "does not exist" in r.stderr and len(r.stderr.splitlines()) == 1


def test_cli_report_and_demo(store, tmp_path, cli):
    out = tmp_path / "r.html"
    r = cli("report", str(store.path), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") and " kB, " in r.stdout
    demo = tmp_path / "d.html"
    r = cli("demo", "--html", str(demo))
    assert r.returncode == 0, r.stderr
    page = demo.read_text(encoding="utf-8")
    assert r.stdout.splitlines()[-1].startswith("6. Pictures: wrote")
    assert page.count("<svg") == 3 and 'class="win"' in page
    assert re.findall(r"<h2>(.*?)</h2>", page)[1] == "2. Sliding windows: inputs and shifted targets"


def test_importing_tokenmill_and_its_html_module_does_not_import_matplotlib():
    code = (
        "import sys, tokenmill, tokenmill.html, tokenmill.cli.report_cmd, tokenmill.cli.tokenize_cmd; "
        "print('matplotlib' in sys.modules, 'torch' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.split() == ["False", "False"]


def test_report_help_has_examples(cli):
    r = cli("report", "--help")
    assert r.returncode == 0 and "tokenmill report store/ -o report.html" in r.stdout
    assert "report" in cli("--help").stdout


def test_cli_tokenize_html_from_stdin(tmp_path):
    out = tmp_path / "s.html"
    r = tm("tokenize", "--file", "-", "--html", str(out), input="a\tb\n")
    assert r.returncode == 0 and "gpt2" in r.stdout
    page = out.read_text(encoding="utf-8")
    assert parse(page).blocks == ["a\tb\n"] and "stdin: 4 characters" in page


# Control characters in a corpus are shown, never written raw into a page.
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_report_and_tokenize_html_have_no_raw_control_characters(tmp_path, cli):
    src = write_jsonl(tmp_path / "nul.jsonl", ["before\x00after\x07bell\x1b[31m esc\x85 nel", WORDS])
    assert cli("prepare", str(src), "--out", str(tmp_path / "s"), "--quiet", "--workers", "0").returncode == 0
    done = cli("report", str(tmp_path / "s"), "-o", str(tmp_path / "r.html"))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert not RAW_CONTROLS.findall(page), RAW_CONTROLS.findall(page)
    assert "\u2400" in page  # U+0000 shown as the symbol for NUL
    done = cli("tokenize", "--file", str(src), "--html", str(tmp_path / "t.html"))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "t.html").read_text(encoding="utf-8")
    assert not RAW_CONTROLS.findall(page) and "\u2400" in page


def test_esc_shows_controls_and_keeps_newline_and_tab() -> None:
    from tokenmill.html.page import esc

    assert esc("a\x00b\n\tc\x7f\x9f<") == "a\u2400b\n\tc\u2421\\x9f&lt;"
