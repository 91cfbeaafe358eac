""""Did you mean": the closest of the valid names to a mistyped one (difflib), for one message.

>>> did_you_mean("cl100k", ["gpt2", "cl100k_base", "o200k_base"])
'cl100k_base'
>>> did_you_mean("gpt-2", ["gpt2", "cl100k_base"]), did_you_mean("--worker", ["--workers", "--out"])
('gpt2', '--workers')
>>> did_you_mean("banana", ["gpt2", "cl100k_base"]) is None
True
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean"]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` most likely meant, or None when none is close.

    A choice that starts with ``word`` (``cl100k`` -> ``cl100k_base``) wins; otherwise
    the closest by difflib's ratio, case and ``-``/``_`` ignored. Pitfall: a short word is
    close to many names; below a ratio of 0.6 nothing is suggested.
    """
    options = sorted(set(choices))
    if not word or not options:
        return None

    def norm(s: str) -> str:
        return s.lower().replace("_", "-").lstrip("-")

    key = norm(word)
    starts = [c for c in options if key and norm(c).startswith(key)]
    if len(starts) == 1:
        return starts[0]
    by_norm = {norm(c): c for c in options}
    close = difflib.get_close_matches(key, list(by_norm), n=1, cutoff=0.6)
    return by_norm[close[0]] if close else None
