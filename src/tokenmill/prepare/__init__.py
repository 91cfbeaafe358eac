"""``prepare``: a text corpus -> a token store (see docs/format.md), in parallel, resumable.

The coordinator (:mod:`~tokenmill.prepare.coordinator`) plans tasks (a file, or a byte range
of a big ``.jsonl``; :mod:`~tokenmill.prepare.tasks`) and hands them to an executor
(:mod:`~tokenmill.prepare.local_executor`: processes here; :mod:`~tokenmill.prepare.ray_executor`:
a Ray cluster). Workers (:mod:`~tokenmill.prepare.worker`) read their task's input through
:mod:`tokenmill.corpus`, tokenize it (:mod:`~tokenmill.prepare.engines`) and write its shards
with the store's writer (:mod:`tokenmill.store.writer`); the coordinator collects their small
records and writes the manifest (:mod:`~tokenmill.prepare.manifest`). The lock, checkpoint
and resume are in :mod:`~tokenmill.prepare.checkpoint`; the options in
:mod:`~tokenmill.prepare.options`; the entry points in :mod:`~tokenmill.prepare.run`.

Pitfalls: a shard is closed at the first document boundary where it holds ``shard_tokens``
tokens; documents never span shards, so one huge document makes one big shard. Workers are
forked on Linux when the caller runs no other thread and has not loaded Ray, else spawned;
then, as with any multiprocessing code, a script that calls prepare needs
``if __name__ == "__main__":``. Huge documents are cut only for the GPT-2, cl100k and o200k
pre-tokenizers (see ``tokenmill.corpus.cutting.safe_cut``); with any other tokenizer a
document is encoded whole.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.txt").write_text("hello world")
>>> store = prepare([d / "a.txt"], d / "store", workers=0, progress=False)
>>> store["train"][:].tolist()
[31373, 995, 50256]
"""

from tokenmill.prepare.executors import EXECUTORS, default_workers, make_executor
from tokenmill.prepare.options import (
    DEFAULT_SHARD_TOKENS,
    EOT_POLICIES,
    ERROR_POLICIES,
    PrepareOptions,
    PrepareReport,
)
from tokenmill.prepare.run import prepare, reference_tokens, run_prepare

__all__ = [
    "DEFAULT_SHARD_TOKENS",
    "EOT_POLICIES",
    "ERROR_POLICIES",
    "EXECUTORS",
    "PrepareOptions",
    "PrepareReport",
    "default_workers",
    "make_executor",
    "prepare",
    "reference_tokens",
    "run_prepare",
]
