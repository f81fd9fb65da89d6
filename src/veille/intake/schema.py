"""The report record accepted at every border (files, API), as pydantic models.

A record that validates here can be stored as it is: enums are Veille's
vocabularies, countries are ISO alpha-2, times are timezone-aware UTC and
identifiers are normalised.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from veille.geo import CountryError, normalise_country
from veille.linking.normalise import IdentifierError, normalise_identifier
from veille.vocab import (
    Channel,
    IdentifierKind,
    Marking,
    OffenceType,
    PlatformCategory,
    ReporterKind,
    ReportFlag,
)


def _country(value: str) -> str:
    try:
        return normalise_country(value)
    except CountryError as error:
        raise PydanticCustomError("country", str(error)) from None


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00:00+00:01 is a valid timestamp whose UTC time is before year 1.
        raise PydanticCustomError("datetime_range", "the time in UTC is out of range") from None


def _hex(length: int) -> Any:
    pattern = re.compile(rf"^[0-9a-fA-F]{{{length}}}$")

    def check(value: str) -> str:
        if not pattern.match(value):
            raise PydanticCustomError(
                "hex", "expected {length} hexadecimal characters", {"length": length}
            )
        return value.lower()

    return AfterValidator(check)


Country = Annotated[str, AfterValidator(_country)]
UTCTime = Annotated[AwareDatetime, AfterValidator(_utc)]


class IdentifierIn(BaseModel):
    """An identifier as given; ``value`` is normalised for its kind on validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: IdentifierKind
    value: str = Field(min_length=1, max_length=500)
    platform: str = Field(default="", max_length=200)

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str) -> str:
        return value.strip().lower()

    @model_validator(mode="after")
    def _normalise(self, info: ValidationInfo) -> IdentifierIn:
        region = (info.context or {}).get("region")
        try:
            normalised = normalise_identifier(self.kind, self.value, region)
        except IdentifierError as error:
            raise PydanticCustomError("identifier", str(error)) from None
        object.__setattr__(self, "value", normalised)
        return self


class MediaIn(BaseModel):
    """A media item described by its hashes; the file is never needed."""

    model_config = ConfigDict(extra="forbid")

    file_name: str | None = Field(default=None, max_length=500)
    size_bytes: int | None = Field(default=None, ge=0, le=2**63 - 1)
    media_type: str | None = Field(default=None, max_length=100)
    md5: Annotated[str, _hex(32)] | None = None
    sha1: Annotated[str, _hex(40)] | None = None
    sha256: Annotated[str, _hex(64)] | None = None
    pdq: Annotated[str, _hex(64)] | None = None
    pdq_quality: int | None = Field(default=None, ge=0, le=100)


class ReportIn(BaseModel):
    """One report as imported from a file or received over the API."""

    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, max_length=200)
    source: str | None = Field(default=None, min_length=1, max_length=200)
    channel: Channel = Channel.BULK_IMPORT
    reporter_kind: ReporterKind
    received_at: UTCTime
    incident_at: UTCTime | None = None
    stated_country: Country | None = None
    derived_country: Country | None = None
    platform: str | None = Field(default=None, max_length=200)
    platform_category: PlatformCategory
    offence_types: list[OffenceType] = Field(min_length=1)
    flags: list[ReportFlag] = Field(default_factory=list)
    summary: str | None = Field(default=None, max_length=20_000)
    marking: Marking = Marking.AMBER
    owner_agency: str | None = Field(default=None, max_length=200)
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=1000)
    media: list[MediaIn] = Field(default_factory=list, max_length=1000)

    @field_validator("offence_types", "flags")
    @classmethod
    def _unique(cls, values: list[Any]) -> list[Any]:
        return sorted(set(values))

    def content_sha256(self) -> str:
        """Fingerprint of the record's content, to tell a re-import from a conflicting one."""
        payload = self.model_dump_json(exclude={"source"})
        return hashlib.sha256(payload.encode()).hexdigest()


def region_hint(raw: dict[str, Any]) -> str | None:
    """The country to read national phone numbers in, from a raw record."""
    for key in ("derived_country", "stated_country"):
        value = raw.get(key)
        if isinstance(value, str):
            try:
                return normalise_country(value)
            except CountryError:
                continue
    return None
