"""``tokenmill.permutation``: the seeded permutation where the README documents it (numpy only).

The code is in ``tokenmill.loader.permutation`` and ``tokenmill.loader.block_permutation``.
"""

from tokenmill.loader.block_permutation import LocalOrder, LocalPermutation
from tokenmill.loader.permutation import PERMUTATION_VERSION, Permutation, check_seed, permutation_reference

__all__ = ["LocalOrder", "LocalPermutation", "PERMUTATION_VERSION", "Permutation", "check_seed", "permutation_reference"]
