"""store: any number of shards reads within the open-file limit; a shard rewritten under an open reader is refused."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tokenmill.store import TokenArray, TokenStore, task_shard_name, write_manifest, write_shard
from tokenmill.store.manifest import _example_manifest

EOT = 50256


def many_shards(directory: Path, n: int) -> Path:
    """A store of ``n`` one-document shards: shard k holds [k % 50000, EOT]."""
    entries = [
        write_shard(directory, task_shard_name("train", k, 0), np.array([k % 50000, EOT], np.uint16), np.array([0, 2]))
        for k in range(n)
    ]
    write_manifest(directory, _example_manifest(entries))
    return directory


READ_UNDER_A_LOW_LIMIT = """
import resource, sys
import numpy as np
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
from tokenmill.store import TokenStore
from tokenmill.loader import create_dataloader
store = TokenStore.open(sys.argv[1], max_open_shards=16)
stats = store.stats(top_k=3)
assert stats["total"]["tokens"] == 600 and stats["total"]["shards"] == 300, stats["total"]
tokens = np.asarray(store["train"])
assert tokens.tolist() == [t for k in range(300) for t in (k, 50256)]
docs = [d.tolist() for d in store.documents("train")]
assert docs[299] == [299, 50256] and len(docs) == 300
loader = create_dataloader(store, batch_size=4, max_length=2, stride=2, shuffle=True, seed=1)
firsts = sorted(int(row[0]) for inputs, _ in loader for row in inputs)
assert len(firsts) == 4 * len(loader) >= 296 and firsts == sorted(set(firsts)) and firsts[-1] < 300, firsts
print("ok")
"""


def test_a_store_of_more_shards_than_the_open_file_limit_reads(tmp_path: Path) -> None:
    many_shards(tmp_path, 300)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run(
        [sys.executable, "-c", READ_UNDER_A_LOW_LIMIT, str(tmp_path)], capture_output=True, text=True, env=env, timeout=300
    )
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-3000:]


def test_at_most_max_open_shards_stay_mapped(tmp_path: Path) -> None:
    store = TokenStore.open(many_shards(tmp_path, 40), max_open_shards=5)
    arr = store["train"]
    assert arr[::2].tolist() == [k for k in range(40)]
    assert len(arr._maps) == 5 and list(arr._maps) == [35, 36, 37, 38, 39]
    assert int(arr[2]) == 1 and list(arr._maps)[-1] == 1  # reopened, most recently used last
    with pytest.raises(ValueError, match="max_open must be an int >= 1"):
        TokenArray([tmp_path / "x.bin"], [1], "uint16", max_open=0)


def _rewrite(directory: Path, name: str, tokens: list[int]) -> None:
    """What prepare does to a shard: new bytes under a temp name, renamed onto the old name."""
    write_shard(directory, name, np.array(tokens, np.uint16), np.array([0, len(tokens)]))


def test_a_shard_rewritten_while_the_store_is_open_is_refused_never_read(tmp_path: Path) -> None:
    store = TokenStore.open(many_shards(tmp_path, 3), max_open_shards=1)
    arr = store["train"]
    assert arr[:2].tolist() == [0, EOT]  # shard 0 mapped
    _rewrite(tmp_path, task_shard_name("train", 0, 0), [7, EOT])
    _rewrite(tmp_path, task_shard_name("train", 1, 0), [9, EOT])
    assert arr[:2].tolist() == [0, EOT]  # the open map keeps the bytes it had
    with pytest.raises(ValueError, match=r"train-00001-00000.bin is not the file .*rewritten while open: reopen it"):
        arr[2]  # shard 1 was replaced before it was ever mapped
    assert int(arr[4]) == 2  # shard 2 maps, evicting shard 0 ...
    with pytest.raises(ValueError, match=r"train-00000-00000.bin is not the file"):
        arr[0]  # ... whose reopen finds the new file
    with pytest.raises(ValueError, match=r"train-00000-00000.idx is not the file .*reopen it"):
        list(store.documents("train"))
    fresh = TokenStore.open(tmp_path)  # a reopened store reads what is there now
    assert fresh["train"][:4].tolist() == [7, EOT, 9, EOT]


def test_a_pickled_store_or_array_refuses_files_rewritten_since_it_was_opened(tmp_path: Path) -> None:
    store = TokenStore.open(many_shards(tmp_path, 2))
    blob, arr_blob = pickle.dumps(store), pickle.dumps(store["train"])
    assert pickle.loads(blob)["train"][:4].tolist() == [0, EOT, 1, EOT]
    _rewrite(tmp_path, task_shard_name("train", 1, 0), [5, EOT])
    with pytest.raises(ValueError, match="train-00001-00000.* rewritten while open"):
        pickle.loads(blob)
    with pytest.raises(ValueError, match="train-00001-00000.bin is not the file"):
        pickle.loads(arr_blob)[3]


def test_prepare_rewrites_shards_by_rename_so_an_open_reader_keeps_its_bytes(tmp_path: Path) -> None:
    from tokenmill.prepare import prepare

    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps({"text": f"document {i} " * 50}) + "\n" for i in range(40)))
    out = tmp_path / "s"
    prepare([src], out, workers=0, progress=False, shard_tokens=200)
    store = TokenStore.open(out)
    before = np.asarray(store["train"]).copy()
    first = store["train"][:10].copy()
    src.write_text("".join(json.dumps({"text": f"other text {i} " * 50}) + "\n" for i in range(40)))
    prepare([src], out, workers=0, progress=False, shard_tokens=200, overwrite=True)
    assert store["train"][:10].tolist() == first.tolist()  # every shard mapped before the rebuild: old bytes
    np.testing.assert_array_equal(np.asarray(store["train"]), before)
    assert not np.array_equal(np.asarray(TokenStore.open(out)["train"][:10]), first)
    small = TokenStore.open(out, max_open_shards=1)  # maps shard by shard: a rebuild is met on a reopen
    small["train"][0]
    src.write_text(src.read_text().replace("other", "third"))
    prepare([src], out, workers=0, progress=False, shard_tokens=200, overwrite=True)
    with pytest.raises(ValueError, match="rewritten while open: reopen it"):
        np.asarray(small["train"])


def test_verify_and_a_chdir_still_check_the_files_the_store_opened(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "s").mkdir()
    many_shards(tmp_path / "s", 2)
    monkeypatch.chdir(tmp_path)
    store = TokenStore.open("s", max_open_shards=1)
    store.verify()
    monkeypatch.chdir(tmp_path / "s")  # relative paths now point elsewhere: the store keeps its own
    _rewrite(tmp_path / "s", task_shard_name("train", 1, 0), [5, EOT])
    with pytest.raises(ValueError, match=r"train-00001-00000.bin is not the file .*rewritten while open"):
        store.verify()
    with pytest.raises(ValueError, match=r"train-00001-00000.bin is not the file .*rewritten while open"):
        store["train"][3]
