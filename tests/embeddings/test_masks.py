"""Masks for packed batches: one attention layer over a packed batch == each document alone."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import tokenmill
from tokenmill import InputEmbedding, RotaryEmbedding, document_block_mask, document_causal_mask
from tokenmill.loader.document_dataset import DocumentDataset

DOCS = [[5, 6, 7], [8, 9], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19], [20], [21, 22, 23, 24]]
T, DIM, HEADS = 8, 16, 2


class Attention(torch.nn.Module):
    """One causal self-attention layer with RoPE, as a GPT block has it."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = InputEmbedding(64, DIM, T, positional="learned")
        self.qkv = torch.nn.Linear(DIM, 3 * DIM)
        self.rope = RotaryEmbedding(DIM // HEADS)

    def forward(self, ids: torch.Tensor, position_ids: torch.Tensor | None, mask: object, flex: bool = False):
        x = self.embed(ids, position_ids)  # (batch, T, DIM)
        q, k, v = self.qkv(x).split(DIM, dim=-1)  # each (batch, T, DIM)
        q, k, v = (t.view(*t.shape[:2], HEADS, -1).transpose(1, 2) for t in (q, k, v))  # (batch, heads, T, hd)
        if position_ids is None:
            q, k = self.rope(q), self.rope(k)
        else:
            q, k = self.rope(q, position_ids=position_ids), self.rope(k, position_ids=position_ids)
        if flex:
            from torch.nn.attention.flex_attention import flex_attention

            return flex_attention(q, k, v, block_mask=mask)  # (batch, heads, T, hd)
        if mask is None:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (batch, heads, T, hd)


def _alone(model: Attention, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Each segment of each row run by itself, put back where it was; padding left as is."""
    want = torch.zeros(batch["input_ids"].shape[0], HEADS, T, DIM // HEADS)
    for b, row in enumerate(batch["document_ids"]):
        for seg in row.unique().tolist():
            if seg < 0:
                continue
            where = (row == seg).nonzero().reshape(-1)
            ids = batch["input_ids"][b, where][None]  # (1, n)
            want[b, :, where] = model(ids, None, None)[0]
    return want


def test_one_attention_layer_over_a_packed_batch_with_the_mask_is_each_document_alone() -> None:
    torch.manual_seed(0)
    model = Attention().eval()
    ds = DocumentDataset(DOCS, windows="packed", max_length=T, return_dict=True)
    batch = ds.batch(list(range(len(ds))))
    assert (batch["document_ids"].amax(dim=1) >= 1).any()  # some row holds several documents
    with torch.no_grad():
        got = model(batch["input_ids"], batch["position_ids"], document_causal_mask(batch["document_ids"]))
        want = _alone(model, batch)
        real = (batch["document_ids"] >= 0)[:, None, :, None].expand_as(got)
        torch.testing.assert_close(got[real], want[real], rtol=1e-5, atol=1e-5)
        assert not got.isnan().any()  # padding attends to itself: no empty softmax row
        # without the mask and the positions, documents see each other: the test can fail
        plain = model(batch["input_ids"], None, None)
        assert not torch.allclose(plain[real], want[real], atol=1e-3)


@pytest.mark.filterwarnings("ignore::UserWarning")  # uncompiled flex_attention says it is slow
def test_flex_attention_with_the_block_mask_gives_the_same_outputs() -> None:
    try:
        from torch.nn.attention.flex_attention import flex_attention  # noqa: F401
    except ImportError as error:  # pragma: no cover - depends on the torch build
        pytest.skip(f"this torch has no flex_attention ({error})")
    torch.manual_seed(0)
    model = Attention().eval()
    ds = DocumentDataset(DOCS, windows="packed", max_length=T, return_dict=True)
    batch = ds.batch(list(range(len(ds))))
    with torch.no_grad():
        dense = model(batch["input_ids"], batch["position_ids"], document_causal_mask(batch["document_ids"]))
        try:
            flex = model(batch["input_ids"], batch["position_ids"],
                         document_block_mask(batch["document_ids"], block_size=T), flex=True)
        except (RuntimeError, NotImplementedError) as error:  # pragma: no cover
            pytest.skip(f"flex_attention does not run on this CPU build ({error})")
    torch.testing.assert_close(flex, dense, rtol=1e-5, atol=1e-5)


def test_the_dense_mask_rule_and_bad_input() -> None:
    mask = document_causal_mask(torch.tensor([[0, 0, 1, -1, -1]]))
    assert mask.shape == (1, 1, 5, 5) and mask.dtype == torch.bool
    assert mask[0, 0].tolist()[4] == [False, False, False, False, True]  # padding: itself alone
    assert mask[0, 0].any(dim=-1).all()
    assert tokenmill.document_causal_mask is document_causal_mask
    with pytest.raises(ValueError, match=r"shape \(batch, seq_len\)"):
        document_causal_mask(torch.tensor([0, 0, 1]))
    with pytest.raises(TypeError, match="integer tensor"):
        document_causal_mask(torch.zeros(1, 3))


def test_position_ids_pick_each_tokens_position_embedding() -> None:
    torch.manual_seed(1)
    for positional in ("learned", "sinusoidal"):
        emb = InputEmbedding(50, 4, 6, positional=positional)
        ids = torch.tensor([[1, 2, 3, 4, 5, 6]])
        pos = torch.tensor([[0, 1, 2, 0, 1, 0]])
        got = emb(ids, pos)
        assert torch.allclose(got[0, 3], emb(ids[:, 3:4])[0, 0])  # a document start is position 0
        assert torch.equal(emb(ids, torch.arange(6)[None]), emb(ids))  # 0..T-1 is the default
    with pytest.raises(ValueError, match=r"position ID 6 is outside 0..5"):
        emb(ids, torch.tensor([[0, 1, 2, 3, 4, 6]]))
    with pytest.raises(ValueError, match="shape of token_ids"):
        emb(ids, torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer tensor"):
        emb(ids, torch.zeros(1, 6))


def test_rotary_position_ids_rotate_each_row_by_its_own_positions() -> None:
    rope = RotaryEmbedding(4)
    x = torch.randn(2, 3, 5, 4)  # (batch, heads, T, head_dim)
    pos = torch.tensor([[0, 1, 2, 3, 4], [0, 1, 0, 1, 2]])
    got = rope(x, position_ids=pos)
    for b in range(2):
        assert torch.allclose(got[b], rope.rotate(x[b], pos[b]))
    assert torch.allclose(rope(x[:, 0], position_ids=pos), got[:, 0])  # (batch, T, head_dim) too
    with pytest.raises(ValueError, match=r"position_ids must have shape \(batch, seq_len\) = \(2, 5\)"):
        rope(x, position_ids=pos[:, :4])
    with pytest.raises(ValueError, match="not both"):
        rope(x, torch.arange(5), position_ids=pos)


def test_position_ids_are_cut_with_the_ids_when_the_embedding_keeps_part() -> None:
    torch.manual_seed(2)
    emb = InputEmbedding(50, 4, 3, overflow="keep_last")
    ids, pos = torch.tensor([[1, 2, 3, 4, 5]]), torch.tensor([[0, 1, 0, 1, 2]])
    with pytest.warns(UserWarning, match="kept the last 3"):
        got = emb(ids, pos)
    assert torch.equal(got, emb(ids[:, 2:], pos[:, 2:]))
