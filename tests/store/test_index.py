"""store: an index is checked whenever it is read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import tm, write_jsonl
from tokenmill.prepare import prepare
from tokenmill.store import TokenStore

WORDS = "the of and a to in is you that it he was for on are as with his they I at be this".split()


def texts(n: int, seed: int = 0) -> list[str]:
    import random

    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 300))) for _ in range(n)]


def test_a_corrupt_index_is_an_error_naming_the_file(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", texts(20))
    out = tmp_path / "store"
    prepare([src], out, workers=0, shard_tokens=1000, progress=False)
    for bad in ([0, 500, 100], [5, 10, 20]):  # offsets that fall back; a first offset that is not 0
        offsets = np.fromfile(out / "train-00000-00001.idx", "<i8")
        keep = offsets.copy()
        offsets[1 : 1 + len(bad) - 1] = bad[1:]
        offsets[0] = bad[0]
        offsets.tofile(out / "train-00000-00001.idx")
        store = TokenStore.open(out)  # sizes are right: open cannot tell
        for read in (store.document_offsets, lambda s=store: list(s.documents()), store.stats):
            with pytest.raises(ValueError, match=r"train-00000-00001\.idx.*offsets"):
                read()
        done = tm("stats", str(out))
        assert done.returncode == 2 and "train-00000-00001.idx" in done.stderr and "-" not in done.stdout
        keep.tofile(out / "train-00000-00001.idx")
    last = np.fromfile(out / "train-00000-00000.idx", "<i8")
    last[-1] += 1  # does not end at the shard's size
    last.tofile(out / "train-00000-00000.idx")
    with pytest.raises(ValueError, match=r"train-00000-00000\.idx: offsets must start at 0 and end at n_tokens"):
        TokenStore.open(out).document_offsets()
