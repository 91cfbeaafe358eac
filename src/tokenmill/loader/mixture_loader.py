"""``create_dataloader({name: store, ...}, weights=..., seed=...)``: a mixture's loader, built here.

Each component is built as one store is (``tokenmill.loader.build.build_dataset``), checked
to share the first component's vocabulary, and joined into a ``MixtureDataset`` batched by a
``MixtureBatchSampler``. The loader's ``windows_drawn`` reports each component's windows drawn.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from tokenmill.common.checks import positive_int
from tokenmill.common.errors import ExplainedError, OptionError
from tokenmill.loader.build import build_dataset
from tokenmill.loader.mixture_dataset import MixtureDataset
from tokenmill.loader.mixture_sampler import MixtureBatchSampler
from tokenmill.loader.plan import check_vocabularies, resolve_component
from tokenmill.loader.sources import dataset_id

__all__ = ["create_mixture_loader", "epoch_size", "mixture_loader_class"]


class _MixtureLoader:
    """What a mixture's loader adds to its DataLoader class."""

    @property
    def windows_drawn(self) -> dict[str, int]:
        """Per component, the windows drawn in the global batches handed out so far (all ranks)."""
        return self.sampler.windows_drawn  # type: ignore[attr-defined]

    @property
    def component_names(self) -> list[str]:
        """The components in order: ``component_ids`` in dict batches index this list."""
        return list(self.sampler.mixture.names)  # type: ignore[attr-defined]


@functools.cache
def mixture_loader_class(base: type) -> type:
    """``base`` (``WindowLoader`` or the stateful one) with ``windows_drawn`` and ``component_names``."""
    name = base.__name__.replace("Window", "Mixture")
    return type(name, (_MixtureLoader, base), {"__module__": __name__, "__qualname__": name})


def epoch_size(n_windows: int, max_length: int, epoch_windows: Any, epoch_tokens: Any) -> int:
    """Windows in an epoch: all the components' by default, else ``epoch_windows`` or ``epoch_tokens``."""
    if epoch_windows is not None and epoch_tokens is not None:
        raise OptionError("epoch_windows", "pass {epoch_windows} or {epoch_tokens}, not both")
    if epoch_windows is not None:
        return positive_int("epoch_windows", epoch_windows)
    if epoch_tokens is not None:
        return math.ceil(positive_int("epoch_tokens", epoch_tokens) / max_length)
    return n_windows


def create_mixture_loader(
    source: Mapping[str, Any], *, weights: Any, epoch_windows: Any, epoch_tokens: Any, seed: Any,
    tokenizer: Any, split: str, allowed_special: Any, max_length: int, stride: int, batch_size: int,
    rank: int, world_size: int, shuffle: bool, drop_last: bool, num_workers: int,
    loader_class: type, collate_fn: Any, options: dict[str, Any], stride_defaulted: bool = False,
    **dataset_options: Any,
) -> Any:
    """The loader ``create_dataloader`` returns for a mapping of components (see its docstring)."""
    if seed is None:
        raise OptionError(
            "seed", "a mixture needs {seed=}: the components' orders and seeds derive from it; "
            "pass the same {seed=0} on every rank",
        )
    if not source:
        raise OptionError("source", "a mixture needs at least one component, got an empty mapping")
    remote = {k: v for k, v in dataset_options.items() if k in ("storage_options", "cache_dir", "cache_limit")}
    resolved_components = {name: resolve_component(name, value, split, **remote) for name, value in source.items()}
    check_vocabularies({name: component for name, (component, _) in resolved_components.items()})
    names, datasets, ids = [], [], {}
    for name, (component, component_split) in resolved_components.items():
        try:
            dataset, resolved = build_dataset(
                component, tokenizer=tokenizer, split=component_split, allowed_special=allowed_special,
                max_length=max_length, stride=stride, **dataset_options,
            )
        except ExplainedError as error:  # the same error, saying which component
            parameter = getattr(error, "parameter", "source")
            where = "component {%d!r}: " % len(error.args_)
            raise OptionError(parameter, where + error.template, *error.args_, name) from error
        names.append(name)
        datasets.append(dataset)
        ids[name] = dataset_id(dataset, resolved, component_split)
    ident = {"components": ", ".join(names), **{f"component {n}": ids[n] for n in names}}
    ident["mixture_sha256"] = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()
    dataset = MixtureDataset(names, datasets)
    sampler = MixtureBatchSampler(
        names, [len(ds) for ds in datasets], weights,
        epoch_windows=epoch_size(len(dataset), max_length, epoch_windows, epoch_tokens),
        batch_size=batch_size, seed=seed, rank=rank, world_size=world_size, shuffle=shuffle,
        drop_last=drop_last, dataset_id=ident,
    )
    sampler.stride_defaulted = stride_defaulted
    return mixture_loader_class(loader_class)(
        dataset, batch_size=None, sampler=sampler, collate_fn=collate_fn, num_workers=num_workers,
        **options,
    )
