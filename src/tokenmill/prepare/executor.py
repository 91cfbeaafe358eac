"""The executor interface of ``prepare``: what runs its tasks, and the window both executors share.

An executor (:class:`~tokenmill.prepare.local_executor.LocalExecutor`: processes on this
machine; :class:`~tokenmill.prepare.ray_executor.RayExecutor`: Ray tasks) runs one function,
:func:`tokenmill.prepare.worker.execute`, on the plan's tasks and hands back its outcomes
(small dicts: a task's record, or its error) as tasks finish; the coordinator never asks
which executor it has. Order does not matter: the store's layout is fixed by the plan.

Pitfall: at most ``limit`` tasks are in flight, and once ``stop()`` turns true (a task
failed) no new task starts, while the running ones finish and keep their output.

>>> done = []
>>> list(window([1, 2, 3], 2, lambda: False, done.append, lambda: (done[-1], {})))
[(2, {}), (3, {}), (3, {})]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from tokenmill.prepare.tasks import TaskSpec
from tokenmill.prepare.worker import Job

EXECUTORS = ("local", "ray")
Outcome = dict[str, Any]


class Executor(Protocol):
    """Runs tasks; the one interface the coordinator uses."""

    parallelism: int  # tasks that run at once
    nodes: set[str]  # where tasks ran (machine names / Ray node IDs), for reports and tests

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def run(
        self, job: Job, tasks: Sequence[TaskSpec], stop: Callable[[], bool]
    ) -> Iterator[tuple[TaskSpec, Outcome]]:
        """Yield (task, outcome) as tasks finish; start no new task once ``stop()`` is true."""
        ...


def window(
    tasks: Sequence[Any],
    limit: int,
    stop: Callable[[], bool],
    submit: Callable[[Any], Any],
    wait_any: Callable[[], tuple[Any, Outcome]],
) -> Iterator[tuple[Any, Outcome]]:
    """Keep up to ``limit`` tasks in flight; yield outcomes as they come (shared by the executors)."""
    todo, in_flight = iter(tasks), 0
    while True:
        while in_flight < limit and not stop():
            spec = next(todo, None)
            if spec is None:
                break
            submit(spec)
            in_flight += 1
        if in_flight == 0:
            return
        yield wait_any()
        in_flight -= 1
