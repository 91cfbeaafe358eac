"""`tokenize --file` and `demo` read what `prepare` reads, and show tokens people can read.

Compressed text and .jsonl/.parquet are decoded as prepare decodes them (each document then
followed by <|endoftext|>, prepare's default --eot append); compressed bytes are never
tokenized. Tokens holding part of a UTF-8 character (most Japanese ones under GPT-2) are
shown as bytes, never as U+FFFD.
"""

from __future__ import annotations

import gzip
import json
import lzma
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import TOKENMILL
from tokenmill.prepare import reference_tokens
from tokenmill.tokenizers import get_tokenizer

DOCS = ["The miller walked down to the river.", "Every morning, the wheel turned.", "日本語の文章です。"]
JAPANESE = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"


def _jsonl(docs: list[str]) -> bytes:
    return "".join(json.dumps({"text": d}, ensure_ascii=False) + "\n" for d in docs).encode()


def _write_inputs(tmp_path: Path) -> dict[str, Path]:
    import zstandard

    text = "\n\n".join(DOCS).encode()
    files = {
        "story.txt.gz": gzip.compress(text),
        "story.txt.xz": lzma.compress(text),
        "docs.jsonl": _jsonl(DOCS),
        "docs.jsonl.xz": lzma.compress(_jsonl(DOCS)),
        "docs.jsonl.zst": zstandard.ZstdCompressor().compress(_jsonl(DOCS)),
        "docs.jsonl.gz": gzip.compress(_jsonl([DOCS[0], "", DOCS[1], DOCS[2]])),  # an empty document
    }
    out = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = tmp_path / name
    return out


def test_tokenize_reads_compressed_text_and_documents_as_prepare_does(tmp_path, cli):
    files = _write_inputs(tmp_path)
    tok = get_tokenizer("gpt2")
    whole = tok.encode("\n\n".join(DOCS))
    per_doc = [i for ids in reference_tokens(DOCS) for i in ids]  # prepare's oracle, --eot append
    for name, path in files.items():
        r = cli("tokenize", "--file", str(path), "--ids")
        assert r.returncode == 0, (name, r.stderr)
        got = [int(x) for x in r.stdout.split()]
        assert got == (whole if ".txt" in name else per_doc), name
    r = cli("tokenize", "--file", str(files["docs.jsonl.xz"]))
    assert r.returncode == 0 and "\ufffd" not in r.stdout
    assert "50256  '<|endoftext|>'" in r.stdout
    assert "docs.jsonl.xz: 3 documents, each followed by <|endoftext|>" in r.stdout
    r = cli("tokenize", "--file", str(files["docs.jsonl.gz"]), "--json")
    doc = json.loads(r.stdout)
    assert doc["documents"] == 3 and doc["ids"] == per_doc
    assert doc["characters"] == sum(len(d) for d in DOCS)


def test_tokenize_and_demo_read_the_same_tokens_prepare_stores(tmp_path, cli):
    from tokenmill import prepare
    from tokenmill.store import TokenStore

    src = tmp_path / "docs.jsonl.zst"
    import zstandard

    # A document that spells <|endoftext|>: prepare keeps it as text, and so do they.
    docs = [*DOCS, "a <|endoftext|> spelled in a document"]
    src.write_bytes(zstandard.ZstdCompressor().compress(_jsonl(docs)))
    prepare([src], tmp_path / "store", workers=1, progress=False)
    stored = TokenStore.open(tmp_path / "store")["train"]
    want = [int(x) for x in stored[: len(stored)]]
    assert want == [i for ids in reference_tokens(docs) for i in ids] and want.count(50256) == 4
    r = cli("tokenize", "--file", str(src), "--ids")
    assert [int(x) for x in r.stdout.split()] == want
    r = cli("demo", str(src), "--max-length", "2", "--stride", "2", "--batch-size", "1000")
    assert f"{len(want)} tokens" in r.stdout
    first_inputs = r.stdout[r.stdout.index("first batch inputs") : r.stdout.index("first batch targets")]
    n_windows = len(range(0, len(want) - 2, 2))  # all in the first batch: the windows tile the IDs
    assert [int(x) for x in re.findall(r"\d+", first_inputs.split(":", 1)[1])] == want[: 2 * n_windows]
    # --allowed-special makes the spelled one special, as it does for a text
    r = cli("tokenize", "--file", str(src), "--ids", "--allowed-special", "<|endoftext|>")
    assert [int(x) for x in r.stdout.split()].count(50256) == 5


def test_parquet_and_text_field(tmp_path, cli):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"body": DOCS, "n": [1, 2, 3]}), tmp_path / "docs.parquet")
    r = cli("tokenize", "--file", str(tmp_path / "docs.parquet"), "--ids")
    assert r.returncode == 2 and "no column 'text'" in r.stderr and "--text-field NAME" in r.stderr
    r = cli("tokenize", "--file", str(tmp_path / "docs.parquet"), "--text-field", "body", "--ids")
    assert r.returncode == 0, r.stderr
    assert [int(x) for x in r.stdout.split()] == [i for ids in reference_tokens(DOCS) for i in ids]
    (tmp_path / "docs.jsonl").write_bytes("".join(json.dumps({"body": d}) + "\n" for d in DOCS).encode())
    r = cli("demo", str(tmp_path / "docs.jsonl"), "--text-field", "body", "--max-length", "2")
    assert r.returncode == 0, r.stderr
    assert "1. Text (" in r.stdout and "3 documents, each followed by <|endoftext|>" in r.stdout


def test_demo_reads_compressed_jsonl_never_its_bytes(tmp_path, cli):
    path = _write_inputs(tmp_path)["docs.jsonl.xz"]
    r = cli("demo", str(path), "--max-length", "4", "--batch-size", "2")
    assert r.returncode == 0, r.stderr
    n = sum(len(ids) for ids in reference_tokens(DOCS))
    assert f"2. Tokens (gpt2, vocabulary 50,257): {n} tokens" in r.stdout
    joined = "".join(d + "<|endoftext|>" for d in DOCS)
    assert f"{len(joined):,} characters" in r.stdout
    assert "replaced" not in r.stderr and "\ufffd" not in r.stdout


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.md.gz", gzip.compress(b"hello"), "cannot tell what it holds from its name"),
        ("docs.jsonl", b'{"text": "ok"}\n{"text": broken\n', "docs.jsonl, line 2 is not valid JSON"),
        ("docs.jsonl", b'{"body": "ok"}\n', "has no 'text' field"),
        ("docs.jsonl", b"\n\n", "holds no documents"),
        ("cut.txt.xz", lzma.compress(b"hello world " * 1000)[:40], "is the file complete?"),
        ("twice.txt.gz", gzip.compress(gzip.compress(b"hello")), "gzip-compressed data, not text"),
    ],
)
def test_inputs_it_cannot_read_are_refused_in_one_line(tmp_path, name, data, message, cli):
    path = tmp_path / name
    path.write_bytes(data)
    for argv in (["tokenize", "--file", str(path)], ["demo", str(path)]):
        r = cli(*argv)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr, r.stderr


def test_demo_on_japanese_shows_bytes_not_replacement_characters(tmp_path, cli):
    story = tmp_path / "neko.txt"
    story.write_text(JAPANESE, encoding="utf-8")
    r = cli("demo", str(story), "--max-length", "6")
    assert r.returncode == 0, r.stderr
    assert "\ufffd" not in r.stdout and "\\ufffd" not in r.stdout
    lines = r.stdout.splitlines()
    # 吾 is two GPT-2 tokens, 輩 three: partial tokens as bytes, contexts as text + pending bytes.
    assert lines[3].split()[:5] == ["b'\\xe5\\x90'=28938", "b'\\xbe'=122", "b'\\xe8'=164", "b'\\xbc'=120", "b'\\xa9'=102"]
    assert lines[3].split()[5] == "'は'=31676"
    table = [line.strip() for line in lines[5:11]]
    assert table == [
        "b'\\xe5\\x90' -> b'\\xbe'",
        "'吾' -> b'\\xe8'",
        "'吾' + b'\\xe8' -> b'\\xbc'",
        "'吾' + b'\\xe8\\xbc' -> b'\\xa9'",
        "'吾輩' -> 'は'",
        "'吾輩は' -> b'\\xe7'",
    ]
    assert lines[1].strip() == repr(JAPANESE)  # shown whole: no "..."


def test_demo_on_the_aozora_corpus(tmp_path, cli, corpora):
    path = corpora / "aozora-ja.jsonl.xz"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    # The first documents only: the whole corpus takes a while to tokenize on a small machine.
    with lzma.open(path) as f:
        head = b"".join(f.readline() for _ in range(3))
    small = tmp_path / "aozora.jsonl.xz"
    small.write_bytes(lzma.compress(head))
    r = cli("demo", str(small))
    assert r.returncode == 0, r.stderr
    assert "3 documents" in r.stdout and "\ufffd" not in r.stdout and "b'\\x" in r.stdout


def test_stats_shows_partial_tokens_as_bytes(tmp_path, cli):
    from tokenmill import prepare

    (tmp_path / "ja.jsonl").write_bytes(_jsonl([JAPANESE] * 5))
    prepare([tmp_path / "ja.jsonl"], tmp_path / "store", workers=1, progress=False)
    r = cli("stats", str(tmp_path / "store"), "--top", "20")
    assert r.returncode == 0, r.stderr
    assert "\ufffd" not in r.stdout
    top = r.stdout[r.stdout.index("top 20 tokens") :]
    assert "b'\\xe5\\x90'" in top and "'は'" in top


def test_demo_counts_batches_and_dots_honestly(tmp_path, cli):
    story = tmp_path / "short.txt"
    story.write_text("The miller walked down to the river every morning.", encoding="utf-8")
    r = cli("demo", str(story))
    assert r.returncode == 0, r.stderr
    assert "-> 2 windows, 1 batch of 2\n" in r.stdout
    assert "   'The miller walked down to the river every morning.'\n" in r.stdout  # no "..."
    r = cli("demo", str(story), "--max-length", "10")
    assert "-> 1 window, 1 batch of 1\n" in r.stdout
    r = cli("demo", "--batch-size", "4")
    assert "69 windows, 18 batches (17 of 4 windows, then 1 of 1)" in r.stdout
    r = cli("demo", "--batch-size", "23")
    assert "69 windows, 3 batches of 23" in r.stdout
    assert "'The Miller of the Valley\\n\\nEvery morning before the sun was up, the mil'...\n" in r.stdout


def test_vocab_list_suggests_only_commands_that_work(tmp_path, cli, monkeypatch):
    from tokenmill.tokenizers import registry as vocab

    empty = tmp_path / "empty"
    for name in ("TOKENMILL_CACHE_DIR", "TOKENMILL_VOCAB_DIR", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.setenv(name, str(empty))
    r = cli("vocab", "list")
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(None, 1) for line in r.stdout.splitlines())
    for name in ("o200k_base", "p50k_base"):
        assert lines[name] == f"not installed: tokenmill vocab install {name} --from /path/to/{name}.tiktoken"
    assert lines["gpt2"] == "not installed: tokenmill vocab install gpt2"
    for name, where in lines.items():
        if where.startswith("not installed") and "--from" not in where:
            assert vocab.KNOWN_ENCODINGS[name].source is not None, name
    # and what it suggests for o200k_base does what it says (a wrong file is refused by hash)
    fake = tmp_path / "o200k_base.tiktoken"
    fake.write_text("not ranks\n")
    r = cli("vocab", "install", "o200k_base", "--from", str(fake))
    assert r.returncode == 2 and "is not the o200k_base ranks file" in r.stderr


def test_tokenize_help_example_works_as_written(tmp_path, cli):
    help_text = cli("tokenize", "--help").stdout
    make = next(line.strip() for line in help_text.splitlines() if "vocab.json" in line and "python" in line)
    use = next(line.strip() for line in help_text.splitlines() if line.strip().startswith("tokenmill") and "vocab.json" in line)
    (tmp_path / "story.txt").write_text("It's here, said the miller. It was here all along.", encoding="utf-8")
    made = subprocess.run(
        make.replace("python", f'"{sys.executable}"', 1), shell=True, cwd=tmp_path, capture_output=True, text=True
    )
    assert made.returncode == 0 and (tmp_path / "vocab.json").is_file(), made.stderr
    example = use.split("#")[0].replace("tokenmill", f'"{TOKENMILL}"', 1)
    r = subprocess.run(example, shell=True, cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].split() == [str(json.loads((tmp_path / "vocab.json").read_text())["vocab"]["It"]), "'It'"]
    assert r.stdout.splitlines()[-1] == "9 characters, 4 tokens, 2.25 bytes per token (vocab.json)"
