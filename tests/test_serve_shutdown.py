"""``veille serve`` exits promptly after Ctrl-C, even with a request stalled in flight."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veille.cli import app

VEILLE = Path(sys.executable).parent / "veille"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_serving(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not start")


def test_ctrl_c_ends_the_server_within_the_grace_period(tmp_path: Path) -> None:
    if not VEILLE.is_file():
        pytest.skip("no veille script beside this Python")
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    port = _free_port()
    environment = {**os.environ, "VEILLE_SERVE_SHUTDOWN_GRACE_S": "1"}
    server = subprocess.Popen(
        [str(VEILLE), "serve", "--port", str(port), "--log-level", "warning"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_serving(port, server)
        stalled = socket.create_connection(("127.0.0.1", port))
        stalled.sendall(
            b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n{"
        )
        time.sleep(0.5)
        started = time.monotonic()
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
        assert time.monotonic() - started < 10
        stalled.close()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
