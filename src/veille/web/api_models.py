"""The JSON documents of the REST API (pydantic), published in the OpenAPI spec.

The error shape and :class:`StorableText` are the core's (:mod:`veille.core.api`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Re-exported for the web app's routes: the core holds the one error shape, and the store
# the one shape of a report (which `veille reports ... --json` prints too).
from veille.core.api import API_ERRORS as API_ERRORS
from veille.core.api import Problem as Problem
from veille.core.api import ProblemList as ProblemList
from veille.core.api import StorableText
from veille.core.api import problem_responses as problem_responses
from veille.core.params import IsoTime
from veille.intake.schema import (
    NOT_BLANK_PATTERN,
    WHITE_SPACE,
    CountryCode,
    IdentifierIn,
    MediaIn,
    documented,
    e164_pattern,
)
from veille.store.reports import IdentifierOut as IdentifierOut
from veille.store.reports import MediaOut as MediaOut
from veille.store.reports import ReportList as ReportList
from veille.store.reports import ReportOut as ReportOut
from veille.store.reports import ReportSummaryOut as ReportSummaryOut
from veille.vocab import (
    Marking,
    OffenceType,
    PlatformCategory,
    ReporterKind,
    ReportFlag,
)

# What the channels check after the model (veille.intake.channels), as the schema says it.
NotBlank = Annotated[str, documented(pattern=NOT_BLANK_PATTERN)]
PhoneNumber = Annotated[str, documented(pattern=e164_pattern())]
# Blank (no account), or a username: something besides white space and a leading @.
AccountName = Annotated[
    str,
    documented(
        pattern=f"^(?:[{WHITE_SPACE}]*|{NOT_BLANK_PATTERN.replace('*[^', '*[^@', 1)[1:-1]})$"
    ),
]


class ReportCreate(StorableText):
    """A new report; media are described by their hashes, never sent as files."""

    model_config = ConfigDict(extra="forbid")

    external_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Your id; the Idempotency-Key header wins.",
    )
    reporter_kind: ReporterKind | None = Field(
        default=None, description="Default: from your agency's kind."
    )
    incident_at: IsoTime | None = None
    stated_country: CountryCode | None = Field(
        default=None, max_length=60, description="ISO 3166-1 code (alpha-2, alpha-3 or numeric)."
    )
    platform: str | None = Field(default=None, max_length=200)
    platform_category: PlatformCategory
    offence_types: list[OffenceType] = Field(min_length=1, max_length=20)
    flags: list[ReportFlag] = Field(default_factory=list, max_length=20)
    summary: str | None = Field(default=None, max_length=20_000)
    marking: Marking = Marking.AMBER
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=1000)
    media: list[MediaIn] = Field(default_factory=list, max_length=1000)


class BulkResult(BaseModel):
    """What a bulk submission stored."""

    created: int
    unchanged: int
    report_ids: list[int]


class InAppReportIn(StorableText):
    """The few fields a child fills in a platform's report button."""

    model_config = ConfigDict(extra="forbid")

    what_happened: NotBlank = Field(min_length=1, max_length=10_000)
    platform: NotBlank = Field(min_length=1, max_length=200)
    account_name: AccountName | None = Field(
        default=None,
        max_length=200,
        description="The other person's account (a username); blank for none.",
    )
    contact: str | None = Field(default=None, max_length=300)
    report_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="Your id (idempotency)."
    )
    category: PlatformCategory = PlatformCategory.SOCIAL_MEDIA
    media: list[MediaIn] = Field(default_factory=list, max_length=20)


class SmsIn(StorableText):
    """A text message relayed by an SMS gateway."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sender: PhoneNumber = Field(
        alias="from",
        min_length=3,
        max_length=40,
        description="The sender's number in international form (+CC...).",
    )
    text: NotBlank = Field(min_length=1, max_length=2000)
    received_at: IsoTime | None = None
    message_id: str | None = Field(default=None, min_length=1, max_length=200)


class Receipt(BaseModel):
    """Acknowledgement of a public report."""

    report_id: int
    reference: str
    created: bool


class SmsReceiptOut(Receipt):
    """Acknowledgement of an SMS report, with the text to send back."""

    sender_country: str | None
    reply: str
