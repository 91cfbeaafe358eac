"""The Ray executor: ``prepare``'s tasks as Ray core tasks, on a cluster or a local Ray.

Each task runs :func:`tokenmill.prepare.worker.execute` on some node; the job (tokenizer
and options) is put in Ray's object store once, and each Ray worker process builds its
encoder once per job. Workers read the inputs and write the shards themselves, so the
inputs and ``--out`` must be at the same path on every node (a shared file system).

Pitfall (security): a Ray cluster runs any code sent to it, unauthenticated. The local Ray
that tokenmill starts when no address is given therefore listens on 127.0.0.1 only (Ray
would otherwise announce the machine's external address), with no dashboard and no usage
stats. An address is checked before Ray is asked to connect (Ray itself would retry for
minutes): it must accept a connection and answer an HTTP/2 (gRPC) greeting within the
timeout (``--ray-timeout``), and Ray's own log lines while connecting are kept off the
terminal, so a wrong address fails in seconds with one line.

>>> _host_port("10.0.0.5:6380"), _host_port("ray://head:10001"), _host_port("head")
(('10.0.0.5', 6380), ('head', 10001), ('head', 6379))
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tokenmill.prepare.executor import window
from tokenmill.prepare.tasks import TaskSpec
from tokenmill.prepare.worker import Job, execute

CONNECT_TIMEOUT_S = 5.0  # the default of --ray-timeout
# What a gRPC client sends first (RFC 9113: the preface, then an empty SETTINGS frame); a
# gRPC server such as Ray's head answers with its own SETTINGS at once.
_HTTP2_GREETING = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
TEMP_PREFIX = "tmray"  # the local Ray's temporary directory: /tmp/tmray<random>
OWNER_FILE = "tokenmill.pid"  # in it: the pid of the tokenmill that made it
STALE_SECONDS = 300.0  # a dead owner's directory older than this is removed (its agents are gone by then)
# Ray listens where its node IP says; without this variable it replaces 127.0.0.1 by the
# machine's external address. Set before ray is imported, and for the processes it starts.
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def _host_port(address: str) -> tuple[str, int]:
    rest = address.split("://", 1)[1] if "://" in address else address
    host, _, port = rest.rpartition(":")
    if not host:
        return rest, 6379  # Ray's default GCS port
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise ValueError(f"--ray-address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379)") from None


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ValueError(
            "--executor ray needs Ray: pip install 'tokenmill[ray]' (or use --executor local)"
        ) from None
    return ray


def _ray_task(job: Job, spec: TaskSpec) -> dict[str, Any]:
    import ray

    outcome = execute(job, spec)
    outcome["node"] = ray.get_runtime_context().get_node_id()
    return outcome


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 goes to a scratch file meanwhile (Ray's C++ core writes there directly)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as scratch:
            os.dup2(scratch.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


class RayExecutor:
    """Tasks as Ray tasks: on the cluster at ``address``, or on a local Ray started for the run.

    ``workers``: with a local Ray, its CPUs (0 or None: every core); ignored on a cluster.
    If this process is already connected to Ray (``ray.init`` was called), that Ray is used
    and left running.
    """

    def __init__(self, *, address: str | None, workers: int | None, timeout: float = CONNECT_TIMEOUT_S) -> None:
        self.address, self.workers, self.timeout = address, workers, timeout
        self.nodes: set[str] = set()
        self.parallelism = 1
        self._started = False
        self._tmp: str | None = None

    def __enter__(self) -> RayExecutor:
        for key, value in LOOPBACK_ENV.items():
            os.environ[key] = value
        ray = _import_ray()
        if self.address and self.address != "auto":
            self._check_reachable(self.address, self.timeout)  # seconds, not Ray's minutes of retries
        if not ray.is_initialized():  # else: this process already joined a Ray (ray.init): use it
            if self.address:
                self._connect(ray)
            else:
                self._start_local(ray)
            self._started = True
        self.parallelism = max(1, int(ray.cluster_resources().get("CPU", 1)))
        return self

    @staticmethod
    def _check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
        host, port = _host_port(address)
        fix = (
            "check --ray-address (the head's HOST:PORT, as `ray start --head` prints it; 6379 by default) "
            "and that the head is up"
        )
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            why = exc.strerror or str(exc) or type(exc).__name__
            raise ValueError(
                f"cannot reach the Ray cluster at {address} ({why}); {fix}, or use --executor ray without "
                "an address for a local Ray"
            ) from None
        with sock:
            try:
                sock.sendall(_HTTP2_GREETING)
                sock.recv(9)  # anything, or the connection closed: Ray answers for itself
            except TimeoutError:
                raise ValueError(
                    f"the Ray cluster at {address} accepts connections but did not answer within "
                    f"{timeout:g} s (is it another service?); {fix}, or raise --ray-timeout"
                ) from None
            except OSError:
                pass

    def _connect(self, ray: Any) -> None:
        address = self.address
        try:
            with _quiet_stderr():  # Ray's own connection log lines: the error below says it in one
                ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 - Ray raises several types for a bad address
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise ValueError(f"cannot connect to the Ray cluster at {address}: {first}; check --ray-address") from None

    def _start_local(self, ray: Any) -> None:
        # A short temp dir: Ray's socket paths inside it must stay under ~107 bytes.
        base = "/tmp" if os.path.isdir("/tmp") else None
        remove_stale_temp_dirs(base or tempfile.gettempdir())  # those of runs killed by kill -9
        self._tmp = tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=base)
        with open(os.path.join(self._tmp, OWNER_FILE), "w") as f:
            f.write(str(os.getpid()))
        ray.init(
            address="local",  # never join some other cluster found on this machine
            num_cpus=self.workers or None,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            _temp_dir=self._tmp,
            logging_level="ERROR",
            log_to_driver=False,
        )

    def __exit__(self, *exc: object) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False
        if self._tmp is not None:
            _remove_dir(self._tmp)
            self._tmp = None

    def run(
        self, job: Job, tasks: Sequence[TaskSpec], stop: Callable[[], bool]
    ) -> Iterator[tuple[TaskSpec, dict[str, Any]]]:
        import ray

        remote = ray.remote(num_cpus=1, max_retries=2)(_ray_task).options(scheduling_strategy="SPREAD")
        job_ref = ray.put(job)
        pending: dict[Any, TaskSpec] = {}

        def submit(spec: TaskSpec) -> None:
            pending[remote.remote(job_ref, spec)] = spec

        def wait_any() -> tuple[TaskSpec, dict[str, Any]]:
            [ref], _ = ray.wait(list(pending), num_returns=1)
            spec = pending.pop(ref)
            try:
                outcome = ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - a dead worker or node: reported like a crash
                cause = getattr(exc, "cause", None) or exc
                return spec, {"error": f"task {spec.index} failed on Ray: {type(cause).__name__}: {cause}", "kind": "crash"}
            if "node" in outcome:
                self.nodes.add(outcome.pop("node"))
            return spec, outcome

        yield from window(tasks, 2 * self.parallelism, stop, submit, wait_any)


def _remove_dir(path: str, attempts: int = 20) -> None:
    """Remove a directory that Ray's exiting processes may still be writing into (retried for ~2 s)."""
    import shutil
    import time

    for _ in range(attempts):
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.lexists(path):
            return
        time.sleep(0.1)


def remove_stale_temp_dirs(base: str, *, older_than: float = STALE_SECONDS) -> list[str]:
    """Remove the temporary directories that local Rays of killed tokenmill runs left in ``base``.

    Only directories holding ``tokenmill.pid`` whose process is gone, untouched for
    ``older_than`` seconds (Ray's agents outlive a kill -9 by up to 90 s); never another's.

    >>> import tempfile
    >>> remove_stale_temp_dirs(tempfile.mkdtemp())
    []
    """
    import glob
    import time

    removed = []
    for path in glob.glob(os.path.join(base, TEMP_PREFIX + "*")):
        try:
            with open(os.path.join(path, OWNER_FILE)) as f:
                pid = int(f.read().strip())
            age = time.time() - os.lstat(path).st_mtime
        except (OSError, ValueError):
            continue  # not ours, or being made right now
        if age < older_than or _alive(pid):
            continue
        _remove_dir(path, attempts=1)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
