"""Token IDs -> the vectors a GPT reads: token plus position embeddings (book sections 2.7-2.8).

``InputEmbedding`` is the book's ``token_embedding_layer(ids) + pos_embedding_layer(arange)``
as one module, with the same weights under the same seed; ``sinusoidal_table`` is the fixed
alternative to learned positions. Inputs longer than ``context_length`` are cut with
``tokenmill.tokenizers.truncate``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import torch
from torch import nn

from tokenmill.common.checks import positive_int
from tokenmill.tokenizers.truncate import truncate

__all__ = ["OVERFLOW_CHOICES", "POSITIONAL_CHOICES", "InputEmbedding", "sinusoidal_table"]

POSITIONAL_CHOICES: tuple[str, ...] = ("learned", "sinusoidal", "none")
OVERFLOW_CHOICES: tuple[str, ...] = ("error", "keep_last", "keep_first")


def _real(name: str, value: Any, example: str) -> float:
    """``value`` as a float, or a TypeError naming ``name`` (a bool or a string is not a number)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number, got {type(value).__name__} {value!r}; "
            f"pass e.g. {name}={example}"
        )
    return float(value)


def _base(value: Any) -> float:
    """A RoPE/sinusoid ``base`` as a float, or a TypeError/ValueError saying what was wrong."""
    base = _real("base", value, "10000.0")
    if not (math.isfinite(base) and base > 1.0):  # also refuses NaN
        raise ValueError(
            f"base must be > 1 and finite (frequencies fall along the pairs), got {value!r}"
        )
    return base


def sinusoidal_table(context_length: int, emb_dim: int, *, base: float = 10000.0) -> torch.Tensor:
    """The original Transformer's fixed position encoding, shape ``(context_length, emb_dim)``.

    ``PE[pos, 2i] = sin(pos / base**(2i/emb_dim))`` and ``PE[pos, 2i+1] = cos(...)`` with the same
    angle. With an odd ``emb_dim`` the last column is a sine whose cosine partner does not exist.
    Computed in float64, returned in the default dtype.

    >>> sinusoidal_table(3, 4)
    tensor([[ 0.0000,  1.0000,  0.0000,  1.0000],
            [ 0.8415,  0.5403,  0.0100,  0.9999],
            [ 0.9093, -0.4161,  0.0200,  0.9998]])
    """
    context_length = positive_int("context_length", context_length)
    emb_dim = positive_int("emb_dim", emb_dim)
    base = _base(base)
    column = torch.arange(emb_dim)  # (emb_dim,)
    pair = (column // 2).to(torch.float64)  # (emb_dim,) the i of columns 2i and 2i+1
    inv_freq = base ** (-2.0 * pair / emb_dim)  # (emb_dim,)
    positions = torch.arange(context_length, dtype=torch.float64)  # (context_length,)
    angles = positions[:, None] * inv_freq[None, :]  # (context_length, emb_dim)
    table = torch.where(column % 2 == 0, angles.sin(), angles.cos())  # (context_length, emb_dim)
    return table.to(torch.get_default_dtype())  # (context_length, emb_dim)


class InputEmbedding(nn.Module):
    """Token embedding plus position embedding, then dropout: what the first GPT block reads.

    ``forward(ids)`` takes an integer tensor of shape ``(batch, seq_len)`` and returns
    ``(batch, seq_len, emb_dim)``; a 1-D ``(seq_len,)`` tensor gives ``(seq_len, emb_dim)``, as
    ``nn.Embedding`` does. Lists are refused (TypeError): wrap them with ``torch.tensor(ids)``.

    ``positional``: ``"learned"`` (GPT-2: a trained ``nn.Embedding(context_length, emb_dim)``),
    ``"sinusoidal"`` (the original Transformer: a fixed, untrained buffer, rebuilt from the
    arguments and so left out of ``state_dict``) or ``"none"`` (for models that encode position
    inside attention, e.g. with ``RotaryEmbedding``).

    ``overflow`` decides what a sequence longer than ``context_length`` does: ``"error"``
    (ValueError), ``"keep_last"`` or ``"keep_first"`` (truncate, warn once per module, count the
    dropped tokens in ``dropped_tokens``). Kept tokens get positions ``0..context_length-1``.

    Pitfall: the token table is created before the position table, the order the book draws
    them, so ``torch.manual_seed(123)`` reproduces the book's printed weights; building the
    layers in another order gives different numbers. IDs outside ``0..vocab_size-1`` raise a
    ValueError naming the ID (torch itself raises a bare IndexError, or a CUDA assert on GPU).

    >>> _ = torch.manual_seed(123)
    >>> emb = InputEmbedding(6, 3, context_length=4, positional="none")
    >>> emb.token_embeddings(torch.tensor([3])).detach()  # the book's embedding_layer(tensor([3]))
    tensor([[-0.4015,  0.9666, -1.1481]])
    >>> emb(torch.tensor([[2, 3, 5, 1]])).shape
    torch.Size([1, 4, 3])
    """

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int,
        context_length: int,
        *,
        positional: str = "learned",
        dropout: float = 0.0,
        overflow: str = "error",
    ) -> None:
        super().__init__()
        self.vocab_size = positive_int("vocab_size", vocab_size)
        self.emb_dim = positive_int("emb_dim", emb_dim)
        self.context_length = positive_int("context_length", context_length)
        if positional not in POSITIONAL_CHOICES:
            raise ValueError(f"positional={positional!r} is not one of {POSITIONAL_CHOICES}")
        if overflow not in OVERFLOW_CHOICES:
            raise ValueError(f"overflow={overflow!r} is not one of {OVERFLOW_CHOICES}")
        dropout = _real("dropout", dropout, "0.1")
        if not 0.0 <= dropout < 1.0:  # also refuses NaN
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.positional = positional
        self.overflow = overflow
        # Order matters: token table first, then positions, as the book draws them from the RNG.
        self.token_embedding = nn.Embedding(self.vocab_size, self.emb_dim)
        self.position_embedding: nn.Embedding | None = None
        if positional == "learned":
            self.position_embedding = nn.Embedding(self.context_length, self.emb_dim)
        elif positional == "sinusoidal":
            # persistent=False: derivable from the arguments, so checkpoints need not carry it.
            table = sinusoidal_table(self.context_length, self.emb_dim)  # (context_length, emb_dim)
            self.register_buffer("sinusoidal", table, persistent=False)
        self.dropout = nn.Dropout(dropout)
        self.dropped_tokens = 0  # tokens cut by overflow="keep_*" so far, over all calls
        self._warned_overflow = False

    def extra_repr(self) -> str:
        return (
            f"vocab_size={self.vocab_size}, emb_dim={self.emb_dim}, "
            f"context_length={self.context_length}, positional={self.positional!r}, "
            f"overflow={self.overflow!r}"
        )

    def _check_ids(self, token_ids: Any) -> torch.Tensor:
        """Validate type, dtype, shape and range; return the IDs as int32/int64."""
        if not isinstance(token_ids, torch.Tensor):
            raise TypeError(
                f"token_ids must be a torch.Tensor of integer IDs, got {type(token_ids).__name__}; "
                f"wrap it: torch.tensor(ids)"
            )
        dtype = token_ids.dtype
        if dtype == torch.bool or dtype.is_floating_point or dtype.is_complex:
            raise TypeError(
                f"token_ids must have an integer dtype, got {dtype}; IDs are table indices "
                f"(use .long() only if the values are whole numbers)"
            )
        if token_ids.ndim not in (1, 2):
            raise ValueError(
                f"token_ids must have shape (batch, seq_len) or (seq_len,), "
                f"got {tuple(token_ids.shape)}"
            )
        if dtype not in (torch.int32, torch.int64):  # the only index dtypes nn.Embedding takes
            token_ids = token_ids.long()
        if token_ids.numel():
            # One device sync per call: the price of a readable error instead of an IndexError
            # (CPU) or a device-side assert (CUDA).
            smallest, largest = (int(v) for v in torch.aminmax(token_ids))
            if largest >= self.vocab_size:
                raise ValueError(
                    f"token ID {largest} is out of range for vocab_size={self.vocab_size} "
                    f"(valid IDs are 0..{self.vocab_size - 1}); build the embedding with "
                    f"vocab_size >= tokenizer.max_token_value + 1"
                )
            if smallest < 0:
                raise ValueError(
                    f"token ID {smallest} is negative; valid IDs are 0..{self.vocab_size - 1} "
                    f"for vocab_size={self.vocab_size} (padding must use a real ID, not -1)"
                )
        return token_ids

    def token_embeddings(self, token_ids: torch.Tensor) -> torch.Tensor:
        """The token vectors alone: ``(batch, seq_len)`` -> ``(batch, seq_len, emb_dim)``."""
        token_ids = self._check_ids(token_ids)  # (batch, seq_len)
        return self.token_embedding(token_ids)  # (batch, seq_len, emb_dim)

    def position_embeddings(self, seq_len: int) -> torch.Tensor:
        """The position term for positions ``0..seq_len-1``, shape ``(seq_len, emb_dim)``.

        All zeros for ``positional="none"``. Broadcasts over the batch when added.
        """
        valid = isinstance(seq_len, int) and not isinstance(seq_len, bool)
        if not valid or not 0 <= seq_len <= self.context_length:
            raise ValueError(
                f"seq_len must be an int in 0..{self.context_length} (the context), got {seq_len!r}"
            )
        weight = self.token_embedding.weight  # (vocab_size, emb_dim)
        if self.position_embedding is not None:
            positions = torch.arange(seq_len, device=weight.device)  # (seq_len,)
            return self.position_embedding(positions)  # (seq_len, emb_dim)
        if self.positional == "sinusoidal":
            return self.sinusoidal[:seq_len]  # (seq_len, emb_dim)
        return weight.new_zeros(seq_len, self.emb_dim)  # (seq_len, emb_dim)

    def forward(self, token_ids: torch.Tensor, position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """``(batch, seq_len)`` IDs -> ``(batch, seq_len, emb_dim)``; positions 0.. unless given.

        ``position_ids`` (same shape as ``token_ids``, each in ``0..context_length-1``) give each
        token its own position, as a packed batch's ``position_ids`` restart at each document.
        """
        token_ids = self._check_ids(token_ids)  # (batch, seq_len)
        if position_ids is not None:
            position_ids = self._check_positions(position_ids, token_ids)  # (batch, seq_len)
        seq_len = token_ids.shape[-1]
        if seq_len > self.context_length:
            token_ids_in = token_ids
            token_ids = self._handle_overflow(token_ids)  # (batch, context_length); raises for "error"
            if position_ids is not None and token_ids_in is not token_ids:
                keep = "last" if self.overflow == "keep_last" else "first"
                position_ids = truncate(position_ids, self.context_length, keep=keep)  # (batch, context_length)
            seq_len = self.context_length
        x = self.token_embedding(token_ids)  # (batch, seq_len, emb_dim)
        if self.positional != "none":
            if position_ids is None:
                x = x + self.position_embeddings(seq_len)  # (batch, seq_len, emb_dim)
            elif self.position_embedding is not None:
                x = x + self.position_embedding(position_ids)  # (batch, seq_len, emb_dim)
            else:
                x = x + self.sinusoidal[position_ids]  # (batch, seq_len, emb_dim)
        return self.dropout(x)  # (batch, seq_len, emb_dim)

    def _check_positions(self, position_ids: Any, token_ids: torch.Tensor) -> torch.Tensor:
        """``position_ids`` as int64 on the IDs' device, or TypeError/ValueError saying what is wrong."""
        dtype = getattr(position_ids, "dtype", None)
        if not isinstance(position_ids, torch.Tensor) or dtype == torch.bool or dtype.is_floating_point:
            raise TypeError(
                f"position_ids must be an integer tensor, got {dtype or type(position_ids).__name__}; "
                f"pass the batch's 'position_ids'"
            )
        if position_ids.shape != token_ids.shape:
            raise ValueError(
                f"position_ids must have the shape of token_ids {tuple(token_ids.shape)}, got "
                f"{tuple(position_ids.shape)}"
            )
        if position_ids.numel():
            low, high = (int(v) for v in torch.aminmax(position_ids))
            if low < 0 or high >= self.context_length:
                raise ValueError(
                    f"position ID {high if high >= self.context_length else low} is outside "
                    f"0..{self.context_length - 1} (context_length={self.context_length}); build the "
                    f"embedding with context_length >= the loader's max_length"
                )
        return position_ids.to(device=token_ids.device, dtype=torch.int64)

    def _handle_overflow(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Apply ``self.overflow`` to a sequence longer than the context."""
        seq_len, limit = token_ids.shape[-1], self.context_length
        if self.overflow == "error":
            raise ValueError(
                f"sequence of seq_len={seq_len} tokens is longer than context_length={limit}; "
                f"cut it first with tokenmill.truncate(ids, {limit}) or build the embedding with "
                f'overflow="keep_last" (keeps the most recent {limit} tokens)'
            )
        keep = "last" if self.overflow == "keep_last" else "first"
        rows = token_ids.shape[0] if token_ids.ndim == 2 else 1
        self.dropped_tokens += rows * (seq_len - limit)
        if not self._warned_overflow:
            self._warned_overflow = True
            # stacklevel 5 skips this method, forward and nn.Module's two call wrappers, so the
            # warning points at the caller's line (a later torch may only make it less precise).
            warnings.warn(
                f"InputEmbedding: seq_len={seq_len} exceeds context_length={limit}; kept the "
                f"{keep} {limit} tokens of each sequence (warned once per module; the running "
                f"count is in .dropped_tokens)",
                stacklevel=5,
            )
        return truncate(token_ids, limit, keep=keep)  # (batch, context_length)
