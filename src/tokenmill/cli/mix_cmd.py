"""`tokenmill mix`: a mixture's plan (share, tokens, epochs, first repeat per component) before training."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tokenmill.cli.errors import CLIError
from tokenmill.cli.terminal import safe

EPILOG = """\
examples:
  tokenmill prepare web.jsonl --out stores/web && tokenmill prepare books.txt --out stores/books
  tokenmill mix web=stores/web:0.7 books=stores/books:0.3 --tokens 2000000000
  tokenmill mix web=stores/web:0.7 books=stores/books:0.3 --steps 10000 --global-batch 512
  tokenmill mix web=stores/web books=stores/books --tokens 1e9 --json   # weights: by size

In Python: tokenmill.plan_mixture({"web": "stores/web", "books": "stores/books"},
{"web": 0.7, "books": 0.3}, tokens=2_000_000_000); the loader is
create_dataloader({...}, weights={...}, seed=0).
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "mix",
        help="plan a mixture of token stores: each one's share, tokens, epochs and first repeat",
        description="Plan a mixture of token stores before training: per component, its share (the "
        "weight the loader applies, exact to 1/65536), the windows and tokens drawn from it over "
        "the run, the epochs of it that makes (above 1: repeated) and the global batch at which it "
        "first repeats. The numbers are the loader's own (create_dataloader with weights=).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "components", metavar="NAME=PATH[:WEIGHT]", nargs="+",
        help="a component: its name, its store directory and its weight (all or none weighted; "
        "none: in proportion to the stores' windows)",
    )
    size = p.add_mutually_exclusive_group(required=True)
    size.add_argument("--tokens", metavar="N", type=_count, help="the run's length in tokens (1e9 is fine)")
    size.add_argument("--steps", metavar="S", type=int, help="the run's length in steps (with --global-batch)")
    p.add_argument(
        "--global-batch", metavar="B", type=int, default=None,
        help="windows per step over all ranks (batch size x world size); needed with --steps",
    )
    p.add_argument("--max-length", metavar="L", type=int, default=256, help="tokens per window (default 256)")
    p.add_argument("--stride", metavar="S", type=int, default=None, help="step between windows (default: --max-length)")
    p.add_argument("--split", metavar="S", default="train", help="the stores' split (default train)")
    p.add_argument("--seed", metavar="N", type=int, default=0, help="the run's seed (shown; counts do not depend on it)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)
    return p


def _count(text: str) -> int:
    """An int, written 2000000000, 2_000_000_000 or 2e9."""
    try:
        value = float(text.replace("_", "")) if "e" in text.lower() else int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of tokens: {text!r} (write 2000000000 or 2e9)") from None
    if value != int(value):
        raise argparse.ArgumentTypeError(f"not a whole number of tokens: {text!r}")
    return int(value)


def parse_components(specs: list[str]) -> tuple[dict[str, str], dict[str, float] | None]:
    """``({name: path}, {name: weight} or None)`` from ``NAME=PATH[:WEIGHT]`` arguments."""
    paths: dict[str, str] = {}
    weights: dict[str, float] = {}
    for spec in specs:
        name, eq, rest = spec.partition("=")
        if not eq or not name or not rest:
            raise CLIError(f"component {spec!r} is not NAME=PATH[:WEIGHT]; write e.g. web=stores/web:0.7")
        if name in paths:
            raise CLIError(f"component name {name!r} is given twice; give each component its own name")
        path, colon, weight = rest.rpartition(":")
        if colon:
            try:
                weights[name] = float(weight)
            except ValueError:
                path, colon = rest, ""  # a ':' inside the path, and no weight
        paths[name] = path if colon else rest
    if weights and len(weights) != len(paths):
        unweighted = [n for n in paths if n not in weights]
        raise CLIError(
            f"components {unweighted} have no weight while others do: weight all (NAME=PATH:WEIGHT) "
            f"or none (then in proportion to their windows)"
        )
    return paths, (weights or None)


def run(args: argparse.Namespace) -> int:
    from tokenmill.loader.plan import plan_mixture

    paths, weights = parse_components(args.components)
    plan = plan_mixture(
        paths, weights, tokens=args.tokens, steps=args.steps, global_batch=args.global_batch,
        max_length=args.max_length, stride=args.stride, split=args.split, seed=args.seed,
    )
    if args.json:
        print(json.dumps(plan.as_dict(), indent=2))
        return 0
    print(safe(format_plan(plan), keep_newlines=True))
    return 0


def format_plan(plan: Any) -> str:
    """The plan as a table, one row per component."""
    batch = f", global batch {plan.global_batch}" if plan.global_batch else ""
    lines = [
        f"run: {plan.windows:,} windows x {plan.max_length} tokens = {plan.tokens:,} tokens "
        f"(stride {plan.stride}{batch}, seed {plan.seed})",
        f"{'component':<16} {'share':>8} {'windows':>14} {'drawn':>14} {'tokens':>16} {'epochs':>8}  first repeat",
    ]
    for c in plan.components:
        if c.first_repeat_window is None:
            repeat = "never"
        elif c.first_repeat_batch is not None:
            repeat = f"global batch {c.first_repeat_batch:,}"
        else:
            repeat = f"window {c.first_repeat_window:,}"
        lines.append(
            f"{c.name:<16} {float(c.share):>8.2%} {c.windows:>14,} {c.drawn:>14,} {c.tokens:>16,} "
            f"{c.epochs:>8.2f}  {repeat}"
        )
    return "\n".join(lines)
