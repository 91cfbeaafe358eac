"""The training corpus: what was read (:class:`CorpusStats`), cut into strings the trainer takes well.

Reading (:mod:`tokenmill.training.parallel`) reuses :mod:`tokenmill.corpus.readers`
(txt/jsonl/parquet, compressed, directories, globs) by prepare's tasks, so train-tokenizer
and prepare see the same documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tokenmill.prepare.engines import scrub_surrogates


@dataclass
class CorpusStats:
    """What was read from the inputs (recorded in the tokenizer's metadata)."""

    documents: int = 0  # non-empty documents given to the trainer
    empty_documents: int = 0  # skipped: nothing to learn from
    bytes_read: int = 0  # UTF-8 bytes of text given to the trainer
    replacements: int = 0  # invalid UTF-8 and lone surrogates replaced by U+FFFD
    bad_lines_skipped: int = 0  # .jsonl lines that are not JSON or lack the text (skip_bad_lines)


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


def scrub(text: str) -> tuple[str, int]:
    """(text, 0), or with lone surrogates replaced by U+FFFD (and how many) as tiktoken does."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return scrub_surrogates(text)
    return text, 0
