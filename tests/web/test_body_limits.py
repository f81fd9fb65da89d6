"""Request bodies are bounded while they stream in, before authentication and parsing."""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import Tenants, _free_port
from tests.web.test_rest_api import REPORT
from veille.intake.settings import IntakeSettings
from veille.store.db import Database

SERVER = """
import sys, uvicorn
from veille.intake.settings import IntakeSettings
from veille.store.db import Database, create_veille_engine
from veille.web import create_app

database = Database(create_veille_engine(sys.argv[1]))
app = create_app(database, IntakeSettings(worker_enabled=False))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", proxy_headers=False)
"""

MIB = 1024 * 1024


@dataclass
class Answer:
    """What a client that streams a body saw: bytes it got out, the status, the time taken."""

    sent_bytes: int
    status: int | None
    head: bytes
    elapsed_s: float


def stream_body(
    port: int,
    path: str,
    total_bytes: int,
    *,
    chunked: bool,
    headers: str = "",
    chunk: bytes = b" " * MIB,
) -> Answer:
    """POST ``total_bytes`` to ``path`` as fast as the server takes them, stopping as soon
    as an answer can be read (or the server stops reading)."""
    started = time.monotonic()
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total_bytes}"
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{headers}{framing}\r\n\r\n".encode()
        )
        try:
            while sent < total_bytes:
                readable, _, _ = select.select([connection], [], [], 0)
                if readable:
                    break
                piece = chunk[: total_bytes - sent]
                connection.sendall(
                    f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
                )
                sent += len(piece)
        except OSError:  # the server answered and closed: read what it said
            pass
        received = b""
        try:
            while b"\r\n\r\n" not in received:
                data = connection.recv(65536)
                if not data:
                    break
                received += data
        except OSError:
            pass
    elapsed = time.monotonic() - started
    status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1 ") else None
    return Answer(sent, status, received.split(b"\r\n\r\n", 1)[0], elapsed)


def memory_mib(pid: int, field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (the peak so far) of process ``pid``, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for process {pid}")


@pytest.fixture
def server_process(database: Database) -> Iterator[tuple[int, int]]:
    """The app served by uvicorn in a process of its own, as ``veille serve`` runs it."""
    port = _free_port()
    url = database.engine.url.render_as_string(hide_password=False)
    process = subprocess.Popen([sys.executable, "-c", SERVER, url, str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.05)
        yield process.pid, port
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_600_mb_body_without_a_key_is_refused_before_it_is_read(
    server_process: tuple[int, int],
) -> None:
    pid, port = server_process
    # Warm the server up (first request, imports) before taking its measure.
    assert httpx.get(f"http://127.0.0.1:{port}/api/v1/reports").status_code == 401
    peak_before = memory_mib(pid, "VmHWM")
    for path in ("/api/v1/reports", "/api/v1/reports/bulk", "/api/v1/sms"):
        for chunked in (False, True):
            answer = stream_body(port, path, 600 * MIB, chunked=chunked)
            # Refused (413 over the limit; 401 where the route checks the key before
            # it reads), after at most the limit plus what the sockets buffer.
            assert answer.status in (401, 413), (path, chunked, answer)
            assert answer.sent_bytes < 64 * MIB, (path, chunked, answer)
            assert answer.elapsed_s < 10, (path, chunked, answer)
            assert b"connection: close" in answer.head.lower()
    assert memory_mib(pid, "VmHWM") - peak_before < 50


def test_a_declared_length_over_the_limit_is_refused_before_the_key_is_checked(
    client: TestClient,
) -> None:
    refused = client.post("/api/v1/sms", content=b"{}", headers={"Content-Length": str(3 * MIB)})
    assert refused.status_code == 413
    assert refused.json() == {
        "detail": [
            {
                "field": "body",
                "reason": "larger than the limit of 2097152 bytes (VEILLE_MAX_API_BODY_BYTES)",
                "line": None,
            }
        ]
    }


def test_connections_stay_open_after_requests_read_to_their_end(
    client: TestClient, tenants: Tenants
) -> None:
    listed = client.get("/api/v1/reports", headers={"X-API-Key": tenants.read_key})
    created = client.post("/api/v1/reports", json=REPORT, headers={"X-API-Key": tenants.write_key})
    assert (listed.status_code, created.status_code) == (200, 201)
    assert "connection" not in listed.headers and "connection" not in created.headers
    # An answer before the body was read (here: no key) closes the connection.
    refused = client.post("/api/v1/reports/bulk", content=b"{}\n" * 1000)
    assert (refused.status_code, refused.headers["connection"]) == (401, "close")


def test_a_chunked_bulk_body_is_cut_off_at_its_limit(
    client: TestClient, tenants: Tenants, intake_settings: IntakeSettings
) -> None:
    line = b'{"external_id": "x", "reporter_kind": "esp"}\n' * 1000

    def lines() -> Iterator[bytes]:
        for _ in range(2 * intake_settings.max_json_bytes // len(line)):
            yield line

    refused = client.post(
        "/api/v1/reports/bulk", content=lines(), headers={"X-API-Key": tenants.write_key}
    )
    assert refused.status_code == 413
    assert refused.json()["detail"][0]["reason"] == (
        f"larger than the limit of {intake_settings.max_json_bytes} bytes (VEILLE_MAX_JSON_BYTES)"
    )


def test_an_oversize_form_post_is_answered_by_the_form_page(client: TestClient) -> None:
    def body() -> Iterator[bytes]:
        yield b"description=" + b"a" * 200 * 1024

    refused = client.post(
        "/report",
        content=body(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert refused.status_code == 413
    assert "text/html" in refused.headers["content-type"]
    assert "larger than the limit of 65536 bytes" in refused.text


def test_an_esp_document_over_its_limit_is_still_answered_in_xml(
    client: TestClient, tenants: Tenants, intake_settings: IntakeSettings
) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(intake_settings.max_xml_bytes // MIB + 2):
            yield b" " * MIB

    refused = client.post("/ispws/submit", content=body(), headers=tenants.esp_auth)
    assert refused.status_code == 413
    assert "<responseCode>4100</responseCode>" in refused.text
    assert refused.headers["connection"] == "close"


class TestSlowClients:
    """A client that stops sending its body is answered 408 and disconnected."""

    @pytest.fixture
    def intake_settings(self, intake_settings: IntakeSettings) -> IntakeSettings:
        return intake_settings.model_copy(
            update={"body_chunk_timeout_s": 0.5, "body_total_timeout_s": 2.0}
        )

    @staticmethod
    def stall(base_url: str, path: str, headers: str, drip_every_s: float | None) -> bytes:
        """Announce 1,000 bytes, send 10 (then one byte every ``drip_every_s``), read the answer."""
        port = int(base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"
                "Content-Length: 1000\r\n\r\n0123456789".encode()
            )
            received = b""
            while True:
                if drip_every_s is not None:
                    readable, _, _ = select.select([connection], [], [], drip_every_s)
                    if not readable:
                        connection.sendall(b"x")
                        continue
                data = connection.recv(65536)
                if not data:  # the server closed the connection
                    return received
                received += data

    def test_a_stalled_rest_body(self, live_server: str, tenants: Tenants) -> None:
        started = time.monotonic()
        answer = self.stall(
            live_server, "/api/v1/reports/bulk", f"X-API-Key: {tenants.write_key}\r\n", None
        )
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"within 0.5 s between chunks (VEILLE_BODY_CHUNK_TIMEOUT_S)" in answer
        assert time.monotonic() - started < 5

    def test_a_stalled_form_post(self, live_server: str) -> None:
        answer = self.stall(
            live_server,
            "/report",
            "Content-Type: application/x-www-form-urlencoded\r\n",
            None,
        )
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"connection: close" in answer.lower()

    def test_a_stalled_esp_document_is_answered_in_xml(
        self, live_server: str, tenants: Tenants
    ) -> None:
        auth = "".join(f"{name}: {value}\r\n" for name, value in tenants.esp_auth.items())
        answer = self.stall(live_server, "/ispws/submit", auth, None)
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"<responseCode>4100</responseCode>" in answer
        assert b"connection: close" in answer.lower()


class TestDrippingClients:
    """A client that keeps sending a byte now and then is cut off at the total limit.

    The byte comes every 0.1 s against a 1.5 s wait between chunks: the margin keeps the
    test about the total limit even when a loaded machine delays the server's thread.
    """

    @pytest.fixture
    def intake_settings(self, intake_settings: IntakeSettings) -> IntakeSettings:
        return intake_settings.model_copy(
            update={"body_chunk_timeout_s": 1.5, "body_total_timeout_s": 3.0}
        )

    def test_a_body_that_drips_in(self, live_server: str, tenants: Tenants) -> None:
        started = time.monotonic()
        answer = TestSlowClients.stall(
            live_server, "/api/v1/reports", f"X-API-Key: {tenants.write_key}\r\n", 0.1
        )
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"within 3 s in all (VEILLE_BODY_TOTAL_TIMEOUT_S)" in answer
        assert 2.9 < time.monotonic() - started < 9
