"""The ``tokenmill`` command line: one subcommand per job, each in its own module.

Every subcommand module offers ``add_parser(subparsers)`` (registers its parser, with
examples in its epilog) and ``run(args) -> int`` (the exit status). Only this package
writes to stdout; progress bars go to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Subcommands in the order `tokenmill --help` lists them (the order of the pipeline).
COMMANDS: tuple[str, ...] = ("tokenize", "vocab", "demo", "prepare", "stats", "report")

EPILOG = """\
examples:
  tokenmill demo                          # the whole pipeline on a built-in sample
  tokenmill tokenize "hello world" --ids  # 31373 995
  tokenmill vocab install gpt2 --from gpt2.tiktoken
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
        module = importlib.import_module(f"tokenmill.cli.{name}_cmd")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except (CLIError, ValueError, TypeError, FileNotFoundError, PermissionError) as exc:
        print(f"tokenmill {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tokenmill: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `tokenmill tokenize ... | head` closes stdout early; that is not an error.
        return 0


if __name__ == "__main__":
    sys.exit(main())
