"""Choosing an executor by name: "local" (processes here) or "ray" (a Ray cluster).

>>> make_executor("dask", workers=1)
Traceback (most recent call last):
...
tokenmill.common.errors.OptionError: executor must be one of ('local', 'ray'), got 'dask'
"""

from __future__ import annotations

from tokenmill.common.errors import ExplainedError, OptionError
from tokenmill.prepare.executor import EXECUTORS, Executor
from tokenmill.prepare.local_executor import LocalExecutor, default_workers, start_method
from tokenmill.prepare.ray_executor import RayExecutor  # Ray itself is imported only when one is entered

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "default_workers", "make_executor", "start_method"]


def make_executor(
    name: str, *, workers: int, ray_address: str | None = None, lock_fd: int | None = None,
    ray_timeout: float | None = None,
) -> Executor:
    """The executor called ``name`` ("local" or "ray"), not yet started (use it as a context)."""
    if name not in EXECUTORS:
        raise OptionError("executor", "{executor} must be one of {0}, got {1!r}", EXECUTORS, name)
    if name == "ray":
        if ray_timeout is None:
            return RayExecutor(address=ray_address, workers=workers)
        return RayExecutor(address=ray_address, workers=workers, timeout=ray_timeout)
    if ray_address is not None:
        raise ExplainedError("{ray_address} needs {executor=ray}")
    return LocalExecutor(workers=workers, lock_fd=lock_fd)
