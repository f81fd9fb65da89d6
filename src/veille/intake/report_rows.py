"""A validated report reduced to the plain values of its rows: the one place they are built.

Every way a report is written (the bulk import, a channel's single report,
the ESP API's PostgreSQL fast path) starts from :func:`prepare_report`, and
:mod:`veille.intake.report_writer` turns its result into rows. The values
are plain (strings, numbers, aware datetimes) so that a prepared report is
cheap to send between processes, as the parallel import does.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from veille.intake.schema import MediaIn, ReportIn
from veille.linking.normalise import phone_country
from veille.vocab import CountryReason, IdentifierKind

# The ``report`` columns in the order of a written row; ``id`` comes from the writer.
REPORT_COLUMNS = (
    "id",
    "source",
    "external_id",
    "content_sha256",
    "channel",
    "reporter_kind",
    "received_at",
    "incident_at",
    "stated_country",
    "derived_country",
    "country_reason",
    "platform",
    "platform_category",
    "summary",
    "marking",
    "owner_agency_id",
    "created_at",
)
# A media item's columns, in the order of :attr:`PreparedReport.media` values.
MEDIA_COLUMNS = tuple(MediaIn.model_fields)

Country = tuple[str | None, CountryReason]


class PreparedReport(NamedTuple):
    """A valid report reduced to the plain values its rows need.

    ``report`` holds the ``report`` columns from ``channel`` to ``marking`` in
    :data:`REPORT_COLUMNS` order, enums as their string values; ``line`` and
    ``text`` say where an imported report came from (0 and "" otherwise).
    """

    line: int
    text: str
    source: str
    external_id: str
    digest: str
    owner_id: int
    report: tuple[Any, ...]
    offences: tuple[str, ...]
    flags: tuple[str, ...]
    media: tuple[tuple[Any, ...], ...]
    identifiers: tuple[tuple[str, str, str], ...]


def prepare_report(
    record: ReportIn,
    *,
    source: str,
    digest: str,
    owner_id: int,
    country: Country | None = None,
    line: int = 0,
    text: str = "",
) -> PreparedReport:
    """The row values of ``record``; ``country`` defaults to :func:`derive_country`'s choice."""
    # ``_value_`` is the member's plain string: cheaper than ``.value`` (a
    # descriptor) and pickled as a string, not as an enum member.
    derived, reason = country if country is not None else derive_country(record)
    return PreparedReport(
        line,
        text,
        source,
        record.external_id,
        digest,
        owner_id,
        (
            record.channel._value_,
            record.reporter_kind._value_,
            record.received_at,
            record.incident_at,
            record.stated_country,
            derived,
            reason._value_,
            record.platform,
            record.platform_category._value_,
            record.summary,
            record.marking._value_,
        ),
        tuple(offence._value_ for offence in record.offence_types),
        tuple(flag._value_ for flag in record.flags),
        tuple(
            (m.file_name, m.size_bytes, m.media_type, m.md5, m.sha1, m.sha256, m.pdq, m.pdq_quality)
            for m in record.media
        ),
        tuple((i.kind._value_, i.value, i.platform) for i in record.identifiers),
    )


def derive_country(record: ReportIn) -> Country:
    """The derived country of a record from its own fields, and why.

    A country given by the sender wins; otherwise the first phone number's
    country, then the stated country. (A channel that knows more, such as the
    sender's IP address, decides with :mod:`veille.intake.country`.)
    """
    if record.derived_country:
        return record.derived_country, CountryReason.PROVIDED
    for identifier in record.identifiers:
        if identifier.kind is IdentifierKind.PHONE:
            country = phone_country(identifier.value)
            if country:
                return country, CountryReason.PHONE
    if record.stated_country:
        return record.stated_country, CountryReason.STATED
    return None, CountryReason.UNKNOWN
