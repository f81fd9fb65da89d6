"""The report record accepted at every border (files, API), as pydantic models.

A record that validates here can be stored as it is: enums are Veille's
vocabularies, countries are ISO alpha-2, times are timezone-aware UTC and
identifiers are normalised.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

import phonenumbers
import pycountry
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from veille.core.api import add_storable_text_pattern
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


@dataclass(frozen=True, eq=False)  # hashed by identity: keyword values may be lists
class Documented:
    """JSON Schema keywords that describe a value in the published schema only.

    The validators here check values themselves and name what is wrong in
    their own words; these keywords tell a client (and a generator of test
    requests) in advance what the validators accept.
    """

    keywords: tuple[tuple[str, Any], ...]

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema.update(self.keywords)
        return schema


def documented(**keywords: Any) -> Documented:
    """:class:`Documented` with ``keywords`` (e.g. ``pattern=...``)."""
    return Documented(tuple(keywords.items()))


# White space as str.strip() sees it (wider than a regex's \s), and storable text with
# something else in it.
WHITE_SPACE = "".join(f"\\u{ord(c):04x}" for c in map(chr, range(0x3001)) if c.isspace())
NOT_BLANK_PATTERN = f"^[^\\x00]*[^{WHITE_SPACE}\\x00][^\\x00]*$"


@cache
def country_codes() -> list[str]:
    """Every ISO 3166-1 code :func:`veille.geo.normalise_country` reads (alpha-2, alpha-3, numeric)."""
    codes: set[str] = set()
    for country in pycountry.countries:
        codes.update((country.alpha_2, country.alpha_3, country.numeric))
    return sorted(codes)


@cache
def url_pattern() -> str:
    """What :func:`veille.linking.normalise.normalise_url` reads as a URL with a host.

    It is lenient (``urlsplit``, ``http://`` put in front of text without ``://``),
    so this mirrors it: any host name characters but the delimiters, and none that
    NFKC turns into one (``urlsplit`` refuses those), an optional numeric port.
    """
    delimiters = "/?#@:"
    disguised = "".join(
        f"\\u{ord(c):04x}"
        for c in map(chr, range(0x80, 0x10000))
        if not 0xD800 <= ord(c) <= 0xDFFF
        and any(d in unicodedata.normalize("NFKC", c) for d in delimiters)
    )
    unstorable = "\\x00"
    host = (
        f"[^/?#@:\\[\\]{WHITE_SPACE}{disguised}{unstorable}][^/?#@:\\[\\]{disguised}{unstorable}]*"
    )
    user = f"(?:[^/?#\\[\\]{disguised}{unstorable}]*@)?"
    port = f"(?::{_PORT}?)?"
    rest = f"(?:[/?#][^{unstorable}]*)?"
    rest_without_scheme = f"(?:[/?#](?:(?!://)[^{unstorable}])*)?"
    scheme = "[A-Za-z][A-Za-z0-9+.-]*://"
    space = f"[{WHITE_SPACE}]*"
    return (
        f"^{space}(?:{scheme}{user}{host}{port}{rest}|{user}{host}{port}{rest_without_scheme})"
        f"{space}$"
    )


def _digit_runs(lengths: Any) -> str:
    """``[0-9]{a,b}`` alternatives for a set of lengths (consecutive lengths merged)."""
    runs: list[list[int]] = []
    for length in sorted(set(lengths)):
        if runs and runs[-1][1] == length - 1:
            runs[-1][1] = length
        else:
            runs.append([length, length])
    return "|".join(f"[0-9]{{{a}}}" if a == b else f"[0-9]{{{a},{b}}}" for a, b in runs)


@cache
def e164_pattern() -> str:
    """A number in international form (+CC...) of a length its country allows.

    Built from libphonenumber's lengths per calling code, the same data behind
    :func:`veille.linking.normalise.normalise_phone`'s "possible number" check.
    """
    alternatives = []
    for code, regions in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, regions[0])
        general = metadata.general_desc if metadata is not None else None
        if general is None or not general.possible_length:
            continue
        alternatives.append(f"{code}(?:{_digit_runs(general.possible_length)})")
    return f"^\\+(?:{'|'.join(alternatives)})$"


@dataclass(frozen=True)
class HexDigits:
    """A string of ``length`` hex digits, stored lower-case (and documented with its pattern)."""

    length: int

    @property
    def pattern(self) -> str:
        return f"^[0-9a-fA-F]{{{self.length}}}$"

    def _check(self, value: str) -> str:
        if not re.match(self.pattern, value):
            raise PydanticCustomError(
                "hex", "expected {length} hexadecimal characters", {"length": self.length}
            )
        return value.lower()

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**handler.resolve_ref_schema(handler(schema)), "pattern": self.pattern}


def _not_a_boolean(value: Any) -> Any:
    # Lax validation reads true/false as 1/0; a JSON boolean is not a number.
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "expected an integer, not true or false")
    return value


# Refuses true and false where an integer is expected, as the published "integer" does. Put
# it after the field's bounds: Annotated[int, Field(ge=0), NOT_A_BOOLEAN].
NOT_A_BOOLEAN = BeforeValidator(_not_a_boolean)
# Integers beyond 2**53 - 1 are not exact as JSON numbers in most clients (JavaScript's,
# and test generators that go through floating point): no limit documented above it.
MAX_JSON_INTEGER = 2**53 - 1

Country = Annotated[str, AfterValidator(_country)]
UTCTime = Annotated[AwareDatetime, AfterValidator(_utc)]
# A country code as the API documents it (validated as :data:`Country` is).
CountryCode = Annotated[str, documented(enum=country_codes())]

# What each kind of identifier's value must look like, as far as a pattern can say.
_IPV4 = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_IDENTIFIER_VALUES: dict[IdentifierKind, dict[str, Any]] = {
    IdentifierKind.EMAIL: {
        "pattern": rf"^[A-Za-z0-9_%-][A-Za-z0-9._%+-]{{0,63}}@(?:{_HOST}\.)+[A-Za-z]{{2,63}}$",
        "description": "local@domain.tld",
    },
    IdentifierKind.PHONE: {
        "pattern": "",  # filled by :func:`identifier_json_schema` (built from libphonenumber)
        "description": "International form, +CC and the number (national form only with a "
        "stated country, in files).",
    },
    IdentifierKind.IP: {
        "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}],
        "description": "An IPv4 or IPv6 address.",
    },
    IdentifierKind.USERNAME: {
        "pattern": NOT_BLANK_PATTERN.replace("*[^", "*[^@", 1),
        "description": "A handle; a leading @ is dropped.",
    },
    IdentifierKind.P2P_CLIENT_ID: {
        "pattern": r"^\{?[0-9A-Za-z-]*[0-9A-Za-z][0-9A-Za-z-]*\}?$",
        "description": "Hex or alphanumeric client id; braces and dashes are dropped.",
    },
    IdentifierKind.PAYMENT_HANDLE: {"pattern": NOT_BLANK_PATTERN},
    IdentifierKind.URL: {
        "pattern": "",  # filled by :func:`identifier_json_schema` (see :func:`url_pattern`)
        "description": "A URL with a host; the scheme may be left out (http).",
    },
    IdentifierKind.DEVICE_ID: {"pattern": NOT_BLANK_PATTERN},
}


def identifier_json_schema(schema: dict[str, Any]) -> None:
    """IdentifierIn's schema as one variant per kind, each with what its value must look like."""
    properties = schema.pop("properties")
    schema.pop("required", None)
    variants = []
    for kind, rules in _IDENTIFIER_VALUES.items():
        value = {**properties["value"], **rules}
        if kind is IdentifierKind.PHONE:
            value["pattern"] = e164_pattern()
        elif kind is IdentifierKind.URL:
            value["pattern"] = url_pattern()
        variant = {
            "type": "object",
            "properties": {**properties, "kind": {"const": kind.value}, "value": value},
            "required": ["kind", "value"],
            "additionalProperties": False,
        }
        add_storable_text_pattern(variant)
        variants.append(variant)
    schema["oneOf"] = variants


class IdentifierIn(BaseModel):
    """An identifier as given; ``value`` is normalised for its kind on validation."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra=lambda schema, _: identifier_json_schema(schema),
    )

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

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=lambda schema, _: add_storable_text_pattern(schema)
    )

    file_name: str | None = Field(default=None, max_length=500)
    size_bytes: Annotated[int, Field(ge=0, le=MAX_JSON_INTEGER), NOT_A_BOOLEAN] | None = None
    media_type: str | None = Field(default=None, max_length=100)
    md5: Annotated[str, HexDigits(32)] | None = None
    sha1: Annotated[str, HexDigits(40)] | None = None
    sha256: Annotated[str, HexDigits(64)] | None = None
    pdq: Annotated[str, HexDigits(64)] | None = None
    pdq_quality: Annotated[int, Field(ge=0, le=100), NOT_A_BOOLEAN] | None = None


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
