"""``veille takedown``: providers, notices, confirmations and their follow-up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from veille.casework.errors import CaseworkError, ImportRefused, NotFound
from veille.casework.models import NoticeEventKind, NoticeState
from veille.core.cli_options import AllOption, AsOption, JsonOption, agency_viewer, ready
from veille.output import console, fail, print_json, print_table

takedown_app = typer.Typer(
    help="Take-down notices: send them to providers, follow them up until removal.",
    no_args_is_help=True,
)
provider_app = typer.Typer(
    help="Providers that receive notices: domains, e-mail, webhook, token.", no_args_is_help=True
)
takedown_app.add_typer(provider_app, name="provider")


def parse_time(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 time from an option (UTC when it names no zone); exits 2 when unreadable."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not a date or time (expected YYYY-MM-DD[THH:MM[Z]])", 2)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@provider_app.command("add")
def provider_add(
    name: Annotated[str, typer.Argument(help="The provider's name (an agency's name links it).")],
    domain: Annotated[
        list[str] | None, typer.Option("--domain", help="A host name it serves (repeatable).")
    ] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="Address that receives notices.")
    ] = None,
    webhook_url: Annotated[
        str | None, typer.Option("--webhook-url", help="URL that receives signed notices.")
    ] = None,
    webhook_secret: Annotated[
        str | None,
        typer.Option("--webhook-secret", help="Secret the webhook bodies are signed with."),
    ] = None,
) -> None:
    """Add a provider, or update the domains and channels of one."""
    from veille.casework.providers import configure_provider

    with ready().session() as session:
        try:
            provider = configure_provider(
                session,
                name,
                domains=domain,
                contact_email=email,
                webhook_url=webhook_url,
                webhook_secret=webhook_secret,
            )
        except CaseworkError as error:
            fail(str(error), 2)
        console.print(f"provider {provider.id}: {provider.name}", highlight=False)


@provider_app.command("token")
def provider_token(
    name: Annotated[str, typer.Argument(help="The provider's name or id.")],
) -> None:
    """Make a new confirmation token for a provider (shown once; the old one stops working)."""
    from veille.casework.providers import find_provider, issue_provider_token
    from veille.store.audit import current_actor, record_event

    with ready().session() as session:
        try:
            provider = find_provider(session, name)
        except NotFound as error:
            fail(str(error), 1)
        token = issue_provider_token(session, provider)
        record_event(
            session,
            actor=current_actor(),
            action="takedown.provider_token",
            object_type="takedown_provider",
            object_id=provider.id,
        )
    console.print(token, highlight=False, soft_wrap=True)


@provider_app.command("list")
def provider_list(as_json: JsonOption = False) -> None:
    """The providers, their domains and channels."""
    from sqlalchemy import select

    from veille.casework.models import TakedownProvider
    from veille.casework.providers import provider_domains

    with ready().session() as session:
        rows = [
            {
                "id": p.id,
                "name": p.name,
                "domains": provider_domains(session, p.id),
                "email": p.contact_email,
                "webhook_url": p.webhook_url,
                "has_token": p.token_hash is not None,
            }
            for p in session.scalars(select(TakedownProvider).order_by(TakedownProvider.name))
        ]
    if as_json:
        print_json(rows)
    else:
        print_table("providers", rows, ["id", "name", "domains", "email", "webhook_url"])


@takedown_app.command("create")
def takedown_create(
    url: Annotated[
        str | None,
        typer.Argument(help="The URL of the content to remove (default: the report's URL)."),
    ] = None,
    as_agency: AsOption = None,
    report: Annotated[
        int | None, typer.Option("--report", help="The report it comes from.")
    ] = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="The content cluster it shows.")
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option("--provider", help="The provider (default: the one serving the URL's host)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a notice for a URL (or a report's); the follow-up task sends it."""
    from veille.casework.notices import create_notice, notice_detail
    from veille.casework.tasks import request_follow_up

    database = ready()
    with database.session() as session:
        viewer = agency_viewer(session, as_agency)
        try:
            notice = create_notice(
                session, viewer, url, report_id=report, content_cluster=cluster, provider=provider
            )
        except NotFound as error:
            fail(str(error), 1)
        except CaseworkError as error:
            fail(str(error), 2)
        detail = notice_detail(session, notice)
    request_follow_up(database)
    if as_json:
        print_json(detail)
    else:
        console.print(
            f"notice {detail['id']}: {detail['host']} → {detail['provider']} ({detail['state']})",
            highlight=False,
        )


@takedown_app.command("import")
def takedown_import(
    file: Annotated[Path, typer.Argument(help="JSON Lines of notices (takedowns.jsonl).")],
    as_json: JsonOption = False,
) -> None:
    """Import notices (all or nothing; a bad line is named with its field)."""
    from veille.casework.takedown_import import import_notices
    from veille.store.audit import current_actor

    try:
        summary = import_notices(ready(), file, actor=current_actor())
    except ImportRefused as error:
        fail(str(error), 1)
    if as_json:
        print_json(summary.as_dict())
    else:
        console.print(
            f"{summary.imported} imported, {summary.updated} updated, "
            f"{summary.unchanged} unchanged, "
            f"{summary.providers_added} new providers",
            highlight=False,
        )


@takedown_app.command("list")
def takedown_list(
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    provider: Annotated[str | None, typer.Option("--provider", help="Only this provider.")] = None,
    state: Annotated[NoticeState | None, typer.Option("--state", help="Only this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows to show.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Rows to skip.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Notices your agency sent, oldest first."""
    from veille.casework.notices import notice_rows

    with ready().session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
        rows = notice_rows(
            session, viewer, provider=provider, state=state, limit=limit, offset=offset
        )
    if as_json:
        print_json([row.as_dict() for row in rows])
        return
    print_table(
        "take-down notices",
        [row.as_dict() for row in rows],
        ["id", "host", "state", "sent_at", "removed_at", "notify_count"],
    )


@takedown_app.command("show")
def takedown_show(
    notice_id: Annotated[int, typer.Argument(help="The notice's id.")],
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    as_json: JsonOption = False,
) -> None:
    """One notice with its history."""
    from veille.casework.notices import get_notice, notice_detail

    with ready().session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
        try:
            detail = notice_detail(session, get_notice(session, viewer, notice_id))
        except NotFound as error:
            fail(str(error), 1)
    if as_json:
        print_json(detail)
        return
    for key in ("id", "url", "provider", "sender_agency", "state", "sent_at", "removed_at"):
        console.print(f"{key}: {detail[key]}", highlight=False)
    print_table("events", detail["events"], ["at", "kind", "channel", "actor", "detail"])


def _confirm(
    notice_id: int, as_agency: str | None, at: str | None, note: str | None, kind: NoticeEventKind
) -> None:
    from veille.casework.notices import confirm_by_analyst

    moment = parse_time(at, "--at")
    with ready().session() as session:
        viewer = agency_viewer(session, as_agency)
        try:
            notice = confirm_by_analyst(session, viewer, notice_id, kind, at=moment, note=note)
        except NotFound as error:
            fail(str(error), 1)
        except CaseworkError as error:
            fail(str(error), 2)
        state = notice.state.value
    console.print(f"notice {notice_id}: {state}", highlight=False)


AtOption = Annotated[
    str | None, typer.Option("--at", help="When the provider did it (default now).")
]
NoteOption = Annotated[str | None, typer.Option("--note", help="A note kept with the event.")]


@takedown_app.command("ack")
def takedown_ack(
    notice_id: Annotated[int, typer.Argument(help="The notice's id.")],
    as_agency: AsOption = None,
    at: AtOption = None,
    note: NoteOption = None,
) -> None:
    """Record that the provider acknowledged a notice (told by other means than the API)."""
    _confirm(notice_id, as_agency, at, note, NoticeEventKind.ACKNOWLEDGED)


@takedown_app.command("removed")
def takedown_removed(
    notice_id: Annotated[int, typer.Argument(help="The notice's id.")],
    as_agency: AsOption = None,
    at: AtOption = None,
    note: NoteOption = None,
) -> None:
    """Record that the content is gone (re-notification stops)."""
    _confirm(notice_id, as_agency, at, note, NoticeEventKind.REMOVED)


@takedown_app.command("send")
def takedown_send(
    notice_id: Annotated[int, typer.Argument(help="The notice's id.")],
    as_json: JsonOption = False,
) -> None:
    """Send one notice to its provider now, due or not."""
    from veille.casework.follow_up import send_notices
    from veille.casework.tasks import one_sender
    from veille.store.audit import current_actor

    database = ready()
    try:
        with one_sender(database):
            summary = send_notices(database, notice_id=notice_id, actor=current_actor())
    except NotFound as error:
        fail(str(error), 1)
    if as_json:
        print_json(summary.as_dict())
    else:
        console.print(summary.describe(), highlight=False)
        for failure in summary.failures:
            console.print(f"  {failure}", highlight=False)
    if summary.failed:
        raise typer.Exit(1)


@takedown_app.command("follow-up")
def takedown_follow_up(
    now: Annotated[
        str | None, typer.Option("--now", help="Act as if it were this time (default now).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the scheduled follow-up once: send, re-notify and escalate what is due."""
    from veille.casework.follow_up import follow_up_notices
    from veille.casework.tasks import one_sender

    moment = parse_time(now, "--now")
    database = ready()
    with one_sender(database):
        summary = follow_up_notices(database, now=moment)
    if as_json:
        print_json(summary.as_dict())
    else:
        console.print(summary.describe(), highlight=False)
