"""Errors that say which option was wrong, so that each front end can name it its own way.

A library error about an option carries the Python parameter's name; the command line maps
that name to its flag through its own parser (``val_fraction`` -> ``--val-fraction``), so no
front end ever rewrites message text.

>>> err = OptionError("val_fraction", "val_fraction must be in [0, 1), got 1.5")
>>> isinstance(err, ValueError), err.parameter
(True, 'val_fraction')
"""

from __future__ import annotations

__all__ = ["OptionError", "OptionTypeError"]


class OptionError(ValueError):
    """A ValueError about one option; ``parameter`` is its Python name (``"val_fraction"``).

    Pitfall: the message is written for Python callers (``val_fraction=...``); a front end
    that shows it to people who typed flags replaces the name by the flag, nothing else.
    """

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


class OptionTypeError(TypeError):
    """A TypeError about one option (a str where an int goes); ``parameter`` as in OptionError."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
