"""Reading the training sample with prepare's tasks and executors (``workers``, ``executor``).

The inputs are planned as ``prepare`` plans them (:func:`tokenmill.prepare.tasks.plan_tasks`:
a file per task, a big uncompressed ``.jsonl`` in byte ranges); each task is read,
decompressed, parsed and cut into chunks by a worker (:class:`SampleJob`, run by
:func:`tokenmill.prepare.worker.execute` on any executor), which keeps only its own
:class:`~tokenmill.training.sample.BottomSample`; this process merges them as they come.
The merge is exact, so the sample, and the tokenizer, are the same for any executor,
worker count or finishing order.

Pitfall: with ``executor="ray"`` the inputs must be at the same path on every node.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tokenmill.common.errors import ExplainedError
from tokenmill.common.words import human_bytes
from tokenmill.corpus.inputs import InputFile
from tokenmill.corpus.readers import read_task
from tokenmill.prepare.executors import default_workers, make_executor
from tokenmill.prepare.tasks import TaskSpec, describe_task, plan_tasks
from tokenmill.training.corpus import CorpusStats, chunks, scrub
from tokenmill.training.memory import Profile, check_enough, fit_prefix, workers_within
from tokenmill.training.sample import BottomSample, chunk_hash

COMPRESSED_RATIO = 8  # a compressed task's text, at most, per byte on disk (for the memory plan)


@dataclass(frozen=True)
class SampleJob:
    """One task's work for the executors: read it, keep its bottom sample (sent once per worker)."""

    files: tuple[InputFile, ...]  # the inputs, as planned
    seed: int  # of the chunk hash
    budget: int  # the sample's bytes of text
    text_field: str
    errors: str
    skip_bad_lines: bool
    key: str = field(default="")  # identity (the local executor keeps its workers per key)

    def run(self, spec: TaskSpec) -> dict[str, Any]:
        """The task's sample items, cutoff and counters (never raises for the task's own input)."""
        f = self.files[spec.input_index]
        try:
            return self._run(spec, f)
        except OSError as exc:
            where = describe_task(spec, f.path)
            return {"error": f"cannot read {where}: {exc.strerror or exc}", "kind": "read"}

    def _run(self, spec: TaskSpec, f: InputFile) -> dict[str, Any]:
        name = f.name or f.path
        sample, stats = BottomSample(self.budget), CorpusStats()
        chunk_no = 0
        docs = read_task(f, spec.start, spec.stop, errors=self.errors, text_field=self.text_field,
                         cuttable=True, unpacked=spec.unpacked)
        for doc in docs:
            stats.replacements += doc.replacements
            if doc.bad is not None:
                if not self.skip_bad_lines:
                    raise ExplainedError(
                        "{0} {1}; fix it, or pass {skip_bad_lines=True} to skip and count such lines", doc.where, doc.bad
                    )
                stats.bad_lines_skipped += 1
                continue
            if doc.first:
                chunk_no = 0
            text = doc.text if isinstance(doc.text, str) else ""
            if not text:
                stats.empty_documents += doc.first and doc.last
                continue
            text, fixed = scrub(text)
            stats.replacements += fixed
            stats.documents += doc.first  # a huge document comes in pieces: count it once
            for chunk in chunks(iter([text])):
                n = len(chunk.encode("utf-8"))
                stats.bytes_read += n
                sample.add((chunk_hash(self.seed, name, doc.key, chunk_no), name, doc.key, chunk_no), chunk, n)
                chunk_no += 1
        return {"items": sample.items(), "cutoff": sample.cutoff, "stats": vars(stats)}


@dataclass
class SampleStats(CorpusStats):
    """What was read, and what of it the trainer saw."""

    documents_used: int = 0  # documents with at least one chunk in the sample
    bytes_used: int = 0  # UTF-8 bytes of text in the sample
    chunks_used: int = 0  # chunks of about 4096 characters (whole lines) in the sample
    everything: bool = True  # the whole corpus fitted the budget
    workers: int = 0  # reading workers used (the memory bound may lower the number asked for)
    tasks: int = 0  # prepare's tasks the inputs were read as


def plan(files: Sequence[InputFile], job: SampleJob) -> list[TaskSpec]:
    """prepare's plan of the inputs (the same tasks, by the same rules)."""
    return plan_tasks(files, job.key)


def largest_task_text(tasks: Sequence[TaskSpec], files: Sequence[InputFile]) -> int:
    """An upper estimate of the text one task can hold (what a worker keeps, at most)."""
    sizes = [t.size * (COMPRESSED_RATIO if files[t.input_index].compression else 1) for t in tasks]
    return max(sizes, default=0)


def sample_corpus(
    files: Sequence[InputFile], *, pat_str: str, max_memory: int, budget: int, vocab_size: int, report: Any = None,
    **read: Any,
) -> tuple[Iterator[str], SampleStats, Profile]:
    """(the sample's texts, handed over once each; what was read and used; its memory profile).

    :func:`read_sample` within ``budget`` bytes, then the longest prefix in hash order whose
    profile fits ``max_memory`` (:func:`~tokenmill.training.memory.fit_prefix`).
    ``report(line)``, if given, hears what was read and the memory expected, before training.
    """
    items, stats = read_sample(files, budget=budget, max_memory=max_memory, **read)
    if hasattr(read.get("bar"), "set_description"):
        read["bar"].set_description("train-tokenizer: read; sizing the sample")
    keep, profile = fit_prefix([t for _, t in items], pat_str, max_memory)
    check_enough(profile, stats.bytes_read, vocab_size, max_memory)
    if keep < len(items):
        del items[keep:]
        stats.everything = False
    stats.chunks_used = len(items)
    stats.bytes_used = profile.nbytes
    stats.documents_used = len({(k[1], k[2]) for k, _ in items})
    if report is not None:
        used = "all of it" if stats.everything else f"a sample of {human_bytes(stats.bytes_used)}"
        peak = ("at most " if not profile.exact else "") + human_bytes(profile.peak())
        report(f"train-tokenizer: read {human_bytes(stats.bytes_read)} of text; training on {used}; "
               f"expected peak memory {peak} (--max-memory {human_bytes(max_memory)})")
    return _handed_over(items), stats, profile


def read_sample(
    files: Sequence[InputFile], *, budget: int, max_memory: int, seed: int, text_field: str, errors: str, skip_bad_lines: bool,
    workers: int | None, executor: str, ray_address: str | None, bar: Any = None,
) -> tuple[list[tuple[Any, str]], SampleStats]:
    """(the bottom sample's (key, text) within ``budget`` bytes, in hash order; what was read).

    ``workers`` None: every core; fewer when ``max_memory`` would not hold them. Raises the error of the failed task with the lowest number.
    """
    key = json.dumps([[f.describe() for f in files], seed, budget, text_field, errors, skip_bad_lines], sort_keys=True)
    job = SampleJob(tuple(files), seed, budget, text_field, errors, skip_bad_lines, hashlib.sha256(key.encode()).hexdigest())
    tasks = plan(files, job)
    sample, stats = BottomSample(budget), SampleStats()
    failures: dict[int, dict[str, Any]] = {}
    requested = min(default_workers() if workers is None else workers, len(tasks))
    stats.workers = workers_within(max_memory, budget, largest_task_text(tasks, files), requested)
    if stats.workers == 1 and executor == "local":
        stats.workers = 0  # one process at a time: this one, with no result to send
    stats.tasks = len(tasks)
    with make_executor(executor, workers=stats.workers, ray_address=ray_address) as ex:
        for spec, outcome in ex.run(job, tasks, lambda: bool(failures)):
            if "error" in outcome:
                failures[spec.index] = outcome
                continue
            sample.merge(outcome.pop("items"), outcome["cutoff"])
            for name, value in outcome["stats"].items():
                setattr(stats, name, getattr(stats, name) + value)
            if bar is not None:
                bar.update(spec.size)
    if failures:
        raise _error(failures[min(failures)])
    stats.everything = sample.cutoff is None
    return sample.items(), stats


def _handed_over(items: list[tuple[Any, str]]) -> Iterator[str]:
    """Each text once, dropped from ``items`` as it goes (the trainer copies what it keeps)."""
    items.reverse()
    while items:
        yield items.pop()[1]


def _error(outcome: dict[str, Any]) -> Exception:
    if "template" in outcome:
        return ExplainedError(outcome["template"], *outcome["args"])
    if outcome.get("kind") == "input":
        return ValueError(outcome["error"])
    if outcome.get("kind") == "read":
        return OSError(outcome["error"])
    return RuntimeError(outcome["error"])
