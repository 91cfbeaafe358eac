"""``tokenmill demo --html``: chapter 2 as pictures, from the same objects the text demo prints.

Sliding windows with their inputs and shifted targets, learned vs sinusoidal position
encodings as heatmaps, RoPE turning one vector pair with position, and token + position =
input embedding. The data behind each picture comes from small functions tested on their own.

>>> rows = window_rows(_Windows(list(range(10)), 4, 2), 2)
>>> [(s, x, y) for s, x, y in rows]
[(0, [0, 1, 2, 3], [1, 2, 3, 4]), (2, [2, 3, 4, 5], [3, 4, 5, 6])]
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tokenmill.html.plots as plots
from tokenmill.html.page import cards, esc, language_of, page, section
from tokenmill.html.tokens import LEGEND, render_tokens, visible

# The windows table keeps to about this many token columns, so it fits a screen.
_MAX_COLUMNS = 18


class _Windows:
    """A stand-in for ``WindowDataset`` in doctests: windows over a list, without torch."""

    def __init__(self, tokens: list[int], max_length: int, stride: int) -> None:
        self.tokens, self.max_length, self.stride = tokens, max_length, stride

    def __len__(self) -> int:
        return len(range(0, len(self.tokens) - self.max_length, self.stride))

    def __getitem__(self, i: int) -> tuple[list[int], list[int]]:
        s = i * self.stride
        return self.tokens[s : s + self.max_length], self.tokens[s + 1 : s + self.max_length + 1]


def window_rows(dataset: Any, n: int) -> list[tuple[int, list[int], list[int]]]:
    """The first ``n`` windows of ``dataset`` as (start, input IDs, target IDs), read from it."""
    rows = []
    for i in range(min(n, len(dataset))):
        x, y = dataset[i]
        rows.append((i * dataset.stride, [int(v) for v in x], [int(v) for v in y]))
    return rows


def position_tables(positions: int, dims: int, *, seed: int = 123) -> dict[str, np.ndarray]:
    """(positions, dims) tables: a learned table as GPT starts it (seeded) and the fixed sinusoid."""
    import torch

    from tokenmill.embeddings import InputEmbedding, sinusoidal_table

    torch.manual_seed(seed)
    learned = InputEmbedding(1, dims, positions, positional="learned").position_embeddings(positions)
    return {
        "learned": learned.detach().numpy(),  # (positions, dims)
        "sinusoidal": sinusoidal_table(positions, dims).numpy(),  # (positions, dims)
    }


def rope_pairs(positions: int, *, head_dim: int = 8, pairs: tuple[int, ...] = (0, 1)) -> list[tuple[int, np.ndarray]]:
    """Where RoPE moves the vector pair ``(1, 0.4)`` of pair ``j`` at positions 0..positions-1.

    Uses :class:`~tokenmill.embeddings.RotaryEmbedding` itself: pair ``j`` is dims ``(j, j + head_dim/2)``.
    """
    import torch

    from tokenmill.embeddings import RotaryEmbedding

    half = head_dim // 2
    x = torch.zeros(positions, head_dim)  # (positions, head_dim): one vector, repeated
    x[:, :half], x[:, half:] = 1.0, 0.4
    turned = RotaryEmbedding(head_dim).rotate(x).numpy()  # (positions, head_dim)
    return [(j, turned[:, [j, j + half]]) for j in pairs]


def rope_scores(distances: int, starts: tuple[int, ...] = (0, 10, 100), *, head_dim: int = 8, seed: int = 0) -> list[tuple[int, np.ndarray]]:
    """``rotate(q, n + d) . rotate(k, n)`` for d = 0..distances-1, one row per start ``n``.

    The rows are equal (up to float error): RoPE scores see only the distance ``d``.
    """
    import torch

    from tokenmill.embeddings import RotaryEmbedding

    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, head_dim, generator=g)  # (head_dim,) each
    rope, d = RotaryEmbedding(head_dim), torch.arange(distances)
    out = []
    for n in starts:
        rq = rope.rotate(q.expand(distances, head_dim), n + d)  # (distances, head_dim)
        rk = rope.rotate(k.expand(distances, head_dim), torch.full((distances,), n))  # (distances, head_dim)
        out.append((n, (rq * rk).sum(-1).numpy()))  # (distances,)
    return out


def _windows_table(tok: Any, rows: list[tuple[int, list[int], list[int]]]) -> str:
    width = max(s + len(y) + 1 for s, _, y in rows)
    ids = {}
    for s, x, y in rows:
        ids.update({s + j: v for j, v in enumerate(x)})
        ids.update({s + 1 + j: v for j, v in enumerate(y)})
    texts = {p: tok.decode_tokens_bytes([v])[0].decode("utf-8", "replace") for p, v in ids.items()}
    head = "".join(f'<th title="token {p}">{p}</th>' for p in range(width))
    body = []
    for k, (s, x, y) in enumerate(rows):
        for label, cls, first, row in (("inputs", "in", s, x), ("targets", "tg", s + 1, y)):
            cells = []
            for p in range(width):
                j = p - first
                if 0 <= j < len(row):
                    cells.append(f'<td class="{cls}" title="ID {row[j]}">{visible(texts[p])}</td>')
                else:
                    cells.append("<td></td>")
            body.append(f"<tr><th>window {k} {label}</th>{''.join(cells)}</tr>")
    return f'<div style="overflow-x:auto"><table class="win"><tr><th>position</th>{head}</tr>{"".join(body)}</table></div>'


def demo_page(text: str, tok: Any, dataset: Any, emb: Any, *, source: str, seed: int) -> str:
    """The page of ``tokenmill demo --html`` (``dataset`` a WindowDataset, ``emb`` an InputEmbedding)."""
    ids = [int(v) for v in dataset.tokens[:200]]
    n_ids = len(dataset.tokens)
    L, stride = dataset.max_length, dataset.stride
    fit = max(2, (_MAX_COLUMNS - L - 1) // stride + 1)
    rows = window_rows(dataset, min(fit, 6))
    positions, dims = min(max(64, L), 512), min(emb.emb_dim, 128)
    tables = position_tables(positions, dims, seed=seed)
    x, _ = dataset[0]
    tok_emb = emb.token_embeddings(x[None]).detach()[0].numpy()  # (seq_len, emb_dim)
    pos_emb = emb.position_embeddings(L).detach().numpy()  # (seq_len, emb_dim)
    show = min(emb.emb_dim, 64)
    sections = [
        section(
            "1. Text → tokens → IDs",
            cards([("characters", len(text)), ("tokens", n_ids), ("tokenizer", tok.name), ("vocabulary", tok.vocab_size)]),
            LEGEND,
            render_tokens(tok, ids),
            f'<p class="note">The first {len(ids):,} of {n_ids:,} tokens.</p>' if n_ids > len(ids) else "",
            anchor="tokens",
        ),
        section(
            "2. Sliding windows: inputs and shifted targets",
            f'<p>Each window holds <b>max_length={L}</b> input tokens; its targets are the same span one '
            f'token later, so every input position is trained to predict the token after it. Windows start '
            f'<b>stride={stride}</b> tokens apart ({len(dataset):,} windows in all).</p>',
            '<p class="legend note"><span class="t t0">inputs</span> <span class="t t1">targets</span></p>',
            _windows_table(tok, rows),
            anchor="windows",
        ),
        section(
            "3. Position encodings: learned vs sinusoidal",
            f"<p>GPT learns a table of one vector per position (here as it starts: random, seed {seed}; "
            "training shapes it). The original Transformer uses a fixed table of sines and cosines whose "
            "wavelengths grow along the dimensions: nothing to learn, defined for any position.</p>",
            f'<figure>{plots.heatmaps_svg([("learned (at initialisation)", tables["learned"]), ("sinusoidal", tables["sinusoidal"])])}'
            f"<figcaption>{positions} positions × the first {dims} dimensions.</figcaption></figure>",
            anchor="positions",
        ),
        section(
            "4. RoPE: rotating a vector pair with position",
            "<p>Rotary embeddings add nothing: they turn each pair of query/key dimensions by an angle "
            "proportional to the position. Early pairs turn fast, later pairs slowly; since both query and "
            "key are turned, their dot product depends only on how far apart they are.</p>",
            f'<figure>{plots.rope_svg([(f"pair {j} (dims {j}, {j + 4})", xy) for j, xy in rope_pairs(12)], [(f"n = {n}", s) for n, s in rope_scores(16)])}'
            "<figcaption>Left: the vector (1, 0.4) at positions 0–11 in two pairs of a head_dim-8 RotaryEmbedding. "
            "Right: the score of a query at position n + d with a key at position n, for three n: "
            "the lines coincide, only the distance d matters.</figcaption></figure>",
            anchor="rope",
        ),
        section(
            "5. Input embeddings = token embeddings + position embeddings",
            f'<p>Window 0 ({L} tokens) through InputEmbedding(emb_dim={emb.emb_dim}, positional="{esc(emb.positional)}").</p>',
            f'<figure>{plots.heatmaps_svg([("token", tok_emb[:, :show]), ("+ position", pos_emb[:, :show]), ("= input", (tok_emb + pos_emb)[:, :show])])}'
            f"<figcaption>Rows: the {L} positions of window 0; columns: the first {show} of {emb.emb_dim} dimensions.</figcaption></figure>",
            anchor="embeddings",
        ),
    ]
    return page(
        "Chapter 2, pictured", f"{source}: text → tokens → IDs → windows → embeddings", sections,
        lang=language_of(text),
    )
