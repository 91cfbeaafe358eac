"""Rotary position embedding (RoPE): the relative alternative later models apply to queries and keys.

>>> RotaryEmbedding(4).inv_freq().tolist()
[1.0, 0.009999999776482582]
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from tokenmill.common.checks import positive_int
from tokenmill.embeddings.layers import _base

__all__ = ["RotaryEmbedding"]


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoPE): rotate queries and keys by an angle set by position.

    Convention: half-split pairs, as in GPT-NeoX and Llama — dimension ``j`` is paired with
    ``j + head_dim/2`` (not the RoFormer paper's interleaved ``(0,1), (2,3), ...``), and pair
    ``j`` turns by ``position * base**(-2j/head_dim)`` radians. Weights trained under one
    convention do not work under the other.

    Because rotations compose, ``rotate(q, m) . rotate(k, n)`` depends only on ``m - n``:
    attention scores see relative distance. Position 0 is the identity and norms are kept.

    Pitfall: rotate queries and keys (after splitting heads), never values, and give both the
    tokens' absolute positions (with a KV cache, new tokens continue from the cache length).
    Angles are computed in float32 (float64 for float64 input) and cast back to ``x.dtype``.

    >>> rope = RotaryEmbedding(2)
    >>> rope.rotate(torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([0, 1]))
    tensor([[1.0000, 0.0000],
            [0.5403, 0.8415]])
    """

    def __init__(self, head_dim: int, *, base: float = 10000.0) -> None:
        super().__init__()
        self.head_dim = positive_int("head_dim", head_dim)
        if self.head_dim % 2:
            raise ValueError(f"head_dim must be even (RoPE turns pairs of dims), got {head_dim}")
        self.base = _base(base)

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, base={self.base}"

    def inv_freq(self, *, dtype: torch.dtype = torch.float32, device: Any = None) -> torch.Tensor:
        """Radians per position for each pair, shape ``(head_dim // 2,)``."""
        pair = torch.arange(self.head_dim // 2, dtype=dtype, device=device)  # (head_dim/2,)
        return self.base ** (-2.0 * pair / self.head_dim)  # (head_dim/2,)

    def rotate(
        self, x: torch.Tensor, positions: torch.Tensor | None = None, *, position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Rotate ``x`` of shape ``(..., seq_len, head_dim)``; positions default to 0..seq_len-1.

        ``position_ids`` of shape ``(batch, seq_len)`` (a packed batch's, restarting at each
        document) give each row its own positions; ``x`` is then ``(batch, seq_len, head_dim)``
        or ``(batch, heads, seq_len, head_dim)``.
        """
        if position_ids is not None:
            if positions is not None:
                raise ValueError("pass positions= (one row for all) or position_ids= (per row), not both")
            return self._rotate_rows(x, position_ids)
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            got = getattr(x, "dtype", type(x).__name__)
            raise TypeError(f"x must be a floating-point tensor, got {got}")
        if x.ndim < 2 or x.shape[-1] != self.head_dim:
            raise ValueError(
                f"x must have shape (..., seq_len, head_dim={self.head_dim}), got {tuple(x.shape)}"
            )
        seq_len = x.shape[-2]
        if positions is None:
            positions = torch.arange(seq_len, device=x.device)  # (seq_len,)
        got = getattr(positions, "dtype", type(positions).__name__)
        if not isinstance(positions, torch.Tensor) or got == torch.bool or got.is_floating_point:
            raise TypeError(f"positions must be an integer tensor, got {got}")
        if tuple(positions.shape) != (seq_len,):
            raise ValueError(
                f"positions must have shape (seq_len,) = ({seq_len},), got {tuple(positions.shape)}"
            )
        compute = torch.float64 if x.dtype == torch.float64 else torch.float32
        inv_freq = self.inv_freq(dtype=compute, device=x.device)  # (head_dim/2,)
        positions = positions.to(device=x.device, dtype=compute)  # (seq_len,)
        angles = positions[:, None] * inv_freq[None, :]  # (seq_len, head_dim/2)
        cos = angles.cos().repeat(1, 2)  # (seq_len, head_dim)
        sin = angles.sin().repeat(1, 2)  # (seq_len, head_dim)
        xc = x.to(compute)  # (..., seq_len, head_dim)
        half = self.head_dim // 2
        turned = torch.cat((-xc[..., half:], xc[..., :half]), dim=-1)  # (..., seq_len, head_dim)
        return (xc * cos + turned * sin).to(x.dtype)  # (..., seq_len, head_dim)

    def _rotate_rows(self, x: torch.Tensor, position_ids: Any) -> torch.Tensor:
        dtype = getattr(position_ids, "dtype", None)
        if not isinstance(position_ids, torch.Tensor) or dtype == torch.bool or dtype.is_floating_point:
            raise TypeError(f"position_ids must be an integer tensor, got {dtype or type(position_ids).__name__}")
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim not in (3, 4):
            raise ValueError(
                "with position_ids, x must be a floating-point (batch, seq_len, head_dim) or "
                f"(batch, heads, seq_len, head_dim) tensor, got {tuple(getattr(x, 'shape', ()))}"
            )
        if position_ids.ndim != 2 or (position_ids.shape[0], position_ids.shape[1]) != (x.shape[0], x.shape[-2]):
            raise ValueError(
                f"position_ids must have shape (batch, seq_len) = ({x.shape[0]}, {x.shape[-2]}), got "
                f"{tuple(position_ids.shape)}"
            )
        if x.shape[-1] != self.head_dim:
            raise ValueError(f"x must end in head_dim={self.head_dim}, got {tuple(x.shape)}")
        compute = torch.float64 if x.dtype == torch.float64 else torch.float32
        inv_freq = self.inv_freq(dtype=compute, device=x.device)  # (head_dim/2,)
        angles = position_ids.to(device=x.device, dtype=compute)[..., None] * inv_freq  # (batch, seq_len, head_dim/2)
        cos = angles.cos().repeat(1, 1, 2)  # (batch, seq_len, head_dim)
        sin = angles.sin().repeat(1, 1, 2)  # (batch, seq_len, head_dim)
        if x.ndim == 4:
            cos, sin = cos[:, None], sin[:, None]  # (batch, 1, seq_len, head_dim)
        xc = x.to(compute)
        half = self.head_dim // 2
        turned = torch.cat((-xc[..., half:], xc[..., :half]), dim=-1)  # like x
        return (xc * cos + turned * sin).to(x.dtype)  # like x

    def forward(
        self, x: torch.Tensor, positions: torch.Tensor | None = None, *, position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.rotate(x, positions, position_ids=position_ids)  # (..., seq_len, head_dim)
