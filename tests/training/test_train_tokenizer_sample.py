"""train_tokenizer's bounded memory: the sample (exact under any partition), the same tokenizer
whatever reads the corpus (workers, ranges, Ray), the bound on peak memory, and bad bounds."""

from __future__ import annotations

import json
import lzma
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmill import train_tokenizer
from tokenmill.common.errors import OptionError, OptionTypeError
from tokenmill.prepare import tasks as tasks_mod
from tokenmill.tokenizers.trained import HF_FILE, META_FILE, RANKS_FILE
from tokenmill.training.memory import BASE_BYTES, BUDGET_PER_TEXT_BYTE, parse_size, sample_budget
from tokenmill.training.sample import BottomSample

pytest.importorskip("tokenizers")
pytestmark = pytest.mark.filterwarnings("ignore:the corpus gave only")

KANA = [chr(c) for c in range(0x3041, 0x3097)]
KANJI = [chr(c) for c in range(0x4E00, 0x4E00 + 60)]


def japanese_like(seed: int, n_docs: int, doc_chars: int) -> list[str]:
    """Documents of kanji and kana runs with line breaks (many distinct pre-tokens, as Japanese)."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        parts, n = [], 0
        while n < doc_chars:
            run = "".join(rng.choice(KANJI if len(parts) % 2 else KANA) for _ in range(rng.randint(1, 5)))
            parts.append(run + ("。\n" if rng.random() < 0.05 else ""))
            n += len(parts[-1])
        docs.append("".join(parts))
    return docs


def write_jsonl(path: Path, docs: list[str], *, xz: bool = False) -> Path:
    data = "".join(json.dumps({"text": d}, ensure_ascii=False) + "\n" for d in docs).encode()
    path.write_bytes(lzma.compress(data) if xz else data)
    return path


def identity(out: Path) -> tuple[bytes, bytes, dict]:
    """What makes a tokenizer the same: ranks, tokenizer.json, the metadata less its run."""
    meta = json.loads((out / META_FILE).read_text())
    del meta["run"]
    return (out / RANKS_FILE).read_bytes(), (out / HF_FILE).read_bytes(), meta


# A bound that leaves ~120 KB of text for the trainer (less, once profiled): the corpora below are sampled.
SMALL = BASE_BYTES + BUDGET_PER_TEXT_BYTE * 120_000
OPTS = dict(vocab_size=600, max_memory=SMALL, progress=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("corpus")
    docs = japanese_like(0, 60, 3000)
    return [write_jsonl(d / "a.jsonl", docs[:40]), write_jsonl(d / "b.jsonl.xz", docs[40:], xz=True)]


# --- the sample ---------------------------------------------------------------------------


def oracle(items: list[tuple[int, str]], budget: int) -> list[tuple[int, str]]:
    """The longest prefix, in key order, whose bytes fit ``budget``."""
    out, total = [], 0
    for key, text in sorted(items):
        total += len(text.encode())
        if total > budget:
            break
        out.append((key, text))
    return out


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 30), max_size=40),
    budget=st.integers(0, 200),
    cuts=st.lists(st.integers(0, 40), max_size=5),
    order=st.randoms(use_true_random=False),
)
def test_merged_samples_of_any_partition_are_the_whole_sample(sizes, budget, cuts, order):
    items = [(k * 7919 % 1009, "é" * n) for k, n in enumerate(sizes)]  # unique keys, shuffled by value
    bounds = sorted({0, len(items), *(c for c in cuts if c <= len(items))})
    parts = [items[a:b] for a, b in zip(bounds, bounds[1:])]
    order.shuffle(parts)
    whole = BottomSample(budget)
    for part in parts:
        local = BottomSample(budget)
        for key, text in part:
            local.add(key, text)
        whole.merge(local.items(), local.cutoff)
    assert whole.items() == oracle(items, budget)
    assert (whole.cutoff is None) == (len(oracle(items, budget)) == len(items))


def test_sizes_parse_as_users_write_them():
    assert parse_size("2GB") == 2 * 10**9 and parse_size("2GiB") == 2 << 30 and parse_size("500 MB") == 5 * 10**8
    assert parse_size("1.5gib") == 3 << 29 and parse_size(12345) == 12345
    for bad in ("2 gigs", "-1GB", "GB", "0"):
        with pytest.raises(OptionError, match="max_memory"):
            parse_size(bad)
    with pytest.raises(OptionTypeError):
        parse_size(2.5)


# --- the same tokenizer, whoever reads ------------------------------------------------------


def test_same_tokenizer_whatever_the_workers_and_task_plan(corpus, tmp_path, monkeypatch):
    got = {}
    for workers in (0, 2):
        got[f"local{workers}"] = identity(_train(corpus, tmp_path / f"w{workers}", workers=workers))
    monkeypatch.setattr(tasks_mod, "RANGE_BYTES", 20_000)  # the .jsonl in several range tasks
    run = _train(corpus, tmp_path / "ranges", workers=2)
    got["ranges"] = identity(run)
    assert json.loads((run / META_FILE).read_text())["run"]["tasks"] > 3
    assert got["local0"] == got["local2"] == got["ranges"]
    sample = got["local0"][2]["sample"]
    assert sample["method"] == "bottom-hash chunks" and sample["seed"] == 0 and sample["max_memory"] == SMALL
    assert 0 < sample["bytes_used"] <= sample["budget_bytes"] < got["local0"][2]["trained_on"]["bytes_read"]
    assert 0 < sample["documents_used"] <= got["local0"][2]["trained_on"]["documents"] == 60


def test_the_seed_picks_another_sample_and_the_same_seed_the_same(corpus, tmp_path):
    a = identity(_train(corpus, tmp_path / "a", seed=1))
    b = identity(_train(corpus, tmp_path / "b", seed=1))
    c = identity(_train(corpus, tmp_path / "c", seed=2))
    assert a == b and a[0] != c[0] and c[2]["sample"]["seed"] == 2


def _train(corpus: list[Path], out: Path, **kw) -> Path:
    train_tokenizer(corpus, out, **{**OPTS, **kw})
    return out


@pytest.mark.slow
@pytest.mark.ray
def test_ray_reads_the_same_tokenizer_as_local(corpus, monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.setattr(tasks_mod, "RANGE_BYTES", 20_000)
    short = Path(tempfile.mkdtemp(prefix="tmt", dir="/tmp"))  # Ray's socket paths must stay short
    try:
        local = identity(_train(corpus, short / "local", workers=2))
        ray_out = _train(corpus, short / "ray", executor="ray", workers=2)
        assert identity(ray_out) == local
        assert json.loads((ray_out / META_FILE).read_text())["run"]["executor"] == "ray"
    finally:
        shutil.rmtree(short, ignore_errors=True)


# --- the bound, and bad bounds ---------------------------------------------------------------


PEAK_SCRIPT = """
import resource, sys
from tokenmill import train_tokenizer
train_tokenizer(sys.argv[1:3], sys.argv[3], vocab_size=2000, max_memory="320MB", workers=2, progress=False)
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0].split()[1]
print(hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_peak_memory_stays_under_a_small_bound(tmp_path):
    """18 MB of distinct Japanese-like text would take ~500 MB to train on whole; 320MB is kept.

    The process's own peak is VmHWM (ru_maxrss would carry over pytest's peak across fork and
    exec); its reading workers' is the children's ru_maxrss; together they stay under the bound.
    """
    docs = japanese_like(1, 200, 30_000)
    paths = [write_jsonl(tmp_path / "a.jsonl", docs[:100]), write_jsonl(tmp_path / "b.jsonl.xz", docs[100:], xz=True)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, *map(str, paths), str(tmp_path / "tok")],
                          capture_output=True, text=True, env=env, check=True)
    own_kib, workers_kib = map(int, done.stdout.split())
    assert own_kib * 1024 < 320 * 10**6, (own_kib, workers_kib)
    assert workers_kib * 1024 < 320 * 10**6, (own_kib, workers_kib)
    meta = json.loads((tmp_path / "tok" / META_FILE).read_text())
    assert meta["run"]["workers"] == 2
    assert meta["sample"]["bytes_used"] < meta["trained_on"]["bytes_read"] / 2


def test_a_bound_too_small_for_the_vocabulary_says_what_it_needs(corpus, tmp_path):
    with pytest.raises(OptionError, match=r"max_memory=100MB.* too small to train 32,000 tokens.*at least max_memory=\d+MB"):
        train_tokenizer(corpus, tmp_path / "t", vocab_size=32000, max_memory="100MB", progress=False)
    need = sample_budget(parse_size("300MB"), 32000)  # enough: no error
    assert need > 0


def test_cli_bound_too_small_exits_2_naming_the_flag(cli, corpus, tmp_path):
    done = cli("train-tokenizer", str(corpus[0]), "--vocab-size", "32000", "--out", str(tmp_path / "t"),
               "--max-memory", "100MB", "--quiet")
    assert done.returncode == 2
    assert "--max-memory 100MB is too small to train 32,000 tokens" in done.stderr and "at least --max-memory" in done.stderr
    done = cli("train-tokenizer", str(corpus[0]), "--vocab-size", "600", "--out", str(tmp_path / "t"),
               "--max-memory", "lots", "--quiet")
    assert done.returncode == 2 and "--max-memory must be a size like 2GB" in done.stderr


def test_cli_a_corpus_under_the_budget_is_used_whole_and_says_so(cli, corpus, tmp_path):
    done = cli("train-tokenizer", *map(str, corpus), "--vocab-size", "600", "--out", str(tmp_path / "t"), "--workers", "0")
    assert done.returncode == 0, done.stderr
    assert "trained on all of it (under the" in done.stdout
    assert "expected peak" in done.stderr  # the estimate, before training
    meta = json.loads((tmp_path / "t" / META_FILE).read_text())
    assert meta["sample"]["method"] == "all" and meta["sample"]["bytes_used"] == meta["trained_on"]["bytes_read"]
    done = cli("train-tokenizer", *map(str, corpus), "--vocab-size", "600", "--out", str(tmp_path / "s"),
               "--max-memory", str(SMALL), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "trained on a sample of" in done.stdout and f"--max-memory {SMALL}" in done.stdout
