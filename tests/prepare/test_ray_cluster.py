"""prepare on a two-node Ray cluster on this machine (Ray's own Cluster), and kill -9 of its driver.

Separate from test_prepare_ray.py, whose module keeps a one-node Ray connected: a process
joins one Ray at a time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before ray is imported: keep 127.0.0.1
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
ray = pytest.importorskip("ray")

from tests.helpers import all_files  # noqa: E402
from tests.prepare.test_ray import ARGS, texts  # noqa: E402
from tokenmill.prepare import prepare  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from ray.cluster_utils import Cluster

    tmp = Path(tempfile.mkdtemp(prefix="tmc", dir="/tmp"))  # short: Ray's socket paths have a length limit
    (tmp / "ray").mkdir()
    # Cluster writes its address for ray.init() to find: into our dir, not /tmp/ray (other users').
    monkeypatch.setenv("RAY_TMPDIR", str(tmp))
    node = dict(num_cpus=1, node_ip_address="127.0.0.1", include_dashboard=False, temp_dir=str(tmp / "ray"))
    ray.shutdown()  # one Ray per process: not one some other test left connected
    c = Cluster(initialize_head=True, head_node_args=node)
    try:
        c.add_node(**node)
        c.wait_for_nodes()
        yield c.address
    finally:
        ray.shutdown()
        c.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def many_files(d: Path, n: int) -> list[Path]:
    """``n`` small .jsonl files: ``n`` tasks, so that a kill lands between finished and running ones."""
    d.mkdir()
    for i in range(n):
        (d / f"part-{i:03d}.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts(25, i)))
    return [d]


def test_a_two_node_cluster_uses_both_nodes_and_survives_kill_9_of_the_driver(
    tmp_path: Path, cluster: str
) -> None:
    sources = many_files(tmp_path / "in", 40)
    reference = tmp_path / "local"
    prepare(sources, reference, workers=0, **ARGS)  # in-process: never fork a process that ran Ray
    address = cluster
    # Two nodes, byte-identical to the local executor (drivers in subprocesses: a timeout, never a hang).
    def cmd(out: Path) -> list[str]:
        args = [sys.executable, "-m", "tokenmill", "prepare", *map(str, sources), "--out", str(out), "--quiet"]
        return args + ["--executor", "ray", "--ray-address", address, "--shard-tokens", "3000", "--val-fraction", "0.2"]

    two = subprocess.run(cmd(tmp_path / "two"), capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "tasks ran on Ray (2 nodes)" in two.stdout and all_files(tmp_path / "two") == all_files(reference)
    # kill -9 of the driver (the CLI) once some tasks are done; the rerun skips them.
    out = tmp_path / "killed"
    cmd = cmd(out)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while not (out / ".tasks").is_dir() or len(list((out / ".tasks").glob("*.json"))) < 5:
        assert proc.poll() is None and time.monotonic() < deadline, "prepare ended too soon"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = len(list((out / ".tasks").glob("*.json")))
    assert not (out / "manifest.json").exists()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    skipped = re.search(r"resumed: skipped (\d+) of 40 tasks", done.stdout)
    assert skipped and finished <= int(skipped.group(1)) < 40, done.stdout
    assert all_files(out) == all_files(reference)
