"""What every stage shares: option checks and errors, atomic files and checksums, progress.

Pure Python (no numpy, no torch), at the bottom of the layers: every stage may import it, it
imports no stage.
"""

from tokenmill.common.checks import is_int, non_negative_int, positive_int, rank_and_world_size
from tokenmill.common.errors import ExplainedError, OptionError, OptionTypeError
from tokenmill.common.files import AtomicFile, atomic_write_bytes, cache_dir, fsync_dir, sha256_file, temp_name
from tokenmill.common.progress import progress_bar

__all__ = [
    "AtomicFile",
    "ExplainedError",
    "OptionError",
    "OptionTypeError",
    "atomic_write_bytes",
    "cache_dir",
    "fsync_dir",
    "is_int",
    "non_negative_int",
    "positive_int",
    "progress_bar",
    "rank_and_world_size",
    "sha256_file",
    "temp_name",
]
