"""The ``tokenmill`` parser and entry point: one subcommand per job, each in its own module.

Every subcommand module offers ``add_parser(subparsers)`` (registers its parser, with
examples in its epilog) and ``run(args) -> int`` (the exit status). A ``run`` raises what
went wrong; :func:`tokenmill.cli.errors.run_command` turns it into one line and the exit
status, the same way for every subcommand.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from tokenmill.cli.errors import run_command

# Subcommands in the order `tokenmill --help` lists them (the order of the pipeline).
COMMANDS: tuple[str, ...] = (
    "tokenize", "vocab", "demo", "train-tokenizer", "prepare", "stats", "mix", "report", "export", "import",
    "cache",
)

EPILOG = """\
examples:
  tokenmill demo                          # the whole pipeline on a built-in sample
  tokenmill tokenize "hello world" --ids  # 31373 995
  tokenmill vocab install gpt2 --from gpt2.tiktoken
  tokenmill train-tokenizer corpus.jsonl.xz --vocab-size 32000 --out tok/
  tokenmill prepare corpus.jsonl.xz --out store/
  tokenmill stats store/
  tokenmill mix web=stores/web:0.7 books=stores/books:0.3 --tokens 2e9   # a mixture's plan
  tokenmill export store/ --format megatron -o megatron/   # also nanogpt, llmc, datatrove, litdata, parquet
"""


class Parser(argparse.ArgumentParser):
    """argparse with no silent abbreviations (``--worker`` is not ``--workers``) and "did you mean".

    Subcommands' parsers are of this class too (argparse makes them ``type(self)``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        super().error(message + _suggestion(self, message))


def _suggestion(parser: argparse.ArgumentParser, message: str) -> str:
    """'; did you mean ...?' for a mistyped choice (a subcommand) or flag, or ''.

    >>> p = Parser(prog="t"); _ = p.add_argument("--workers")
    >>> _suggestion(p, "unrecognized arguments: --worker 2")
    "; did you mean '--workers'?"
    >>> _suggestion(p, "argument COMMAND: invalid choice: 'tokenise' (choose from 'tokenize', 'vocab')")
    "; did you mean 'tokenize'?"
    """
    from tokenmill.common.suggest import did_you_mean

    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if choice:
        meant = did_you_mean(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)))
        return f"; did you mean '{meant}'?" if meant else ""
    unknown = re.match(r"unrecognized arguments: (.*)", message)
    if unknown:
        flags = [o for o in parser._option_string_actions if o.startswith("--")]
        for word in unknown.group(1).split():
            if word.startswith("-"):
                meant = did_you_mean(word.split("=", 1)[0], flags)
                if meant:
                    return f"; did you mean '{meant}'?"
    return ""


def _short_out(parser: argparse.ArgumentParser) -> None:
    """``-o`` as an alias of ``--out`` on every command that writes a directory (as report's ``-o``)."""
    action = parser._option_string_actions.get("--out")
    if action is not None and "-o" not in parser._option_string_actions:
        action.option_strings.append("-o")
        parser._option_string_actions["-o"] = action


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tokenmill",
        description="Turn raw text into what a GPT-style model trains on.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from tokenmill._version import __version__

    parser.add_argument("--version", action="version", version=f"tokenmill {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"tokenmill.cli.{name.replace('-', '_')}_cmd")
        module.add_parser(sub)
    for command in sub.choices.values():
        _short_out(command)
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
    return run_command(args, _parser_of(parser, args))


if __name__ == "__main__":
    sys.exit(main())
