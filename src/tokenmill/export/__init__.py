"""Export a token store to the formats trainers read, and import their files back into a store.

Formats (docs/export.md): ``nanogpt`` (``train.bin``/``val.bin``), ``llmc`` (llm.c and
modded-nanogpt shards), ``megatron`` (``{split}_text_document.bin/.idx``), ``datatrove``
(``.ds`` + ``.ds.index`` + ``.ds.metadata``), ``litdata`` (litgpt's ``LitData``) and
``parquet`` (one row per document). :func:`import_store` reads megatron, datatrove, nanogpt,
llmc and parquet files into a regular store.

Pitfall: exports keep the store's EOT separators where the store put them; choose the EOT
policy at ``tokenmill prepare`` time to match the trainer (llm.c wants ``--eot prepend``).

>>> EXPORT_FORMATS
('nanogpt', 'llmc', 'megatron', 'datatrove', 'litdata', 'parquet')
"""

from tokenmill.export.importer import import_store
from tokenmill.export.options import EXPORT_FORMATS, IMPORT_FORMATS, ExportOptions, ImportOptions
from tokenmill.export.run import PROVENANCE_NAME, export

__all__ = ["EXPORT_FORMATS", "IMPORT_FORMATS", "PROVENANCE_NAME", "ExportOptions", "ImportOptions", "export", "import_store"]
