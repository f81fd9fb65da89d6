"""What the analysts' pages share: the templates, one transaction per request, forms, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from veille.accounts.models import Role
from veille.store.audit import record_event
from veille.store.db import Database
from veille.web.bodies import BadBody, BodyTooLarge, read_limited
from veille.web.signin import Pages, SignedIn, csrf_ok
from veille.web.state import app_state

T = TypeVar("T")

pages = Pages(str(Path(__file__).parent / "templates"))
"""The templates of the analysts' pages, per language."""
MAX_FORM_FIELDS = 220
"""A bulk action names at most a page of reports (and a few other fields)."""


def run_in_transaction(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one transaction (serialised with the app's writers on SQLite)."""
    state = app_state(request)
    database: Database = state.database

    def transaction() -> T:
        with database.session() as session:
            return work(session)

    return state.serialised(transaction) if database.dialect == "sqlite" else transaction()


async def in_thread(request: Request, work: Callable[[Session], T]) -> T:
    """:func:`run_in_transaction` in a worker thread (the event loop stays free)."""
    return await run_in_threadpool(run_in_transaction, request, work)


async def read_form(request: Request) -> dict[str, list[str]]:
    """A posted form, size-limited before it is parsed."""
    body = await read_limited(request, app_state(request).settings.max_form_bytes)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("body", "not a UTF-8 form") from None
    try:
        return parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise BadBody("body", f"more than {MAX_FORM_FIELDS} fields") from None


def first(fields: dict[str, list[str]], name: str) -> str:
    """The first value of a form field ("" when absent)."""
    values = fields.get(name) or [""]
    return values[0]


def audit_refusal(request: Request, who: SignedIn, action: str, detail: str) -> None:
    """Record a refused attempt (its own transaction: the refusal changes nothing else)."""

    def work(session: Session) -> None:
        record_event(
            session,
            actor=who.username,
            agency_id=who.agency_id,
            action=action,
            object_type="page",
            object_id=request.url.path[:200],
            detail=detail,
            success=False,
        )

    run_in_transaction(request, work)


def error_page(request: Request, who: SignedIn | None, status: int, message: str) -> Response:
    """The error page with ``status``; ``message`` is a field's problem, or ``csrf``/``role``."""
    return pages.render(
        request, "app/error.html", {"status": status, "message": message}, status=status, who=who
    )


async def posted_form(
    request: Request, who: SignedIn, *, action: str, roles: frozenset[Role] | None = None
) -> dict[str, list[str]] | Response:
    """The form a signed-in user posted, or the page that refuses it.

    In order: the body is read up to its limit (413 or 400), the session's
    CSRF token must be in it (403), and the user's role must be among
    ``roles`` when given (403, recorded as a refused ``action``).
    """
    try:
        fields = await read_form(request)
    except (BadBody, BodyTooLarge) as error:
        return error_page(request, who, error.http_status, str(error))
    if not csrf_ok(who, first(fields, "csrf")):
        return error_page(request, who, 403, "csrf")
    if roles is not None and not who.may(roles):
        await run_in_threadpool(audit_refusal, request, who, action, "role may not do this")
        return error_page(request, who, 403, "role")
    return fields
