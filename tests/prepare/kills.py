"""What the crash and fault tests share: a corpus that takes seconds to prepare, and the command."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

WORDS = "the of and a to in is you that it he was for on are as with his they I at be this have from or one had by".split()


def synthetic_corpus(path: Path, documents: int, *, seed: int) -> Path:
    """``documents`` lines of random words (100-3,000 each) as .jsonl: seconds of tokenizing."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        for _ in range(documents):
            words = (rng.choice(WORDS) + rng.choice(["", "", ",", ".", "\n"]) for _ in range(rng.randint(100, 3000)))
            f.write(json.dumps({"text": " ".join(words)}) + "\n")
    return path


def prepare_cmd(corpus: Path, out: Path) -> list[str]:
    """The prepare run the tests kill and rerun: 2 workers, small shards, a val split."""
    options = ["--workers", "2", "--shard-tokens", "60000", "--val-fraction", "0.1", "--quiet"]
    return [sys.executable, "-m", "tokenmill", "prepare", str(corpus), "--out", str(out), *options]
