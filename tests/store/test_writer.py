"""store.writer: IDs are never wrapped, shards close at the first boundary past shard_tokens, files are durable."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import write_jsonl
from tokenmill.prepare import prepare
from tokenmill.store.writer import ShardWriter
from tokenmill.tokenizers import Tokenizer

WORDS = "the of and a to in is you that it he was for on are as with his they I at be this".split()


def synthetic_docs(n: int, seed: int = 0, size: int = 200) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) + rng.choice(["", ",", ".\n"]) for _ in range(rng.randint(1, size))) for _ in range(n)]


class Liar(Tokenizer):
    """Says its IDs stop at 50256 (so the store is uint16), then returns bigger ones."""

    name, vocab_size, max_token_value, eot_id = "liar", 50257, 50256, 50256
    special_tokens = {"<|endoftext|>": 50256}

    def __init__(self, big: int) -> None:
        self.big = big

    def _encode(self, text: str, allowed: set[str]) -> list[int]:
        return [self.big if w == "big" else 5 for w in text.split()]

    def decode_tokens_bytes(self, ids: Any) -> list[bytes]:
        return [b"?" for _ in ids]


@pytest.mark.parametrize("big", [70000, 60000])
def test_an_id_beyond_max_token_value_is_refused_not_wrapped(tmp_path: Path, big: int) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["small words", "a big one"])
    with pytest.raises(ValueError, match=rf"tokenizer 'liar' returned token ID {big}.*max_token_value is 50256.*uint16"):
        prepare([src], tmp_path / "s", tokenizer=Liar(big), workers=0, progress=False)
    assert not (tmp_path / "s").exists()

def test_the_shard_writer_refuses_a_cast_that_would_wrap(tmp_path: Path) -> None:
    liar = {"name": "liar", "max_token_value": 50256}
    output = ShardWriter(tmp_path, "train", 0, np.dtype("uint16"), shard_tokens=100, tokenizer=liar)
    with pytest.raises(ValueError, match="token ID 70000.*uint16"):
        output.add([np.array([1, 70000], np.uint32)], True)
    output.abandon()
    assert not list(tmp_path.iterdir())


@pytest.mark.filterwarnings("ignore:val_fraction=")  # tiny stores leave a split empty, on purpose
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(1, 60), min_size=1, max_size=40),
    shard_tokens=st.integers(1, 150),
    val=st.sampled_from([0.0, 0.4]),
)
def test_shards_close_at_the_first_boundary_past_shard_tokens(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], shard_tokens: int, val: float
) -> None:
    d = tmp_path_factory.mktemp("b")
    src = write_jsonl(d / "a.jsonl", [" the" * n for n in sizes])  # " the" is one token: n + 1 with the EOT
    store = prepare([src], d / "s", workers=0, shard_tokens=shard_tokens, val_fraction=val, progress=False)
    for split in store.splits:
        shards = store.manifest["splits"][split]["shards"]
        for k, sh in enumerate(shards):
            offsets = np.fromfile(store.path / f"{sh['name']}.idx", "<i8")
            last = int(offsets[-1] - offsets[-2])
            assert sh["n_tokens"] - last < shard_tokens, (split, k)  # it did not close one document late
            if split == "train" and k < len(shards) - 1:
                assert sh["n_tokens"] >= shard_tokens, k  # nor early

def test_every_file_is_fsynced_renamed_and_its_directory_fsynced_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to name file descriptors")
    src = write_jsonl(tmp_path / "a.jsonl", synthetic_docs(60))
    out = tmp_path / "s"
    events: list[tuple[str, str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"), ""))
        real_fsync(fd)

    def replace(a: Any, b: Any) -> None:
        real_replace(a, b)
        events.append(("replace", os.path.realpath(a), os.path.realpath(b)))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    prepare([src], out, workers=0, shard_tokens=1500, val_fraction=0.3, progress=False)
    real_out = os.path.realpath(out)
    replaces = [i for i, e in enumerate(events) if e[0] == "replace" and os.path.dirname(e[2]) == real_out]
    names = [os.path.basename(events[i][2]) for i in replaces]
    assert sum(n.endswith(".bin") for n in names) > 3 and names[-1] == "manifest.json"
    for i in replaces:
        _, tmp, final = events[i]
        assert ("fsync", tmp, "") in events[:i], f"{final} renamed before its data was fsynced"
        later = [j for j in replaces if j > i and os.path.basename(events[j][2]) in (".progress.json", "manifest.json")]
        dir_sync = next((j for j in range(i + 1, len(events)) if events[j][:2] == ("fsync", real_out)), None)
        assert dir_sync is not None, f"the rename of {final} is never made durable"
        assert not later or dir_sync < later[0], f"{final}: recorded before its rename was durable"
