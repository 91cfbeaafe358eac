"""`tokenmill export` and `tokenmill import` end to end on real files, through the one error handler."""

from __future__ import annotations

import json

import numpy as np

from tests.export.stores import DOCS, make_store, three_docs


def test_export_then_import_megatron(cli, tmp_path):
    store = make_store(tmp_path / "s", {"train": [DOCS, DOCS[:2]], "val": [DOCS[2:]]})
    done = cli("export", str(store), "--format", "megatron", "-o", str(tmp_path / "m"))
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and "re-read and checked" in done.stdout
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "tokenmill-export.json", "train_text_document.bin", "train_text_document.idx",
        "val_text_document.bin", "val_text_document.idx"]
    done = cli("import", str(tmp_path / "m"), "--format", "megatron", "--tokenizer", "gpt2", "--out", str(tmp_path / "b"))
    assert done.returncode == 0, done.stderr
    assert "train: 5 documents, 20 tokens" in done.stdout and "boundaries exact, EOT policy append" in done.stdout
    assert cli("stats", str(tmp_path / "b")).returncode == 0
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["import"]["format"] == "megatron" and manifest["command"][:2] == ["tokenmill", "import"]


def test_imported_store_feeds_the_loader(cli, tmp_path):
    from tokenmill import TokenStore, WindowDataset

    (tmp_path / "n").mkdir()
    np.array([t for d in DOCS for t in d], "<u2").tofile(tmp_path / "n" / "train.bin")
    assert cli("import", str(tmp_path / "n"), "--format", "nanogpt", "-t", "gpt2", "-o", str(tmp_path / "b")).returncode == 0
    dataset = WindowDataset(TokenStore.open(tmp_path / "b")["train"], max_length=4, stride=4)
    x, y = dataset[0]
    assert x.tolist() == [1, 2, 3, 50256] and y.tolist() == [2, 3, 50256, 4]


def test_export_errors_are_one_line_with_flags(cli, tmp_path):
    store = three_docs(tmp_path / "s")
    done = cli("export", str(store), "--format", "nanogpt2", "-o", str(tmp_path / "o"))
    assert done.returncode == 2
    assert done.stderr.strip() == ("tokenmill export: error: --format must be one of nanogpt, llmc, megatron, "
                                   "datatrove, litdata, parquet, got 'nanogpt2'")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "x").write_text("x")
    done = cli("export", str(store), "--format", "parquet", "-o", str(tmp_path / "o"))
    assert done.returncode == 2 and "already holds files; name a new or empty directory for the parquet export " \
        "with --out" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_llmc_warning_is_one_line(cli, tmp_path):
    done = cli("export", str(three_docs(tmp_path / "s")), "--format", "llmc", "-o", str(tmp_path / "o"))
    assert done.returncode == 0
    assert "tokenmill export: warning: the store at" in done.stderr and "--eot prepend" in done.stderr


def test_import_errors(cli, tmp_path):
    done = cli("import", str(tmp_path / "none"), "--format", "megatron", "-t", "gpt2", "-o", str(tmp_path / "b"))
    assert done.returncode == 2 and done.stderr.startswith("tokenmill import: error: ") and "does not exist" in done.stderr
    (tmp_path / "n").mkdir()
    np.array([1, 65000], "<u2").tofile(tmp_path / "n" / "train.bin")
    done = cli("import", str(tmp_path / "n"), "--format", "nanogpt", "-t", "gpt2", "-o", str(tmp_path / "b"))
    assert done.returncode == 2 and "beyond tokenizer 'gpt2' (largest ID 50256); name the tokenizer that made these " \
        "files with --tokenizer" in done.stderr
    assert not (tmp_path / "b").exists()


def test_help_lists_the_commands_in_pipeline_order(cli):
    out = cli("--help").stdout
    assert out.index("report") < out.index("export") < out.index("import")
    assert "tokenmill export store/ --format megatron" in cli("export", "--help").stdout
    assert "tokenmill import megatron/ --format megatron --tokenizer gpt2" in cli("import", "--help").stdout


def test_options_are_the_one_source_of_defaults():
    import dataclasses
    import inspect

    from tokenmill.export import ExportOptions, ImportOptions, export, import_store

    for options, func in ((ExportOptions, export), (ImportOptions, import_store)):
        parameters = inspect.signature(func).parameters
        for field in dataclasses.fields(options):
            assert parameters[field.name].default == field.default, (func.__name__, field.name)
            assert parameters[field.name].kind is inspect.Parameter.KEYWORD_ONLY


def test_readme_rows_give_the_real_signatures():
    import inspect
    from pathlib import Path

    import tokenmill

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for func in (tokenmill.export, tokenmill.import_store):
        parts, star = [], False
        for p in inspect.signature(func).parameters.values():
            if p.kind is p.KEYWORD_ONLY and not star:
                parts.append("*")
                star = True
            parts.append(p.name + ("" if p.default is p.empty else "=" + repr(p.default).replace("'", '"')))
        assert f"| `{func.__name__}({', '.join(parts)})` |" in readme, func.__name__


def test_export_flags_reach_the_writers(cli, tmp_path):
    store = make_store(tmp_path / "s", {"train": [DOCS]}, policy="prepend")
    done = cli("export", str(store), "--format", "llmc", "--name", "fineweb", "--shard-tokens", "5", "--no-check",
               "-o", str(tmp_path / "l"))
    assert done.returncode == 0 and "not checked (--no-check)" in done.stdout
    assert sorted(p.name for p in (tmp_path / "l").glob("*.bin")) == [f"fineweb_train_{k:06d}.bin" for k in range(3)]
    done = cli("export", str(store), "--format", "litdata", "--block-size", "4", "-o", str(tmp_path / "t"))
    assert done.returncode == 0 and "litdata chunks suit block sizes that are divisors of" in done.stdout
    assert json.loads((tmp_path / "t" / "tokenmill-export.json").read_text())["options"]["block_size"] == 4
    two = make_store(tmp_path / "two", {"train": [DOCS], "val": [DOCS]})
    done = cli("export", str(two), "--format", "megatron", "--prefix", "books", "-o", str(tmp_path / "m"))
    assert done.returncode == 2 and "--prefix names one file pair, but the store at" in done.stderr
    assert "leave --prefix out to get one pair per split ({split}_text_document)" in done.stderr
