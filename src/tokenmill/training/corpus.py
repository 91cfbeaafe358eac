"""The training corpus: documents read as ``prepare`` reads them, cut into strings the trainer takes well.

Reading reuses :mod:`tokenmill.prepare.readers` (txt/jsonl/parquet, compressed,
directories, globs), so train-tokenizer and prepare see the same documents.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tokenmill.prepare.engines import scrub_surrogates
from tokenmill.prepare.inputs import InputFile
from tokenmill.prepare.readers import decode_utf8, iter_tasks, parse_jsonl_line


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
