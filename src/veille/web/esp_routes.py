"""``/ispws``: the CyberTipline-compatible ESP reporting API.

A provider's existing client works by changing its base URL: same paths,
same HTTP Basic authentication, same request bodies (report XML, multipart
upload with ``id`` and ``file``, fileDetails XML, form-encoded ``id``) and
the same ``reportResponse`` / ``reportDoneResponse`` answers. Every answer
carries a ``responseCode`` (:class:`veille.intake.esp.codes.ResponseCode`):
0 on success, else the documented code of the error, whose description
names the element or field at fault. Routes only parse and render;
:mod:`veille.intake.esp.service` does the work.

These routes are answered before FastAPI's routing (:func:`serve`, called by
:class:`veille.web.app.VeilleApp`): a provider sends six calls per report,
and FastAPI's middleware, route matching and dependency resolution cost a
fifth of the server's time per call. They take no FastAPI dependency and are
not part of the OpenAPI document (their schema is the XSD). On PostgreSQL,
``submit``, ``upload``, ``fileinfo`` and ``finish`` run their statements on
asynchronous connections, on the event loop (:class:`veille.store.raw.AsyncPgPool`);
elsewhere, and for the other calls, the work goes to a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from veille.flow import reports_stored
from veille.intake.credentials import Principal, cached_esp_login
from veille.intake.esp import service
from veille.intake.esp.codes import ResponseCode
from veille.intake.esp.errors import EspError
from veille.intake.esp.spec import xsd_text
from veille.intake.uploads import remove_quietly
from veille.store.raw import Plan
from veille.web.bodies import BadBody, BodyTooLarge, read_limited, read_upload
from veille.web.esp_logins import logins
from veille.web.state import AppState, app_state

log = logging.getLogger(__name__)
PREFIX = "/ispws/"

T = TypeVar("T")
_REALM = 'Basic realm="Veille ESP reporting"'
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: object) -> str:
    return escape(_CONTROL.sub("\ufffd", str(value)))


@dataclass(frozen=True)
class Refusal:
    """A refused call: its response code, a description naming the field, its HTTP status."""

    code: ResponseCode
    description: str
    status: int = 400
    retry_after_s: int | None = None

    @classmethod
    def of(cls, error: Exception, code: ResponseCode = ResponseCode.VALIDATION_FAILED) -> Refusal:
        """An :class:`EspError`'s own code, else ``code`` (a body over its limit or one that
        cannot be read)."""
        if isinstance(error, EspError):
            return cls(error.code, error.description, error.http_status)
        # 413 over a limit, 408 when the client stopped sending (veille.web.limits), else 400.
        status = error.http_status if isinstance(error, BodyTooLarge | BadBody) else 400
        return cls(code, str(error), status)

    def report(self) -> Response:
        """The refusal as a ``reportResponse``."""
        response = report_response(self.code, self.description, status=self.status)
        return self._headed(response)

    def report_done(self, report_id: int | None = None) -> Response:
        """The refusal as a ``reportDoneResponse`` (the answer to finish)."""
        response = report_done_response(
            self.code, self.description, report_id=report_id, status=self.status
        )
        return self._headed(response)

    def _headed(self, response: Response) -> Response:
        if self.retry_after_s is not None:
            response.headers["Retry-After"] = str(self.retry_after_s)
        return response


def report_response(
    code: ResponseCode,
    description: str,
    *,
    report_id: int | None = None,
    file_id: str | None = None,
    md5: str | None = None,
    status: int = 200,
) -> Response:
    """A ``reportResponse`` document."""
    parts = [
        f"<responseCode>{int(code)}</responseCode>",
        f"<responseDescription>{_text(description)}</responseDescription>",
    ]
    if report_id is not None:
        parts.append(f"<reportId>{report_id}</reportId>")
    if file_id is not None:
        parts.append(f"<fileId>{_text(file_id)}</fileId>")
    if md5 is not None:
        parts.append(f"<hash>{md5}</hash>")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<reportResponse>'
        + "".join(parts)
        + "</reportResponse>\n"
    )
    headers = {"WWW-Authenticate": _REALM} if status == 401 else None
    return Response(body, status_code=status, media_type="application/xml", headers=headers)


def report_done_response(
    code: ResponseCode,
    description: str,
    *,
    report_id: int | None = None,
    file_ids: list[str] | None = None,
    status: int = 200,
) -> Response:
    """A ``reportDoneResponse`` document: ``responseCode``, ``reportId`` and ``files``.

    The answer to every ``finish``, refused ones included: providers' clients
    typed on the published schema read a finish answer only as this element.
    The schema gives it no ``responseDescription``, so the description, which
    names the field at fault, goes in a comment (which every parser skips) and
    in the ``X-Response-Description`` header.
    """
    files = "".join(f"<fileId>{_text(f)}</fileId>" for f in file_ids or [])
    report = f"<reportId>{report_id}</reportId>" if report_id is not None else ""
    comment = _text(description).replace("--", "- -").rstrip("-")
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<!-- {comment} -->\n<reportDoneResponse>'
        f"<responseCode>{int(code)}</responseCode>{report}<files>{files}</files>"
        "</reportDoneResponse>\n"
    )
    headers = {"X-Response-Description": _header_text(description)}
    if status == 401:
        headers["WWW-Authenticate"] = _REALM
    return Response(body, status_code=status, media_type="application/xml", headers=headers)


def _header_text(value: str) -> str:
    """``value`` as a header value: printable ASCII, at most 500 characters."""
    return "".join(c if " " <= c <= "~" else "?" for c in value)[:500]


def _credentials(request: Request) -> tuple[str, str] | Refusal:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return Refusal(
            ResponseCode.AUTHENTICATION_REQUIRED,
            "authorization: HTTP Basic credentials required",
            401,
        )
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return Refusal(
            ResponseCode.AUTHENTICATION_REQUIRED, "authorization: malformed Basic credentials", 401
        )
    username, _, password = decoded.partition(":")
    return username, password


async def _authenticated(request: Request) -> Principal | Refusal:
    credentials = _credentials(request)
    if isinstance(credentials, Refusal):
        return credentials
    # A login checked before is answered from memory, without a trip to a thread.
    cached = cached_esp_login(*credentials)
    if cached is not None:
        return cached
    state = app_state(request)
    address = request.client.host if request.client else "unknown"
    checked = await logins(state).check(*credentials, address)
    if isinstance(checked, Principal):
        return checked
    if checked.retry_after_s:
        return Refusal(
            ResponseCode.AUTHENTICATION_REQUIRED,
            f"authorization: too many failed logins; retry in {checked.retry_after_s} s",
            429,
            checked.retry_after_s,
        )
    return Refusal(
        ResponseCode.AUTHENTICATION_REQUIRED, "authorization: unknown user or wrong password", 401
    )


async def _call(state: AppState, function: Callable[..., T], *args: Any) -> T:
    """``function(database, *args)`` in a worker thread (one writer at a time on SQLite)."""
    return await run_in_threadpool(state.serialised, lambda: function(state.database, *args))


async def _run(
    state: AppState,
    function: Callable[..., T],
    plan: Callable[..., Plan[T]],
    *args: Any,
    transaction: bool = False,
) -> T:
    """``plan(*args)`` on the event loop where the server holds asynchronous PostgreSQL
    connections; else ``function(database, *args)`` in a worker thread."""
    if state.pg is not None:
        return await state.pg.run(plan(*args), transaction=transaction)
    return await _call(state, function, *args)


async def _form_id(request: Request) -> int:
    body = await read_limited(request, 64 * 1024)
    content_type = request.headers.get("content-type", "")
    values: dict[str, list[str]] = {}
    if content_type.startswith("multipart/form-data"):
        raise BadBody("content-type", "send id as application/x-www-form-urlencoded")
    if body:
        try:
            values = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise BadBody("id", "not valid UTF-8") from None
    raw = values["id"][0] if values.get("id") else request.query_params.get("id")
    return service.parse_report_id(raw)


async def status(request: Request) -> Response:
    """Check the connection and the credentials."""
    principal = await _authenticated(request)
    if isinstance(principal, Refusal):
        return principal.report()
    return report_response(
        ResponseCode.SUCCESS, f"Remote User : {principal.actor.removeprefix('esp:')}"
    )


async def xsd(_: Request) -> Response:
    """The schema of the documents this server accepts."""
    return Response(xsd_text(), media_type="application/xml")


async def submit(request: Request) -> Response:
    """Open a report from its XML; answers its report id."""
    principal = await _authenticated(request)
    if isinstance(principal, Refusal):
        return principal.report()
    state = app_state(request)
    try:
        body = await read_limited(request, state.settings.max_xml_bytes)
        report_id = await _run(
            state,
            service.submit_report,
            service.submit_plan,
            principal.agency_id,
            body,
            state.settings,
            principal.actor,
        )
    except (EspError, BodyTooLarge, BadBody) as error:
        return Refusal.of(error).report()
    return report_response(ResponseCode.SUCCESS, "Success", report_id=report_id)


async def upload(request: Request) -> Response:
    """Receive one file of an open report, hashing it as it streams in."""
    principal = await _authenticated(request)
    if isinstance(principal, Refusal):
        return principal.report()
    state = app_state(request)
    try:
        received = await read_upload(
            request, state.settings.resolved_spool_dir(), state.settings.max_upload_bytes
        )
    except (BodyTooLarge, BadBody) as error:
        return Refusal.of(error, ResponseCode.MALFORMED_FILE).report()
    spooled = received.file
    try:
        if spooled is None:
            raise EspError(ResponseCode.MALFORMED_FILE, "file: the upload has no part named 'file'")
        report_id = service.parse_report_id(received.fields.get("id"))
        file_id = await _run(
            state,
            service.add_upload,
            service.upload_plan,
            principal.agency_id,
            report_id,
            spooled,
            state.settings,
        )
    except asyncio.CancelledError:
        # Cancelled (the server is stopping) while the statement was under way: it may have
        # committed, and its row then needs the file. The file stays.
        raise
    except Exception as error:  # refused or failed: no row holds the file, which goes
        if spooled is not None:
            remove_quietly(spooled.path)
        if isinstance(error, EspError):
            return Refusal.of(error).report()
        raise
    return report_response(
        ResponseCode.SUCCESS, "Success", report_id=report_id, file_id=file_id, md5=spooled.md5
    )


async def fileinfo(request: Request) -> Response:
    """Describe an uploaded file with a fileDetails document."""
    principal = await _authenticated(request)
    if isinstance(principal, Refusal):
        return principal.report()
    state = app_state(request)
    try:
        body = await read_limited(request, state.settings.max_xml_bytes)
        report_id, file_id = await _run(
            state,
            service.add_file_details,
            service.file_details_plan,
            principal.agency_id,
            body,
            state.settings,
        )
    except (EspError, BodyTooLarge, BadBody) as error:
        return Refusal.of(error).report()
    return report_response(ResponseCode.SUCCESS, "Success", report_id=report_id, file_id=file_id)


async def finish(request: Request) -> Response:
    """Finish a report: it becomes a Veille report and its files go to the media worker.

    Every answer, refusals included, is a ``reportDoneResponse``.
    """
    principal = await _authenticated(request)
    if isinstance(principal, Refusal):
        return principal.report_done()
    state = app_state(request)
    report_id: int | None = None
    try:
        report_id = await _form_id(request)
        done = await _run(
            state,
            service.finish_report,
            service.finish_plan,
            principal.agency_id,
            report_id,
            principal.actor,
            transaction=True,
        )
    except (EspError, BodyTooLarge, BadBody) as error:
        return Refusal.of(error).report_done(report_id)
    # After the commit, one row at most in the job queue: the report's way to its triage queue.
    await run_in_threadpool(reports_stored, state.database, [done.report_id])
    state.nudge_worker()
    return report_done_response(
        ResponseCode.SUCCESS, "Success", report_id=done.esp_report_id, file_ids=done.file_ids
    )


async def retract(request: Request) -> Response:
    """Retract an open report: it and its files are discarded."""
    principal = await _authenticated(request)
    if isinstance(principal, Refusal):
        return principal.report()
    state = app_state(request)
    try:
        report_id = await _form_id(request)
        await _call(state, service.retract_report, principal.agency_id, report_id, principal.actor)
    except (EspError, BodyTooLarge, BadBody) as error:
        return Refusal.of(error).report()
    return report_response(ResponseCode.SUCCESS, "Success", report_id=report_id)


Handler = Callable[[Request], Awaitable[Response]]
ROUTES: dict[str, tuple[str, Handler]] = {
    "status": ("GET", status),
    "xsd": ("GET", xsd),
    "submit": ("POST", submit),
    "upload": ("POST", upload),
    "fileinfo": ("POST", fileinfo),
    "finish": ("POST", finish),
    "retract": ("POST", retract),
}


async def serve(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer an HTTP request whose path starts with ``/ispws/``.

    An unknown path is a 404 and a wrong method a 405, both with code 4000;
    an unexpected error is logged and answered 500 with code 1000 (bad input
    never gets there: each route answers it itself).
    """
    name = scope["path"][len(PREFIX) :]
    route = ROUTES.get(name)
    if route is None:
        response = report_response(
            ResponseCode.INVALID_REQUEST, f"no such endpoint: {scope['path']}", status=404
        )
    elif scope["method"] not in (route[0], "HEAD" if route[0] == "GET" else route[0]):
        response = report_response(
            ResponseCode.INVALID_REQUEST, f"{scope['path']} takes {route[0]}", status=405
        )
        response.headers["Allow"] = route[0]
    else:
        try:
            response = await route[1](Request(scope, receive))
        except ClientDisconnect:
            return
        except Exception:
            log.exception("%s %s failed", scope["method"], scope["path"])
            code = ResponseCode.SERVER_ERROR
            failed = Refusal(code, code.description(), 500)
            response = failed.report_done() if name == "finish" else failed.report()
    await response(scope, receive, send)
