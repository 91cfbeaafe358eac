"""See a mixture's plan before spending GPU hours: ``plan_mixture`` (and ``tokenmill mix``).

For a mixture and a run's length (tokens, or steps x global batch) it says per component its
share, the windows and tokens it gives, how many epochs of it that makes (how often it is
repeated) and where it first repeats. Exactly what the loader will draw: the same
``tokenmill.loader.mixture.Mixture`` counts it, in O(components + schedule segments). torch-free.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from tokenmill.common.checks import positive_int
from tokenmill.common.errors import OptionError, OptionTypeError
from tokenmill.common.paths import is_url
from tokenmill.loader.mixture import Mixture
from tokenmill.loader.sources import open_store_path

__all__ = ["ComponentPlan", "MixturePlan", "check_vocabularies", "plan_mixture", "resolve_component", "vocabulary"]


def resolve_component(name: Any, value: Any, split: str, **remote: Any) -> tuple[Any, str]:
    """``(source, split)`` of a component: a path, URL or store, or a ``(store, split)`` pair.

    ``remote`` (``storage_options``, ``cache_dir``, ``cache_limit``) opens a store at a URL.
    """
    if not isinstance(name, str) or not name:
        raise OptionTypeError("source", "a mixture's component names must be non-empty str, got {0!r}", name)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str):
        value, split = value
    # A str names a store here, never text to tokenize (a mixture mixes stores).
    if isinstance(value, str):
        value = value if is_url(value) else Path(os.path.expanduser(value))
    store = open_store_path(value, **remote)
    return (value if store is None else store), split


def vocabulary(source: Any) -> str | None:
    """A store's vocabulary: its tokenizer's ranks hash, else its name; None for token IDs."""
    manifest = getattr(source, "manifest", None)
    if not isinstance(manifest, dict):
        return None
    info = manifest.get("tokenizer", {})
    return info.get("ranks_sha256") or info.get("name")


def check_vocabularies(sources: Mapping[str, Any]) -> None:
    """OptionError naming the first two components whose stores' vocabularies differ."""
    first: tuple[str, str] | None = None
    for name, source in sources.items():
        vocab = vocabulary(source)
        if vocab is None:
            continue
        if first is None:
            first = (name, vocab)
        elif vocab != first[1]:
            raise OptionError(
                "source", "components {0!r} and {1!r} were made with different tokenizers ({2} and "
                "{3}): a mixture's components must share one vocabulary; prepare {1!r} again with "
                "{0!r}'s tokenizer", first[0], name, first[1], vocab,
            )


def _windows(source: Any, split: str, max_length: int, stride: int) -> int:
    manifest = getattr(source, "manifest", None)
    if isinstance(manifest, dict):
        if split not in manifest.get("splits", {}):
            raise ValueError(f"the token store at {getattr(source, 'path', '?')} has no split {split!r}")
        n = int(manifest["splits"][split]["n_tokens"])
    else:
        n = len(source)
    return len(range(0, n - max_length, stride))


@dataclass(frozen=True)
class ComponentPlan:
    """One component's part of a run."""

    name: str
    share: Fraction  # its weight as the loader applies it (rounded to a denominator <= 2**16)
    windows: int  # windows it holds (one epoch of it)
    drawn: int  # windows drawn from it over the run
    tokens: int  # tokens those windows feed the model (drawn x max_length)
    epochs: float  # drawn / windows: above 1, it is repeated
    first_repeat_window: int | None  # global window position of its first repeated window
    first_repeat_batch: int | None  # global batch of that window (None without a global batch)


@dataclass(frozen=True)
class MixturePlan:
    """``plan_mixture``'s answer: the run's size and each component's ``ComponentPlan``."""

    windows: int  # global windows in the run
    tokens: int  # windows x max_length
    max_length: int
    stride: int
    global_batch: int | None
    seed: int
    components: list[ComponentPlan] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: shares as floats (and their exact fractions as strings)."""
        rows = [
            {**c.__dict__, "share": float(c.share), "share_exact": str(c.share)} for c in self.components
        ]
        return {**{k: v for k, v in self.__dict__.items() if k != "components"}, "components": rows}


def plan_mixture(
    components: Mapping[str, Any], weights: Any = None, *, tokens: int | None = None,
    steps: int | None = None, global_batch: int | None = None, max_length: int = 256,
    stride: int | None = None, split: str = "train", seed: int = 0,
) -> MixturePlan:
    """Per component of a mixture: share, windows and tokens drawn, epochs, first repeat.

    ``components`` and ``weights`` are what ``create_dataloader`` takes (paths, stores,
    ``(store, split)`` pairs; None weights: in proportion to the windows); the run is ``tokens``
    (windows of ``max_length`` tokens, rounded up) or ``steps`` x ``global_batch``. Pitfall:
    the counts do not depend on ``seed`` (only which windows are drawn does); a schedule needs
    ``global_batch`` to place its segments.

    >>> import numpy as np
    >>> plan = plan_mixture({"big": np.zeros(1001), "small": np.zeros(101)}, {"big": 1, "small": 1},
    ...                     steps=50, global_batch=4, max_length=10)
    >>> [(c.name, c.drawn, c.epochs, c.first_repeat_batch) for c in plan.components]
    [('big', 100, 1.0, None), ('small', 100, 10.0, 5)]
    """
    max_length = positive_int("max_length", max_length)
    stride = max_length if stride is None else positive_int("stride", stride)
    if (tokens is None) == (steps is None):
        raise OptionError("tokens", "give the run's length: {tokens=N}, or {steps=S} with {global_batch=B}")
    if steps is not None:
        if global_batch is None:
            raise OptionError("global_batch", "{steps} needs {global_batch=B} (batch size x ranks)")
        n = positive_int("steps", steps) * positive_int("global_batch", global_batch)
    else:
        n = math.ceil(positive_int("tokens", tokens) / max_length)
        if global_batch is not None:
            positive_int("global_batch", global_batch)
    if not isinstance(weights, (Mapping, type(None))) and global_batch is None:
        raise OptionError("global_batch", "a weight schedule needs {global_batch=B} to place its segments")
    resolved = {name: resolve_component(name, value, split) for name, value in components.items()}
    check_vocabularies({name: source for name, (source, _) in resolved.items()})
    sizes = []
    for name, (source, component_split) in resolved.items():
        sizes.append(_windows(source, component_split, max_length, stride))
        if sizes[-1] == 0:
            raise OptionError(
                "max_length", "component {0!r} holds no window of {max_length=%d}: lower "
                "{max_length} or leave the component out" % max_length, name,
            )
    mixture = Mixture(list(resolved), sizes, weights, seed=seed, global_batch_size=global_batch or 1)
    drawn = mixture.counts(n).tolist()
    final = mixture.weights_at(max(0, (n - 1) // (global_batch or 1)))
    rows = []
    for k, name in enumerate(mixture.names):
        repeat = mixture.first_repeat(k)
        repeat = repeat if repeat is not None and repeat < n else None
        rows.append(ComponentPlan(
            name=name, share=final[name], windows=sizes[k], drawn=drawn[k], tokens=drawn[k] * max_length,
            epochs=drawn[k] / sizes[k], first_repeat_window=repeat,
            first_repeat_batch=None if repeat is None or global_batch is None else repeat // global_batch,
        ))
    return MixturePlan(n, n * max_length, max_length, stride, global_batch, seed, rows)
