"""The training corpus: documents read as ``prepare`` reads them, cut into strings the trainer takes well.

Reading reuses :mod:`tokenmill.corpus.readers` (txt/jsonl/parquet, compressed,
directories, globs), so train-tokenizer and prepare see the same documents.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tokenmill.common.errors import ExplainedError
from tokenmill.corpus.inputs import InputFile
from tokenmill.corpus.readers import read_task
from tokenmill.prepare.engines import scrub_surrogates


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
    >>> from tokenmill.corpus.inputs import resolve_inputs
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
    >>> _ = p.write_text('{"text": "hi"}\\n{"text": ""}\\n')
    >>> stats = CorpusStats()
    >>> list(iter_documents(resolve_inputs([p]), stats)), stats.empty_documents
    (['hi'], 1)
    """
    done = 0  # input bytes on disk of the files read so far (the bar counts those)
    for f in files:
        read = 0
        for doc in read_task(f, 0, None, errors=errors, text_field=text_field, cuttable=True):
            read += doc.nbytes
            stats.replacements += doc.replacements
            if doc.bad is not None:
                if not skip_bad_lines:
                    raise ExplainedError(
                        "{0} {1}; fix it, or pass {skip_bad_lines=True} to skip and count such lines", doc.where, doc.bad
                    )
                stats.bad_lines_skipped += 1
                continue
            text = doc.text if isinstance(doc.text, str) else ""
            whole = doc.first and doc.last
            if not text:
                if whole:
                    stats.empty_documents += 1
                continue
            text, fixed = _scrub(text)
            stats.replacements += fixed
            stats.documents += doc.first  # a huge document comes in pieces: count it once
            stats.bytes_read += doc.nbytes  # the readers' one definition, as prepare's bytes_read
            yield text
            if bar is not None:
                bar.update(max(0, min(done + read, done + f.size) - bar.n))
        done += f.size
        if bar is not None:
            bar.update(max(0, done - bar.n))


CHUNK_CHARS = 4096  # text per string handed to the trainer (see _chunks)


def chunks(texts: Iterator[str], size: int = CHUNK_CHARS) -> Iterator[str]:
    """Each text as whole lines of about ``size`` characters (a longer line in ``size`` parts).

    Why: Hugging Face's pre-tokenizer was measured 2-10x slower per byte on whole novels
    than on strings of a few KB (its cost grows with the string it is given). A cut moves
    at most a pre-token boundary; the exported tokenizer does not cut.

    >>> list(chunks(iter(["a\\nb\\n", "cdefg"]), size=2))
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
