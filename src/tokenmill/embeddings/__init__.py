"""Token IDs -> the vectors a GPT reads: token plus position embeddings (book sections 2.7-2.8).

``InputEmbedding`` and ``sinusoidal_table`` are in ``layers``, ``RotaryEmbedding`` in ``rotary``,
the attention masks of packed batches (``document_causal_mask``, ``document_block_mask``) in ``masks``;
``truncate`` (cut IDs to a model's ``context_length``) is ``tokenmill.tokenizers.truncate``'s,
re-exported here.
"""

from tokenmill.embeddings.layers import OVERFLOW_CHOICES, POSITIONAL_CHOICES, InputEmbedding, sinusoidal_table
from tokenmill.embeddings.masks import document_block_mask, document_causal_mask
from tokenmill.embeddings.rotary import RotaryEmbedding
from tokenmill.tokenizers.truncate import KEEP_CHOICES, truncate

__all__ = [
    "KEEP_CHOICES",
    "OVERFLOW_CHOICES",
    "POSITIONAL_CHOICES",
    "InputEmbedding",
    "RotaryEmbedding",
    "document_block_mask",
    "document_causal_mask",
    "sinusoidal_table",
    "truncate",
]
