"""The ``tokenmill`` command line: one subcommand per job, each in its own module.

Every subcommand module offers ``add_parser(subparsers)`` (registers its parser, with
examples in its epilog) and ``run(args) -> int`` (the exit status). Only this package
writes to stdout; progress bars go to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Subcommands in the order `tokenmill --help` lists them (the order of the pipeline).
COMMANDS: tuple[str, ...] = ("tokenize", "vocab", "demo", "train-tokenizer", "prepare", "stats", "report")

EPILOG = """\
examples:
  tokenmill demo                          # the whole pipeline on a built-in sample
  tokenmill tokenize "hello world" --ids  # 31373 995
  tokenmill vocab install gpt2 --from gpt2.tiktoken
  tokenmill train-tokenizer corpus.jsonl.xz --vocab-size 32000 --out tok/
  tokenmill prepare corpus.jsonl.xz --out store/
  tokenmill stats store/
"""


class CLIError(Exception):
    """A user error: printed as `tokenmill: error: ...` with exit status 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokenmill",
        description="Turn raw text into what a GPT-style model trains on.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from tokenmill import __version__

    parser.add_argument("--version", action="version", version=f"tokenmill {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"tokenmill.cli.{name.replace('-', '_')}_cmd")
        module.add_parser(sub)
    return parser


def _parser_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The (sub)parser that parsed the innermost command in ``args`` (``vocab install`` -> its own)."""
    dests = ("command", "action")
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            chosen = next((getattr(args, d) for d in dests if getattr(args, d, None) in action.choices), None)
            if chosen is not None:
                return _parser_of(action.choices[chosen], args)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # Unknown flags after a subcommand: that subcommand's usage, not the top-level one.
        _parser_of(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except (CLIError, ValueError, TypeError) as exc:
        # The library's messages name its Python parameters; here the user typed flags.
        _error(args.command, flag_names(str(exc), _parser_of(parser, args)))
        return 2
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            # `tokenmill tokenize ... | head` closes stdout early; that is not an error.
            _quiet_stdout()
            return 0
        _error(args.command, _os_error(exc))
        return 2
    except KeyboardInterrupt:
        print("tokenmill: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001
        # A failure nobody foresaw still reads as one line, not a traceback.
        _error(args.command, f"{type(exc).__name__}: {exc}; rerun with TOKENMILL_DEBUG=1 to see where, and report it")
        if os.environ.get("TOKENMILL_DEBUG"):
            raise
        return 2


def flag_names(message: str, parser: argparse.ArgumentParser) -> str:
    """``message`` with the Python parameter names of ``parser``'s options spelled as their flags.

    ``name=value`` becomes ``--flag value`` (``name=True``: ``--flag``). A name with an
    underscore is replaced wherever it stands; a one-word name (``stride``, ``tokenizer``)
    only as ``name=`` or ``name must``, as it is also an ordinary word in messages.

    >>> p = argparse.ArgumentParser()
    >>> _ = p.add_argument("--vocab-size", type=int); _ = p.add_argument("--stride", type=int)
    >>> _ = p.add_argument("--skip-bad-lines", action="store_true")
    >>> flag_names("vocab_size=10 is too small; stride must be >= 1, got 0; a stride of 4", p)
    '--vocab-size 10 is too small; --stride must be >= 1, got 0; a stride of 4'
    >>> flag_names("pass skip_bad_lines=True (--skip-bad-lines) to skip them", p)
    'pass --skip-bad-lines to skip them'
    """
    import re

    for action in parser._actions:
        longs = [o for o in action.option_strings if o.startswith("--")]
        if not longs or action.dest in (argparse.SUPPRESS, "help"):
            continue
        flag, name = longs[0], re.escape(action.dest)
        message = re.sub(rf"(?<![\w-]){name}=True\b(?: \({re.escape(flag)}\))?", flag, message)
        message = re.sub(rf"(?<![\w-]){name}=", f"{flag} ", message)
        bare = rf"(?<![\w.'\"-]){name}(?![\w'\"-])" if "_" in action.dest else rf"(?<![\w-]){name}(?= must\b)"
        message = re.sub(bare, flag, message)
    return message


def _error(command: str, message: str) -> None:
    """One line on stderr: a multi-line message is joined, so the error stays one line."""
    one_line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    print(f"tokenmill {command}: error: {one_line}", file=sys.stderr)


def _os_error(exc: OSError) -> str:
    """'PATH: what went wrong' for an OSError, with the fix where there is an obvious one."""
    where = f"{exc.filename}: " if exc.filename is not None else ""
    what = exc.strerror or str(exc)
    fixes = {
        IsADirectoryError: "give a file, not a directory",
        FileNotFoundError: "check the path",
        NotADirectoryError: "check the path",
        PermissionError: "check its permissions",
    }
    fix = next((f for kind, f in fixes.items() if isinstance(exc, kind)), "check the path and the disk")
    return f"{where}{what}; {fix}"


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that Python's exit flush does not fail again on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
