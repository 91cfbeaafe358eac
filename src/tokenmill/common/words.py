"""Counts and sizes in words, as messages and summaries print them.

Pitfall: ``plural`` knows regular nouns only (it adds an "s"); pass the phrase whose last
word takes it.

>>> plural(1, "document"), human_bytes(52)
('1 document', '52 bytes')
"""

from __future__ import annotations


def plural(n: int, noun: str) -> str:
    """``n`` and ``noun``, its plural form unless ``n`` is 1.

    >>> plural(1, "document"), plural(2, "document"), plural(1_000, "empty file"), plural(0, "shard")
    ('1 document', '2 documents', '1,000 empty files', '0 shards')
    """
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def human_bytes(n: float) -> str:
    """A size with a unit that shows it (decimal units, as "MB of text" always meant).

    Pitfall: never "0.0 MB" for a small input: below 1 kB it is bytes, below 1 MB kB.

    >>> human_bytes(1), human_bytes(999), human_bytes(27_912), human_bytes(27_912_345), human_bytes(3.2e9)
    ('1 byte', '999 bytes', '27.9 kB', '27.9 MB', '3.2 GB')
    """
    if n < 1000:
        return plural(int(n), "byte")
    unit, scale = next((u, s) for u, s in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9)) if n / s < 999.95 or u == "GB")
    return f"{n / scale:,.1f} {unit}"
