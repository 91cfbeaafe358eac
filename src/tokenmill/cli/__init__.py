"""The ``tokenmill`` command line: one subcommand per job, each in its own module.

Only this package writes to stdout; progress bars go to stderr. Errors, warnings and exit
statuses are handled in one place for every subcommand (:mod:`tokenmill.cli.errors`).
"""

from tokenmill.cli.app import COMMANDS, build_parser, main
from tokenmill.cli.errors import CLIError

__all__ = ["COMMANDS", "CLIError", "build_parser", "main"]
