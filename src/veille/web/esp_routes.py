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
from typing import Any, TypeVar
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from veille.intake.credentials import Principal, cached_esp_login, check_esp_login
from veille.intake.esp import service
from veille.intake.esp.codes import ResponseCode
from veille.intake.esp.service import EspError
from veille.intake.esp.spec import xsd_text
from veille.intake.uploads import remove_quietly
from veille.store.raw import Plan
from veille.web.bodies import BadBody, BodyTooLarge, read_limited, read_upload
from veille.web.state import AppState, app_state

log = logging.getLogger(__name__)
PREFIX = "/ispws/"

T = TypeVar("T")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: object) -> str:
    return escape(_CONTROL.sub("\ufffd", str(value)))


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
    headers = {"WWW-Authenticate": 'Basic realm="Veille ESP reporting"'} if status == 401 else None
    return Response(body, status_code=status, media_type="application/xml", headers=headers)


def _error(error: EspError) -> Response:
    return report_response(error.code, error.description, status=error.http_status)


def _credentials(request: Request) -> tuple[str, str] | Response:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return report_response(
            ResponseCode.AUTHENTICATION_REQUIRED,
            "authorization: HTTP Basic credentials required",
            status=401,
        )
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return report_response(
            ResponseCode.AUTHENTICATION_REQUIRED,
            "authorization: malformed Basic credentials",
            status=401,
        )
    username, _, password = decoded.partition(":")
    return username, password


def _check_login(request: Request, username: str, password: str) -> Principal | Response:
    with app_state(request).database.session() as session:
        principal = check_esp_login(session, username, password)
    if principal is None:
        return report_response(
            ResponseCode.AUTHENTICATION_REQUIRED,
            "authorization: unknown user or wrong password",
            status=401,
        )
    return principal


async def _authenticated(request: Request) -> Principal | Response:
    credentials = _credentials(request)
    if isinstance(credentials, Response):
        return credentials
    # A login checked before is answered from memory, without a trip to a thread.
    cached = cached_esp_login(*credentials)
    if cached is not None:
        return cached
    return await run_in_threadpool(_check_login, request, *credentials)


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


def _bad_input(error: Exception, code: ResponseCode = ResponseCode.VALIDATION_FAILED) -> Response:
    """The answer to a refused request: an :class:`EspError`'s own code, else ``code`` (a body
    over its limit or one that cannot be read)."""
    if isinstance(error, EspError):
        return _error(error)
    return report_response(code, str(error), status=413 if isinstance(error, BodyTooLarge) else 400)


async def status(request: Request) -> Response:
    """Check the connection and the credentials."""
    principal = await _authenticated(request)
    if isinstance(principal, Response):
        return principal
    return report_response(
        ResponseCode.SUCCESS, f"Remote User : {principal.actor.removeprefix('esp:')}"
    )


async def xsd(_: Request) -> Response:
    """The schema of the documents this server accepts."""
    return Response(xsd_text(), media_type="application/xml")


async def submit(request: Request) -> Response:
    """Open a report from its XML; answers its report id."""
    principal = await _authenticated(request)
    if isinstance(principal, Response):
        return principal
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
        return _bad_input(error)
    return report_response(ResponseCode.SUCCESS, "Success", report_id=report_id)


async def upload(request: Request) -> Response:
    """Receive one file of an open report, hashing it as it streams in."""
    principal = await _authenticated(request)
    if isinstance(principal, Response):
        return principal
    state = app_state(request)
    try:
        received = await read_upload(
            request, state.settings.resolved_spool_dir(), state.settings.max_upload_bytes
        )
    except (BodyTooLarge, BadBody) as error:
        return _bad_input(error, ResponseCode.MALFORMED_FILE)
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
            return _error(error)
        raise
    return report_response(
        ResponseCode.SUCCESS, "Success", report_id=report_id, file_id=file_id, md5=spooled.md5
    )


async def fileinfo(request: Request) -> Response:
    """Describe an uploaded file with a fileDetails document."""
    principal = await _authenticated(request)
    if isinstance(principal, Response):
        return principal
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
        return _bad_input(error)
    return report_response(ResponseCode.SUCCESS, "Success", report_id=report_id, file_id=file_id)


async def finish(request: Request) -> Response:
    """Finish a report: it becomes a Veille report and its files go to the media worker."""
    principal = await _authenticated(request)
    if isinstance(principal, Response):
        return principal
    state = app_state(request)
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
        return _bad_input(error)
    state.nudge_worker()
    files = "".join(f"<fileId>{_text(f)}</fileId>" for f in done.file_ids)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<reportDoneResponse>'
        f"<responseCode>{int(ResponseCode.SUCCESS)}</responseCode>"
        f"<reportId>{done.esp_report_id}</reportId>"
        f"<files>{files}</files></reportDoneResponse>\n"
    )
    return Response(body, media_type="application/xml")


async def retract(request: Request) -> Response:
    """Retract an open report: it and its files are discarded."""
    principal = await _authenticated(request)
    if isinstance(principal, Response):
        return principal
    state = app_state(request)
    try:
        report_id = await _form_id(request)
        await _call(state, service.retract_report, principal.agency_id, report_id, principal.actor)
    except (EspError, BodyTooLarge, BadBody) as error:
        return _bad_input(error)
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
    route = ROUTES.get(scope["path"][len(PREFIX) :])
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
            response = report_response(code, code.description(), status=500)
    await response(scope, receive, send)
