"""The public channels: hotline web form, in-app report button, SMS gateway.

Each channel turns what a person typed into a :class:`ReportIn` with its
channel name, reporter kind and country clues, and stores it through
:func:`veille.intake.store.store_reports`. The web layer only parses the
request and calls these functions; tests call them directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select

from veille.flow import reports_stored
from veille.intake.schema import IdentifierIn, MediaIn, ReportIn
from veille.intake.store import Incoming, Stored, store_reports, write_lock
from veille.intake.worker import enqueue_media
from veille.linking.normalise import IdentifierError, normalise_phone, phone_country
from veille.store.audit import record_event
from veille.store.db import Database
from veille.store.models import Agency
from veille.store.types import utcnow
from veille.vocab import (
    AgencyKind,
    Channel,
    IdentifierKind,
    OffenceType,
    PlatformCategory,
    ReporterKind,
)

SMS_ACKNOWLEDGEMENT = {
    "en": "Thank you. Your report {reference} has been received. If a child is in danger now, call 112.",
    "fr": "Merci. Votre signalement {reference} a bien été reçu. Si un enfant est en danger, appelez le 112 ou le 119.",
}


class ChannelInputError(ValueError):
    """A field of a public report is wrong; ``field`` names it."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


class NoOwnerAgency(LookupError):
    """No agency is configured to own reports from the public channels."""


def public_owner(database: Database, name: str | None) -> int:
    """The agency owning public reports: the configured one, else the first hotline."""
    with database.session() as session:
        statement = (
            select(Agency.id).where(Agency.name == name)
            if name
            else select(Agency.id).where(Agency.kind == AgencyKind.HOTLINE).order_by(Agency.id)
        )
        agency_id = session.scalar(statement.limit(1))
    if agency_id is None:
        raise NoOwnerAgency(
            f"no agency named {name!r}"
            if name
            else "no hotline agency exists to own public reports"
        )
    return agency_id


def _identifier(
    kind: IdentifierKind,
    value: str | None,
    field_name: str,
    platform: str = "",
    region: str | None = None,
) -> IdentifierIn | None:
    if value is None or not value.strip():
        return None
    try:
        return IdentifierIn.model_validate(
            {"kind": kind, "value": value.strip(), "platform": platform}, context={"region": region}
        )
    except ValidationError as error:
        raise ChannelInputError(field_name, error.errors()[0]["msg"]) from None


def _store(database: Database, incoming: Incoming, actor: str) -> Stored:
    with database.session() as session:
        write_lock(session)
        stored = store_reports(session.connection(), [incoming])[0]
        if stored.created and incoming.record.media:
            enqueue_media(session, stored.report_id, [(m, None) for m in stored.media_item_ids])
        record_event(
            session,
            actor=actor,
            agency_id=incoming.owner_id,
            action=f"report.receive.{incoming.record.channel.value}",
            object_type="report",
            object_id=stored.report_id,
        )
    if stored.created:
        reports_stored(database, [stored.report_id])
    return stored


# Names of the record's fields in the public form, for error messages.
FORM_FIELDS = {
    "stated_country": "country",
    "incident_at": "incident_date",
    "summary": "description",
}


def _validated(fields: dict[str, object], names: dict[str, str] | None = None) -> ReportIn:
    try:
        return ReportIn.model_validate(fields)
    except ValidationError as error:
        item = error.errors()[0]
        location = ".".join(str(part) for part in item["loc"]) or "(report)"
        location = (names or {}).get(location, location)
        raise ChannelInputError(location, item["msg"]) from None


@dataclass
class FormReport:
    """What the public hotline form collects; everything but the description is optional."""

    description: str
    category: PlatformCategory = PlatformCategory.OTHER
    platform: str | None = None
    url: str | None = None
    suspect_account: str | None = None
    stated_country: str | None = None
    incident_at: datetime | None = None
    contact_email: str | None = None
    anonymous: bool = True
    language: str = "en"
    client_ip: str | None = None


def receive_form_report(database: Database, form: FormReport, owner_id: int) -> Stored:
    """Store a report from the public hotline form."""
    text = form.description.strip()
    if len(text) < 10:
        raise ChannelInputError("description", "tell us what happened (at least 10 characters)")
    platform = (form.platform or "").strip()[:200]
    identifiers = [
        _identifier(IdentifierKind.URL, form.url, "url"),
        _identifier(
            IdentifierKind.USERNAME, form.suspect_account, "suspect_account", platform.lower()
        ),
    ]
    summary = text
    if not form.anonymous and form.contact_email:
        contact = _identifier(IdentifierKind.EMAIL, form.contact_email, "contact_email")
        if contact is not None:
            summary += f"\n\nReporter contact (not anonymous): {contact.value}"
    record = _validated(
        {
            "external_id": uuid.uuid4().hex,
            "source": "hotline_form",
            "channel": Channel.HOTLINE_FORM,
            "reporter_kind": ReporterKind.PUBLIC,
            "received_at": utcnow(),
            "incident_at": form.incident_at,
            "stated_country": form.stated_country or None,
            "platform": platform or None,
            "platform_category": form.category,
            "offence_types": [OffenceType.OTHER],
            "summary": summary[:20_000],
            "identifiers": [i for i in identifiers if i is not None],
        },
        FORM_FIELDS,
    )
    # The reporter's own address is a country clue only; it is never stored as an identifier.
    ips = (form.client_ip,) if form.client_ip else ()
    return _store(
        database, Incoming(record, "hotline_form", owner_id, extra_ips=ips), "hotline-form"
    )


@dataclass
class InAppReport:
    """The few fields a child can fill in a platform's "report" button."""

    what_happened: str
    platform: str
    account_name: str | None = None
    contact: str | None = None
    external_id: str | None = None
    category: PlatformCategory = PlatformCategory.SOCIAL_MEDIA
    media: Sequence[MediaIn] = field(default_factory=tuple)
    client_ip: str | None = None


def receive_in_app_report(
    database: Database, report: InAppReport, owner_id: int, source: str
) -> Stored:
    """Store a report sent by a platform's in-app report button."""
    if not report.what_happened.strip():
        raise ChannelInputError("what_happened", "must not be empty")
    if not report.platform.strip():
        raise ChannelInputError("platform", "must not be empty")
    platform = report.platform.strip()[:200]
    account = _identifier(
        IdentifierKind.USERNAME, report.account_name, "account_name", platform.lower()
    )
    summary = report.what_happened.strip()
    if report.contact and report.contact.strip():
        summary += f"\n\nContact given by the reporter: {report.contact.strip()[:300]}"
    record = _validated(
        {
            "external_id": report.external_id or uuid.uuid4().hex,
            "source": source,
            "channel": Channel.IN_APP,
            "reporter_kind": ReporterKind.PUBLIC,
            "received_at": utcnow(),
            "platform": platform,
            "platform_category": report.category,
            "offence_types": [OffenceType.OTHER],
            "summary": summary[:20_000],
            "identifiers": [account] if account else [],
            "media": [m.model_dump() for m in report.media],
        }
    )
    ips = (report.client_ip,) if report.client_ip else ()
    return _store(database, Incoming(record, source, owner_id, extra_ips=ips), source)


@dataclass(frozen=True)
class SmsReceipt:
    """A stored SMS report and the text to send back."""

    report_id: int
    sender_country: str | None
    acknowledgement: str
    created: bool = True


def receive_sms(
    database: Database,
    *,
    sender: str,
    text: str,
    received_at: datetime | None,
    owner_id: int,
    gateway: str,
    message_id: str | None = None,
) -> SmsReceipt:
    """Store an SMS report; the sender's number gives the country and the reply language."""
    try:
        number = normalise_phone(sender)
    except IdentifierError as error:
        raise ChannelInputError("from", str(error)) from None
    if not text.strip():
        raise ChannelInputError("text", "must not be empty")
    country = phone_country(number)
    # The sender may be the victim: the number is kept on the report so that the
    # hotline can answer, but it is not linked as an identifier of a suspect.
    record = _validated(
        {
            "external_id": message_id or uuid.uuid4().hex,
            "source": f"sms:{gateway}",
            "channel": Channel.SMS,
            "reporter_kind": ReporterKind.PUBLIC,
            "received_at": received_at or utcnow(),
            "platform_category": PlatformCategory.OTHER,
            "offence_types": [OffenceType.OTHER],
            "summary": f"{text.strip()[:19_000]}\n\nSMS from {number}",
        }
    )
    incoming = Incoming(record, f"sms:{gateway}", owner_id, extra_phones=(number,))
    stored = _store(database, incoming, f"sms:{gateway}")
    language = (
        "fr"
        if country in {"FR", "BE", "LU", "MC", "CH", "CA", "SN", "CI", "CM", "MA", "TN", "DZ"}
        else "en"
    )
    reference = f"V-{stored.report_id}"
    return SmsReceipt(
        stored.report_id,
        country,
        SMS_ACKNOWLEDGEMENT[language].format(reference=reference),
        stored.created,
    )
