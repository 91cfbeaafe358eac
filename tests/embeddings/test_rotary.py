"""RotaryEmbedding: the reference rotation, half-split pairs, relative scores, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmill.embeddings import RotaryEmbedding, sinusoidal_table

# --- RoPE -----------------------------------------------------------------------------------


def reference_rope(x: list[float], position: int, base: float = 10000.0) -> list[float]:
    """Readable oracle: rotate each half-split pair (j, j + d/2) by position * base**(-2j/d)."""
    d = len(x)
    half = d // 2
    out = list(x)
    for j in range(half):
        angle = position * base ** (-2 * j / d)
        a, b = x[j], x[j + half]
        out[j] = a * math.cos(angle) - b * math.sin(angle)
        out[j + half] = a * math.sin(angle) + b * math.cos(angle)
    return out


def test_rope_matches_the_reference() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(5, 8, generator=gen, dtype=torch.float64)  # (seq_len, head_dim)
    positions = torch.tensor([0, 1, 7, 100, 3])
    out = RotaryEmbedding(8).rotate(x, positions)
    expected = [reference_rope(row.tolist(), int(p)) for row, p in zip(x, positions)]
    assert torch.allclose(out, torch.tensor(expected, dtype=torch.float64), atol=1e-12)


def test_rope_pairs_are_half_split() -> None:
    # Only dimension 0 set: the half-split convention moves it into dimension head_dim/2 = 2,
    # the interleaved one would move it into dimension 1.
    out = RotaryEmbedding(4).rotate(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.tensor([1]))
    assert torch.allclose(out, torch.tensor([[math.cos(1), 0.0, math.sin(1), 0.0]]))


def test_rope_batches_and_default_positions() -> None:
    rope = RotaryEmbedding(6)
    x = torch.randn(2, 3, 4, 6)  # (batch, heads, seq_len, head_dim)
    out = rope(x)
    assert out.shape == x.shape
    assert torch.allclose(out[1, 2], rope.rotate(x[1, 2], torch.arange(4)))


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(0, 4096),
    n=st.integers(0, 4096),
    shift=st.integers(-4096, 4096),
    seed=st.integers(0, 2**16),
)
def test_rope_scores_depend_only_on_relative_position(
    m: int, n: int, shift: int, seed: int
) -> None:
    rope = RotaryEmbedding(16)
    gen = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, 1, 16, generator=gen, dtype=torch.float64)  # (1, head_dim) each

    def score(a: int, b: int) -> float:
        qa = rope.rotate(q, torch.tensor([a]))
        kb = rope.rotate(k, torch.tensor([b]))
        return float((qa * kb).sum())

    assert math.isclose(score(m, n), score(m + shift, n + shift), rel_tol=1e-9, abs_tol=1e-9)
    # norms are preserved at any position
    assert torch.allclose(rope.rotate(q, torch.tensor([m])).norm(), q.norm(), rtol=1e-12)


def test_rope_position_zero_is_identity() -> None:
    x = torch.randn(3, 1, 10)
    rope = RotaryEmbedding(10)
    assert torch.equal(rope.rotate(x, torch.zeros(1, dtype=torch.long)), x)


def test_rope_keeps_dtype() -> None:
    x = torch.randn(4, 8, dtype=torch.bfloat16)
    assert RotaryEmbedding(8)(x).dtype == torch.bfloat16


ROPE8 = RotaryEmbedding(8)


@pytest.mark.parametrize(
    ("make", "error", "pattern"),
    [
        (lambda: RotaryEmbedding(7), ValueError, "head_dim must be even"),
        (lambda: RotaryEmbedding(0), ValueError, "head_dim must be >= 1"),
        (lambda: RotaryEmbedding(8, base=1.0), ValueError, "base must be > 1"),
        (lambda: RotaryEmbedding(8, base=float("inf")), ValueError, "base must be > 1 and finite"),
        (lambda: RotaryEmbedding(8, base=float("nan")), ValueError, "got nan"),
        (lambda: RotaryEmbedding(8, base="x"), TypeError,
         "base must be a real number, got str 'x'; pass e.g. base=10000.0"),
        (lambda: RotaryEmbedding(8, base=None), TypeError, "a real number, got NoneType"),
        (lambda: sinusoidal_table(4, 8, base="1e4"), TypeError, "a real number, got str '1e4'"),
        (lambda: ROPE8.rotate(torch.ones(3, 6)), ValueError, r"head_dim=8\), got \(3, 6\)"),
        (lambda: ROPE8.rotate(torch.ones(3, 8), torch.arange(4)), ValueError,
         r"\(3,\), got \(4,\)"),
        (lambda: ROPE8.rotate(torch.ones(3, 8), torch.ones(3)), TypeError, "integer tensor"),
        (lambda: ROPE8.rotate(torch.ones(3, 8, dtype=torch.long)), TypeError, "floating-point"),
    ],
)
def test_rope_validation(make, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        make()
