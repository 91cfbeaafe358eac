"""``train_tokenizer``: a byte-level BPE tokenizer learned from a corpus, run by tiktoken.

The corpus is read as ``prepare`` reads it (files, directories, globs; txt/jsonl/parquet,
compressed) and streamed to Hugging Face's Rust BPE trainer, so memory is bounded by the
trainer's word counts, not by the corpus. The trainer learns its merges over characters
(2-3x faster than over bytes on Japanese, where each character is three bytes), and
:func:`to_byte_level` turns them into byte-level BPE: every byte is a token, then the
bytes build each learned character, then the learned merges. The result is exported to a
directory that ``get_tokenizer(DIR)``, ``prepare --tokenizer DIR`` and
``tokenize --tokenizer DIR`` use.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokenmill._version import __version__
from tokenmill.common.checks import is_int, non_negative_int, positive_int
from tokenmill.common.errors import ExplainedError, ExplainedWarning, OptionError, OptionTypeError
from tokenmill.common.progress import progress_bar
from tokenmill.corpus.inputs import resolve_inputs
from tokenmill.tokenizers import ENDOFTEXT, Tokenizer, get_tokenizer
from tokenmill.tokenizers.trained import FORMAT, VERSION
from tokenmill.training.background import train_in_thread
from tokenmill.training.export import check_out, hf_json, ranks_text, renumber, write_dir
from tokenmill.training.memory import DEFAULT_MAX_MEMORY, parse_size, sample_budget
from tokenmill.training.parallel import sample_corpus
from tokenmill.training.patterns import DEFAULT_PATTERN, pattern_for
from tokenmill.training.sample import METHOD

RUN_KEY = "run"  # metadata of the run (seconds, input paths and times): not part of the identity
TRAINED_ON = ("documents", "empty_documents", "bytes_read", "replacements", "bad_lines_skipped")


def train_tokenizer(
    inputs: Any,
    out: str | os.PathLike[str],
    *,
    vocab_size: int,
    pattern: str = DEFAULT_PATTERN,
    special_tokens: Sequence[str] = (ENDOFTEXT,),
    min_frequency: int = 2,
    text_field: str = "text",
    errors: str = "replace",
    skip_bad_lines: bool = False,
    max_memory: str | int = DEFAULT_MAX_MEMORY,
    seed: int = 0,
    workers: int | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Tokenizer:
    """Learn a byte-level BPE tokenizer of ``vocab_size`` tokens from ``inputs``; write it to ``out``.

    ``vocab_size`` counts everything: the 256 bytes, the merges and ``special_tokens``
    (IDs after the merges; ``<|endoftext|>`` is the last ID, as in GPT-2). ``pattern``
    names the pre-tokenizer regex (:data:`~tokenmill.training.patterns.PATTERNS`);
    ``min_frequency``: a pair seen fewer times is never merged. Returns the tokenizer,
    loaded from ``out`` (it runs on tiktoken). Inputs are read as ``prepare`` reads them, by
    its tasks on ``workers`` processes (None: every core) of ``executor`` ("local" or "ray").

    ``max_memory`` (``"2GB"``, ``"1.5GiB"``, bytes) bounds the run's peak memory, workers
    included: the trainer sees a sample of at most :func:`~tokenmill.training.sample.sample_budget`
    bytes of text, whole lines chosen by a hash of ``seed`` and their place
    (:mod:`tokenmill.training.sample`); a smaller corpus is used whole. The same inputs and
    options give the same tokenizer, whatever ``workers`` and ``executor``.

    Pitfall: a sampled corpus is a different corpus: ``seed`` and ``max_memory`` are part of
    the tokenizer's definition (recorded in its metadata). Every character seen in training becomes a token (built from its bytes), even
    a rare one; a corpus too small for ``vocab_size`` merges gives a smaller vocabulary, with
    a warning saying how many merges were possible; ``out`` holding another tokenizer is
    refused unless ``overwrite``.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.txt").write_text("low lower lowest " * 50)
    >>> tok = train_tokenizer([d / "a.txt"], d / "tok", vocab_size=262, progress=False)
    >>> tok.decode_tokens_bytes(tok.encode("lowest lower")), tok.vocab_size, tok.eot_id
    ([b'low', b'e', b'st', b' lowe', b'r'], 262, 261)
    """
    started = time.perf_counter()
    pat_str = pattern_for(pattern)
    specials = _check_specials(special_tokens)
    n_special = len(specials)
    positive_int("vocab_size", vocab_size)
    if vocab_size < 256 + n_special:
        raise OptionError(
            "vocab_size",
            "{vocab_size=%d} is too small: a byte-level vocabulary needs the 256 bytes plus "
            "{0} special token(s), so at least {1}; e.g. {vocab_size=32000}" % vocab_size,
            n_special, 256 + n_special,
        )
    non_negative_int("min_frequency", min_frequency)
    memory = parse_size(max_memory)
    budget = sample_budget(memory, vocab_size)
    if not is_int(seed):
        raise OptionTypeError("seed", "{seed} must be an int, got {0!r}", seed)
    if workers is not None:
        non_negative_int("workers", workers)
    if errors not in ("replace", "strict"):
        raise OptionError("errors", "{errors} must be 'replace' or 'strict', got {0!r}", errors)
    out = Path(out)
    check_out(out, overwrite)  # before any work; checked again just before writing
    skipped: list[str] = []  # files of unknown type inside directory inputs: counted, recorded
    files = resolve_inputs(inputs, text_field=text_field, exclude=out, skipped=skipped)
    hf = _new_hf_tokenizer(pat_str, chars=True)
    trainer = _hf_trainer(vocab_size - n_special, min_frequency, progress, chars=True)
    with progress_bar(sum(f.size for f in files), progress, label="train-tokenizer") as bar:
        bar.set_description_str("train-tokenizer: reading")
        texts, stats, profile = sample_corpus(
            files, pat_str=pat_str, max_memory=memory, budget=budget, vocab_size=vocab_size, seed=seed, text_field=text_field,
            errors=errors, skip_bad_lines=skip_bad_lines, workers=workers, executor=executor,
            ray_address=ray_address, bar=bar, report=getattr(bar, "write", say) if progress else None,
        )
        train_in_thread(hf, iter(texts), trainer, bar)
    if stats.documents == 0:
        raise ExplainedError("the inputs hold no text to learn from ({0}); check the inputs and {text_field}", vars(stats))
    trained = to_byte_level(json.loads(hf.to_str()), json.loads(_new_hf_tokenizer(pat_str).to_str()),
                            vocab_size - n_special)
    ranks, merges = renumber(trained)
    special_ids = {s: len(ranks) + i for i, s in enumerate(specials)}
    got = len(ranks) + n_special
    if got < vocab_size:
        message = ExplainedError(
            "the corpus gave only {0} merges (pairs seen at least {min_frequency=%d} times), so the "
            "vocabulary has {1} tokens, not {2}; training stopped there. Give more text or a smaller {vocab_size}."
            % min_frequency,
            f"{len(ranks) - 256:,}", f"{got:,}", f"{vocab_size:,}",
        )
        warnings.warn(ExplainedWarning(message), stacklevel=2)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "pattern": pattern,
        "pat_str": pat_str,
        "special_tokens": special_ids,
        "vocab_size": got,
        "requested_vocab_size": vocab_size,
        "merges": len(ranks) - 256,
        "min_frequency": min_frequency,
        "trained_on": {
            **{k: getattr(stats, k) for k in TRAINED_ON}, "unknown_files_skipped": len(skipped),
        },
        "sample": {
            "method": METHOD if not stats.everything else "all", "seed": seed, "max_memory": memory,
            "budget_bytes": budget, "bytes_used": stats.bytes_used, "documents_used": stats.documents_used,
            "chunks_used": stats.chunks_used, "distinct_pieces": profile.distinct_pieces,
            "distinct_chars": profile.distinct_chars, "expected_peak": profile.peak(),
            "expected_peak_exact": profile.exact,
        },
        "trainer": f"tokenizers {_hf_version()} BpeTrainer",
        RUN_KEY: {  # how this run went: not part of the tokenizer's identity
            "inputs": [f.describe() for f in files], "skipped_inputs": skipped,
            "seconds": round(time.perf_counter() - started, 3), "tokenmill_version": __version__,
            "workers": stats.workers, "executor": executor, "tasks": stats.tasks,
        },
    }
    write_dir(out, ranks_text(ranks), hf_json(trained, ranks, merges, special_ids), meta, overwrite=overwrite)
    return get_tokenizer(out)


def say(line: str) -> None:
    """A line of the run's report on stderr (stdout stays the result's)."""
    print(line, file=sys.stderr, flush=True)


def _check_specials(special_tokens: Sequence[str]) -> list[str]:
    if isinstance(special_tokens, str):
        raise TypeError(
            f"special_tokens must be a sequence of str, got the str {special_tokens!r}; "
            f"wrap it: special_tokens=({special_tokens!r},)"
        )
    specials = list(special_tokens)
    for s in specials:
        if not isinstance(s, str) or not s:
            raise OptionTypeError("special_tokens", "each special token ({special_tokens}) must be a non-empty str, got {0!r}", s)
    if len(set(specials)) != len(specials):
        raise OptionError("special_tokens", "{special_tokens} lists a token twice: {0}", specials)
    return specials


def _hf_version() -> str:
    import tokenizers

    return tokenizers.__version__


def onig_pattern(pat_str: str) -> str:
    r"""``pat_str`` for Hugging Face's regex engine (Oniguruma), matching as tiktoken's does.

    Oniguruma reads ``X{1,3}+`` as ``(X{1,3})+`` (any number), not as a possessive
    ``{1,3}`` (cl100k's digit groups). At the end of a branch possessive and greedy match
    the same, so the ``+`` is dropped there.

    >>> onig_pattern(r"\p{N}{1,3}+|\s")
    '\\p{N}{1,3}|\\s'
    """
    return re.sub(r"(\{\d+(?:,\d*)?\})\+(?=\||$)", r"\1", pat_str)


def _new_hf_tokenizer(pat_str: str, *, chars: bool = False) -> Any:
    try:
        from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    except ImportError:
        raise ValueError(
            "training a tokenizer needs Hugging Face's `tokenizers`: pip install 'tokenmill[train]'"
        ) from None
    hf = Tokenizer(models.BPE())
    if chars:  # training: BPE over characters (see to_byte_level), the regex alone
        hf.pre_tokenizer = pre_tokenizers.Split(Regex(onig_pattern(pat_str)), behavior="isolated")
        return hf
    # The regex cuts pieces (every character is in one: "isolated"), then bytes become
    # GPT-2's printable characters; no regex of ByteLevel's own.
    hf.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(onig_pattern(pat_str)), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    hf.decoder = decoders.ByteLevel()
    return hf


def _hf_trainer(vocab_size: int, min_frequency: int, progress: bool, *, chars: bool = False) -> Any:
    from tokenizers import pre_tokenizers, trainers

    return trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[],  # added after the merges, so that the ranks are 0..255 then merges
        initial_alphabet=[] if chars else pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,  # its bars would draw over tokenmill's own on the same line
    )


def to_byte_level(trained: dict[str, Any], template: dict[str, Any], n_tokens: int) -> dict[str, Any]:
    """A BPE learned over characters as byte-level merges: ``template`` with those merges.

    Why: Hugging Face's trainer spends most of its time on the first byte-level merges,
    which only rebuild multi-byte characters and touch nearly every word; learning over
    characters costs less than half (docs/benchmarks.md). Each character of the learned
    alphabet is built from its bytes first (prefix by prefix), then come the learned
    merges, cut so that the 256 bytes and the merges' tokens make ``n_tokens``.

    >>> t = {"model": {"vocab": {"a": 0, "é": 1, "aé": 2}, "merges": [["a", "é"]]}}
    >>> to_byte_level(t, {"model": {}}, 300)["model"]["merges"]
    [['Ã', '©'], ['a', 'Ã©']]
    """
    from tokenmill.training.export import bytes_to_unicode

    table = bytes_to_unicode()

    def name(b: bytes) -> str:
        return "".join(table[x] for x in b)

    merges: list[list[str]] = []
    seen: set[bytes] = set()

    def add(left: bytes, right: bytes) -> bool:
        if len(seen) + 256 >= n_tokens:
            return False
        if left + right not in seen:
            seen.add(left + right)
        merges.append([name(left), name(right)])
        return True

    model = trained["model"]
    alphabet = [t for t, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1]) if len(t) == 1]
    for ch in alphabet:
        e = ch.encode("utf-8", "surrogatepass")
        for k in range(2, len(e) + 1):
            if e[:k] not in seen and not add(e[: k - 1], e[k - 1 : k]):
                break
    for merge in model["merges"]:
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        if not add(left.encode("utf-8", "surrogatepass"), right.encode("utf-8", "surrogatepass")):
            break
    doc = dict(template)
    doc["model"] = dict(template["model"], merges=merges)
    return doc
