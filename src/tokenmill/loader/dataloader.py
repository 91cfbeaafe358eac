"""Windows -> batches: ``create_dataloader``, for one process (the book's order) or many ranks.

``create_dataloader`` batches a ``WindowDataset`` like the book's ``create_dataloader_v1``
(section 2.6): for text and the same arguments and torch seed, the same batches. Given
``seed=`` (or ranks), the order is instead a seeded permutation computed per position in O(1)
memory, divided among ranks by a global-batch contract, and resumable with ``state_dict``.
The dataset is in ``tokenmill.loader.dataset``, the orders in ``tokenmill.loader.book_sampler``
and ``tokenmill.loader.seeded_sampler``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader

from tokenmill.common.checks import positive_int
from tokenmill.common.errors import OptionError, OptionTypeError
from tokenmill.loader.block_permutation import LocalOrder, resolve_order, store_order
from tokenmill.loader.book_sampler import WindowBatchSampler
from tokenmill.loader.build import build_dataset
from tokenmill.loader.dataset import WindowDataset, as_token_array
from tokenmill.loader.document_dataset import DocumentDataset
from tokenmill.loader.permutation import check_seed
from tokenmill.loader.prefetch import PrefetchingBatchSampler, ShardPrefetcher
from tokenmill.loader.ranks import loader_ranks
from tokenmill.loader.seeded_sampler import SeededBatchSampler
from tokenmill.loader.sources import dataset_id
from tokenmill.tokenizers.base import ENDOFTEXT

__all__ = [
    "ENDOFTEXT",
    "SeededBatchSampler",
    "WindowBatchSampler",
    "WindowDataset",
    "WindowLoader",
    "as_token_array",
    "create_dataloader",
    "window_loader",
]


class WindowLoader(DataLoader):
    """A DataLoader whose ``batch_size`` and ``drop_last`` report its batch sampler's.

    The sampler yields whole batches, so torch runs unbatched and would record None and False
    (it reads them only for iterable datasets); setting them later raises, as on any DataLoader.
    """

    # The setters drop what DataLoader.__init__ assigns (None, False); the sampler holds the truth.
    batch_size = property(lambda self: self.sampler.batch_size, lambda self, _: None)
    drop_last = property(lambda self: self.sampler.drop_last, lambda self, _: None)


def _batch_as_is(batch: list[torch.Tensor]) -> list[torch.Tensor]:
    """The DataLoader's collate_fn: the dataset already returns whole batches."""
    return batch


def _check_dataset(dataset: Any) -> None:
    if not isinstance(dataset, (WindowDataset, DocumentDataset)):
        raise OptionTypeError(
            "dataset", "{dataset} must be a WindowDataset, got {0} (or a DocumentDataset); for other datasets use "
            "torch.utils.data.DataLoader directly", type(dataset).__name__,
        )


def window_loader(
    dataset: WindowDataset, *, batch_size: int = 4, shuffle: bool = True, drop_last: bool = True,
    num_workers: int = 0, generator: torch.Generator | None = None, stateful: bool = False,
    dataset_id: dict[str, Any] | None = None, **loader_options: Any,
) -> DataLoader:
    """A DataLoader over ``dataset`` that fetches each batch with one gather.

    Same batches, RNG draws, ``batch_size``, ``drop_last`` and ``len`` as ``DataLoader(dataset,
    batch_size, shuffle=..., drop_last=..., generator=...)``; ``loader.sampler`` is a
    ``WindowBatchSampler``. ``stateful=True`` makes it torchdata's ``StatefulDataLoader``
    (restoring checks ``dataset_id``); ``loader_options`` (``pin_memory``, ``prefetch_factor``,
    ``persistent_workers``, ...) go to the DataLoader as they are. Pitfall: refuses
    (ValueError) a loader that would drop every batch.

    >>> loader = window_loader(WindowDataset(list(range(12)), max_length=3, stride=3),
    ...                        batch_size=2, shuffle=False)
    >>> len(loader), loader.batch_size, [inputs.tolist() for inputs, targets in loader]
    (1, 2, [[[0, 1, 2], [3, 4, 5]]])
    """
    _check_dataset(dataset)
    batch_size = positive_int("batch_size", batch_size)
    if drop_last and len(dataset) < batch_size:
        raise OptionError(
            "batch_size",
            "{drop_last=True} with {batch_size=%d} drops every batch: there are only {0} windows "
            "({1} tokens, {max_length=%d}, {stride=%d}); lower {batch_size} to at most {0}, lower "
            "{stride} or {max_length}, or pass {drop_last=False}"
            % (batch_size, dataset.max_length, dataset.stride),
            len(dataset), dataset.n_tokens,
        )
    sampler = WindowBatchSampler(
        len(dataset), batch_size, shuffle=shuffle, drop_last=drop_last, generator=generator,
        dataset_id=dataset_id,
    )
    loader_class = _stateful_loader_class() if stateful else WindowLoader
    # batch_size=None: the sampler yields whole batches and the dataset gathers each in one step.
    return loader_class(
        dataset, batch_size=None, sampler=sampler, collate_fn=_batch_as_is,
        num_workers=num_workers, generator=generator, **loader_options,
    )


def _stateful_loader_class() -> type[DataLoader]:
    try:
        from tokenmill.loader.stateful import StatefulWindowLoader
    except ImportError as error:
        raise ImportError(
            f"stateful=True needs torchdata's StatefulDataLoader, which is not installed "
            f"({error}); install the extra: pip install 'tokenmill[stateful]' (or pip install "
            f"torchdata)"
        ) from error
    return StatefulWindowLoader


def create_dataloader(
    source: Any, *, tokenizer: Any = None, batch_size: int = 4, max_length: int = 256,
    stride: int | None = None, shuffle: bool = True, drop_last: bool = True, num_workers: int = 0,
    allowed_special: Collection[str] | str = (ENDOFTEXT,), split: str = "train",
    generator: torch.Generator | None = None, seed: int | None = None, rank: int | None = None,
    world_size: int | None = None, stateful: bool = False, pin_memory: bool = False,
    prefetch_factor: int | None = None, persistent_workers: bool = False, timeout: float = 0,
    worker_init_fn: Callable[[int], None] | None = None, multiprocessing_context: Any = None,
    weights: Any = None, epoch_windows: int | None = None, epoch_tokens: int | None = None,
    windows: str = "sliding", pad_id: int | None = None, return_dict: bool = False,
    storage_options: dict[str, Any] | None = None, cache_dir: Any = None, cache_limit: int | str | None = None,
    order: str | LocalOrder = "uniform",
) -> DataLoader:
    """A DataLoader of ``[inputs, targets]`` batches, each int64 ``(batch_size, max_length)``.

    ``source`` is text (encoded with ``tokenizer.encode(text, allowed_special=...)``, as the
    book does; ``tokenizer`` is a name, a path, a tokenmill tokenizer or a ``tiktoken.Encoding``,
    and None, the default, means "gpt2"), token IDs (list, numpy array, memmap, tensor) or a
    token store (its ``split`` is read; with ``tokenizer=None`` the store's own tokenizer, even
    one made with ``prepare -t tokenizer.json``; a tokenizer given is checked against the
    store's vocabulary). A token store's directory, as a ``pathlib.Path`` or a str, is opened
    with ``TokenStore.open``.

    A str is a path, not text, when it is one line that names an existing file or directory
    (``~`` expanded), starts with ``/``, ``~``, ``./`` or ``../``, or is one word ending in a
    file suffix (``.txt``, ``.jsonl``, ``.xz``, ``.gz``, ``.zst``, ``.parquet``, ``.bin``, ...):
    ``"~/store"`` opens the store there; ``"the-verdict.txt"`` (a file), ``"/tmp/nostore"``
    (missing) and a directory that is no store are refused (ValueError) with the way on
    (``tokenmill prepare FILE --out DIR`` then ``TokenStore.open(DIR)``, or pass the file's
    text: ``open(FILE).read()``). Text with spaces or newlines that names no file is text, as
    in the book (a one-line text that starts like a path: pass its token IDs instead).

    ``stride`` is the step between windows' starts; None (the default) means ``max_length``,
    so each token is in one window per epoch (as nanoGPT, Megatron and litgpt train); the
    book's ``stride=128`` (overlapping windows) is ``tokenmill.book.create_dataloader_v1``'s
    default, or pass it. ``split`` picks a token store's split: a validation loader is
    ``create_dataloader(store, split="val", shuffle=False)``. ``pin_memory``,
    ``prefetch_factor``, ``persistent_workers``, ``timeout``, ``worker_init_fn`` and
    ``multiprocessing_context`` go to the DataLoader as they are; a store on object storage
    (``"s3://bucket/prefix"``) is read through a local cache (``storage_options``,
    ``cache_dir``, ``cache_limit``: see ``TokenStore.open``), the seeded order fetching the
    next batches' shards ahead; ``num_workers=0`` (the
    default) is the fast choice: a batch is one vectorised gather from memory-mapped shards,
    and worker processes only add pickling and IPC.

    Two orders. Without ``seed`` in one process (the default), the book's: torch's global RNG
    draws the epoch's shuffle, so under ``torch.manual_seed`` the batches are exactly those of
    the book's ``create_dataloader_v1``. With ``seed=`` or ranks, a seeded permutation of the
    windows, a pure function of (seed, epoch, position): ``loader.sampler`` is a
    ``SeededBatchSampler`` with ``set_epoch(e)``, ``state_dict()`` and ``load_state_dict()``.
    ``rank``/``world_size`` default to torch.distributed's when it is initialised (else 0 and
    1), ``batch_size`` is per rank, and global batch ``g`` is positions ``[g*B, (g+1)*B)`` of
    the permutation with ``B = batch_size * world_size``, rank ``r`` taking the slice ``[r*
    batch_size, (r+1)*batch_size)`` of it. ``stateful=True`` returns torchdata's
    ``StatefulDataLoader`` (extra ``tokenmill[stateful]``), whose ``state_dict()`` resumes
    exactly, in O(1), at any world size with the same ``B``.

    A mixture: ``source`` a mapping ``{name: store}`` (a path, a ``TokenStore`` or a ``(store,
    split)`` pair), ``weights`` ``{name: weight}`` (None: in proportion to the components'
    windows) or a schedule ``[(global_batch, {name: weight}), ...]``, and ``seed=`` (required).
    Each global window position's component is a pure function of the weights and the position,
    exact to within one window over every prefix; each component is drawn in its own seeded
    permutation and starts its next epoch when used up. An epoch is all the components' windows
    unless ``epoch_windows=`` (or ``epoch_tokens=``) says otherwise; ``set_epoch`` continues every
    component where it stopped. ``loader.windows_drawn`` counts each component's windows drawn;
    see ``tokenmill.loader.mixture`` and README "Mixtures".
    ``windows``: ``"sliding"`` (the default, the book's windows over the token stream),
    ``"documents"`` (each window starts at a document's start, its tail padded with ``pad_id``,
    default the store's EOT ID) or ``"packed"`` (whole documents packed best-fit into rows; no
    ``stride``). ``return_dict=True`` gives dict batches (``input_ids``, ``labels``,
    ``position_ids``, ``document_ids``, ``cu_seqlens``, ``max_seqlen``, ``num_items_in_batch``)
    with any layout; ``labels`` are already shifted (the targets). Both need document
    boundaries: a token store or a list of documents' token lists (see ``DocumentDataset``).
    ``order="local"`` (or ``LocalOrder(block_windows=..., group_blocks=...)``) swaps the seeded
    permutation for a locality-preserving one (``tokenmill.loader.block_permutation``): shuffled
    blocks of consecutive windows, mixed within small groups of blocks, so that a cache much
    smaller than a remote store downloads each shard about once per epoch; it needs ``seed=``
    and sliding windows, and its state is refused by a uniform-order loader (and back).

    Pitfalls: in the book's order, seed before ``iter(loader)`` (or pass ``generator``); it
    resumes too (``stateful=True``), by redrawing its epoch's shuffle (O(n_windows)), at world
    size 1 only. ``seed`` is required with more than one rank when shuffling.
    With ``drop_last=False`` the last global batch is divided the same way, so some ranks get a
    shorter batch or none. ``stride < max_length`` makes windows overlap; ``stride >
    max_length`` skips tokens.

    >>> loader = create_dataloader("In the heart of the city stood the old library, a relic",
    ...                            batch_size=2, max_length=4, stride=4, shuffle=False)
    >>> inputs, targets = next(iter(loader))
    >>> inputs.tolist(), targets[0].tolist()
    ([[818, 262, 2612, 286], [262, 1748, 6204, 262]], [262, 2612, 286, 262])
    >>> create_dataloader("/tmp/no/such/store")  # a path, not text  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: source '/tmp/no/such/store' is a path that does not exist: create_dataloader takes text, ...
    >>> ranks = [create_dataloader(list(range(40)), batch_size=2, max_length=3, stride=3,
    ...                            seed=1, rank=r, world_size=2) for r in (0, 1)]
    >>> [next(iter(loader))[0][:, 0].tolist() for loader in ranks]  # window starts, per rank
    [[24, 9], [0, 30]]
    >>> one = create_dataloader(list(range(40)), batch_size=4, max_length=3, stride=3, seed=1)
    >>> next(iter(one))[0][:, 0].tolist()  # the same global batch, in one process
    [24, 9, 0, 30]
    """
    # Checked before tokenizing, which can take seconds.
    stride_defaulted = stride is None
    given_stride = stride
    if windows == "packed" and stride is not None:
        raise OptionError(
            "stride",
            "{windows='packed'} cuts long documents into pieces every {max_length} tokens, so "
            "{stride=%r} has no meaning there; drop {stride=} (or use {windows='documents'})" % (stride,),
        )
    if stride is None:
        stride = positive_int("max_length", max_length)
    for name, value in (("batch_size", batch_size), ("max_length", max_length), ("stride", stride)):
        positive_int(name, value)
    rank, world_size = loader_ranks(rank, world_size)
    if seed is not None:
        check_seed(seed)
    seeded = seed is not None or world_size > 1
    if seeded and shuffle and seed is None:
        raise OptionError(
            "seed",
            "{world_size=%d} > 1 needs {seed=}: every rank must draw the same order; pass the "
            "same {seed=...} on every rank (the book's default order comes from each process's "
            "torch RNG)" % world_size,
        )
    if seeded and generator is not None:
        raise OptionError(
            "generator",
            "pass {seed=} or {generator=}, not both: {generator=} draws the book's order, while "
            "with {seed=} or ranks the order is the seeded permutation; drop {generator=}",
        )
    is_mixture = isinstance(source, Mapping)
    local_order = resolve_order(order, seeded=seeded, shuffle=shuffle, windows=windows, mixture=is_mixture)
    loader_class = _stateful_loader_class() if stateful else WindowLoader
    if isinstance(source, Mapping) or weights is not None or epoch_windows is not None or epoch_tokens is not None:
        from tokenmill.loader.mixture_loader import create_mixture_loader

        if not isinstance(source, Mapping):
            raise OptionError(
                "weights", "{weights}, {epoch_windows} and {epoch_tokens} are for a mixture: pass "
                "{source} as {{name: store, ...}}, got {0}", type(source).__name__,
            )
        return create_mixture_loader(
            source, weights=weights, epoch_windows=epoch_windows, epoch_tokens=epoch_tokens,
            seed=seed, tokenizer=tokenizer, split=split, allowed_special=allowed_special,
            max_length=max_length, stride=given_stride if windows == "packed" else stride,
            batch_size=batch_size, rank=rank, world_size=world_size, shuffle=shuffle, drop_last=drop_last, num_workers=num_workers,
            loader_class=loader_class, collate_fn=_batch_as_is, options={
                "pin_memory": pin_memory, "prefetch_factor": prefetch_factor, "timeout": timeout,
                "persistent_workers": persistent_workers, "worker_init_fn": worker_init_fn,
                "multiprocessing_context": multiprocessing_context,
            },
            stride_defaulted=stride_defaulted, windows=windows, pad_id=pad_id, return_dict=return_dict,
            storage_options=storage_options, cache_dir=cache_dir, cache_limit=cache_limit,
        )
    dataset, source = build_dataset(
        source, tokenizer=tokenizer, split=split, allowed_special=allowed_special,
        max_length=max_length, stride=given_stride if windows == "packed" else stride,
        windows=windows, pad_id=pad_id, return_dict=return_dict,
        storage_options=storage_options, cache_dir=cache_dir, cache_limit=cache_limit,
    )
    options = {
        "pin_memory": pin_memory, "prefetch_factor": prefetch_factor, "timeout": timeout,
        "persistent_workers": persistent_workers, "worker_init_fn": worker_init_fn,
        "multiprocessing_context": multiprocessing_context,
    }
    if not seeded:
        loader = window_loader(
            dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
            num_workers=num_workers, generator=generator, stateful=stateful,
            dataset_id=dataset_id(dataset, source, split) if stateful else None, **options,
        )
        loader.sampler.stride_defaulted = stride_defaulted
        return loader
    remote = getattr(source, "_remote", None) is not None  # a store on object storage: fetch ahead
    if order == "local" and hasattr(source, "splits"):  # sized to the store's shards and the cache
        local_order = store_order(source, split, len(dataset), cache_limit)
    sampler = (PrefetchingBatchSampler if remote else SeededBatchSampler)(
        len(dataset), batch_size, seed=seed, rank=rank, world_size=world_size, shuffle=shuffle,
        drop_last=drop_last, dataset_id=dataset_id(dataset, source, split), order=local_order,
    )
    if remote:
        sampler.prefetcher = ShardPrefetcher(source, split, max_length=max_length, stride=stride)
    sampler.stride_defaulted = stride_defaulted
    return loader_class(
        dataset, batch_size=None, sampler=sampler, collate_fn=_batch_as_is,
        num_workers=num_workers, **options,
    )
