"""The administration page of an agency (``/app/admin``): its users, its API keys, its log-in rule.

Only the ``admin`` role reaches it, and only for its own agency: a user or a
key of another agency is "not found". A new password, TOTP secret or API key
is shown once, on the page that answers the action, and never again. Every
action is an audit event (the accounts functions record theirs; key changes
are recorded here).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from veille.accounts.models import Role, UserAccount
from veille.accounts.service import (
    AccountError,
    add_user,
    enrol_totp,
    list_users,
    new_password,
    reset_password,
    set_disabled,
    set_totp_required,
    totp_required,
)
from veille.intake.credentials import Scope, create_api_key
from veille.intake.models import ApiKey
from veille.store.audit import record_event
from veille.store.models import Agency
from veille.store.types import utcnow
from veille.web.page_kit import (
    audit_refusal,
    error_page,
    first,
    in_thread,
    pages,
    posted_form,
)
from veille.web.signin import APP_PREFIX, SignedIn, signed_in

router = APIRouter(prefix=f"{APP_PREFIX}/admin", include_in_schema=False)
AGENCY_SCOPES = (Scope.REPORTS_READ, Scope.REPORTS_WRITE)
"""What an agency's administrator may give a key; ``admin`` keys are the installation's."""


def _context(session: Session, who: SignedIn) -> dict[str, Any]:
    now = utcnow()
    users = [
        {
            "username": user.username,
            "role": user.role.value,
            "state": "disabled"
            if user.disabled
            else "locked"
            if user.locked_until is not None and user.locked_until > now
            else "active",
            "second_factor": user.totp_secret is not None,
            "last_login_at": user.last_login_at,
        }
        for user, _ in list_users(session, who.agency_id)
    ]
    keys = session.scalars(
        select(ApiKey).where(ApiKey.agency_id == who.agency_id).order_by(ApiKey.id.desc())
    ).all()
    return {
        "users": users,
        "keys": keys,
        "roles": [role.value for role in Role],
        "scopes": AGENCY_SCOPES,
        "totp_required": totp_required(session, who.agency_id),
    }


async def _refuse_unless_admin(request: Request, who: SignedIn) -> Response | None:
    if who.role is Role.ADMIN:
        return None
    await run_in_threadpool(audit_refusal, request, who, "admin.read", "role may not administer")
    return error_page(request, who, 403, "role")


@router.get("")
async def admin_page(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """The agency's users, API keys and log-in rule."""
    refused = await _refuse_unless_admin(request, who)
    if refused is not None:
        return refused
    context = await in_thread(request, lambda session: _context(session, who))
    return pages.render(request, "app/admin.html", {**context, "shown": None}, who=who)


def _own_user(session: Session, who: SignedIn, username: str) -> UserAccount | None:
    user = session.scalar(select(UserAccount).where(UserAccount.username == username.lower()))
    return user if user is not None and user.agency_id == who.agency_id else None


def _do(session: Session, who: SignedIn, fields: dict[str, list[str]]) -> dict[str, Any]:
    """Carry out one action; returns what to show once (a secret) or the problem."""
    action = first(fields, "action")
    name = first(fields, "username")[:64]
    if action == "add_user":
        password = new_password()
        try:
            role = Role(first(fields, "role"))
        except ValueError:
            return {"problem": f"role: one of {', '.join(r.value for r in Role)}"}
        try:
            add_user(session, name, who.agency_id, role, password, actor=who.username)
        except AccountError as error:
            session.rollback()
            return {"problem": str(error)}
        return {"shown": {"what": "password", "for": name.lower(), "value": password}}
    if action in ("disable", "enable", "reset", "totp"):
        user = _own_user(session, who, name)
        if user is None:
            return {"problem": "username: no such user in your agency"}
        if action in ("disable", "enable"):
            set_disabled(session, user.username, action == "disable", actor=who.username)
            return {}
        if action == "reset":
            password = reset_password(session, user.username, actor=who.username)
            return {"shown": {"what": "password", "for": user.username, "value": password}}
        secret, uri = enrol_totp(session, user.username, actor=who.username)
        return {"shown": {"what": "totp", "for": user.username, "value": secret, "uri": uri}}
    if action in ("require_totp", "optional_totp"):
        set_totp_required(session, who.agency_id, action == "require_totp", actor=who.username)
        return {}
    if action == "add_key":
        scopes = [s for s in fields.get("scope", []) if s in AGENCY_SCOPES]
        if not scopes:
            return {"problem": f"scope: choose among {', '.join(AGENCY_SCOPES)}"}
        agency = session.get(Agency, who.agency_id)
        assert agency is not None
        label = first(fields, "label")[:200] or None
        key_id, secret = create_api_key(session, agency.name, scopes, label)
        record_event(
            session,
            actor=who.username,
            agency_id=who.agency_id,
            action="api_key.create",
            object_type="api_key",
            object_id=key_id,
            detail=" ".join(sorted(scopes)),
        )
        return {"shown": {"what": "key", "for": label or f"key {key_id}", "value": secret}}
    if action == "revoke_key":
        key_text = first(fields, "key_id")
        key = session.get(ApiKey, int(key_text)) if key_text.isdecimal() else None
        if key is None or key.agency_id != who.agency_id:
            return {"problem": "key_id: no such key of your agency"}
        if key.revoked_at is None:
            key.revoked_at = utcnow()
        record_event(
            session,
            actor=who.username,
            agency_id=who.agency_id,
            action="api_key.revoke",
            object_type="api_key",
            object_id=key.id,
        )
        return {}
    return {"problem": "action: not an action of this page"}


@router.post("")
async def admin_action(request: Request, who: SignedIn = Depends(signed_in)) -> Response:
    """One action on the agency's users, keys or log-in rule."""
    fields = await posted_form(request, who, action="admin.change", roles=frozenset({Role.ADMIN}))
    if isinstance(fields, Response):
        return fields

    def work(session: Session) -> dict[str, Any]:
        outcome = _do(session, who, fields)
        return {**_context(session, who), "shown": None, **outcome}

    context = await in_thread(request, work)
    status = 422 if context.get("problem") else 200
    return pages.render(request, "app/admin.html", context, status=status, who=who)
