"""The ``tokenmill`` parser and entry point: one subcommand per job, each in its own module.

Every subcommand module offers ``add_parser(subparsers)`` (registers its parser, with
examples in its epilog) and ``run(args) -> int`` (the exit status). A ``run`` raises what
went wrong; :func:`tokenmill.cli.errors.run_command` turns it into one line and the exit
status, the same way for every subcommand.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tokenmill.cli.errors import run_command

# Subcommands in the order `tokenmill --help` lists them (the order of the pipeline).
COMMANDS: tuple[str, ...] = (
    "tokenize", "vocab", "demo", "train-tokenizer", "prepare", "stats", "report", "export", "import"
)

EPILOG = """\
examples:
  tokenmill demo                          # the whole pipeline on a built-in sample
  tokenmill tokenize "hello world" --ids  # 31373 995
  tokenmill vocab install gpt2 --from gpt2.tiktoken
  tokenmill train-tokenizer corpus.jsonl.xz --vocab-size 32000 --out tok/
  tokenmill prepare corpus.jsonl.xz --out store/
  tokenmill stats store/
  tokenmill export store/ --format megatron -o megatron/   # also nanogpt, llmc, datatrove, litdata, parquet
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
