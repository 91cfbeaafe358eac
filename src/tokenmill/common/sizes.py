"""Sizes as people write them: ``"20GB"`` (decimal), ``"20GiB"`` (binary), or a number of bytes.

>>> parse_size("cache_limit", "20GB"), parse_size("cache_limit", "1.5 GiB"), parse_size("cache_limit", 4096)
(20000000000, 1610612736, 4096)
>>> parse_size("cache_limit", "20 gigs")
Traceback (most recent call last):
...
tokenmill.common.errors.OptionError: cache_limit must be a number of bytes or a size such as '20GB' or '20GiB' (units B, kB, MB, GB, TB, KiB, MiB, GiB, TiB), got '20 gigs'
"""

from __future__ import annotations

import re
from typing import Any

from tokenmill.common.checks import is_int
from tokenmill.common.errors import OptionError

__all__ = ["UNITS", "parse_size"]

# Decimal units as disks and clouds count, binary ones as memory does; case-insensitive.
UNITS = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*")


def parse_size(parameter: str, value: Any) -> int:
    """``value`` in bytes: an int, or a str such as ``"20GB"``/``"20GiB"``/``"512"``; OptionError naming ``parameter``.

    Pitfall: ``"GB"`` is 10**9 bytes and ``"GiB"`` 2**30; a bare ``"G"`` is refused as ambiguous.
    """
    if is_int(value) and int(value) >= 0:
        return int(value)
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    unit = match.group(2).lower() if match else ""
    if match is None or (unit and unit not in UNITS):
        raise OptionError(
            parameter,
            "{%s} must be a number of bytes or a size such as '20GB' or '20GiB' (units B, kB, MB, GB, TB, "
            "KiB, MiB, GiB, TiB), got {0!r}" % parameter,
            value,
        )
    return int(float(match.group(1)) * UNITS[unit or "b"])
