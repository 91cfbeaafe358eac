"""``prepare``: a text corpus -> a token store (see docs/format.md), in parallel, resumable.

Worker processes tokenize batches of documents; the calling process reads and decompresses
the inputs and is the single writer, taking results in input order, so the store is
byte-identical whatever ``workers`` is, and after a crash and a rerun.

Pitfalls: a shard is closed at the first document boundary where it holds ``shard_tokens``
tokens; documents never span shards, so one huge document makes one big shard. Workers are
forked on Linux when the caller runs no other thread, else spawned; then, as with any
multiprocessing code, a script that calls prepare needs ``if __name__ == "__main__":``.
Huge documents are cut only for the GPT-2, cl100k and o200k pre-tokenizers (see
``readers.safe_cut``); with any other tokenizer a document is encoded whole.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.txt").write_text("hello world")
>>> store = prepare([d / "a.txt"], d / "store", workers=0, progress=False)
>>> store["train"][:].tolist()
[31373, 995, 50256]
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing
import os
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tokenmill import __version__
from tokenmill.engines import (
    ENGINES,
    SPLITS,
    STAT_KEYS,
    Job,
    Result,
    _Worker,
    check_parity,
    init_worker,
    run_task,
)
from tokenmill.readers import CUTTABLE_PATTERNS, iter_tasks, resolve_inputs
from tokenmill.store import (
    FORMAT,
    FORMAT_VERSION,
    TokenStore,
    atomic_write_bytes,
    dtype_for,
    sha256_file,
    shard_name,
    write_manifest,
)
from tokenmill.tokenizers import get_tokenizer

DEFAULT_SHARD_TOKENS = 100_000_000  # 200 MB per shard with uint16
EOT_POLICIES = ("append", "prepend", "none")
ERROR_POLICIES = ("replace", "strict")
PROGRESS, LOCK, MANIFEST = ".progress.json", ".tokenmill.lock", "manifest.json"
SPLIT_RULE = "a document is in 'val' iff blake2b(f'{seed}:{input path}:{ordinal}', digest_size=8) as a big-endian integer < val_fraction * 2**64"


@dataclass(frozen=True)
class PrepareReport:
    """What one prepare run did (the CLI prints its summary line from this)."""

    store: TokenStore
    up_to_date: bool  # the store was already complete with these inputs/options: nothing done
    resumed_shards: int  # shards kept from an interrupted run
    seconds: float
    run_bytes: int = 0  # input bytes this run read (less than stats["bytes_read"] when resumed)
    run_tokens: int = 0  # tokens this run wrote


def prepare(inputs: Any, out: str | os.PathLike[str], *, tokenizer: Any = "gpt2", workers: int | None = None, eot: str = "append",
            val_fraction: float = 0.0, seed: int = 0, text_field: str = "text", errors: str = "replace",
            shard_tokens: int = DEFAULT_SHARD_TOKENS, engine: str = "tiktoken", skip_bad_lines: bool = False,
            overwrite: bool = False, progress: bool = True) -> TokenStore:
    """Tokenize ``inputs`` (files, directories, globs) into the token store ``out``; return it opened.

    Each document is ``encode_ordinary(text)`` plus the EOT ID (``eot``: "append",
    "prepend" or "none"); text that spells ``<|endoftext|>`` stays ordinary text (counted in
    ``manifest["stats"]["eot_spellings"]``). ``workers``: tokenizing processes (None: all
    cores; 0: in this process). ``val_fraction`` sends documents to "val" by a seeded hash
    of (input path, ordinal). ``errors``: "replace" invalid UTF-8 (counted) or "strict".
    ``engine="riptoken"``: faster, used only after a parity check against tiktoken.

    Pitfall: rerunning the same call resumes an interrupted run, or returns the finished
    store at once; other inputs or options on the same ``out`` raise unless ``overwrite``.
    """
    return run_prepare(inputs, out, tokenizer=tokenizer, workers=workers, eot=eot, val_fraction=val_fraction, seed=seed,
                       text_field=text_field, errors=errors, shard_tokens=shard_tokens, engine=engine,
                       skip_bad_lines=skip_bad_lines, overwrite=overwrite, progress=progress).store


def _check_options(eot: str, val_fraction: float, seed: int, errors: str, shard_tokens: int, engine: str, workers: int | None) -> None:
    if eot not in EOT_POLICIES:
        raise ValueError(f"eot must be one of {EOT_POLICIES}, got {eot!r}")
    if errors not in ERROR_POLICIES:
        raise ValueError(f"errors must be one of {ERROR_POLICIES}, got {errors!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)):
        raise TypeError(f"val_fraction must be a number in [0, 1), got {val_fraction!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}; e.g. 0.01 for 1% of the documents")
    if isinstance(shard_tokens, bool) or not isinstance(shard_tokens, int):
        raise TypeError(f"shard_tokens must be an int, got {shard_tokens!r}")
    if shard_tokens < 1:
        raise ValueError(f"shard_tokens must be a positive int, got {shard_tokens!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)):
        raise TypeError(f"workers must be an int or None, got {workers!r}")
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be an int >= 0 (0: tokenize in this process) or None (all cores), got {workers!r}")


def run_prepare(inputs: Any, out: str | os.PathLike[str], *, tokenizer: Any, workers: int | None, eot: str, val_fraction: float,
                seed: int, text_field: str, errors: str, shard_tokens: int, engine: str, skip_bad_lines: bool,
                overwrite: bool, progress: bool) -> PrepareReport:
    """:func:`prepare`, returning a :class:`PrepareReport`."""
    started = time.perf_counter()
    _check_options(eot, val_fraction, seed, errors, shard_tokens, engine, workers)
    tok = get_tokenizer(tokenizer)
    if eot != "none" and tok.eot_id is None:
        raise ValueError(f"tokenizer {tok.name!r} has no end-of-text token; pass eot='none' (--eot none)")
    files = resolve_inputs(inputs, text_field=text_field)  # every input error before any work
    check_parity(tok, engine)
    out = _check_out(Path(out))
    options = {"tokenizer": tokenizer if isinstance(tokenizer, str) else tok.name, "eot": eot, "val_fraction": float(val_fraction),
               "seed": seed, "text_field": text_field, "errors": errors, "shard_tokens": shard_tokens,
               "skip_bad_lines": skip_bad_lines, "engine": engine}
    identity = {"tokenizer": {"name": tok.name, "vocab_size": tok.vocab_size, "max_token_value": tok.max_token_value,
                              "ranks_sha256": tok.ranks_sha256, "eot_id": tok.eot_id},
                "options": options, "inputs": [f.describe() for f in files]}
    splits = SPLITS[: 2 if val_fraction > 0 else 1]
    with _locked(out) as lock_fd:
        state = _load_state(out, identity, splits, overwrite)
        if state is None:
            if progress:
                print(f"tokenmill prepare: {out} is up to date", file=sys.stderr)
            return PrepareReport(TokenStore.open(out), True, 0, time.perf_counter() - started)
        resumed = sum(len(s["shards"]) for s in state.values())
        writer = _Writer(out, identity, state, dtype_for(tok), shard_tokens)
        eot_text = next((s for s, i in tok.special_tokens.items() if i == tok.eot_id), None)
        job = Job(tok, engine, eot, tok.eot_id if eot != "none" else None, eot_text, dtype_for(tok).name, float(val_fraction),
                  seed, text_field, errors, skip_bad_lines, tuple(f.path for f in files), writer.start,
                  tuple(tuple(writer.splits[s]["position"]) if s in writer.splits else (0, 0) for s in SPLITS))
        tasks = iter_tasks(files, writer.start, errors=errors, text_field=text_field, cuttable=getattr(tok, "pat_str", None) in CUTTABLE_PATTERNS)
        total = sum(f.size for f in files)
        try:
            n_workers = (os.cpu_count() or 1) if workers is None else workers
            # The pool first: it may fork, which is safe only before tqdm starts its thread.
            with _tokenized(tasks, job, n_workers, lock_fd) as results, _progress_bar(total, progress) as bar:
                for result in results:
                    writer.add(result)
                    bar.update(result.progress - bar.n)
                    bar.set_postfix_str(f"{writer.n_tokens / max(1e-9, time.perf_counter() - started) / 1e6:.2f}M tok/s", refresh=False)
            if writer.stats[0] == 0:
                raise ValueError(f"the inputs hold no documents ({dict(zip(STAT_KEYS, writer.stats))}); nothing to store")
            writer.finish(identity)
        except ValueError:
            _clean(out, keep=set())  # bad input: rerunning fails the same way, so leave no partial store
            raise
    return PrepareReport(TokenStore.open(out), False, resumed, time.perf_counter() - started, writer.run_bytes, writer.n_tokens)


def _start_method() -> str:
    """fork when safe (Linux, one thread): workers then skip re-importing and reloading the
    tokenizer (~0.5 s of CPU each); else spawn. TOKENMILL_START_METHOD overrides."""
    if method := os.environ.get("TOKENMILL_START_METHOD"):
        return method
    return "fork" if sys.platform == "linux" and threading.active_count() == 1 else "spawn"


@contextmanager
def _tokenized(tasks: Iterator[Any], job: Job, workers: int, lock_fd: int) -> Iterator[Iterator[Result]]:
    """Tokenize tasks in order, with ``workers`` processes and a bounded number in flight."""
    if workers == 0:
        yield map(_Worker(job).run, tasks)
        return
    method = _start_method()
    with multiprocessing.get_context(method).Pool(workers, initializer=init_worker, initargs=(job, lock_fd if method == "fork" else None)) as pool:

        pids = {p.pid for p in pool._pool}  # private, but the only way to notice a killed worker

        def wait(pending: Any) -> Result:
            # Pool silently replaces a worker killed (say, by the OOM killer) and loses its task.
            while True:
                try:
                    return pending.get(timeout=1.0)
                except multiprocessing.TimeoutError:
                    if {p.pid for p in pool._pool} != pids:
                        raise RuntimeError("a tokenizing worker died (out of memory?); rerun the same command to resume") from None

        def results() -> Iterator[Result]:
            pending: deque[Any] = deque()
            for task in tasks:
                pending.append(pool.apply_async(run_task, (task,)))
                if len(pending) >= 4 * workers:  # bounded: memory stays flat however big the corpus
                    yield wait(pending.popleft())
            while pending:
                yield wait(pending.popleft())

        yield results()


class _Writer:
    """The single writer: appends results to each split's open shard, closes and checkpoints."""

    def __init__(self, out: Path, identity: dict[str, Any], state: dict[str, dict[str, Any]], dtype: np.dtype, shard_tokens: int):
        self.out, self.identity, self.splits, self.shard_tokens = out, identity, state, shard_tokens
        self.dtype = dtype.newbyteorder("<")
        self.start = min(tuple(s["position"]) for s in state.values())
        self.stats = list(next(s["stats"] for s in state.values() if tuple(s["position"]) == self.start))
        self.files: dict[str, Any] = {}  # split -> [file, sha256, n_tokens, doc ends]
        self.n_tokens = self.run_bytes = 0  # written / read by this run

    def add(self, result: Result) -> None:
        for s, split in enumerate(SPLITS):
            if split in self.splits and len(result.lengths[s]):
                self._add_split(split, result, s)
        self.stats = [a + b for a, b in zip(self.stats, result.total)]
        self.run_bytes += result.total[STAT_KEYS.index("bytes_read")]

    def _add_split(self, split: str, r: Result, s: int) -> None:
        tokens, ends = r.tokens[s], np.cumsum(r.lengths[s])
        complete = len(ends) - (1 if r.open_doc else 0)  # a piece that continues is no boundary
        written, i = 0, 0
        while True:
            base = (self.files[split][2] if split in self.files else 0) - written  # shard position of tokens[0]
            j = max(i, int(np.searchsorted(ends, self.shard_tokens - base, side="left")))
            if j >= complete:
                break
            self._write(split, tokens[written : ends[j]], base + ends[i : j + 1])
            written, i = int(ends[j]), j + 1
            self._close(split, (r.input_index, int(r.ordinals[s][j]) + 1), [a + b for a, b in zip(self.stats, r.cums[s][j].tolist())])
        if written < len(tokens):
            self._write(split, tokens[written:], base + ends[i:complete])

    def _write(self, split: str, tokens: np.ndarray, doc_ends: np.ndarray) -> None:
        if split not in self.files:
            name = shard_name(split, len(self.splits[split]["shards"]))
            self.files[split] = [open(self.out / f"{name}.bin.tmp", "wb"), hashlib.sha256(), 0, [np.zeros(1, np.int64)]]  # noqa: SIM115
        f = self.files[split]
        data = memoryview(np.ascontiguousarray(tokens, dtype=self.dtype)).cast("B")
        f[0].write(data)
        f[1].update(data)
        f[2] += len(tokens)
        f[3].append(np.asarray(doc_ends, dtype=np.int64))
        self.n_tokens += len(tokens)

    def _close(self, split: str, position: tuple[int, int] | None, stats: list[int] | None) -> None:
        f, h, n, ends = self.files.pop(split)
        name = shard_name(split, len(self.splits[split]["shards"]))
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(self.out / f"{name}.bin.tmp", self.out / f"{name}.bin")
        idx = np.concatenate(ends).astype("<i8").tobytes()
        atomic_write_bytes(self.out / f"{name}.idx", idx)  # fsyncs the directory too
        entry = {"name": name, "n_tokens": int(n), "n_documents": len(idx) // 8 - 1, "bin_sha256": h.hexdigest(),
                 "idx_sha256": hashlib.sha256(idx).hexdigest()}
        self.splits[split]["shards"].append(entry)
        if position is not None:
            self.splits[split].update(position=list(position), stats=stats)
            atomic_write_bytes(self.out / PROGRESS, json.dumps({"identity": self.identity, "splits": self.splits}, sort_keys=True).encode())

    def finish(self, identity: dict[str, Any]) -> None:
        for split in list(self.files):
            self._close(split, None, None)
        splits = {s: {"n_tokens": sum(e["n_tokens"] for e in st["shards"]), "n_documents": sum(e["n_documents"] for e in st["shards"]),
                      "shards": st["shards"]} for s, st in self.splits.items()}
        opt = identity["options"]
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "tokenmill_version": __version__,
                    "tokenizer": identity["tokenizer"], "dtype": self.dtype.name,
                    "eot": {"policy": opt["eot"], "id": identity["tokenizer"]["eot_id"] if opt["eot"] != "none" else None},
                    "splits": splits, "inputs": identity["inputs"], "options": opt, "split_rule": SPLIT_RULE,
                    "stats": dict(zip(STAT_KEYS, self.stats))}
        write_manifest(self.out, manifest)
        (self.out / PROGRESS).unlink(missing_ok=True)


def _check_out(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a directory; choose a directory path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the output directory {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"the output directory {out} is not writable; choose another --out")
    return out


@contextmanager
def _locked(out: Path) -> Iterator[int]:
    # flock, not a pid file: the OS drops it when the holder dies, even by kill -9.
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"another `tokenmill prepare` is writing to {out} (it holds {out / LOCK}); wait for it or use another --out") from None
        yield fd
    finally:
        os.close(fd)


def _fresh(splits: Sequence[str]) -> dict[str, dict[str, Any]]:
    return {s: {"shards": [], "position": [0, 0], "stats": [0] * len(STAT_KEYS)} for s in splits}


def _diff(want: dict[str, Any], have: dict[str, Any]) -> list[str]:
    out = []
    for key in ("tokenizer", "options"):
        for k in sorted(set(want[key]) | set(have.get(key, {}))):
            if want[key].get(k) != have.get(key, {}).get(k):
                out.append(f"{key}.{k}: {have.get(key, {}).get(k)!r} -> {want[key].get(k)!r}")
    if want["inputs"] != have.get("inputs"):
        old = {i["path"]: i for i in have.get("inputs", [])}
        changed = [i["path"] for i in want["inputs"] if old.get(i["path"]) != i] or ["(order or set of files)"]
        out.append(f"inputs changed (added, removed, new size or mtime): {', '.join(changed[:5])}")
    return out


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _intact(out: Path, entry: dict[str, Any]) -> bool:
    try:
        return all(sha256_file(out / f"{entry['name']}.{ext}") == entry[f"{ext}_sha256"] for ext in ("bin", "idx"))
    except (OSError, KeyError, TypeError):
        return False


def _load_state(out: Path, identity: dict[str, Any], splits: Sequence[str], overwrite: bool) -> dict[str, dict[str, Any]] | None:
    """None if ``out`` already holds this store; else the split states to start from."""
    complete, progress = (out / MANIFEST).exists(), _read_json(out / PROGRESS)
    if complete:
        have = _read_json(out / MANIFEST)
        if not _diff(identity, have) and all((out / f"{e['name']}.bin").exists() for s in have["splits"].values() for e in s["shards"]):
            return None
    elif progress:
        have = progress.get("identity", {})
    elif any(not _ours(p.name) for p in out.iterdir()) and not overwrite:
        # Only prepare's own files (say, a run killed before its first checkpoint) are fine.
        raise ValueError(f"{out} is not empty and holds no token store; choose an empty or new --out (or pass --overwrite to write into it anyway)")
    else:
        have = None
    if have is not None and (diffs := _diff(identity, have)):
        if not overwrite:
            raise ValueError(f"{out} holds a store made from other inputs or options ({'; '.join(diffs)}); "
                             "pass overwrite=True (--overwrite) to replace it, or choose another --out")
        have = None
    state = _fresh(splits)
    if have is not None and not complete:
        state = progress["splits"]
        if not all(_intact(out, e) for st in state.values() for e in st["shards"]):  # checksums before trust
            warnings.warn(f"{out}: a shard kept from the interrupted run is damaged; starting over", stacklevel=3)
            state = _fresh(splits)
    _clean(out, keep={f"{e['name']}.{ext}" for st in state.values() for e in st["shards"] for ext in ("bin", "idx")})
    return state


def _clean(out: Path, *, keep: set[str]) -> None:
    """Remove prepare's own files (never anything else), the manifest first."""
    (out / MANIFEST).unlink(missing_ok=True)
    for p in out.iterdir():
        if _ours(p.name) and p.name not in keep and p.name != LOCK:
            p.unlink()


def _ours(name: str) -> bool:
    """Is this a file prepare writes (shards, temp files, checkpoint, lock)?"""
    if name.endswith(".tmp") or name in (PROGRESS, LOCK, MANIFEST):
        return True
    stem, _, ext = name.rpartition(".")
    split, _, k = stem.partition("-")
    return ext in ("bin", "idx") and split in SPLITS and len(k) == 5 and k.isdigit()


@contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator[Any]:
    from tqdm import tqdm

    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, disable=not enabled,
              desc="prepare", smoothing=0.1) as bar:
        yield bar


def reference_tokens(texts: Sequence[str], tokenizer: Any = "gpt2", *, eot: str = "append") -> list[list[int]]:
    """The obvious per-document encoding, the test oracle for :func:`prepare`.

    >>> reference_tokens(["hi", "<|endoftext|>"])
    [[5303, 50256], [27, 91, 437, 1659, 5239, 91, 29, 50256]]
    """
    tok = get_tokenizer(tokenizer)
    head, tail = ([tok.eot_id] if eot == "prepend" else []), ([tok.eot_id] if eot == "append" else [])
    return [head + tok.encode_ordinary(t) + tail for t in texts if t]
