"""``corpus``: finding input files and reading them as documents, for prepare, train-tokenizer and the CLI.

:mod:`~tokenmill.corpus.inputs` resolves files, directories and globs into
:class:`~tokenmill.corpus.inputs.InputFile` (type by name, checked by magic bytes, opened
decompressed); :mod:`~tokenmill.corpus.readers` reads a file or a byte range of it as
documents; :mod:`~tokenmill.corpus.cutting` cuts huge documents at safe places;
:func:`~tokenmill.corpus.documents.read_documents` reads one whole file.

Pitfall: corpus never imports torch, the store or prepare: it sits below them.
"""

from tokenmill.corpus.documents import Documents, read_documents, text_document
from tokenmill.corpus.inputs import InputFile, resolve_inputs

__all__ = ["Documents", "InputFile", "read_documents", "resolve_inputs", "text_document"]
