"""prepare on a real Ray (no mocks): same bytes as the local executor, loopback only, errors alike.

Ray is started by the tests themselves on 127.0.0.1, with its temp dir under a short /tmp
path (Ray's socket paths must stay under ~107 bytes) and no dashboard or usage stats; it
is shut down by the tests. Never `ray stop`: that would kill other users' Ray.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
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
from tokenmill.corpus.inputs import resolve_inputs  # noqa: E402
from tokenmill.prepare import PrepareOptions, prepare, run_prepare  # noqa: E402
from tokenmill.prepare import tasks as tasks_mod  # noqa: E402
from tokenmill.prepare.coordinator import _job  # noqa: E402
from tokenmill.prepare.tasks import plan_tasks  # noqa: E402
from tokenmill.prepare.worker import execute  # noqa: E402
from tokenmill.tokenizers import get_tokenizer  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]
WORDS = "the of and a to in is you that it he was for on are as with his they I at be this".split()
LOOPBACK = ("127.0.0.1", "::ffff:127.0.0.1", "::1")


def texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) + rng.choice(["", ",", ".\n"]) for _ in range(rng.randint(1, 400))) for _ in range(n)]


def corpus(d: Path) -> list[Path]:
    """A .jsonl big enough for several range tasks, a .txt and a .jsonl.gz."""
    d.mkdir()
    (d / "a.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts(300, 1)))
    (d / "b.txt").write_text(texts(1, 2)[0])
    with gzip.open(d / "c.jsonl.gz", "wt") as f:
        f.write("".join(json.dumps({"text": t}) + "\n" for t in texts(60, 3)))
    return [d / "a.jsonl", d / "b.txt", d / "c.jsonl.gz"]


ARGS = dict(shard_tokens=3000, val_fraction=0.2, progress=False)


@pytest.fixture(scope="module")
def short_tmp() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="tmr", dir="/tmp"))  # pytest's tmp paths are too long for Ray's sockets
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def local_ray(short_tmp: Path) -> Iterator[None]:
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=str(short_tmp / "r"),
        logging_level="ERROR",
        log_to_driver=False,
    )
    yield
    ray.shutdown()


@pytest.fixture
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks_mod, "RANGE_BYTES", 40_000)  # several range tasks per .jsonl


def test_ray_and_local_executors_write_byte_identical_stores(
    tmp_path: Path, local_ray: None, small_ranges: None
) -> None:
    sources = corpus(tmp_path / "in")
    stores = {}
    for workers in (0, 1, 2):
        prepare(sources, tmp_path / f"local{workers}", workers=workers, **ARGS)
        stores[f"local{workers}"] = all_files(tmp_path / f"local{workers}")
    report = run_prepare(sources, tmp_path / "ray", PrepareOptions(executor="ray", **ARGS))
    stores["ray"] = all_files(tmp_path / "ray")
    assert report.tasks > 4 and report.nodes == {ray.get_runtime_context().get_node_id()}
    assert stores["ray"] == stores["local0"] == stores["local1"] == stores["local2"]
    assert sum(n.endswith(".bin") for n in stores["ray"]) > report.tasks  # several shards, per task


def test_bad_input_fails_alike_under_both_executors_and_keeps_finished_tasks(
    tmp_path: Path, local_ray: None, small_ranges: None
) -> None:
    sources = corpus(tmp_path / "in")
    lines = sources[0].read_text().splitlines(keepends=True)
    sources[0].write_text("".join(lines[:250]) + "not json\n" + "".join(lines[250:]))
    errors = {}
    for executor in ("local", "ray"):
        out = tmp_path / executor
        with pytest.raises(ValueError) as info:
            prepare(sources, out, workers=2, executor=executor, **ARGS)
        errors[executor] = str(info.value)
        assert (out / ".tasks").is_dir() and list((out / ".tasks").glob("*.json"))  # finished tasks kept
    assert errors["local"] == errors["ray"]
    assert f"{sources[0]}, line 251 is not valid JSON" in errors["ray"] and "skip_bad_lines=True" in errors["ray"]
    # The fix (skipping the line) reruns on the kept store: finished tasks are not redone.
    report = run_prepare(sources, tmp_path / "ray", PrepareOptions(executor="ray", skip_bad_lines=True, **ARGS))
    assert report.store.manifest["stats"]["bad_lines_skipped"] == 1


def test_an_unreachable_ray_address_fails_fast_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("hello")
    for address in ("127.0.0.1:1", "192.0.2.1:6379"):  # refused; a documentation address (no route)
        started = time.monotonic()
        with pytest.raises(ValueError, match=rf"cannot reach the Ray cluster at {address}.*--ray-address"):
            prepare([src], tmp_path / "s", executor="ray", ray_address=address, progress=False)
        assert time.monotonic() - started < 10
        assert not (tmp_path / "s").exists()


def test_a_task_that_cannot_see_out_says_it_must_be_shared(tmp_path: Path) -> None:
    # What a node without the shared file system meets; the same function runs in Ray tasks.
    src = tmp_path / "a.txt"
    src.write_text("hello")
    files = resolve_inputs([src])
    job = _job(get_tokenizer("gpt2"), PrepareOptions(), files, tmp_path / "nowhere", ("train",), {"tokenizer": {}, "options": {}})
    outcome = execute(job, plan_tasks(files, "x")[0])
    assert outcome["kind"] == "write" and "not visible on" in outcome["error"]
    assert "--out must be a directory that every worker can write" in outcome["error"] and "every node" in outcome["error"]


def test_a_local_ray_started_by_tokenmill_listens_on_loopback_only(tmp_path: Path) -> None:
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts(20, 4)))
    script = tmp_path / "probe.py"
    script.write_text(
        "import json, sys, psutil\n"
        "from tokenmill.prepare import prepare\n"
        "from tokenmill.prepare.executors import make_executor\n"
        "with make_executor('ray', workers=1) as ex:  # the executor prepare uses, started here\n"
        f"    store = prepare([{str(src)!r}], {str(tmp_path / 's')!r}, executor='ray', progress=False)\n"
        "    me = psutil.Process()\n"
        "    pids = {p.pid for p in me.children(recursive=True)} | {me.pid}\n"
        "    socks = [(psutil.Process(c.pid).name(), c.laddr.ip) for c in psutil.net_connections('inet')\n"
        "             if c.status == psutil.CONN_LISTEN and c.pid in pids]\n"
        "    print(json.dumps({'socks': socks, 'docs': store.manifest['stats']['documents']}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}  # tokenmill must set them itself
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["docs"] == 20
    names = {name for name, _ in result["socks"]}
    assert {"gcs_server", "raylet"} <= names, result  # Ray's servers were found and checked
    assert all(ip in LOOPBACK for _, ip in result["socks"]), result["socks"]


def test_a_local_ray_started_by_tokenmill_leaves_no_temporary_directory(tmp_path: Path) -> None:
    import glob

    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts(5, 1)))
    before = set(glob.glob("/tmp/tmray*"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    cmd = [sys.executable, "-m", "tokenmill", "prepare", str(src), "--out", str(tmp_path / "s"), "--executor", "ray", "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert set(glob.glob("/tmp/tmray*")) - before == set()  # Ray's mode-0777 directory, removed
