"""`tokenmill vocab install gpt2` seeds tiktoken's cache: the book's tiktoken.get_encoding("gpt2") works offline."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from tokenmill import get_tokenizer
from tokenmill.tokenizers.bpe import read_ranks
from tokenmill.tokenizers.tiktoken_cache import GPT2_FILES, gpt2_data_gym_files

# Each cached file's name is the sha1 of its URL (tiktoken's load.read_file_cached).
CACHE_NAMES = {
    "vocab.bpe": "6d1cbeee0f20b3d9449abfede4726ed8212e3aee",
    "encoder.json": "6c7ea1a7e38e3a7f062df639a5b80947f075ffe6",
    "r50k_base.tiktoken": "0ea1e91bbb3a60f729a8dc8f777fd2fc07cd8df4",
}
OFFLINE_CHECK = (
    "import tiktoken\n"
    "enc = tiktoken.get_encoding('gpt2')\n"
    "assert enc.encode('hello world') == [31373, 995], enc.encode('hello world')\n"
    "assert enc.n_vocab == 50257 and enc.eot_token == 50256\n"
    "assert tiktoken.get_encoding('r50k_base').encode('hello world') == [31373, 995]\n"
    "print('offline ok')\n"
)


def offline_env(cache: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "data_gym_cache_dir")}
    dead = "http://127.0.0.1:9"  # the discard port: any download attempt fails at once
    return env | {
        "TIKTOKEN_CACHE_DIR": str(cache), "HTTPS_PROXY": dead, "HTTP_PROXY": dead,
        "https_proxy": dead, "http_proxy": dead,
    }


def test_rebuilt_files_are_byte_exact() -> None:
    files = gpt2_data_gym_files(read_ranks(get_tokenizer("gpt2").ranks_path))
    for name in ("vocab.bpe", "encoder.json"):
        assert hashlib.sha256(files[name]).hexdigest() == GPT2_FILES[name][1]
    assert (len(files["vocab.bpe"]), len(files["encoder.json"])) == (456_318, 1_042_301)
    for name, (url, _) in GPT2_FILES.items():
        assert hashlib.sha1(url.encode()).hexdigest() == CACHE_NAMES[name]


@pytest.mark.slow
def test_vocab_install_makes_tiktoken_gpt2_work_offline(tmp_path, cli, monkeypatch) -> None:  # noqa: ANN001
    ranks_file = get_tokenizer("gpt2").ranks_path  # already in the user's cache
    cache = tmp_path / "tiktoken"
    before = subprocess.run(
        [sys.executable, "-c", OFFLINE_CHECK], env=offline_env(cache), capture_output=True, text=True,
        timeout=120,
    )
    assert before.returncode != 0  # really offline: nothing to read, no way to download

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "tokenmill"))
    r = cli("vocab", "install", "gpt2", "--from", str(ranks_file))
    assert r.returncode == 0, r.stderr
    assert f"tiktoken's cache {cache}: seeded with 3 file(s)" in r.stdout
    assert sorted(p.name for p in cache.iterdir()) == sorted(CACHE_NAMES.values())
    again = cli("vocab", "install", "gpt2")
    assert again.returncode == 0 and "already seeded" in again.stdout

    after = subprocess.run(
        [sys.executable, "-c", OFFLINE_CHECK], env=offline_env(cache), capture_output=True, text=True,
        timeout=120,
    )
    assert after.returncode == 0, after.stderr
    assert after.stdout.strip() == "offline ok"


def test_no_tiktoken_cache_flag_and_disabled_cache(tmp_path, cli, monkeypatch) -> None:  # noqa: ANN001
    ranks_file = get_tokenizer("gpt2").ranks_path
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "tokenmill"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))
    r = cli("vocab", "install", "gpt2", "--from", str(ranks_file), "--no-tiktoken-cache")
    assert r.returncode == 0 and "tiktoken's cache" not in r.stdout and not (tmp_path / "tiktoken").exists()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    r = cli("vocab", "install", "gpt2")
    assert r.returncode == 2 and "turns tiktoken's cache off" in r.stderr
