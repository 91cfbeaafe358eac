"""Pool workers always die on SIGTERM, whatever handler their parent had (Ray's driver installs one).

Pool.terminate() stops workers with SIGTERM; a forked worker that inherited a handler that does
not exit kept the pool's join waiting forever (seen in the suite after the Ray tests).
"""

from __future__ import annotations

import multiprocessing
import signal

import pytest

from tokenmill.prepare.worker import init_worker

pytestmark = pytest.mark.slow  # kills processes: crash and signal tests


def _disposition_after_init(_: int) -> bool:
    init_worker(None)
    return signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_workers_reset_sigterm_to_its_default() -> None:
    previous = signal.signal(signal.SIGTERM, lambda *a: None)  # a parent handler that does not exit
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            assert pool.map(_disposition_after_init, [0]) == [True]
    finally:
        signal.signal(signal.SIGTERM, previous)
