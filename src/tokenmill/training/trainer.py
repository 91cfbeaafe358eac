"""``train_tokenizer``: a byte-level BPE tokenizer learned from a corpus, run by tiktoken.

The corpus is read as ``prepare`` reads it (files, directories, globs; txt/jsonl/parquet,
compressed) and streamed to Hugging Face's Rust BPE trainer, so memory is bounded by the
trainer's word counts, not by the corpus. The result is exported to a directory that
``get_tokenizer(DIR)``, ``prepare --tokenizer DIR`` and ``tokenize --tokenizer DIR`` use.
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenmill.prepare.engines import scrub_surrogates
from tokenmill.prepare.inputs import InputFile, resolve_inputs
from tokenmill.prepare.parallel import progress_bar
from tokenmill.prepare.readers import decode_utf8, iter_tasks, parse_jsonl_line
from tokenmill.tokenizers import Tokenizer, get_tokenizer
from tokenmill.tokenizers.trained import FORMAT, VERSION
from tokenmill.training.export import check_out, hf_json, ranks_text, renumber, write_dir
from tokenmill.training.patterns import DEFAULT_PATTERN, pattern_for

ENDOFTEXT = "<|endoftext|>"


@dataclass
class CorpusStats:
    """What was read from the inputs (recorded in the tokenizer's metadata)."""

    documents: int = 0  # non-empty documents given to the trainer
    empty_documents: int = 0  # skipped: nothing to learn from
    bytes_read: int = 0  # UTF-8 bytes of text given to the trainer
    replacements: int = 0  # invalid UTF-8 and lone surrogates replaced by U+FFFD
    bad_lines_skipped: int = 0  # .jsonl lines that are not JSON or lack the text (skip_bad_lines)


def iter_documents(
    files: Sequence[InputFile], stats: CorpusStats, *, text_field: str = "text", errors: str = "replace",
    skip_bad_lines: bool = False, bar: Any = None,
) -> Iterator[str]:
    """Every document's text (huge ones in pieces), read with prepare's readers; counts into ``stats``.

    Pitfall: lone surrogates (from JSON escapes) are replaced by U+FFFD, as tiktoken does.

    >>> import pathlib, tempfile
    >>> from tokenmill.prepare.inputs import resolve_inputs
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
    >>> _ = p.write_text('{"text": "hi"}\\n{"text": ""}\\n')
    >>> stats = CorpusStats()
    >>> list(iter_documents(resolve_inputs([p]), stats)), stats.empty_documents
    (['hi'], 1)
    """
    for task in iter_tasks(files, (0, 0), errors=errors, text_field=text_field, cuttable=True):
        path = files[task.input_index].path
        if task.kind == "lines":
            texts = []
            lines = task.payload.split(b"\n")
            if task.payload.endswith(b"\n"):
                lines.pop()
            offset = task.offset
            for j, line in enumerate(lines):
                where = f"{path}, line {task.ordinal + j + 1}"
                text, repl, bad = parse_jsonl_line(
                    line, errors=errors, text_field=text_field, where=where, offset=offset
                )
                offset += len(line) + 1
                stats.replacements += repl
                if bad is not None:
                    if not skip_bad_lines:
                        raise ValueError(f"{where} {bad}; fix it, or pass --skip-bad-lines to skip and count such lines")
                    stats.bad_lines_skipped += 1
                    continue
                texts.append(text)
        elif task.kind == "doc":
            text, repl = decode_utf8(task.payload, errors, path, 0)
            stats.replacements += repl
            texts = [text]
        elif task.kind == "texts":
            texts = [t if isinstance(t, str) else "" for t in task.payload]
        else:  # "piece": part of a huge document; the trainer learns from each piece alone
            stats.replacements += task.replacements
            stats.documents += task.first
            if task.payload:
                text, fixed = _scrub(task.payload)
                stats.replacements += fixed
                stats.bytes_read += len(text.encode("utf-8"))
                yield text
            texts = []
        for text in texts:
            if not text:
                stats.empty_documents += 1
                continue
            text, fixed = _scrub(text)
            stats.replacements += fixed
            stats.documents += 1
            stats.bytes_read += len(text.encode("utf-8"))
            yield text
        if bar is not None:
            bar.update(task.progress - bar.n)


CHUNK_CHARS = 4096  # text per string handed to the trainer (see _chunks)


def _chunks(texts: Iterator[str], size: int = CHUNK_CHARS) -> Iterator[str]:
    """Each text as whole lines of about ``size`` characters (a longer line in ``size`` parts).

    Why: Hugging Face's pre-tokenizer costs time quadratic in the length of the string it
    is given (it tracks offsets per piece), 10x slower on whole novels than on lines. A
    cut moves at most a pre-token boundary; the exported tokenizer does not cut.

    >>> list(_chunks(iter(["a\\nb\\n", "cdefg"]), size=2))
    ['a\\n', 'b\\n', 'cd', 'ef', 'g']
    """
    for text in texts:
        if len(text) <= size:
            yield text
            continue
        buf: list[str] = []
        n = 0
        for line in text.splitlines(keepends=True):
            if n + len(line) > size and buf:
                yield "".join(buf)
                buf, n = [], 0
            if len(line) > size:
                for i in range(0, len(line), size):
                    yield line[i : i + size]
                continue
            buf.append(line)
            n += len(line)
        if buf:
            yield "".join(buf)


def _scrub(text: str) -> tuple[str, int]:
    """(text, 0), or with lone surrogates replaced by U+FFFD (and how many) as tiktoken does."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return scrub_surrogates(text)
    return text, 0


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
    overwrite: bool = False,
    progress: bool = True,
) -> Tokenizer:
    """Learn a byte-level BPE tokenizer of ``vocab_size`` tokens from ``inputs``; write it to ``out``.

    ``vocab_size`` counts everything: the 256 bytes, the merges and ``special_tokens``
    (IDs after the merges; ``<|endoftext|>`` is the last ID, as in GPT-2). ``pattern``
    names the pre-tokenizer regex (:data:`~tokenmill.training.patterns.PATTERNS`);
    ``min_frequency``: a pair seen fewer times is never merged. Returns the tokenizer,
    loaded from ``out`` (it runs on tiktoken). Inputs are read as ``prepare`` reads them.

    Pitfall: a corpus too small for ``vocab_size`` merges gives a smaller vocabulary, with
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
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise TypeError(f"vocab_size must be an int, got {vocab_size!r}")
    if vocab_size < 256 + n_special:
        raise ValueError(
            f"vocab_size={vocab_size} is too small: a byte-level vocabulary needs the 256 bytes plus "
            f"{n_special} special token(s), so at least {256 + n_special}; e.g. --vocab-size 32000"
        )
    if isinstance(min_frequency, bool) or not isinstance(min_frequency, int) or min_frequency < 0:
        raise ValueError(f"min_frequency must be an int >= 0, got {min_frequency!r}")
    out = Path(out)
    check_out(out, overwrite)  # before any work; checked again just before writing
    files = resolve_inputs(inputs, text_field=text_field, exclude=out)
    hf = _new_hf_tokenizer(pat_str)
    trainer = _hf_trainer(vocab_size - n_special, min_frequency, progress)
    stats = CorpusStats()
    with progress_bar(sum(f.size for f in files), progress) as bar:
        if hasattr(bar, "set_description"):
            bar.set_description("train-tokenizer: reading")
        docs = iter_documents(
            files, stats, text_field=text_field, errors=errors, skip_bad_lines=skip_bad_lines, bar=bar
        )
        hf.train_from_iterator(_chunks(docs), trainer)
    if stats.documents == 0:
        raise ValueError(f"the inputs hold no text to learn from ({vars(stats)}); check the inputs and --text-field")
    trained = json.loads(hf.to_str())
    ranks, merges = renumber(trained)
    special_ids = {s: len(ranks) + i for i, s in enumerate(specials)}
    got = len(ranks) + n_special
    if got < vocab_size:
        warnings.warn(
            f"the corpus gave only {len(ranks) - 256:,} merges (pairs seen at least min_frequency="
            f"{min_frequency} times), so the vocabulary has {got:,} tokens, not {vocab_size:,}; "
            "training stopped there. Give more text or a smaller --vocab-size.",
            stacklevel=2,
        )
    from tokenmill import __version__

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
        "trained_on": {"inputs": [f.describe() for f in files], **vars(stats)},
        "trainer": f"tokenizers {_hf_version()} BpeTrainer",
        "seconds": round(time.perf_counter() - started, 3),
        "tokenmill_version": __version__,
    }
    write_dir(out, ranks_text(ranks), hf_json(trained, ranks, merges, special_ids), meta, overwrite=overwrite)
    return get_tokenizer(out)


def _check_specials(special_tokens: Sequence[str]) -> list[str]:
    if isinstance(special_tokens, str):
        raise TypeError(
            f"special_tokens must be a sequence of str, got the str {special_tokens!r}; "
            f"wrap it: special_tokens=({special_tokens!r},)"
        )
    specials = list(special_tokens)
    for s in specials:
        if not isinstance(s, str) or not s:
            raise TypeError(f"each special token must be a non-empty str, got {s!r}")
    if len(set(specials)) != len(specials):
        raise ValueError(f"special_tokens lists a token twice: {specials}")
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


def _new_hf_tokenizer(pat_str: str) -> Any:
    try:
        from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    except ImportError:
        raise ValueError(
            "training a tokenizer needs Hugging Face's `tokenizers`: pip install 'tokenmill[train]'"
        ) from None
    hf = Tokenizer(models.BPE())
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


def _hf_trainer(vocab_size: int, min_frequency: int, progress: bool) -> Any:
    from tokenizers import pre_tokenizers, trainers

    return trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[],  # added after the merges, so that the ranks are 0..255 then merges
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=progress,
    )
