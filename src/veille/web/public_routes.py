"""The public hotline form (``/report`` in English, ``/signaler`` in French).

No account, optional anonymity, no third-party scripts (the page loads only
its own stylesheet), a CSRF token and a rate limit per address, both shared
by every server process (see :mod:`veille.web.protection`). The route
parses the form and calls :func:`veille.intake.channels.receive_form_report`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from veille.intake.channels import (
    ChannelInputError,
    FormReport,
    NoOwnerAgency,
    public_owner,
    receive_form_report,
)
from veille.vocab import PlatformCategory
from veille.web.bodies import BadBody, BodyTooLarge, read_limited
from veille.web.i18n import CATEGORY_LABELS, TEXTS
from veille.web.protection import CsrfGuard, FormGuards, RateLimiter
from veille.web.state import app_state

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
COOKIE = "veille_csrf"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; "
    "frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
PATHS = {"en": "/report", "fr": "/signaler"}


def _guards(request: Request) -> tuple[CsrfGuard, RateLimiter]:
    guards: FormGuards = request.app.state.form_guards
    return guards.load()


def _page(
    request: Request, language: str, template: str, status: int = 200, **context: Any
) -> HTMLResponse:
    csrf, _ = _guards(request)
    token, nonce = csrf.issue()
    response = templates.TemplateResponse(
        request,
        template,
        {
            "t": TEXTS[language],
            "lang": language,
            "other_path": PATHS["fr" if language == "en" else "en"],
            "path": PATHS[language],
            "categories": CATEGORY_LABELS[language],
            "token": token,
            "values": {},
            "errors": {},
            **context,
        },
        status_code=status,
        headers=SECURITY_HEADERS,
    )
    response.set_cookie(COOKIE, nonce, httponly=True, samesite="strict", max_age=7200)
    return response


@router.get("/", response_class=RedirectResponse)
def home() -> RedirectResponse:
    """The public home is the English form."""
    return RedirectResponse("/report", status_code=307)


@router.get("/report", response_class=HTMLResponse)
def form_en(request: Request) -> HTMLResponse:
    """The hotline form in English."""
    return _page(request, "en", "form.html")


@router.get("/signaler", response_class=HTMLResponse)
def form_fr(request: Request) -> HTMLResponse:
    """The hotline form in French."""
    return _page(request, "fr", "form.html")


@router.post("/report", response_class=HTMLResponse)
async def post_en(request: Request) -> Response:
    """Receive the English form."""
    return await _receive(request, "en")


@router.post("/signaler", response_class=HTMLResponse)
async def post_fr(request: Request) -> Response:
    """Receive the French form."""
    return await _receive(request, "fr")


def _fields(body: bytes) -> dict[str, str]:
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=30)
    except (UnicodeDecodeError, ValueError):
        raise BadBody("body", "not a UTF-8 form") from None
    return {key: values[0] for key, values in parsed.items()}


def _form_report(fields: dict[str, str], language: str, address: str | None) -> FormReport:
    for name, value in fields.items():
        if "\x00" in value:
            raise ChannelInputError(name, "contains a NUL character")
    try:
        category = PlatformCategory(fields.get("category") or "other")
    except ValueError:
        raise ChannelInputError("category", "not one of the listed places") from None
    incident_at = None
    if fields.get("incident_date"):
        try:
            incident_at = datetime.fromisoformat(fields["incident_date"]).replace(tzinfo=UTC)
        except ValueError:
            raise ChannelInputError("incident_date", "expected a date (YYYY-MM-DD)") from None
    return FormReport(
        description=fields.get("description", "")[:20_000],
        category=category,
        platform=fields.get("platform") or None,
        url=fields.get("url") or None,
        suspect_account=fields.get("suspect_account") or None,
        stated_country=fields.get("country") or None,
        incident_at=incident_at,
        contact_email=fields.get("contact_email") or None,
        anonymous=fields.get("anonymous") == "on",
        language=language,
        client_ip=address,
    )


async def _receive(request: Request, language: str) -> Response:
    csrf, limiter = _guards(request)
    state = app_state(request)
    text = TEXTS[language]
    try:
        fields = _fields(await read_limited(request, state.settings.max_form_bytes))
    except (BadBody, BodyTooLarge) as error:
        return _page(
            request, language, "form.html", error.http_status, errors={"description": str(error)}
        )
    if not csrf.check(fields.get("csrf_token"), request.cookies.get(COOKIE)):
        return _page(request, language, "form.html", 403, values=fields, notice=text["expired"])
    # The peer, or the client named by a trusted proxy (VeilleApp resolved it, web/peers.py).
    address = request.client.host if request.client else None
    decision = await run_in_threadpool(
        state.serialised, partial(limiter.allow, address or "unknown")
    )
    if not decision.allowed:
        refused = _page(request, language, "form.html", 429, values=fields, notice=text["too_many"])
        refused.headers["Retry-After"] = str(decision.retry_after_s)
        return refused
    try:
        report = _form_report(fields, language, address)
        owner = await run_in_threadpool(
            public_owner, state.database, state.settings.public_owner_agency
        )
        stored = await run_in_threadpool(receive_form_report, state.database, report, owner)
    except ChannelInputError as error:
        return _page(
            request, language, "form.html", 422, values=fields, errors={error.field: error.reason}
        )
    except NoOwnerAgency:
        return _page(request, language, "form.html", 503, values=fields, notice=text["unavailable"])
    return _page(request, language, "thanks.html", reference=f"V-{stored.report_id}")
