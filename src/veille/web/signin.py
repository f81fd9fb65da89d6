"""Who is signed in to the analysts' pages: the session cookie, CSRF, roles, the language.

A page route depends on :func:`signed_in`; without a live session it answers
with a redirection to the log-in page (:class:`LoginRequired`, turned into a
303 by the app). Every form posted by a signed-in user carries the session's
CSRF token (``csrf``), compared in constant time. The session cookie is
HttpOnly, SameSite=Strict, and Secure when the request came over HTTPS (or
``VEILLE_COOKIE_SECURE`` says so).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from veille.accounts.models import Role, UserAccount, WebSession
from veille.accounts.service import resolve_session
from veille.accounts.settings import AccountSettings
from veille.store.models import Agency
from veille.store.reports import Viewer
from veille.web.state import app_state
from veille.web.translations import LANGUAGE_NAMES, LANGUAGES, number, pick_language, translations
from veille.web.translations import when as format_when

SESSION_COOKIE = "veille_session"
LANGUAGE_COOKIE = "veille_lang"
APP_PREFIX = "/app"
PAGE_HEADERS = {
    # No script at all on these pages; styles and images from this server only.
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
SCRIPTED_PAGE_HEADERS = {
    **PAGE_HEADERS,
    # The queue's own script from this server (it refreshes the rows); still no inline script.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
}
READERS = frozenset(Role)
"""Every role reads what its agency may see."""
WORKERS = frozenset({Role.ANALYST, Role.SUPERVISOR, Role.ADMIN})
"""Roles that change things (the auditor only reads)."""
AUDIT_READERS = frozenset({Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR})


class LoginRequired(Exception):
    """No live session: the answer is the log-in page (``next`` is where to come back)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PasswordChangeRequired(Exception):
    """A temporary password: the user must choose their own before anything else."""


class Forbidden(Exception):
    """The user's role may not do this (audited by the caller)."""


@dataclass(frozen=True)
class SignedIn:
    """The signed-in user of a request, their agency and session."""

    user_id: int
    username: str
    role: Role
    agency_id: int
    agency_name: str
    csrf_token: str
    must_change_password: bool
    token: str

    @property
    def viewer(self) -> Viewer:
        """What the library's visibility rules read: the user acting for their agency."""
        return Viewer(actor=self.username, agency_id=self.agency_id)

    def may(self, roles: frozenset[Role]) -> bool:
        """Whether the user's role is among ``roles``."""
        return self.role in roles


def account_settings(request: Request) -> AccountSettings:
    """The app's account settings (read once)."""
    settings: AccountSettings | None = getattr(request.app.state, "account_settings", None)
    if settings is None:
        settings = AccountSettings()
        request.app.state.account_settings = settings
    return settings


def safe_next(path: str | None) -> str:
    """Where to go after log-in: a path of the analysts' pages, nothing else."""
    if path and path.startswith(APP_PREFIX) and not path.startswith("//") and "\\" not in path:
        return path[:500]
    return APP_PREFIX


def _lookup(request: Request, token: str | None) -> SignedIn | None:
    state = app_state(request)
    settings = account_settings(request)

    def read() -> SignedIn | None:
        with state.database.session() as session:
            found = resolve_session(session, token, settings=settings)
            if found is None:
                return None
            web_session, user = found
            return _signed_in(session.get(Agency, user.agency_id), web_session, user, token or "")

    return state.serialised(read) if state.database.dialect == "sqlite" else read()


def _signed_in(
    agency: Agency | None, web_session: WebSession, user: UserAccount, token: str
) -> SignedIn:
    return SignedIn(
        user_id=user.id,
        username=user.username,
        role=user.role,
        agency_id=user.agency_id,
        agency_name=agency.name if agency is not None else str(user.agency_id),
        csrf_token=web_session.csrf_token,
        must_change_password=user.must_change_password,
        token=token,
    )


async def signed_in(request: Request) -> SignedIn:
    """The signed-in user, or :class:`LoginRequired` (a redirection to the log-in page)."""
    token = request.cookies.get(SESSION_COOKIE)
    who = await run_in_threadpool(_lookup, request, token) if token else None
    if who is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(safe_next(target))
    if who.must_change_password and request.url.path != f"{APP_PREFIX}/account/password":
        raise PasswordChangeRequired()
    return who


def csrf_ok(who: SignedIn, given: str | None) -> bool:
    """Whether a posted form carries the session's CSRF token."""
    return bool(given) and hmac.compare_digest(who.csrf_token, given or "")


def login_redirect(next_path: str) -> str:
    """The log-in page's address, coming back to ``next_path``."""
    return f"{APP_PREFIX}/login?next={quote(next_path, safe='/')}"


def secure_cookie(request: Request) -> bool:
    """Whether cookies must be sent over HTTPS only."""
    configured = account_settings(request).cookie_secure
    return request.url.scheme == "https" if configured is None else configured


def language_of(request: Request) -> str:
    """The reader's language: ``?lang=``, else the cookie, else the browser's."""
    return pick_language(
        request.query_params.get("lang"),
        request.cookies.get(LANGUAGE_COOKIE),
        request.headers.get("accept-language"),
    )


class Pages:
    """Jinja2 templates per language, with ``_`` from the catalogs and locale formatting."""

    def __init__(self, directory: str) -> None:
        self._by_language: dict[str, Jinja2Templates] = {}
        for language in LANGUAGES:
            environment = jinja2.Environment(
                loader=jinja2.FileSystemLoader(directory),
                autoescape=True,
                extensions=["jinja2.ext.i18n"],
            )
            environment.install_gettext_translations(  # type: ignore[attr-defined]
                translations(language), newstyle=True
            )
            templates = Jinja2Templates(env=environment)
            templates.env.globals.update(
                when=lambda value, language=language: format_when(value, language),
                number=lambda value, language=language: number(value, language),
                language_names=LANGUAGE_NAMES,
            )
            self._by_language[language] = templates

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        *,
        status: int = 200,
        who: SignedIn | None = None,
        scripted: bool = False,
    ) -> Response:
        """A page in the reader's language, with the security headers and the language kept.

        ``scripted`` pages may load Veille's own scripts (``script-src 'self'``).
        """
        language = language_of(request)
        response = self._by_language[language].TemplateResponse(
            request,
            template,
            {"lang": language, "who": who, "path": request.url.path, **context},
            status_code=status,
            headers=SCRIPTED_PAGE_HEADERS if scripted else PAGE_HEADERS,
        )
        if request.url.scheme == "https":
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(
                LANGUAGE_COOKIE,
                language,
                max_age=365 * 86400,
                httponly=True,
                samesite="strict",
                secure=secure_cookie(request),
            )
        return response
