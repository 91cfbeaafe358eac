"""--ray-address that accepts connections and never answers: one line within the timeout, not a hang."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import tm

pytest.importorskip("ray")


class SilentServer:
    """Listens on 127.0.0.1, accepts every connection and never answers; stops itself after ``life`` s."""

    def __init__(self, life: float = 60.0) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.deadline = time.monotonic() + life
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while time.monotonic() < self.deadline:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted.append(conn)  # held open, never read from or written to
        self.close()

    def close(self) -> None:
        self.deadline = 0.0
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.mark.slow  # a real process that imports Ray
def test_a_silent_ray_address_times_out_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    server = SilentServer()
    try:
        address = f"127.0.0.1:{server.port}"
        started = time.monotonic()
        done = tm(
            "prepare", str(tmp_path / "a.txt"), "--out", str(tmp_path / "s"),
            "--executor", "ray", "--ray-address", address, "--ray-timeout", "1", timeout=60,
        )
        took = time.monotonic() - started
    finally:
        server.close()
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stdout == "", done.stderr  # no Ray log lines
    assert f"the Ray cluster at {address} accepts connections but did not answer within 1 s" in done.stderr
    assert "--ray-address" in done.stderr and "--ray-timeout" in done.stderr
    assert took < 1 + 5 + 10, took  # the timeout, plus starting Python and importing Ray
    assert server.accepted and not (tmp_path / "s").exists()


def test_ray_timeout_is_an_option_with_its_flag() -> None:
    from tokenmill.common.errors import OptionError
    from tokenmill.prepare import PrepareOptions

    assert PrepareOptions.field_flag("ray_timeout") == "--ray-timeout" and PrepareOptions().ray_timeout == 5.0
    assert "ray_timeout" not in PrepareOptions().manifest_options("gpt2")  # how a run goes, not the store
    with pytest.raises(OptionError, match="ray_timeout must be a number of seconds > 0"):
        PrepareOptions(ray_timeout=0)
