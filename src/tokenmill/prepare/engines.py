"""Tokenizing engines for ``prepare``: tiktoken (default) and the opt-in riptoken.

Both give a document's IDs as a numpy array, with special-token spellings encoded as
ordinary text. riptoken (``pip install 'tokenmill[fast]'``) is a faster reimplementation of
tiktoken; it is used only after it reproduced tiktoken exactly on :data:`PARITY_SAMPLE`.

Pitfall: a lone surrogate (``"\\ud800"``, possible in JSON escapes) cannot be UTF-8
encoded; like tiktoken's ``encode_ordinary`` we replace it with U+FFFD, and count it.

>>> from tokenmill.tokenizers import get_tokenizer
>>> encode = make_encoder(get_tokenizer("gpt2"), "tiktoken")
>>> encode("hello world<|endoftext|>").tolist()
[31373, 995, 27, 91, 437, 1659, 5239, 91, 29]
"""

from __future__ import annotations

import array
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from tokenmill.prepare.readers import decode_utf8, parse_jsonl_line

ENGINES = ("tiktoken", "riptoken")

# Varied text that exercises every branch of the pre-tokenizer patterns: contractions in
# both cases, digit runs, punctuation runs, whitespace runs (tabs, CRLF, trailing), accents,
# combining marks, CJK, RTL scripts, emoji with ZWJ/skin tones and spelled special tokens.
PARITY_SAMPLE = (
    "\n".join(
        [
            "It's the 1st of May, 2024; we'll see what they've done (or didn't) -- don't panic!",
            "I'M SURE YOU'LL LIKE IT. She'd've known. Rock'n'roll isn't dead: 'quoted' \"double\".",
            "Numbers: 0 12 345 6789 01234567890 3.14159 -42 1e10 0x1F 1,000,000 $9.99 50% #1 @home",
            "Punctuation runs: ... !!! ??? ;;; --- *** ((()))) [[]] {{}} <<>> /// \\\\ ||| ~~~ ``` ^^^",
            "Whitespace:  two   three    four\ttab\t\ttabs\r\nCRLF\r\rCR   \n\n\n   leading and trailing   ",
            "Café naïve résumé coöperate façade São Paulo Zürich Ångström Ærø œuvre straße ΑΒΓ δέλτα",
            "Combining: e\u0301 a\u0308 n\u0303 o\u0302\u0323 — dashes – and … ellipses « guillemets »",
            "中文文本测试，没有空格。日本語のテキスト、カタカナとひらがな。한국어 텍스트입니다.",
            "العربية نص تجريبي עברית טקסט Русский текст пример. हिन्दी पाठ. ไทย ภาษา",
            "Emoji: 😀 👍🏽 👩‍👩‍👧‍👦 🇫🇷 ❤️ 🧪✨ 1️⃣ ☕ and math ∑∫√∞ ≠ ≤ ≥ ± × ÷ and ⅓ ½ ² ³",
            "Specials spelled: <|endoftext|> <|fim_prefix|><|fim_middle|><|fim_suffix|> <|endofprompt|>",
            "Code: def f(x):\n    return {'a': [1, 2, 3]}  # comment\n\tif x>=0 and y!=1: pass\n",
            "URLs: https://example.com/path?q=1&r=2#frag mail@example.org C:\\Windows\\path",
            "  \u00a0nbsp\u2003emspace\u3000ideographic\u200bzero-width\ufeffbom end",
        ]
    )
    * 2
)


def scrub_surrogates(text: str) -> tuple[str, int]:
    """(text with lone surrogates replaced by U+FFFD as tiktoken does, how many were replaced)."""
    fixed = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return fixed, fixed.count("\ufffd") - text.count("\ufffd")


_CORES: dict[tuple[Any, ...], Any] = {}  # built once per process (forked workers inherit it)


def _riptoken_core(tokenizer: Any) -> Any:
    key = (tokenizer.name, getattr(tokenizer, "ranks_sha256", None), getattr(tokenizer, "pat_str", None))
    if key not in _CORES:
        _CORES[key] = _build_riptoken_core(tokenizer)
    return _CORES[key]


def _build_riptoken_core(tokenizer: Any) -> Any:
    try:
        import riptoken
    except ImportError:
        raise ValueError(
            "engine='riptoken' needs the riptoken package: pip install 'tokenmill[fast]'"
        ) from None
    if not hasattr(tokenizer, "pat_str") or not hasattr(tokenizer, "encoding"):
        raise ValueError(
            f"engine='riptoken' works only with tiktoken-style BPE tokenizers, not {tokenizer.name!r}; "
            "use engine='tiktoken'"
        )
    # The very ranks, pre-tokenizer pattern and specials of the tiktoken encoding (already in
    # memory: re-reading the ranks file would cost ~0.2 s before any work starts).
    ranks = tokenizer.encoding._mergeable_ranks
    return riptoken.CoreBPE(ranks, dict(tokenizer.special_tokens), tokenizer.pat_str)


def make_encoder(tokenizer: Any, engine: str = "tiktoken") -> Callable[[str], np.ndarray]:
    """A function text -> IDs (uint32 array) that never treats text as a special token."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "riptoken":
        core = _riptoken_core(tokenizer)
        return lambda text: _as_array(core.encode_ordinary(text))
    encoding = getattr(tokenizer, "encoding", None)
    if encoding is not None and hasattr(encoding, "encode_to_numpy"):
        # allowed_special=() with no disallowed check == encode_ordinary, minus the list.
        return lambda text: encoding.encode_to_numpy(text, allowed_special=set(), disallowed_special=())
    return lambda text: _as_array(tokenizer.encode_ordinary(text))


def _as_array(ids: list[int]) -> np.ndarray:
    # array.array converts a list of ints 3x faster than np.array (measured on 3M IDs).
    return np.frombuffer(array.array("I", ids), dtype=np.uint32)


def check_parity(tokenizer: Any, engine: str, *, sample: str = PARITY_SAMPLE) -> None:
    """Refuse ``engine`` (ValueError) unless it gives exactly tiktoken's IDs on ``sample``."""
    if engine == "tiktoken":
        return
    fast, reference = make_encoder(tokenizer, engine), make_encoder(tokenizer, "tiktoken")
    for line in [sample, *sample.splitlines(keepends=True)]:
        got, want = fast(line).tolist(), reference(line).tolist()
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            raise ValueError(
                f"engine {engine!r} disagrees with tiktoken for tokenizer {tokenizer.name!r} on {line[:60]!r}: "
                f"first difference at token {at} ({got[at : at + 3]} vs {want[at : at + 3]}); use engine='tiktoken'"
            )


# ---- the worker side of prepare: one task in, token arrays + counters out ----------------------

SPLITS = ("train", "val")
STAT_KEYS = (
    "documents",
    "empty_documents",
    "bytes_read",
    "eot_spellings",
    "replacements",
    "bad_lines_skipped",
)
DOCS, EMPTY, BYTES, EOTS, REPL, BAD = range(len(STAT_KEYS))


@dataclass(frozen=True)
class Job:
    """Everything a worker needs, sent once when it starts."""

    tokenizer: Any  # picklable: a worker re-resolves it by name/path
    engine: str
    eot: str  # "append", "prepend" or "none"
    eot_id: int | None
    eot_text: str | None  # the EOT token's spelling, counted when it appears in text
    dtype: str  # store dtype; IDs are known to fit (dtype_for)
    val_fraction: float
    seed: int
    text_field: str
    errors: str
    skip_bad_lines: bool
    paths: tuple[str, ...]  # input paths as given: part of each document's identity
    start: tuple[int, int]  # (input, ordinal) reading starts at; records before are ignored
    positions: tuple[tuple[int, int], ...]  # per split: its documents before this are stored


class Result(NamedTuple):
    """A task's output, per split: tokens, document lengths/ordinals, counters at each document."""

    input_index: int
    progress: int
    total: tuple[int, ...]  # counters over the whole task
    tokens: tuple[np.ndarray, ...]
    lengths: tuple[np.ndarray, ...]  # tokens per document (EOT included)
    ordinals: tuple[np.ndarray, ...]
    cums: tuple[np.ndarray, ...]  # (n_documents, 6) counters of the task up to and including each
    open_doc: bool  # the last document (a piece) continues in the next task


def split_of(seed: int, path: str, ordinal: int, val_fraction: float) -> int:
    """0 (train) or 1 (val): a seeded hash of the document's identity, stable across runs.

    >>> [split_of(0, "a.jsonl", i, 0.5) for i in range(6)]
    [0, 0, 1, 0, 0, 1]
    """
    if val_fraction <= 0:
        return 0
    digest = hashlib.blake2b(f"{seed}:{path}:{ordinal}".encode(), digest_size=8).digest()
    return int(int.from_bytes(digest, "big") < val_fraction * 2.0**64)


class _Worker:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.encode = make_encoder(job.tokenizer, job.engine)
        self.eot_array = np.array([job.eot_id if job.eot_id is not None else 0], dtype=np.uint32)

    def run(self, task: Any) -> Result:
        self.stats = [0] * len(STAT_KEYS)
        self.parts: list[list[Any]] = [[[], [], [], []] for _ in SPLITS]  # tokens, lengths, ordinals, cums
        self.task, self.open_doc = task, False
        getattr(self, f"_{task.kind}")(task)
        out = []
        for tokens, lengths, ordinals, cums in self.parts:
            out.append(
                (
                    np.concatenate(tokens, dtype=self.job.dtype, casting="same_kind")
                    if tokens
                    else np.empty(0, self.job.dtype),
                    np.array(lengths, dtype=np.int64),
                    np.array(ordinals, dtype=np.int64),
                    np.array(cums, dtype=np.int64).reshape(-1, len(STAT_KEYS)),
                )
            )
        return Result(task.input_index, task.progress, tuple(self.stats), *zip(*out), self.open_doc)

    def _lines(self, task: Any) -> None:
        lines = task.payload.split(b"\n")
        if task.payload.endswith(b"\n"):
            lines.pop()
        offset, path = task.offset, self.job.paths[task.input_index]
        for j, line in enumerate(lines):
            ordinal, nbytes = (
                task.ordinal + j,
                len(line) + (j < len(lines) - 1 or task.payload.endswith(b"\n")),
            )
            if (task.input_index, ordinal) >= self.job.start:
                self.stats[BYTES] += nbytes
                if not line.strip():  # a blank line is an empty document
                    self.stats[EMPTY] += 1
                else:
                    where = f"{path}, line {ordinal + 1}"
                    text, repl, bad = parse_jsonl_line(
                        line,
                        errors=self.job.errors,
                        text_field=self.job.text_field,
                        where=where,
                        offset=offset,
                    )
                    self.stats[REPL] += repl
                    self._record(ordinal, text, bad, where)
            offset += nbytes

    def _doc(self, task: Any) -> None:
        text, repl = decode_utf8(task.payload, self.job.errors, self.job.paths[task.input_index], 0)
        self.stats[BYTES] += len(task.payload)
        self.stats[REPL] += repl
        self._document(0, text, True, True)

    def _texts(self, task: Any) -> None:
        path = self.job.paths[task.input_index]
        for j, value in enumerate(task.payload):
            ordinal = task.ordinal + j
            if (task.input_index, ordinal) >= self.job.start:
                self.stats[BYTES] += (
                    len(value.encode("utf-8", "surrogatepass")) if isinstance(value, str) else 0
                )
                bad = (
                    None
                    if isinstance(value, str)
                    else f"has a {self.job.text_field!r} that is {type(value).__name__}, not a string"
                )
                self._record(ordinal, value, bad, f"{path}, row {ordinal}")

    def _piece(self, task: Any) -> None:
        self.stats[BYTES] += task.nbytes
        self.stats[REPL] += task.replacements
        self._document(task.ordinal, task.payload, task.first, task.last)

    def _record(self, ordinal: int, text: Any, bad: str | None, where: str) -> None:
        if bad is None:
            self._document(ordinal, text, True, True)
        elif self.job.skip_bad_lines:
            self.stats[BAD] += 1
        else:
            raise ValueError(
                f"{where} {bad}; fix it, or pass skip_bad_lines=True (--skip-bad-lines) to skip and count such records"
            )

    def _document(self, ordinal: int, text: str, first: bool, last: bool) -> None:
        job, stats = self.job, self.stats
        if first and last and not text:
            stats[EMPTY] += 1
            return
        stats[DOCS] += last
        if job.eot_text:
            stats[EOTS] += text.count(job.eot_text)
        split = split_of(job.seed, job.paths[self.task.input_index], ordinal, job.val_fraction)
        if (self.task.input_index, ordinal) < job.positions[split]:
            # Already in a shard from an interrupted run: counted exactly as then, not re-tokenized.
            if not text.isascii():
                stats[REPL] += scrub_surrogates(text)[1]
            return
        try:
            ids = self.encode(text)
        except UnicodeEncodeError:  # lone surrogates: replaced like tiktoken does, and counted
            text, n = scrub_surrogates(text)
            stats[REPL] += n
            ids = self.encode(text)
        tokens, lengths, ordinals, cums = self.parts[split]
        pieces = [self.eot_array] if first and job.eot == "prepend" else []
        pieces.append(ids)
        if last and job.eot == "append":
            pieces.append(self.eot_array)
        tokens.extend(pieces)
        lengths.append(sum(len(p) for p in pieces))
        ordinals.append(ordinal)
        cums.append(list(stats))
        self.open_doc = not last


_WORKER: _Worker | None = None


def init_worker(job: Job, inherited_lock_fd: int | None = None) -> None:
    """Pool initializer: build this process's encoder once.

    A forked worker closes its copy of the store lock, so that the lock dies with the
    writer (kill -9 included) and never with a worker that outlives it by a moment.
    """
    global _WORKER
    if inherited_lock_fd is not None:
        os.close(inherited_lock_fd)
    _WORKER = _Worker(job)


def run_task(task: Any) -> Result:
    """Pool task: tokenize one task with this process's encoder."""
    assert _WORKER is not None, "init_worker() must run first"
    return _WORKER.run(task)
