"""``tokenmill.permutation``: the seeded permutation where the README documents it (numpy only).

The code is in ``tokenmill.loader.permutation``.
"""

from tokenmill.loader.permutation import PERMUTATION_VERSION, Permutation, check_seed, permutation_reference

__all__ = ["PERMUTATION_VERSION", "Permutation", "check_seed", "permutation_reference"]
