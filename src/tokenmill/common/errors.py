"""Errors whose messages name options, so that each front end can spell them its own way.

A library error that names an option (the one that was wrong, or one that would fix it)
is written as a template: ``{val_fraction}`` names an option, ``{val_fraction=0.01}`` names
it with a value, ``{0}``/``{0!r}`` are the values given after the template. Python callers
read ``val_fraction`` and ``val_fraction=0.01``; the command line renders the same template
with its parser's flags (``--val-fraction``, ``--val-fraction 0.01``). No front end ever
rewrites message text.

>>> err = OptionError("val_fraction", "{val_fraction} must be in [0, 1), got {0!r}; e.g. {val_fraction=0.01}", 1.5)
>>> isinstance(err, ValueError), err.parameter
(True, 'val_fraction')
>>> str(err)
'val_fraction must be in [0, 1), got 1.5; e.g. val_fraction=0.01'
>>> err.render(lambda name, value: "--" + name.replace("_", "-") + ("" if value is None else " " + value))
'--val-fraction must be in [0, 1), got 1.5; e.g. --val-fraction 0.01'
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

__all__ = ["ExplainedError", "ExplainedWarning", "OptionError", "OptionTypeError", "python_spelling", "render_template"]

# How a front end spells an option: (python name, value as written or None) -> text.
Spelling = Callable[[str, "str | None"], str]


def python_spelling(name: str, value: str | None) -> str:
    """``name`` or ``name=value``: how Python callers write an option."""
    return name if value is None else f"{name}={value}"


def render_template(template: str, args: tuple[Any, ...], spell: Spelling) -> str:
    """Fill ``template``: ``{N}`` with ``args[N]``, ``{name}``/``{name=value}`` through ``spell``."""
    out = []
    for literal, field, spec, conversion in string.Formatter().parse(template):
        out.append(literal)
        if field is None:
            continue
        if field.isdigit():
            value = args[int(field)]
            value = repr(value) if conversion == "r" else str(value)
            out.append(format(value, spec or ""))
        else:
            name, eq, value = field.partition("=")
            out.append(spell(name, value if eq else None))
    return "".join(out)


class ExplainedError(ValueError):
    """A ValueError whose message may name options (see the module docstring).

    Pitfall: a literal brace in the template must be doubled (``{{``); values that may hold
    braces go in as ``{0}`` arguments, never pasted into the template.
    """

    def __init__(self, template: str, *args: Any) -> None:
        self.template, self.args_ = template, args
        super().__init__(render_template(template, args, python_spelling))

    def render(self, spell: Spelling) -> str:
        """The message with every option spelled by ``spell`` (the CLI passes its flags)."""
        return render_template(self.template, self.args_, spell)


class OptionError(ExplainedError):
    """An option's value is wrong; ``parameter`` is its Python name (``"val_fraction"``)."""

    def __init__(self, parameter: str, template: str, *args: Any) -> None:
        self.parameter = parameter
        super().__init__(template, *args)


class OptionTypeError(TypeError):
    """An option has the wrong type (a str where an int goes); ``parameter``, ``render`` as in OptionError."""

    def __init__(self, parameter: str, template: str, *args: Any) -> None:
        self.parameter, self.template, self.args_ = parameter, template, args
        super().__init__(render_template(template, args, python_spelling))

    def render(self, spell: Spelling) -> str:
        return render_template(self.template, self.args_, spell)


class ExplainedWarning(UserWarning):
    """A warning made from an :class:`ExplainedError`: ``str()`` the Python spelling, ``render`` for the CLI.

    ``args[0]`` stays a str (pytest and the warnings machinery expect one); the template rides along.
    """

    def __init__(self, error: ExplainedError) -> None:
        super().__init__(str(error))
        self.error = error

    def render(self, spell: Spelling) -> str:
        return self.error.render(spell)
