"""InputEmbedding and sinusoidal_table: book weights, shapes, positional kinds, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tokenmill.embeddings import POSITIONAL_CHOICES, InputEmbedding, RotaryEmbedding, sinusoidal_table

# Book listing 2.7: torch.manual_seed(123); torch.nn.Embedding(6, 3).weight
BOOK_6x3 = [
    [0.3374, -0.1778, -0.1690],
    [0.9178, 1.5810, 1.3010],
    [1.2753, -0.2010, -0.1606],
    [-0.4015, 0.9666, -1.1481],
    [-1.1589, 0.3255, -0.6315],
    [-2.8400, -0.7849, -1.4096],
]

# Book section 2.8: the first batch of the-verdict.txt, max_length=4, stride=4, batch_size=8.
BOOK_BATCH = [
    [40, 367, 2885, 1464],
    [1807, 3619, 402, 271],
    [10899, 2138, 257, 7026],
    [15632, 438, 2016, 257],
    [922, 5891, 1576, 438],
    [568, 340, 373, 645],
    [1049, 5975, 284, 502],
    [284, 3285, 326, 11],
]


# --- golden weights -------------------------------------------------------------------------


def test_book_small_example_weights() -> None:
    torch.manual_seed(123)
    emb = InputEmbedding(6, 3, 4, positional="none")
    assert torch.allclose(emb.token_embedding.weight.detach(), torch.tensor(BOOK_6x3), atol=1e-4)
    # embedding_layer(torch.tensor([2, 3, 5, 1])) picks rows 2, 3, 5, 1
    out = emb(torch.tensor([2, 3, 5, 1])).detach()  # (4, 3)
    assert torch.allclose(out, torch.tensor([BOOK_6x3[i] for i in (2, 3, 5, 1)]), atol=1e-4)


def test_seeded_weights_equal_the_books_two_layers() -> None:
    torch.manual_seed(123)
    emb = InputEmbedding(50257, 256, 4)
    torch.manual_seed(123)
    token_embedding_layer = nn.Embedding(50257, 256)
    pos_embedding_layer = nn.Embedding(4, 256)
    assert torch.equal(emb.token_embedding.weight, token_embedding_layer.weight)
    assert emb.position_embedding is not None
    assert torch.equal(emb.position_embedding.weight, pos_embedding_layer.weight)

    inputs = torch.tensor(BOOK_BATCH)  # (8, 4)
    token_embeddings = emb.token_embeddings(inputs)
    pos_embeddings = emb.position_embeddings(4)
    assert token_embeddings.shape == (8, 4, 256)
    assert pos_embeddings.shape == (4, 256)
    input_embeddings = emb(inputs)
    assert input_embeddings.shape == (8, 4, 256)
    book = token_embedding_layer(inputs) + pos_embedding_layer(torch.arange(4))
    assert torch.equal(input_embeddings, book)


def test_one_dimensional_input_has_no_batch_axis() -> None:
    emb = InputEmbedding(10, 5, 4)
    ids = torch.tensor([1, 2, 3])
    assert emb(ids).shape == (3, 5)
    assert torch.equal(emb(ids), emb(ids[None])[0])


def test_int32_and_uint8_ids_are_accepted() -> None:
    emb = InputEmbedding(10, 5, 4)
    ids = torch.tensor([[1, 2, 9]])
    expected = emb(ids)
    assert torch.equal(emb(ids.int()), expected)
    assert torch.equal(emb(ids.to(torch.uint8)), expected)


def test_empty_sequence() -> None:
    emb = InputEmbedding(10, 5, 4)
    assert emb(torch.zeros(2, 0, dtype=torch.long)).shape == (2, 0, 5)


# --- positional kinds -----------------------------------------------------------------------


@pytest.mark.parametrize("emb_dim", [1, 4, 7])
def test_sinusoidal_matches_the_formula(emb_dim: int) -> None:
    context_length = 12
    table = sinusoidal_table(context_length, emb_dim)
    expected = []
    for pos in range(context_length):
        row = []
        for j in range(emb_dim):
            angle = pos / 10000 ** ((j - j % 2) / emb_dim)
            row.append(math.sin(angle) if j % 2 == 0 else math.cos(angle))
        expected.append(row)
    assert table.shape == (context_length, emb_dim)
    assert torch.allclose(table, torch.tensor(expected), atol=1e-6)


def test_sinusoidal_is_a_fixed_buffer_not_a_parameter() -> None:
    torch.manual_seed(0)
    emb = InputEmbedding(10, 6, 5, positional="sinusoidal")
    names = [name for name, _ in emb.named_parameters()]
    assert names == ["token_embedding.weight"]
    assert "sinusoidal" in dict(emb.named_buffers())
    assert not emb.sinusoidal.requires_grad
    ids = torch.tensor([[3, 1, 4]])
    expected = emb.token_embedding(ids) + sinusoidal_table(5, 6)[:3]
    assert torch.allclose(emb(ids), expected)
    emb(ids).sum().backward()
    assert emb.token_embedding.weight.grad is not None


def test_none_adds_no_position_term() -> None:
    emb = InputEmbedding(10, 6, 5, positional="none")
    ids = torch.tensor([[3, 3, 3]])
    out = emb(ids)
    assert torch.equal(out[0, 0], out[0, 2])  # same token, no position signal
    assert torch.equal(emb.position_embeddings(3), torch.zeros(3, 6))


def test_learned_positions_differ_by_position() -> None:
    emb = InputEmbedding(10, 6, 5)
    out = emb(torch.tensor([[3, 3, 3]]))
    assert not torch.equal(out[0, 0], out[0, 2])


def test_same_seed_same_token_weights_for_every_positional_kind() -> None:
    weights = []
    for positional in POSITIONAL_CHOICES:
        torch.manual_seed(123)
        weights.append(InputEmbedding(6, 3, 4, positional=positional).token_embedding.weight)
    assert all(torch.equal(w, weights[0]) for w in weights)


def test_dropout_applies_in_training_only() -> None:
    emb = InputEmbedding(10, 64, 4, dropout=0.5)
    ids = torch.tensor([[1, 2, 3, 4]])
    emb.train()
    assert (emb(ids) == 0).any()
    emb.eval()
    assert not (emb(ids) == 0).any()


# --- bad input ------------------------------------------------------------------------------


def test_id_too_large_names_the_id_and_vocab_size() -> None:
    emb = InputEmbedding(50257, 8, 4)
    with pytest.raises(ValueError, match=r"token ID 50300 .*vocab_size=50257"):
        emb(torch.tensor([[1, 50257, 50300]]))


def test_negative_id_names_the_smallest() -> None:
    emb = InputEmbedding(10, 8, 4)
    with pytest.raises(ValueError, match=r"token ID -7 is negative.*vocab_size=10"):
        emb(torch.tensor([[1, -1, -7]]))
    with pytest.raises(ValueError, match=r"token ID -1"):
        emb.token_embeddings(torch.tensor([-1]))


@pytest.mark.parametrize("bad", [torch.tensor([[1.0, 2.0]]), torch.tensor([[True, False]])])
def test_non_integer_tensor_is_a_type_error(bad: torch.Tensor) -> None:
    with pytest.raises(TypeError, match="integer dtype"):
        InputEmbedding(10, 8, 4)(bad)


def test_list_input_is_a_type_error_with_the_fix() -> None:
    with pytest.raises(TypeError, match=r"got list; wrap it: torch.tensor"):
        InputEmbedding(10, 8, 4)([[1, 2]])


def test_three_dimensional_ids_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\(1, 1, 2\)"):
        InputEmbedding(10, 8, 4)(torch.ones(1, 1, 2, dtype=torch.long))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "pattern"),
    [
        ((0, 8, 4), {}, ValueError, "vocab_size must be >= 1, got 0"),
        ((10, 0, 4), {}, ValueError, "emb_dim must be >= 1, got 0"),
        ((10, 8, -1), {}, ValueError, "context_length must be >= 1, got -1"),
        ((10, 8.0, 4), {}, TypeError, "emb_dim must be an int"),
        ((10, 8, 4), {"positional": "rope"}, ValueError,
         r"'rope' is not one of \('learned', 'sinusoidal', 'none'\)"),
        ((10, 8, 4), {"overflow": "wrap"}, ValueError,
         r"'wrap' is not one of \('error', 'keep_last', 'keep_first'\)"),
        ((10, 8, 4), {"dropout": 1.0}, ValueError, r"dropout must be in \[0, 1\)"),
        ((10, 8, 4), {"dropout": -0.1}, ValueError, r"dropout must be in \[0, 1\), got -0.1"),
        ((10, 8, 4), {"dropout": math.nan}, ValueError, r"dropout must be in \[0, 1\), got nan"),
        ((10, 8, 4), {"dropout": "0.1"}, TypeError,
         r"dropout must be a real number, got str '0.1'; pass e.g. dropout=0.1"),
        ((10, 8, 4), {"dropout": True}, TypeError, "dropout must be a real number, got bool True"),
        ((10, 8, 4), {"dropout": None}, TypeError, "dropout must be a real number, got NoneType"),
    ],
)
def test_constructor_validation(args: tuple, kwargs: dict, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        InputEmbedding(*args, **kwargs)


def test_position_embeddings_beyond_the_table() -> None:
    with pytest.raises(ValueError, match=r"0\.\.4 \(the context\), got 5"):
        InputEmbedding(10, 8, 4).position_embeddings(5)


def test_numeric_hyperparameters_accept_any_real_number() -> None:
    import numpy as np

    assert InputEmbedding(10, 4, 3, dropout=np.float32(0.25)).dropout.p == 0.25
    assert InputEmbedding(10, 4, 3, dropout=0).dropout.p == 0.0
    assert RotaryEmbedding(8, base=500).base == 500.0
    assert RotaryEmbedding(8, base=np.float64(500)).base == 500.0
    assert torch.equal(sinusoidal_table(3, 4, base=100), sinusoidal_table(3, 4, base=100.0))
