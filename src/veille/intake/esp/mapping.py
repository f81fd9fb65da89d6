"""From CyberTipline elements to Veille's report: offences, category, flags, identifiers.

Each table below is the whole of one decision, so a reviewer can read the
mapping without reading code. Identifiers are normalised as they are mapped;
one that cannot be (an address that is not an IP, say) is an error naming
its element, because a provider would rather fix its export than lose a lead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from veille.geo import CountryError, normalise_country
from veille.intake.esp.parse import EspXmlError, Tree, attributes, every, first
from veille.intake.schema import IdentifierIn
from veille.vocab import IdentifierKind, OffenceType, PlatformCategory, ReportFlag

INCIDENT_OFFENCES: dict[str, tuple[OffenceType, ...]] = {
    "Child Pornography (possession, manufacture, and distribution)": (
        OffenceType.CSAM_POSSESSION,
        OffenceType.CSAM_DISTRIBUTION,
    ),
    "Child Sex Trafficking": (OffenceType.COMMERCIAL_EXPLOITATION,),
    "Child Sex Tourism": (OffenceType.TRAVELLING_OFFENDER,),
    "Child Sexual Molestation": (OffenceType.CONTACT_ABUSE,),
    "Misleading Domain Name": (OffenceType.OTHER,),
    "Misleading Words or Digital Images on the Internet": (OffenceType.OTHER,),
    "Online Enticement of Children for Sexual Acts": (OffenceType.GROOMING,),
    "Unsolicited Obscene Material Sent to a Child": (OffenceType.GROOMING,),
}
INCIDENT_FLAGS: dict[str, tuple[ReportFlag, ...]] = {
    "Child Sex Tourism": (ReportFlag.TRAVELLING_OFFENDER,),
    "Child Sexual Molestation": (ReportFlag.HANDS_ON_ABUSE,),
}
DETAIL_CATEGORY: dict[str, PlatformCategory] = {
    "webPageIncident": PlatformCategory.WEBSITE,
    "emailIncident": PlatformCategory.MESSAGING,
    "newsgroupIncident": PlatformCategory.OTHER,
    "chatImIncident": PlatformCategory.MESSAGING,
    "onlineGamingIncident": PlatformCategory.ONLINE_GAMING,
    "cellPhoneIncident": PlatformCategory.MESSAGING,
    "nonInternetIncident": PlatformCategory.OFFLINE,
    "peer2peerIncident": PlatformCategory.P2P,
}
# Report annotations: offences added and flags set.
REPORT_ANNOTATION_OFFENCES: dict[str, tuple[OffenceType, ...]] = {
    "sextortion": (OffenceType.SEXTORTION,),
    "csamSolicitation": (OffenceType.GROOMING,),
    "sadisticOnlineExploitation": (OffenceType.SEXTORTION,),
}
REPORT_ANNOTATION_FLAGS: dict[str, tuple[ReportFlag, ...]] = {
    "sadisticOnlineExploitation": (ReportFlag.SELF_HARM_THREAT,),
}
# File annotations: they describe the media but also raise the report's flags.
FILE_ANNOTATION_FLAGS: dict[str, tuple[ReportFlag, ...]] = {
    "viral": (ReportFlag.VIRAL,),
    "potentialMeme": (ReportFlag.VIRAL,),
    "possibleSelfProduction": (ReportFlag.SELF_GENERATED,),
    "liveStreaming": (ReportFlag.LIVE_STREAMING,),
    "physicalHarm": (ReportFlag.HANDS_ON_ABUSE,),
    "infant": (ReportFlag.INFANT_VICTIM,),
}
FILE_ANNOTATION_OFFENCES: dict[str, tuple[OffenceType, ...]] = {
    "possibleSelfProduction": (OffenceType.SELF_GENERATED,),
    "liveStreaming": (OffenceType.LIVE_STREAMING_ABUSE,),
}


@dataclass
class MappedReport:
    """The Veille fields of a CyberTipline report, before it is given an id."""

    fields: dict[str, Any]
    provided_country: str | None = None
    ips: list[str] = field(default_factory=list)


@dataclass
class MappedFile:
    """What a ``fileDetails`` document says about one uploaded file."""

    report_id: int
    file_id: str
    file_name: str | None
    annotations: list[str]
    flags: list[str]
    offences: list[str]
    industry_classification: str | None
    file_relevance: str | None
    original_hashes: list[dict[str, str]]
    identifiers: list[dict[str, str]]
    notes: list[str]


# The most identifiers one report may hold: the limit of ``ReportIn.identifiers``, checked
# here as they are found so that a document with 20,000 of them is refused after the
# 1,001st, not after normalising (and once comparing) every one.
MAX_IDENTIFIERS = 1000


class Identifiers:
    """The distinct identifiers of one document, in the order found, at most ``limit``.

    Keyed by (kind, value, platform): adding one is constant work, however many
    came before. The raw form is remembered too, so a value repeated 20,000
    times is normalised once.
    """

    def __init__(self, limit: int = MAX_IDENTIFIERS) -> None:
        self.limit = limit
        self._found: dict[tuple[str, str, str], IdentifierIn] = {}
        self._raw_seen: set[tuple[str, str, str]] = set()

    def __len__(self) -> int:
        return len(self._found)

    def items(self) -> list[IdentifierIn]:
        """The identifiers, in the order first found."""
        return list(self._found.values())

    def add(
        self, kind: IdentifierKind, value: Any, path: str, platform: str = ""
    ) -> IdentifierIn | None:
        """Normalise and keep ``value``; the identifier if it is new, else ``None``.

        An error naming ``path`` when the value is not a valid identifier of its
        kind, or when it would be one more than ``limit``.
        """
        if value is None or str(value).strip() == "":
            return None
        raw_key = (kind.value, str(value), platform)
        if raw_key in self._raw_seen:
            return None
        try:
            item = IdentifierIn.model_validate(
                {"kind": kind, "value": str(value), "platform": platform[:200]}
            )
        except ValidationError as error:
            reason = error.errors()[0]["msg"]
            raise EspXmlError(path, reason) from None
        self._raw_seen.add(raw_key)
        key = (item.kind.value, item.value, item.platform)
        if key in self._found:
            return None
        if len(self._found) >= self.limit:
            raise EspXmlError(path, f"more than {self.limit} identifiers in one document")
        self._found[key] = item
        return item


def _phone_text(value: str, attrs: dict[str, str]) -> str:
    code = attrs.get("countryCallingCode", "").strip().lstrip("+")
    if code and not value.strip().startswith("+"):
        return f"+{code}{value}"
    return value


def _ip_events(found: Identifiers, ips: list[str], events: list[Tree], path: str) -> None:
    for number, event in enumerate(events, start=1):
        address = first(event, "ipAddress")
        added = found.add(IdentifierKind.IP, address, f"{path}/ipCaptureEvent[{number}]/ipAddress")
        if added is not None:
            ips.append(added.value)


def _devices(found: Identifiers, devices: list[Tree], path: str) -> None:
    for number, device in enumerate(devices, start=1):
        found.add(
            IdentifierKind.DEVICE_ID,
            first(device, "idValue"),
            f"{path}/deviceId[{number}]/idValue",
        )


def _person(found: Identifiers, person: Tree | None, path: str) -> None:
    if not person:
        return
    for number, (value, attrs) in enumerate(
        zip(every(person, "phone"), attributes(person, "phone"), strict=True), start=1
    ):
        if value:
            found.add(IdentifierKind.PHONE, _phone_text(value, attrs), f"{path}/phone[{number}]")
    for number, value in enumerate(every(person, "email"), start=1):
        found.add(IdentifierKind.EMAIL, value, f"{path}/email[{number}]")


def _texts(*values: Any) -> list[str]:
    return [str(v).strip() for v in values if v is not None and str(v).strip()]


def map_report(tree: Tree) -> MappedReport:
    """The Veille fields of a validated ``report`` tree."""
    summary_tree: Tree = first(tree, "incidentSummary")
    incident_type: str = first(summary_tree, "incidentType")
    offences: set[OffenceType] = set(INCIDENT_OFFENCES[incident_type])
    flags: set[ReportFlag] = set(INCIDENT_FLAGS.get(incident_type, ()))
    notes: list[str] = []
    annotations = first(summary_tree, "reportAnnotations") or {}
    marked = [name for name, values in annotations.items() if values and values[0]]
    for name in marked:
        offences.update(REPORT_ANNOTATION_OFFENCES.get(name, ()))
        flags.update(REPORT_ANNOTATION_FLAGS.get(name, ()))
    if marked:
        notes.append("Report annotations: " + ", ".join(sorted(marked)))
    escalation = first(summary_tree, "escalateToHighPriority")
    if escalation:
        flags.add(ReportFlag.ESCALATED)
        notes.append(f"Escalated to high priority: {escalation}")
    platform = first(summary_tree, "platform")
    identifiers = Identifiers()
    ips: list[str] = []
    category = PlatformCategory.OTHER
    for number, details in enumerate(every(tree, "internetDetails"), start=1):
        ((detail_kind, (detail,)),) = details.items()
        path = f"report/internetDetails[{number}]/{detail_kind}"
        if number == 1:
            category = DETAIL_CATEGORY[detail_kind]
        notes.extend(
            _texts(detail.get("content", [None])[0], detail.get("additionalInfo", [None])[0])
        )
        if detail_kind == "webPageIncident":
            for index, url in enumerate(every(detail, "url"), start=1):
                identifiers.add(IdentifierKind.URL, url, f"{path}/url[{index}]")
        elif detail_kind in ("emailIncident", "newsgroupIncident"):
            for index, address in enumerate(every(detail, "emailAddress"), start=1):
                identifiers.add(IdentifierKind.EMAIL, address, f"{path}/emailAddress[{index}]")
        elif detail_kind == "cellPhoneIncident":
            phone = first(detail, "phoneNumber")
            if phone:
                attrs = (attributes(detail, "phoneNumber") or [{}])[0]
                identifiers.add(
                    IdentifierKind.PHONE,
                    _phone_text(phone, attrs),
                    f"{path}/phoneNumber",
                )
        elif detail_kind == "peer2peerIncident":
            _ip_events(identifiers, ips, every(detail, "ipCaptureEvent"), path)
            platform = platform or first(detail, "client")
        elif detail_kind == "onlineGamingIncident":
            platform = platform or first(detail, "gameName")
        elif detail_kind == "chatImIncident":
            platform = platform or first(detail, "chatClient")
    provided_country = None
    reported: Tree | None = first(tree, "personOrUserReported")
    if reported:
        path = "report/personOrUserReported"
        platform = platform or first(reported, "espService")
        where = (platform or "").strip().lower()
        _person(
            identifiers,
            first(reported, "personOrUserReportedPerson"),
            f"{path}/personOrUserReportedPerson",
        )
        identifiers.add(
            IdentifierKind.USERNAME,
            first(reported, "screenName"),
            f"{path}/screenName",
            where,
        )
        identifiers.add(
            IdentifierKind.USERNAME,
            first(reported, "espIdentifier"),
            f"{path}/espIdentifier",
            where,
        )
        for index, url in enumerate(every(reported, "profileUrl"), start=1):
            identifiers.add(IdentifierKind.URL, url, f"{path}/profileUrl[{index}]")
        _ip_events(identifiers, ips, every(reported, "ipCaptureEvent"), path)
        _devices(identifiers, every(reported, "deviceId"), path)
        location = first(reported, "estimatedLocation")
        code = first(location, "countryCode") if location else None
        if code:
            try:
                provided_country = normalise_country(code)
            except CountryError as error:
                raise EspXmlError(f"{path}/estimatedLocation/countryCode", str(error)) from None
        notes.extend(_texts(first(reported, "additionalInfo")))
    notes.extend(_texts(first(tree, "additionalInfo")))
    incident_at: datetime = first(summary_tree, "incidentDateTime")
    fields: dict[str, Any] = {
        "incident_at": incident_at,
        "platform": platform[:200] if platform else None,
        "platform_category": category,
        "offence_types": sorted(offences),
        "flags": sorted(flags),
        "summary": "\n".join(notes)[:20_000] or None,
        "identifiers": [i.model_dump() for i in identifiers.items()],
    }
    return MappedReport(fields, provided_country, ips)


def map_file_details(tree: Tree) -> MappedFile:
    """What a validated ``fileDetails`` tree says about its file."""
    annotations_tree = first(tree, "fileAnnotations") or {}
    marked = sorted(name for name, values in annotations_tree.items() if values and values[0])
    if first(tree, "potentialMeme") and "potentialMeme" not in marked:
        marked.append("potentialMeme")
    flags: set[str] = set()
    offences: set[str] = set()
    for name in marked:
        flags.update(flag.value for flag in FILE_ANNOTATION_FLAGS.get(name, ()))
        offences.update(offence.value for offence in FILE_ANNOTATION_OFFENCES.get(name, ()))
    hashes = [
        {"type": attrs.get("hashType", "unknown"), "value": value}
        for value, attrs in zip(
            every(tree, "originalFileHash"), attributes(tree, "originalFileHash"), strict=True
        )
        if value
    ]
    found = Identifiers()
    event = first(tree, "ipCaptureEvent")
    ips: list[str] = []
    if event:
        _ip_events(found, ips, [event], "fileDetails")
    _devices(found, every(tree, "deviceId"), "fileDetails")
    return MappedFile(
        report_id=first(tree, "reportId"),
        file_id=first(tree, "fileId"),
        file_name=first(tree, "originalFileName") or first(tree, "fileName"),
        annotations=marked,
        flags=sorted(flags),
        offences=sorted(offences),
        industry_classification=first(tree, "industryClassification"),
        file_relevance=first(tree, "fileRelevance"),
        original_hashes=hashes,
        identifiers=[i.model_dump(mode="json") for i in found.items()],
        notes=_texts(first(tree, "locationOfFile"), *every(tree, "additionalInfo")),
    )
