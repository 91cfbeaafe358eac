"""The seeded sampler's state dict: a versioned contract, checked field by field when loaded.

A state dict records the global position (epoch, next global batch), not a rank's, so any
rank's state restores any rank of a job with another world size and the same global batch
size ``B = batch_size * world_size``. Loading refuses, with a ValueError that says what
differs, a state from another dataset (window count, seed, token store checksum, windowing),
another ``B``, another order, or another version; nothing is ever silently misread.

>>> STATE_FORMAT, STATE_VERSION
('tokenmill.SeededBatchSampler', 1)
"""

from __future__ import annotations

import operator
from typing import Any

from tokenmill.common.checks import is_int
from tokenmill.common.errors import ExplainedError
from tokenmill.loader.permutation import PERMUTATION_VERSION

__all__ = ["BOOK_FORMAT", "MIXTURE_FORMAT", "STATE_FORMAT", "STATE_VERSION", "check_book_state", "check_state", "sampler_state_of"]

STATE_FORMAT = "tokenmill.SeededBatchSampler"
BOOK_FORMAT = "tokenmill.WindowBatchSampler"  # the book's order: how the epoch was drawn + position
# A mixture's: the seeded format's fields, its components' identities and its weight schedule.
MIXTURE_FORMAT = "tokenmill.MixtureBatchSampler"
STATE_VERSION = 1  # bump on any change of meaning; both formats refuse versions they do not know

_MATCH = ("n_windows", "seed", "shuffle", "drop_last")  # must equal the loader's, as they are


_MAX_INT = 2**63 - 1  # epochs, positions and steps beyond int64 would wrap in the permutation


def _int_field(state: dict[str, Any], key: str, what: str = "sampler state dict") -> int:
    value = state.get(key)
    number = operator.index(value) if is_int(value) else -1
    if not 0 <= number <= _MAX_INT:
        raise ValueError(
            f"{what} field {key!r} must be an int from 0 to 2**63 - 1, got {str(value)[:40]!r}; "
            f"the state is damaged: restore one saved by loader.state_dict()"
        )
    return number


def _check_drawn(drawn: Any) -> None:
    """ValueError unless ``drawn`` can redraw an epoch: a seed torch takes, or a generator's state."""
    import torch  # the loader's layer has torch; only this check needs it

    if drawn is None:
        return
    if isinstance(drawn, dict) and set(drawn) == {"seed"}:
        seed = drawn["seed"]
        if is_int(seed) and -(2**63) <= seed < 2**64:
            return
    elif isinstance(drawn, dict) and set(drawn) == {"generator_state"}:
        state = drawn["generator_state"]
        size = torch.Generator().get_state().numel()
        if isinstance(state, list) and len(state) == size and all(is_int(b) and 0 <= b < 256 for b in state):
            try:
                torch.Generator().set_state(torch.tensor(state, dtype=torch.uint8))
                return
            except (RuntimeError, ValueError):
                pass
    raise ValueError(
        f"sampler state field 'drawn' is damaged ({str(drawn)[:80]!r}): it must be null, "
        f"{{'seed': int}} or {{'generator_state': [{torch.Generator().get_state().numel()} "
        f"ints 0-255]}}; restore one saved by loader.state_dict()"
    )


def _differences(saved: Any, have: Any) -> list[str]:
    if not (isinstance(saved, dict) and isinstance(have, dict)):
        return [] if saved == have else [f"dataset {saved!r} here {have!r}"]
    keys = sorted(set(saved) | set(have))
    return [f"{k} {saved.get(k)!r} here {have.get(k)!r}" for k in keys if saved.get(k) != have.get(k)]


def _check_header(state: Any, fmt: str) -> None:
    """ValueError unless ``state`` is a dict of format ``fmt`` at a version this tokenmill reads."""
    if not isinstance(state, dict):
        raise ValueError(
            f"a sampler state dict must be a dict, got {type(state).__name__}; pass what "
            f"loader.sampler.state_dict() returned"
        )
    if state.get("format") != fmt:
        hint = (
            "; it looks like a whole loader's state: pass it to loader.load_state_dict()"
            if "_snapshot" in state or "_sampler_iter_state" in state or "_index_sampler_state" in state
            else "; a loader made with seed= saves the seeded order's state, one without saves the book order's"
            if str(state.get("format", "")).startswith("tokenmill.") else ""
        )
        raise ValueError(
            f"not a {fmt} state (format {state.get('format')!r}, keys {sorted(state)[:8]}): it "
            f"cannot be restored into this loader's sampler{hint}"
        )
    version = state.get("version")
    if version != STATE_VERSION:
        newer = isinstance(version, int) and version > STATE_VERSION
        raise ValueError(
            f"sampler state version {version!r} is not one this tokenmill reads (it reads "
            f"{STATE_VERSION}); " + ("upgrade tokenmill to resume from it" if newer else
            "it was saved by another tokenmill; resume with that version or restart the epoch")
        )


def _stride_hint(saved: Any, have: Any, defaulted: bool) -> str:
    """Why the windows differ when this loader took the default stride and the state has another."""
    if not (defaulted and isinstance(saved, dict) and isinstance(have, dict)):
        return ""
    stride = saved.get("stride")
    if not is_int(stride) or stride == have.get("stride"):
        return ""
    return (
        f"the default stride changed in tokenmill 0.2.0 from 128 to max_length (each token once "
        f"per epoch): this loader took the default, stride={have.get('stride')}, and the state "
        f"was saved with stride={stride}; to get the saved windows back pass stride={stride} "
        f"to create_dataloader; "
    )


def _check_same_data(
    state: dict[str, Any], have: dict[str, Any], keys: tuple[str, ...], stride_defaulted: bool = False,
) -> None:
    diffs = [f"{k}: saved {state.get(k)!r}, here {have[k]!r}" for k in keys if state.get(k) != have[k]]
    if state.get("dataset") != have["dataset"]:
        diffs.append("dataset: saved " + ", ".join(_differences(state.get("dataset"), have["dataset"])))
    if diffs:
        hint = _stride_hint(state.get("dataset"), have["dataset"], stride_defaulted)
        if hint:
            raise ValueError(hint + "(differences: " + "; ".join(diffs) + ")")
        raise ValueError(
            "the sampler state dict is from another dataset or order, so its position means "
            "nothing here: " + "; ".join(diffs) + "; restore it into a loader made with the "
            "same data, windowing, seed, shuffle and drop_last"
        )


def _order_name(order: Any) -> str:
    if order is None:
        return "the uniform order (order='uniform')"
    if isinstance(order, dict) and order.get("name") == "local":
        return (
            f"the local order (LocalOrder(block_windows={order.get('block_windows')!r}, "
            f"group_blocks={order.get('group_blocks')!r}), version {order.get('version')!r})"
        )
    return f"an order this tokenmill does not know ({str(order)[:80]!r})"


def _check_order(state: dict[str, Any], have: Any) -> None:
    """ValueError unless ``state`` was saved with this loader's order (uniform states have no field)."""
    saved = state.get("order")
    if saved != have:
        raise ValueError(
            f"the sampler state was saved with {_order_name(saved)}, this loader draws "
            f"{_order_name(have)}: the same position holds other windows; make the loader with "
            f"the order that saved the state (create_dataloader(..., order=...))"
        )


def check_state(sampler: Any, state: Any, fmt: str = STATE_FORMAT) -> tuple[int, int]:
    """``(epoch, next_global_batch)`` of ``state`` if it fits ``sampler``, else ValueError saying why."""
    _check_header(state, fmt)
    if state.get("permutation_version") != PERMUTATION_VERSION:
        raise ValueError(
            f"sampler state uses permutation version {state.get('permutation_version')!r}, this "
            f"tokenmill computes version {PERMUTATION_VERSION}: the order would differ; resume "
            f"with the tokenmill that saved it"
        )
    _check_order(state, sampler._state(0, 0).get("order"))
    _check_same_data(state, sampler._state(0, 0), _MATCH, sampler.stride_defaulted)
    saved_B, B = _int_field(state, "global_batch_size"), sampler.global_batch_size
    if saved_B != B:
        ws = sampler.world_size
        fix = (
            "pass {batch_size=%d} (x {world_size=%d} = %d)" % (saved_B // ws, ws, saved_B)
            if saved_B % ws == 0
            else "{world_size=%d} does not divide %d; use a world size that does" % (ws, saved_B)
        )
        raise ExplainedError(
            "the state was saved with global batch size {0} ({batch_size} x {world_size}), this "
            "loader's is {1} ({batch_size=%d} x {world_size=%d}); the global batches would "
            "differ: %s" % (sampler.batch_size, ws, fix),
            saved_B, B,
        )
    epoch, g = _int_field(state, "epoch"), _int_field(state, "next_global_batch")
    if g > sampler.num_global_batches:
        raise ValueError(
            f"sampler state next_global_batch={g} is past the epoch's "
            f"{sampler.num_global_batches} global batches; the state is damaged"
        )
    return epoch, g


def check_book_state(sampler: Any, state: Any) -> tuple[dict[str, Any] | None, int]:
    """``(how the epoch's order was drawn, batches done)`` of a book-order state, else ValueError."""
    _check_header(state, BOOK_FORMAT)
    _check_same_data(
        state, sampler.state_dict(), ("n_windows", "batch_size", "shuffle", "drop_last"),
        sampler.stride_defaulted,
    )
    position, drawn = _int_field(state, "position"), state.get("drawn")
    if position > len(sampler):
        raise ValueError(
            f"sampler state position={position} is past the epoch's {len(sampler)} batches; the "
            f"state is damaged"
        )
    _check_drawn(drawn)
    if drawn is None and sampler.shuffle and position:
        raise ValueError(
            f"sampler state field 'drawn' is null at position {position} of a shuffled epoch: "
            f"the state is damaged; restore one saved by loader.state_dict()"
        )
    return drawn, position


def sampler_state_of(state: Any) -> dict[str, Any]:
    """The seeded sampler's state inside a ``StatefulDataLoader`` state dict (or ``state`` itself).

    Reads both of torchdata's layouts (``num_workers=0`` and ``> 0``), so a state saved with one
    restores a loader with the other.
    """
    if not isinstance(state, dict):
        raise ValueError(f"a loader state dict must be a dict, got {type(state).__name__}")
    if state.get("format") in (STATE_FORMAT, BOOK_FORMAT, MIXTURE_FORMAT):
        return state
    steps = 0
    main: Any = state
    if "_snapshot" in state:  # num_workers > 0: the main process's snapshot, and steps since it
        snapshot = state["_snapshot"]
        main = snapshot.get("_main_snapshot", {}) if isinstance(snapshot, dict) else None
        if not isinstance(main, dict):
            raise ValueError(
                f"loader state dict field '_snapshot' must be a dict holding a dict "
                f"'_main_snapshot', got {str(snapshot)[:80]!r}; the state is damaged: restore "
                f"one saved by loader.state_dict()"
            )
        steps = _int_field(
            {"_steps_since_snapshot": state.get("_steps_since_snapshot", 0)}, "_steps_since_snapshot",
            "loader state dict",
        )
    inner = main.get("_sampler_iter_state") or main.get("_index_sampler_state")
    if not isinstance(inner, dict) or "format" not in inner:
        raise ValueError(
            f"this loader state dict holds no tokenmill sampler state (keys {sorted(state)[:8]}); "
            f"it was saved by a loader without seed= (or not by tokenmill): restore into a "
            f"loader made the way the saving one was"
        )
    if steps and isinstance(inner.get("next_global_batch"), int):
        inner = dict(inner, next_global_batch=inner["next_global_batch"] + steps)
    return inner
