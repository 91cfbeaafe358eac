"""How every subcommand fails, warns and stops: one line on stderr and one exit-code policy.

Exit status, the same for every subcommand (the README's Reference > Command line):

- 2: the user's input or options are wrong (a bad flag, a path not found or refused, a file
  that cannot be read as asked): ``ValueError``, ``TypeError``, ``FileNotFoundError``,
  ``PermissionError``, ``IsADirectoryError``, ``NotADirectoryError``, :class:`CLIError`;
- 1: a run failed (``RuntimeError``, any other ``OSError`` such as disk full, a worker that
  died, verification that found damage);
- 130: Ctrl-C; 0 when the reader of stdout went away (``tokenmill tokenize ... | head``).

Library errors name Python parameters through templates (:mod:`tokenmill.common.errors`);
:func:`spelling` renders them with the flags of the parser that parsed the command, so no
message text is ever rewritten. A subcommand adds what a user should know after a failed or
interrupted run (what was kept, how to resume) with ``set_defaults(after_failure=f)``,
``f(args) -> str``, or raises a KeyboardInterrupt whose message says it.

>>> import argparse
>>> p = argparse.ArgumentParser()
>>> _ = p.add_argument("inputs", metavar="INPUT"); _ = p.add_argument("--val-fraction", type=float)
>>> _ = p.add_argument("--skip-bad-lines", action="store_true")
>>> spell = spelling(p)
>>> spell("val_fraction", None), spell("val_fraction", "0.01"), spell("skip_bad_lines", "True")
('--val-fraction', '--val-fraction 0.01', '--skip-bad-lines')
>>> spell("inputs", None), spell("workers", "4")
('INPUT', 'workers=4')
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from tokenmill.cli.terminal import safe
from tokenmill.common.errors import Spelling, python_spelling

__all__ = ["CLIError", "USER_ERRORS", "run_command", "spelling", "warnings_shown_as"]


class CLIError(Exception):
    """A user error the CLI itself finds: one line ``tokenmill CMD: error: ...``, exit status 2."""


# Exceptions that mean the user's input or options are wrong (exit 2); checked before OSError.
USER_ERRORS: tuple[type[BaseException], ...] = (
    CLIError, ValueError, TypeError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
)


def spelling(parser: argparse.ArgumentParser) -> Spelling:
    """``(python name, value or None) -> text`` as a user of ``parser`` types it.

    An option's dest becomes its first long flag (``--val-fraction 0.01``; a switch given
    ``True`` is the flag alone); a positional's dest its metavar; a name ``parser`` does not
    know keeps the Python spelling (``workers=4``), as it is no flag of this command.
    Pitfall: this goes by ``dest``, so ``--from`` stored as ``source`` is spelled from ``source``.
    """
    actions = {a.dest: a for a in parser._actions if a.dest not in (argparse.SUPPRESS, "help")}

    def spell(name: str, value: str | None) -> str:
        action = actions.get(name)
        if action is None:
            return python_spelling(name, value)
        if not action.option_strings:
            return action.metavar if isinstance(action.metavar, str) else name.upper()
        flag = next((o for o in action.option_strings if o.startswith("--")), action.option_strings[0])
        if value is None or (action.nargs == 0 and value == "True"):
            return flag
        if action.nargs == 0:  # a switch given False: the flag left out
            return f"no {flag}"
        return f"{flag} {_unquoted(value)}"

    return spell


def _unquoted(value: str) -> str:
    """``'none'`` -> ``none``: a word needs no quotes on a command line; anything else keeps them."""
    if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        if inner and all(c.isalnum() or c in "-_./:" for c in inner):
            return inner
    return value


def message_of(exc: BaseException, spell: Spelling) -> str:
    """What ``exc`` says, with options spelled by ``spell``; an OSError names its path and a fix."""
    render = getattr(exc, "render", None)
    if callable(render):
        return render(spell)
    if isinstance(exc, OSError) and exc.strerror:
        return _os_error(exc)
    return str(exc)


def run_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the parsed subcommand ``args.run(args)`` under the exit-code policy; returns the status.

    ``parser`` is the (sub)parser that parsed it: its flags spell the options in messages.
    Pitfall: ``pyo3_runtime.PanicException`` (a Rust panic) derives from BaseException, not
    Exception; it is reported as unforeseen, like any failure that is not SystemExit.
    """
    command, spell = args.command, spelling(parser)
    try:
        with warnings_shown_as(command, spell):
            return int(args.run(args) or 0)
    except BrokenPipeError:
        # `tokenmill tokenize ... | head` closes stdout early; that is not an error.
        _quiet_stdout()
        return 0
    except KeyboardInterrupt as exc:
        said = f"interrupted; {exc}" if str(exc) else "interrupted"  # a subclass may say more
        print(f"tokenmill {command}: {safe(_with_note(said, args))}", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        _error(command, message_of(exc, spell))
        return 2
    except (RuntimeError, OSError) as exc:
        _error(command, _with_note(message_of(exc, spell), args))
        return 1
    except (SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - a failure nobody foresaw still reads as one line
        if os.environ.get("TOKENMILL_DEBUG"):
            raise
        said = message_of(exc, spell)
        _error(command, f"{type(exc).__name__}: {said}; rerun with TOKENMILL_DEBUG=1 to see where, and report it")
        return 1


def _with_note(message: str, args: argparse.Namespace) -> str:
    note: Callable[[argparse.Namespace], str] | None = getattr(args, "after_failure", None)
    return f"{message}; {note(args)}" if note is not None else message


@contextlib.contextmanager
def warnings_shown_as(command: str, spell: Spelling) -> Iterator[None]:
    """Inside: each warning is one line ``tokenmill CMD: warning: ...`` on stderr, no source line.

    A warning raised as ``warnings.warn(ExplainedError(...))`` is rendered with ``spell``;
    user warnings are shown every time (a smaller vocabulary than asked is always said).
    """

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        explained = message
        if not callable(getattr(message, "render", None)) and isinstance(message, Warning) and message.args:
            explained = message.args[0]  # warnings.warn(ExplainedError(...)): the template rides in args
        render = getattr(explained, "render", None)
        text = render(spell) if callable(render) else str(message)
        print(f"tokenmill {command}: warning: {safe(text)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)
        warnings.showwarning = show
        yield


def _error(command: str, message: str) -> None:
    """One line on stderr: a multi-line message is joined, so the error stays one line; control
    characters from the message's values (file names, recorded arguments) are escaped."""
    one_line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    print(f"tokenmill {command}: error: {safe(one_line)}", file=sys.stderr)


def _os_error(exc: OSError) -> str:
    """'PATH: what went wrong; the fix' for an OSError that carries an errno."""
    where = f"{exc.filename}: " if exc.filename is not None else ""
    fixes = {
        IsADirectoryError: "give a file, not a directory",
        FileNotFoundError: "check the path",
        NotADirectoryError: "check the path",
        PermissionError: "check its permissions",
    }
    fix = next((f for kind, f in fixes.items() if isinstance(exc, kind)), "check the path and the disk")
    return f"{where}{exc.strerror}; {fix}"


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that Python's exit flush does not fail again on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
