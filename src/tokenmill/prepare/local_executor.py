"""The local executor: ``prepare``'s tasks in worker processes on this machine.

Workers are forked where that is safe (:func:`start_method`), else spawned; each builds its
encoder once per job (:func:`tokenmill.prepare.worker.init_worker`). Each worker has a pipe of
its own (no queue, no lock shared between processes), so a worker killed at any moment (the
out-of-memory killer's SIGKILL) can block nobody: its exit is seen at once, the run ends
with one error, and the other workers are killed by their process IDs.

Pitfall: fork only where it is safe: never once this process runs other threads, or once it
has loaded Ray (Ray's threads and its gRPC state do not survive a fork); a progress bar
starts a thread, so the pool starts before the bar.

>>> import multiprocessing
>>> start_method() in multiprocessing.get_all_start_methods()
True
>>> with LocalExecutor(workers=0) as ex:
...     ex.parallelism
1
"""

from __future__ import annotations

import collections
import gc
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from tokenmill.prepare.executor import Outcome, window
from tokenmill.prepare.tasks import TaskSpec
from tokenmill.prepare.worker import Job, execute, init_worker, run_pooled, set_progress


def start_method() -> str:
    """fork when safe (Linux, one thread, no Ray loaded), else spawn; TOKENMILL_START_METHOD overrides.

    Forked workers skip re-importing and reloading the tokenizer (~0.5 s of CPU each); but
    forking a process that runs other threads can deadlock the child, hence spawn then.
    """
    if method := os.environ.get("TOKENMILL_START_METHOD"):
        return method
    if "ray" in sys.modules:  # a process that ran Ray holds its threads and sockets: never fork it
        return "spawn"
    if "obstore" in sys.modules and _runs_tokio():  # a child's first request would hang forever
        return "spawn"
    # tqdm's monitor thread (left by any earlier bar) only sleeps and the workers never use
    # tqdm, so it does not make forking unsafe: counting it would flip later runs to spawn.
    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    quiet = all(type(t).__name__ == "TMonitor" for t in others)
    return "fork" if sys.platform == "linux" and quiet else "spawn"


def _runs_tokio() -> bool:
    """Whether this process runs obstore's runtime threads (tokio: native, unseen by ``threading``)."""
    try:
        tasks = os.listdir("/proc/self/task")
        return any(Path(f"/proc/self/task/{t}/comm").read_text().startswith("tokio") for t in tasks)
    except OSError:
        return False


def default_workers() -> int:
    """The CPUs this process may run on (its affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on every platform (macOS, Windows)
        return os.cpu_count() or 1


class LocalExecutor:
    """Tasks in ``workers`` processes on this machine (0: in this process, one after another).

    Pitfall: a worker that dies (say, killed by the out-of-memory killer) is never replaced
    and its task never retried: the run raises RuntimeError within a second, keeping the
    finished tasks for the rerun; ``multiprocessing.Pool`` would replace it, lose its task,
    and could hang for ever on a queue lock the dead worker held.
    """

    def __init__(self, *, workers: int, lock_fd: int | None = None) -> None:
        self.workers, self.lock_fd = workers, lock_fd
        self.parallelism = max(1, workers)
        self.nodes: set[str] = set()
        self.progress: Callable[[int, int], None] | None = None  # (task, input bytes read) inside a task
        self._pool: _Workers | None = None
        self._job_key = ""

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        self._close_pool(clean=kind is None)

    def run(
        self, job: Job, tasks: Sequence[TaskSpec], stop: Callable[[], bool]
    ) -> Iterator[tuple[TaskSpec, Outcome]]:
        self.nodes.add(os.uname().nodename)
        if self.workers == 0:
            set_progress(self.progress)
            try:
                for spec in tasks:
                    if stop():
                        return
                    yield spec, execute(job, spec)  # builds this process's worker once per job
            finally:
                set_progress(None)
            return
        pool = self._pool_for(job)
        pool.progress = self.progress
        yield from window(tasks, 2 * self.workers, stop, pool.submit, pool.wait_any)

    def _pool_for(self, job: Job) -> _Workers:
        """The worker processes for ``job``: started once, kept for every run() of this executor."""
        if self._pool is None or self._job_key != job.key:
            self._close_pool(clean=True)
            method = start_method()
            if method == "fork":
                # Objects made so far (the tokenizer's ranks above all) are out of the GC's reach from
                # here: its passes would write to their pages, now shared with the workers, and each
                # such write copies a page in this process (measured: most of its CPU during a run).
                gc.freeze()
            initargs = (job, self.lock_fd if method == "fork" else None, os.getpid())
            self._pool = _Workers(self.workers, initargs, multiprocessing.get_context(method))
            self._job_key = job.key
        return self._pool

    def _close_pool(self, *, clean: bool = True) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.close(clean=clean)
            gc.unfreeze()


class _Workers:
    """Worker processes, each with its own pipe: a task goes to an idle worker, its outcome comes back.

    Nothing is shared between the processes but the pipes, so a worker's death cannot leave a
    lock held; it is seen through the process's sentinel, and raised as RuntimeError.
    """

    JOIN_SECONDS = 5.0  # how long a clean close waits for a worker to exit before it is killed

    def __init__(self, n: int, initargs: tuple[Any, ...], context: Any) -> None:
        self.procs: list[Any] = []
        self.conns: list[Any] = []
        self.idle: collections.deque[int] = collections.deque()
        self.busy: dict[int, TaskSpec] = {}
        self.pending: collections.deque[TaskSpec] = collections.deque()
        self.progress: Callable[[int, int], None] | None = None
        try:
            for i in range(n):
                parent_end, child_end = context.Pipe()
                proc = context.Process(target=_serve, args=(child_end, initargs), daemon=True, name=f"tokenmill-{i}")
                proc.start()
                child_end.close()
                self.procs.append(proc)
                self.conns.append(parent_end)
                self.idle.append(i)
        except BaseException:
            self.close(clean=False)
            raise

    def submit(self, spec: TaskSpec) -> None:
        self.pending.append(spec)
        self._dispatch()

    def _dispatch(self) -> None:
        while self.pending and self.idle:
            i = self.idle.popleft()
            spec = self.pending.popleft()
            self.busy[i] = spec
            try:
                self.conns[i].send(spec)
            except OSError:  # the worker is gone: its sentinel says so in wait_any
                pass

    def wait_any(self) -> tuple[TaskSpec, Outcome]:
        """The next outcome; RuntimeError as soon as a worker has died."""
        by_conn = {id(c): i for i, c in enumerate(self.conns)}
        sentinels = [p.sentinel for p in self.procs]  # ready once the process has exited
        while True:
            ready = wait([self.conns[i] for i in self.busy] + sentinels, timeout=1.0)
            if not ready or any(isinstance(obj, int) for obj in ready):
                self._check_alive()
            for obj in ready:
                i = by_conn.get(id(obj))
                if i is None:
                    continue  # a sentinel of a process that is exiting: _check_alive() raises next time
                try:
                    outcome = obj.recv()
                except (EOFError, OSError):
                    continue  # it died while answering: _check_alive() raises
                if isinstance(outcome, tuple):  # ("progress", task, bytes): the task goes on
                    if self.progress is not None:
                        self.progress(outcome[1], outcome[2])
                    continue
                spec = self.busy.pop(i)
                self.idle.append(i)
                self._dispatch()
                return spec, outcome

    def _check_alive(self) -> None:
        dead = [p for p in self.procs if p.exitcode is not None]
        if dead:
            raise RuntimeError(_death_message(dead))

    def close(self, *, clean: bool) -> None:
        """Stop every worker: asked to exit after a clean run, else killed by its process ID; never waits for ever."""
        if clean:
            for conn in self.conns:
                try:
                    conn.send(None)
                except OSError:
                    pass
            for proc in self.procs:
                proc.join(self.JOIN_SECONDS)
        for proc in self.procs:
            if proc.exitcode is None and proc.pid is not None:
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            proc.join(self.JOIN_SECONDS)
        for conn in self.conns:
            conn.close()


def _death_message(dead: list[Any]) -> str:
    codes = sorted({p.exitcode for p in dead})
    return (
        f"a tokenizing worker died (exit code {codes or 'unknown'}; -9: killed, say by the out-of-memory "
        "killer)"
    )


def _serve(conn: Any, initargs: tuple[Any, ...]) -> None:
    """A worker process: :func:`init_worker`, then tasks from ``conn`` until None (or EOF).

    Pitfall: nothing escapes as an exception, not even a ``BaseException`` from native code
    (a Rust panic is one): it goes back as the task's "crash" outcome, one line.
    """
    init_worker(*initargs)
    set_progress(lambda task, nbytes: conn.send(("progress", task, nbytes)))
    while True:
        try:
            spec = conn.recv()
        except (EOFError, OSError):
            return
        if spec is None:
            return
        try:
            outcome = run_pooled(spec)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - execute() catches a task's own errors; a panic is not one
            outcome = {"error": f"task {spec.index} failed: {type(exc).__name__}: {exc}", "kind": "crash"}
        conn.send(outcome)

