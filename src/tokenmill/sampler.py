"""``tokenmill.sampler``: the loader's orders where the README documents them.

The code is in ``tokenmill.loader.seeded_sampler`` and ``tokenmill.loader.book_sampler``.
"""

from tokenmill.loader.book_sampler import WindowBatchSampler
from tokenmill.loader.seeded_sampler import SeededBatchSampler

__all__ = ["SeededBatchSampler", "WindowBatchSampler"]
