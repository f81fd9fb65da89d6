"""Size limits and read timeouts on every request body, before any route runs.

FastAPI reads and parses a body before the route's dependencies check the API
key, so without a limit here anyone could make the server hold a body of any
size (a 600 MB one took a server from 210 MB to 2 GB). :class:`BodyGuard`
wraps the ASGI ``receive`` of each request and

- refuses a body whose ``Content-Length`` is over the limit of its route
  family before a byte of it is read, and cuts off a chunked one as soon as
  the bytes read pass the limit;
- refuses a body whose client sends nothing for ``body_chunk_timeout_s``, or
  whose whole body takes longer than ``body_total_timeout_s``, so a slow
  client cannot hold a connection and its buffers forever.

Routes with an answer format of their own (the ESP API's XML, the hotline
form's page) get the refusal as an exception from reading the body
(:class:`~veille.web.bodies.BodyTooLarge`, :class:`~veille.web.bodies.BodyTimeout`)
and answer it as they answer any bad body. Every other route is answered by
the guard itself with the REST API's problem list (413 or 408), whatever the
route then does. Either way the connection is closed after the answer
(``Connection: close``): the rest of the body is never read.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from veille.intake.settings import IntakeSettings
from veille.web.bodies import BadBody, BodyTimeout, BodyTooLarge, too_large

# An upload's body holds its file and a few small fields and part headers
# (:data:`veille.web.bodies.MAX_UPLOAD_PARTS` parts of at most 4 KiB each).
MULTIPART_ALLOWANCE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class BodyRule:
    """How much a family of routes may receive, and who answers a refusal."""

    limit_bytes: int
    # The setting behind the limit, named in the refusal so an operator knows what to raise.
    setting: str
    answered_by_route: bool


def body_rule(path: str, settings: IntakeSettings) -> BodyRule:
    """The limit on the body of a request to ``path``."""
    if path == "/ispws/upload":
        return BodyRule(
            settings.max_upload_bytes + MULTIPART_ALLOWANCE_BYTES, "VEILLE_MAX_UPLOAD_BYTES", True
        )
    if path in ("/ispws/submit", "/ispws/fileinfo"):
        return BodyRule(settings.max_xml_bytes, "VEILLE_MAX_XML_BYTES", True)
    if path.startswith("/ispws/") or path in ("/report", "/signaler"):
        return BodyRule(settings.max_form_bytes, "VEILLE_MAX_FORM_BYTES", True)
    if path == "/api/v1/reports/bulk":
        return BodyRule(settings.max_json_bytes, "VEILLE_MAX_JSON_BYTES", False)
    if path.startswith("/api/"):
        return BodyRule(settings.max_api_body_bytes, "VEILLE_MAX_API_BODY_BYTES", False)
    return BodyRule(settings.max_form_bytes, "VEILLE_MAX_FORM_BYTES", False)


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``; 0 for a request without a body, None if chunked."""
    length: int | None = 0  # HTTP/1.1: neither Content-Length nor Transfer-Encoding means no body
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
        if name == b"transfer-encoding":
            length = None
    return length


def problem_response(status: int, field: str, reason: str) -> JSONResponse:
    """The REST API's answer to a refused request, closing the connection."""
    return JSONResponse(
        {"detail": [{"field": field, "reason": reason, "line": None}]},
        status_code=status,
        headers={"Connection": "close"},
    )


class BodyGuard:
    """The ``receive`` and ``send`` of one request, with its body's limits enforced."""

    def __init__(
        self, rule: BodyRule, settings: IntakeSettings, scope: Scope, receive: Receive, send: Send
    ) -> None:
        self.rule = rule
        self.chunk_timeout_s = settings.body_chunk_timeout_s
        self.total_timeout_s = settings.body_total_timeout_s
        declared = declared_length(scope)
        # Over the limit by its own account: refused before a byte of it is read.
        self.declared_too_large = declared is not None and declared > rule.limit_bytes
        self._scope = scope
        self._receive = receive
        self._send = send
        self.received_bytes = 0
        self._deadline: float | None = None
        self._body_complete = declared == 0
        self._response_started = False
        self._refused = False
        self._answered = False

    async def refuse_declared(self) -> None:
        """Answer a body that announces itself over the limit, without calling the route."""
        self._refused = True
        await self._answer(413, self._too_large_reason())

    def _too_large_reason(self) -> str:
        return f"larger than the limit of {self.rule.limit_bytes} bytes ({self.rule.setting})"

    async def receive(self) -> Message:
        """The next message of the request, or the refusal of its body."""
        if self._answered:
            return {"type": "http.disconnect"}
        if self._body_complete:
            # Only a disconnect can come now; waiting for it has no time limit.
            return await self._receive()
        if self.declared_too_large:
            return await self._refuse(
                413, self._too_large_reason(), too_large(self.rule.limit_bytes)
            )
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self.total_timeout_s
        timeout_s = min(self.chunk_timeout_s, self._deadline - now)
        try:
            async with asyncio.timeout(max(timeout_s, 0.0)):
                message = await self._receive()
        except TimeoutError:
            waited = "in all" if timeout_s < self.chunk_timeout_s else "between chunks"
            limit_s = self.total_timeout_s if waited == "in all" else self.chunk_timeout_s
            setting = "BODY_TOTAL" if waited == "in all" else "BODY_CHUNK"
            reason = f"not received within {limit_s:g} s {waited} (VEILLE_{setting}_TIMEOUT_S)"
            return await self._refuse(408, reason, BodyTimeout("body", reason))
        if message["type"] == "http.request":
            self.received_bytes += len(message.get("body", b""))
            if self.received_bytes > self.rule.limit_bytes:
                return await self._refuse(
                    413, self._too_large_reason(), too_large(self.rule.limit_bytes)
                )
            if not message.get("more_body", False):
                self._body_complete = True
        return message

    async def _refuse(self, status: int, reason: str, error: BadBody | BodyTooLarge) -> Message:
        self._refused = True
        if self.rule.answered_by_route or self._response_started:
            raise error
        await self._answer(status, reason)
        # The route reads a disconnect and gives up; whatever it answers is dropped.
        return {"type": "http.disconnect"}

    async def _answer(self, status: int, reason: str) -> None:
        response = problem_response(status, "body", reason)
        await response(self._scope, self._receive, self._send)
        self._answered = True

    async def send(self, message: Message) -> None:
        """Pass the route's answer on, unless the guard has answered; close after a refusal."""
        if self._answered:
            return
        if message["type"] == "http.response.start":
            self._response_started = True
            # An answer given before the body was read to its end (a refusal, a 401) ends
            # the connection: otherwise the server would go on reading, and discarding,
            # whatever the client still sends, up to the whole 600 MB of it.
            if self._refused or not self._body_complete:
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"connection"
                ]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await self._send(message)
