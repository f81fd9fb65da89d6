"""What casework tests share: agencies, a local SMTP server, a local webhook receiver, an app."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

from aiosmtpd.controller import Controller
from fastapi import FastAPI, Header

from tests.factories import make_agencies
from veille.casework.settings import CaseworkSettings
from veille.core import api as core_api
from veille.store.db import Database
from veille.store.reports import Viewer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_world(database: Database) -> dict[str, int]:
    """Police FR, Hotline FR and Police DE; their ids by name."""
    with database.session() as session:
        return {name: agency.id for name, agency in make_agencies(session).items()}


@dataclass
class Mailbox:
    """What a local SMTP server received."""

    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, CaseworkSettings]]:
    """A real SMTP server on a free local port, and settings that send through it."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, CaseworkSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_s=5)
    finally:
        controller.stop()


@dataclass
class Received:
    """One call a webhook receiver took."""

    headers: dict[str, str]
    body: bytes


@contextmanager
def webhook_server(status: int = 200) -> Iterator[tuple[str, list[Received]]]:
    """A real HTTP server on a free local port that records every POST."""
    calls: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            calls.append(Received(dict(self.headers.items()), self.rfile.read(length)))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", calls
    finally:
        server.shutdown()
        server.server_close()


def api_app(database: Database, agencies: dict[str, int]) -> FastAPI:
    """Casework's routes; agencies named by a test header (keys are tested by the web app)."""
    from veille.casework import api as casework_api

    app = FastAPI()
    app.state.veille = SimpleNamespace(database=database)
    app.include_router(casework_api.router(), prefix="/api/v1")

    def as_agency(x_test_agency: str = Header()) -> Viewer:
        return Viewer(actor=f"api:{x_test_agency}", agency_id=agencies[x_test_agency])

    app.dependency_overrides[core_api.api_reader] = as_agency
    app.dependency_overrides[core_api.api_writer] = as_agency
    return app


def jsonl(rows: list[dict[str, Any] | str]) -> str:
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)
