"""The JSON documents of the REST API (pydantic), published in the OpenAPI spec."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from veille.intake.schema import (
    NOT_BLANK_PATTERN,
    WHITE_SPACE,
    CountryCode,
    IdentifierIn,
    MediaIn,
    add_storable_text_pattern,
    documented,
    e164_pattern,
)
from veille.vocab import (
    Channel,
    CountryReason,
    IdentifierKind,
    Marking,
    OffenceType,
    PlatformCategory,
    ReporterKind,
    ReportFlag,
)
from veille.web.params import IsoTime

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

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(value: Any, path: str = "") -> str | None:
    """The path of the first string holding a NUL or a lone surrogate (neither can be stored)."""
    if isinstance(value, str):
        return path or "(value)" if _UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = unstorable_text(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


class StorableText(BaseModel):
    """Refuses text that no database can store, naming the field (and says so in its schema)."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # A hook rather than `json_schema_extra`, which a subclass's own config would replace.
        schema = handler.resolve_ref_schema(handler(core_schema))
        add_storable_text_pattern(schema)
        return schema

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        where = unstorable_text(data)
        if where:
            raise ValueError(f"{where}: contains a NUL character or an unpaired surrogate")
        return data


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


class IdentifierOut(BaseModel):
    """A normalised identifier of a report."""

    kind: IdentifierKind
    value: str
    platform: str | None


class MediaOut(BaseModel):
    """A media item of a report, by its hashes."""

    file_name: str | None
    size_bytes: int | None
    media_type: str | None
    md5: str | None
    sha1: str | None
    sha256: str | None
    pdq: str | None
    pdq_quality: int | None


class ReportSummaryOut(BaseModel):
    """A report as listed."""

    id: int
    received_at: datetime
    channel: Channel
    derived_country: str | None
    platform_category: PlatformCategory
    offence_types: list[OffenceType]
    marking: Marking
    owner_agency: str


class ReportOut(ReportSummaryOut):
    """Every field of one report, with the state of its media."""

    external_id: str
    source: str
    reporter_kind: ReporterKind
    incident_at: datetime | None
    stated_country: str | None
    country_reason: CountryReason
    platform: str | None
    flags: list[ReportFlag]
    summary: str | None
    identifiers: list[IdentifierOut]
    media: list[MediaOut]
    media_state: str = Field(description="none, pending (hashing/matching) or matched.")


class ReportList(BaseModel):
    """One page of reports and the total that match."""

    total: int
    reports: list[ReportSummaryOut]


class BulkResult(BaseModel):
    """What a bulk submission stored."""

    created: int
    unchanged: int
    report_ids: list[int]


class Problem(BaseModel):
    """One thing wrong with a request."""

    field: str
    reason: str
    line: int | None = None


class ProblemList(BaseModel):
    """Why a request was refused."""

    detail: list[Problem]


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


_PROBLEMS: dict[int, str] = {
    400: "The body cannot be read (not JSON, not UTF-8).",
    401: "No API key, or an unknown or revoked one.",
    403: "The key lacks the scope this operation needs.",
    404: "No such record, or none your agency may see.",
    408: "The body did not arrive in time (VEILLE_BODY_CHUNK_TIMEOUT_S, "
    "VEILLE_BODY_TOTAL_TIMEOUT_S).",
    409: "The request conflicts with what is stored (an id already used for other content, "
    "a move the queue does not allow).",
    413: "The body is over its size limit (VEILLE_MAX_API_BODY_BYTES; VEILLE_MAX_JSON_BYTES "
    "for bulk).",
    422: "A field is wrong; each problem names it.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for refusals, all answered as a :class:`ProblemList`."""
    return {status: {"model": ProblemList, "description": _PROBLEMS[status]} for status in statuses}


# What any /api/v1 operation may answer before or instead of its own work: the edge's
# limits on the body (408, 413), the key (401, 403) and the request's validation (400, 422).
API_ERRORS = problem_responses(400, 401, 403, 408, 413, 422)
