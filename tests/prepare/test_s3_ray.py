"""prepare --executor ray --out s3://...: the Ray workers upload their shards themselves (a real Ray, a real S3 server)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before ray is imported: keep 127.0.0.1
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
ray = pytest.importorskip("ray")

from tests.helpers import all_files  # noqa: E402
from tests.prepare.test_ray import ARGS, corpus  # noqa: E402
from tests.prepare.test_s3_prepare import bucket_files  # noqa: E402
from tests.s3 import S3Server  # noqa: E402
from tokenmill.prepare import PrepareOptions, prepare, run_prepare  # noqa: E402
from tokenmill.prepare import tasks as tasks_mod  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    short = Path(tempfile.mkdtemp(prefix="tms", dir="/tmp"))  # Ray's socket paths must stay short
    # The workers see no AWS_* variables (Ray started before the test set them): storage_options must reach them.
    ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             _temp_dir=str(short / "r"), logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()
    shutil.rmtree(short, ignore_errors=True)


def test_ray_workers_upload_directly(
    s3_server: S3Server, tmp_path: Path, local_ray: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks_mod, "RANGE_BYTES", 40_000)  # several range tasks per .jsonl
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(tmp_path / "cache"))
    sources = corpus(tmp_path / "in")
    prepare(sources, tmp_path / "local", workers=0, **ARGS)
    options = {"endpoint": s3_server.endpoint, "access_key_id": "testing", "secret_access_key": "testing",
               "region": "us-east-1"}
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)  # the driver too: only storage_options say where and who
    report = run_prepare(sources, s3_server.url("ray/store"), PrepareOptions(executor="ray", **ARGS),
                         storage_options=options)
    assert report.tasks > 4 and report.nodes == {ray.get_runtime_context().get_node_id()}
    assert bucket_files(s3_server, "ray/store") == all_files(tmp_path / "local")
