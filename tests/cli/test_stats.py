"""`tokenmill stats` end to end (in this process), on stores built in tmp_path; a file given as a store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import write_jsonl
from tokenmill.store import FORMAT_VERSION, shard_name, write_manifest, write_shard

EOT = 50256
# hello world<eot> | I I<eot> || It<eot>   (val: " world"<eot>)
TRAIN = [[[31373, 995, EOT], [40, 40, EOT]], [[1026, EOT]]]
VAL = [[[995, EOT]]]
PREPARED = {"documents": 4, "empty_documents": 0, "bytes_read": 40, "eot_spellings": 1, "replacements": 2, "bad_lines_skipped": 0}


def make_store(directory: Path) -> Path:
    splits = {}
    for split, shards in (("train", TRAIN), ("val", VAL)):
        entries = []
        for k, docs in enumerate(shards):
            tokens = np.array([t for d in docs for t in d], np.uint16)
            entries.append(write_shard(directory, shard_name(split, k), tokens, np.cumsum([0] + [len(d) for d in docs])))
        splits[split] = {"n_tokens": sum(e["n_tokens"] for e in entries), "n_documents": sum(e["n_documents"] for e in entries), "shards": entries}
    write_manifest(
        directory,
        {
            "format": "tokenmill-store",
            "format_version": FORMAT_VERSION,
            "tokenizer": {"name": "gpt2", "vocab_size": 50257, "max_token_value": EOT, "ranks_sha256": None, "eot_id": EOT},
            "dtype": "uint16",
            "eot": {"policy": "append", "id": EOT},
            "splits": splits,
            "stats": PREPARED,
        },
    )
    return directory


@pytest.fixture
def tokenmill(cli):
    return cli


def test_json_end_to_end(tmp_path: Path, tokenmill) -> None:
    make_store(tmp_path)
    result = tokenmill("stats", str(tmp_path), "--json", "--top", "3")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["splits"]["train"]["documents"] == 3 and stats["splits"]["train"]["tokens"] == 8
    assert stats["splits"]["val"]["tokens"] == 2
    assert (stats["total"]["documents"], stats["total"]["tokens"], stats["total"]["bytes"]) == (4, 10, 40)
    assert stats["total"]["bytes_per_token"] == 4.0
    assert stats["total"]["top_tokens"] == [
        {"id": EOT, "count": 4, "share": 0.4, "text": "<|endoftext|>"},
        {"id": 40, "count": 2, "share": 0.2, "text": "I"},
        {"id": 995, "count": 2, "share": 0.2, "text": " world"},  # the decoded string, not a repr
    ]
    assert "empty_documents" not in stats["splits"]["train"] and "empty_documents" not in stats["total"]
    assert stats["prepare"] == PREPARED


def test_table_is_readable(tmp_path: Path, tokenmill) -> None:
    make_store(tmp_path)
    result = tokenmill("stats", str(tmp_path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "tokenizer  gpt2  dtype uint16  eot append (id 50256)" in out
    header = next(line for line in out.splitlines() if line.split() == ["train", "val", "total"])
    assert header
    assert next(line for line in out.splitlines() if line.startswith("tokens")).split() == ["tokens", "8", "2", "10"]
    assert "bytes per token" in out and "4.0" in out
    lines = out.splitlines()
    # Each manifest counter once, labelled; no stored "empty documents 0" row to contradict it.
    empty = [line.split() for line in lines if "empty documents" in line]
    assert empty == [["empty", "documents", "skipped", "0"]]
    assert "EOT spellings kept as text  1" in out and "U+FFFD replacements         2" in out
    assert "'<|endoftext|>'" in out and "' world'" in out  # a repr in the table: spaces stay visible


def test_one_split_and_no_top_tokens(tmp_path: Path, tokenmill) -> None:
    make_store(tmp_path)
    result = tokenmill("stats", str(tmp_path), "--split", "val", "--top", "0", "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert list(stats["splits"]) == ["val"] and "top_tokens" not in stats["total"]
    bad = tokenmill("stats", str(tmp_path), "--split", "test")
    assert bad.returncode == 2 and "no split 'test'; available splits: train, val" in bad.stderr


def test_verify_ok_and_corrupt(tmp_path: Path, tokenmill) -> None:
    make_store(tmp_path)
    ok = tokenmill("stats", str(tmp_path), "--verify")
    assert ok.returncode == 0 and ok.stdout.startswith("OK: ") and "3 shards" in ok.stdout
    data = bytearray((tmp_path / "train-00001.bin").read_bytes())
    data[0] ^= 0xFF
    (tmp_path / "train-00001.bin").write_bytes(bytes(data))
    bad = tokenmill("stats", str(tmp_path), "--verify")
    assert bad.returncode == 1 and bad.stdout == ""
    assert "verify FAILED" in bad.stderr and "train-00001.bin is corrupt: sha256 expected" in bad.stderr
    as_json = tokenmill("stats", str(tmp_path), "--verify", "--json")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["ok"] is False


def test_missing_store_names_the_next_command(tmp_path: Path, tokenmill) -> None:
    result = tokenmill("stats", str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert f"no token store at {tmp_path} (no manifest.json); create one with `tokenmill prepare INPUT --out {tmp_path}`" in result.stderr


def test_help_has_examples(tokenmill) -> None:
    result = tokenmill("stats", "--help")
    assert result.returncode == 0
    assert "tokenmill stats store/ --verify" in result.stdout and "--top K" in result.stdout


def test_format_table_in_process(tmp_path: Path) -> None:
    from tokenmill.cli.stats_cmd import format_table
    from tokenmill.store import TokenStore

    table = format_table(TokenStore.open(make_store(tmp_path)).stats(top_k=1))
    assert "top 1 tokens (total):" in table and "40.00%" in table


def test_negative_top_is_refused(tmp_path: Path, tokenmill) -> None:
    make_store(tmp_path)
    result = tokenmill("stats", str(tmp_path), "--top", "-1")
    assert result.returncode == 2 and "--top must be >= 0, got -1" in result.stderr


def test_a_store_being_written_is_not_called_interrupted(tmp_path: Path, tokenmill) -> None:
    import fcntl

    (tmp_path / ".progress.json").write_text("{}")
    (tmp_path / "train-00000.bin").write_bytes(b"")
    with open(tmp_path / ".tokenmill.lock", "w") as held:  # as a running prepare holds it
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        busy = tokenmill("stats", str(tmp_path))
    assert busy.returncode == 2 and "is being written by a running `tokenmill prepare`" in busy.stderr
    assert "interrupted" not in busy.stderr
    dead = tokenmill("stats", str(tmp_path))  # the lock released (its holder died): interrupted
    assert dead.returncode == 2 and "interrupted" in dead.stderr


# ---- a file given where a store directory goes ------------------------------------------------------------------------

WORDS = "the quick brown fox jumps over the lazy dog and the slow cat sleeps by the warm fire "


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "many.jsonl", [WORDS * 3, WORDS * 2])


@pytest.mark.parametrize("command", [["stats"], ["report", "-o", "page.html"]])
def test_a_file_given_as_a_store_gets_advice_that_works(tmp_path: Path, corpus: Path, command: list[str], cli,
                                                        monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    done = cli(command[0], "many.jsonl", *command[1:])
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "many.jsonl is a file, not a token store directory" in done.stderr, done.stderr
    assert "--out many.jsonl" not in done.stderr
    advised = re.search(r"`tokenmill (prepare [^`]+)`", done.stderr)
    assert advised and advised.group(1) == "prepare many.jsonl --out many-store/", done.stderr
    made = cli(*advised.group(1).split(), "--quiet", "--workers", "0")  # the advice, copied
    assert made.returncode == 0, made.stderr
    assert cli(command[0], "many-store/", *command[1:]).returncode == 0


def test_token_store_open_on_a_file_says_so(tmp_path: Path, corpus: Path) -> None:
    from tokenmill.store import TokenStore

    (tmp_path / "many-store").mkdir()  # taken: the advice names a directory that does not exist yet
    with pytest.raises(ValueError, match="is a file, not a token store directory") as err:
        TokenStore.open(corpus)
    assert f"--out {tmp_path / 'many-store2'}/" in str(err.value)
