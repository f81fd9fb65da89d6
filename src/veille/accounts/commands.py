"""``veille users``: the people who log in to the web application, their roles and factors."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from veille.accounts.models import Role
from veille.core.cli_options import JsonOption, ready
from veille.output import console, fail, print_json, print_table

users_app = typer.Typer(
    help="Accounts of the web application: add, list, disable, reset, second factor.",
    no_args_is_help=True,
)

AgencyOption = Annotated[str, typer.Option("--agency", help="The user's agency (name or id).")]


def _agency_id(session: Session, agency: str) -> int:
    from veille.store.agencies import AgencyNotFound, find_agency

    try:
        return find_agency(session, agency).id
    except AgencyNotFound as error:
        fail(f"--agency: {error}", 2)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Log-in name (letters, digits, . _ -).")],
    agency: AgencyOption,
    role: Annotated[Role, typer.Option("--role", help="What the user may do.")] = Role.ANALYST,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="Read the password from standard input (else one is made)."
        ),
    ] = False,
) -> None:
    """Add a user; prints the temporary password to change at first log-in."""
    from veille.accounts.service import AccountError, add_user, new_password
    from veille.store.audit import current_actor

    password = sys.stdin.readline().rstrip("\n") if password_stdin else new_password()
    with ready().session() as session:
        agency_id = _agency_id(session, agency)
        try:
            user = add_user(session, username, agency_id, role, password, actor=current_actor())
        except AccountError as error:
            fail(str(error), 2)
        console.print(f"user {user.username} added ({user.role.value})", highlight=False)
        if not password_stdin:
            console.print(f"temporary password: {password}", highlight=False)


@users_app.command("list")
def users_list(
    agency: Annotated[
        str | None, typer.Option("--agency", help="Only this agency's users.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Users with their agency, role and state (never a password or a secret)."""
    from veille.accounts.service import list_users
    from veille.store.types import utcnow

    with ready().session() as session:
        agency_id = None if agency is None else _agency_id(session, agency)
        now = utcnow()
        rows = [
            {
                "username": user.username,
                "agency": agency_name,
                "role": user.role.value,
                "state": "disabled"
                if user.disabled
                else "locked"
                if user.locked_until is not None and user.locked_until > now
                else "active",
                "second_factor": user.totp_secret is not None,
                "last_login_at": None
                if user.last_login_at is None
                else user.last_login_at.isoformat(timespec="seconds"),
            }
            for user, agency_name in list_users(session, agency_id)
        ]
    if as_json:
        print_json(rows)
    else:
        print_table(
            "Users",
            rows,
            ["username", "agency", "role", "state", "second_factor", "last_login_at"],
        )


def _set_disabled(username: str, disabled: bool) -> None:
    from veille.accounts.service import AccountNotFound, set_disabled
    from veille.store.audit import current_actor

    with ready().session() as session:
        try:
            set_disabled(session, username, disabled, actor=current_actor())
        except AccountNotFound as error:
            fail(str(error), 1)
    console.print(f"user {username} {'disabled' if disabled else 'enabled'}", highlight=False)


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument(help="Log-in name.")]) -> None:
    """Disable a user and end its sessions."""
    _set_disabled(username, True)


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Argument(help="Log-in name.")]) -> None:
    """Enable a disabled user."""
    _set_disabled(username, False)


@users_app.command("reset")
def users_reset(username: Annotated[str, typer.Argument(help="Log-in name.")]) -> None:
    """Give a user a new temporary password (prints it), unlock it and end its sessions."""
    from veille.accounts.service import AccountNotFound, reset_password
    from veille.store.audit import current_actor

    with ready().session() as session:
        try:
            password = reset_password(session, username, actor=current_actor())
        except AccountNotFound as error:
            fail(str(error), 1)
    console.print(f"temporary password: {password}", highlight=False)


@users_app.command("totp")
def users_totp(
    username: Annotated[str, typer.Argument(help="Log-in name.")],
    remove: Annotated[bool, typer.Option("--remove", help="Remove the second factor.")] = False,
) -> None:
    """Enrol a TOTP second factor (prints the secret and its otpauth:// URI) or remove it."""
    from veille.accounts.service import AccountNotFound, enrol_totp, remove_totp
    from veille.store.audit import current_actor

    with ready().session() as session:
        try:
            if remove:
                remove_totp(session, username, actor=current_actor())
            else:
                secret, uri = enrol_totp(session, username, actor=current_actor())
        except AccountNotFound as error:
            fail(str(error), 1)
    if remove:
        console.print(f"second factor of {username} removed", highlight=False)
    else:
        console.print(f"secret: {secret}\nURI: {uri}", highlight=False)


@users_app.command("require-totp")
def users_require_totp(
    agency: Annotated[str, typer.Argument(help="Agency (name or id).")],
    off: Annotated[bool, typer.Option("--off", help="Make the second factor optional.")] = False,
) -> None:
    """Require (or no longer require) a second factor for an agency's users."""
    from veille.accounts.service import set_totp_required
    from veille.store.audit import current_actor

    with ready().session() as session:
        agency_id = _agency_id(session, agency)
        set_totp_required(session, agency_id, not off, actor=current_actor())
    console.print(
        f"second factor {'optional' if off else 'required'} for agency {agency}", highlight=False
    )


audit_app = typer.Typer(help="The audit trail: who read or changed what, and when.")


@audit_app.callback(invoke_without_command=True)
def audit_list(
    agency: Annotated[
        str | None, typer.Option("--agency", help="Only this agency's events.")
    ] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action (e.g. report.read).")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only this actor.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="At or after (YYYY-MM-DD[THH:MM], UTC).")
    ] = None,
    refused: Annotated[
        bool, typer.Option("--refused", help="Only refused attempts (success = false).")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Events to show.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Audit events, newest first, filtered (installation operators; agencies: /app/audit)."""
    from datetime import UTC, datetime

    from veille.accounts.service import AuditFilter, audit_events

    when = None
    if since is not None:
        try:
            when = datetime.fromisoformat(since)
        except ValueError:
            fail(f"--since: {since!r} is not a date (YYYY-MM-DD[THH:MM])", 2)
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
    with ready().session() as session:
        agency_id = None if agency is None else _agency_id(session, agency)
        criteria = AuditFilter(agency_id, action, actor, when, refused, limit)
        rows = [
            {
                "id": event.id,
                "at": event.at.isoformat(timespec="seconds"),
                "actor": event.actor,
                "agency_id": event.agency_id,
                "action": event.action,
                "object": f"{event.object_type} {event.object_id or ''}".strip(),
                "success": event.success,
                "detail": event.detail,
            }
            for event in audit_events(session, criteria)
        ]
    if as_json:
        print_json(rows)
    else:
        print_table(
            "Audit events",
            rows,
            ["id", "at", "actor", "agency_id", "action", "object", "success", "detail"],
        )


def register(app: typer.Typer) -> None:
    """Add ``veille users`` and ``veille audit`` to the CLI."""
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
