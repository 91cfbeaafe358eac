"""`tokenmill mix`: a mixture's plan on real stores, its JSON, its errors, its --help example."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import pytest

from tests.helpers import set_ranks_sha256, tm, write_jsonl
from tokenmill import plan_mixture, prepare
from tokenmill.loader.dataloader import create_dataloader


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("mix")
    for name, n in (("web", 80), ("books", 60)):
        write_jsonl(tmp / f"{name}.jsonl", [f"{name} page {i} is about {name} and more {name}." for i in range(n)])
        prepare([tmp / f"{name}.jsonl"], tmp / "stores" / name, workers=0, progress=False)
    return tmp


def test_the_plan_is_what_the_loader_draws(stores: Path) -> None:
    components = {"web": stores / "stores/web", "books": stores / "stores/books"}
    weights = {"web": 0.7, "books": 0.3}
    plan = plan_mixture(components, weights, steps=200, global_batch=4, max_length=8)
    loader = create_dataloader(components, weights=weights, seed=0, batch_size=4, max_length=8, epoch_windows=800)
    it = iter(loader)
    repeats: dict[str, int] = {}
    for g in range(200):
        next(it)
        drawn = loader.windows_drawn
        for c in plan.components:
            if drawn[c.name] > c.windows and c.name not in repeats:
                repeats[c.name] = g
    assert loader.windows_drawn == {c.name: c.drawn for c in plan.components}
    assert [c.share for c in plan.components] == [Fraction(7, 10), Fraction(3, 10)]
    assert {c.name: c.first_repeat_batch for c in plan.components if c.first_repeat_batch is not None} == repeats
    assert set(repeats) == {"web", "books"}  # both repeat in this run
    assert all(c.tokens == c.drawn * 8 for c in plan.components)


def test_mix_prints_a_table_and_json(stores: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["web=stores/web:0.7", "books=stores/books:0.3", "--steps", "30", "--global-batch", "4", "--max-length", "8"]
    monkeypatch.chdir(stores)
    table = cli("mix", *args)
    as_json = cli("mix", *args, "--json")
    by_size = cli("mix", "web=stores/web", "books=stores/books", "--tokens", "1e3", "--max-length", "8")
    assert table.returncode == 0, table.stderr
    assert "web" in table.stdout and "70.00%" in table.stdout and "global batch" in table.stdout
    doc = json.loads(as_json.stdout)
    assert doc["windows"] == 120 and [c["share_exact"] for c in doc["components"]] == ["7/10", "3/10"]
    assert by_size.returncode == 0 and "125 windows" in by_size.stdout


def test_mix_errors_say_what_to_do(stores: Path, cli, tmp_path: Path) -> None:
    web = str(stores / "stores/web")
    missing = cli("mix", f"web={web}:1", f"books={tmp_path}/nope:1", "--tokens", "1000")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert "tokenmill prepare" in missing.stderr
    half = cli("mix", f"web={web}:1", f"books={web}", "--tokens", "1000")
    assert half.returncode == 2 and "weight all" in half.stderr
    twice = cli("mix", f"web={web}:1", f"web={web}:2", "--tokens", "1000")
    assert twice.returncode == 2 and "twice" in twice.stderr
    no_size = cli("mix", f"web={web}:1")
    assert no_size.returncode == 2 and "--tokens" in no_size.stderr
    steps_alone = cli("mix", f"web={web}:1", "--steps", "10")
    assert steps_alone.returncode == 2 and "--global-batch" in steps_alone.stderr
    other = tmp_path / "other"
    shutil.copytree(stores / "stores/books", other)
    set_ranks_sha256(other, "0" * 64)
    vocab = cli("mix", f"web={web}:1", f"books={other}:1", "--tokens", "1000")
    assert vocab.returncode == 2 and "'web' and 'books'" in vocab.stderr and "different tokenizers" in vocab.stderr


def test_the_help_example_works(stores: Path) -> None:
    help_text = tm("mix", "--help").stdout
    example = next(line for line in help_text.splitlines() if "--steps 10000" in line).split()[1:]
    done = tm(*[a.replace("stores/", f"{stores}/stores/") for a in example])
    assert done.returncode == 0, done.stderr
    assert "books" in done.stdout and "epochs" in done.stdout
