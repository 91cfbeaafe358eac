"""Argument checks shared by the stages: an int in range, or an error that names the argument.

Pure Python (no numpy, no torch), so that every stage can use them without a heavier import.

>>> positive_int("batch_size", 8)
8
>>> non_negative_int("rank", 0)
0
"""

from __future__ import annotations

import operator
from typing import Any

from tokenmill.common.errors import OptionError, OptionTypeError

__all__ = ["is_int", "non_negative_int", "positive_int", "rank_and_world_size"]


def is_int(value: Any) -> bool:
    """An int that counts (numpy ints too), never a bool: ``True`` is 1 to Python, not to a user.

    >>> is_int(3), is_int(True), is_int(3.0)
    (True, False, False)
    """
    if isinstance(value, bool):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool):  # True is an int to Python, never a count to a user
        raise OptionTypeError(name, "{%s} must be an int, got the bool {0!r}" % name, value)
    try:
        return operator.index(value)
    except TypeError:
        raise OptionTypeError(name, "{%s} must be an int, got {0} {1!r}" % name, type(value).__name__, value) from None


def positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an int >= 1, or raise a TypeError/ValueError naming ``name``.

    >>> positive_int("stride", 0)
    Traceback (most recent call last):
    ...
    tokenmill.common.errors.OptionError: stride must be >= 1, got 0
    """
    number = _int(name, value)
    if number < 1:
        raise OptionError(name, "{%s} must be >= 1, got {0}" % name, number)
    return number


def non_negative_int(name: str, value: Any) -> int:
    """Return ``value`` as an int >= 0, or raise a TypeError/ValueError naming ``name``.

    >>> non_negative_int("epoch", -1)
    Traceback (most recent call last):
    ...
    tokenmill.common.errors.OptionError: epoch must be >= 0, got -1
    """
    number = _int(name, value)
    if number < 0:
        raise OptionError(name, "{%s} must be >= 0, got {0}" % name, number)
    return number


def rank_and_world_size(rank: Any, world_size: Any) -> tuple[int, int]:
    """``(rank, world_size)`` as ints with ``0 <= rank < world_size``, or an error naming the bad one.

    >>> rank_and_world_size(2, 2)
    Traceback (most recent call last):
    ...
    tokenmill.common.errors.OptionError: rank=2 is out of range for world_size=2; ranks are 0 to 1
    """
    world_size = positive_int("world_size", world_size)
    rank = non_negative_int("rank", rank)
    if rank >= world_size:
        raise OptionError(
            "rank", "{rank=%d} is out of range for {world_size=%d}; ranks are 0 to {0}" % (rank, world_size),
            world_size - 1,
        )
    return rank, world_size
