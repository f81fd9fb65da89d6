"""The XML that Veille's ESP API accepts, declared once as data.

The same declaration drives the validating parser (:mod:`.parse`) and the XSD
served at ``/ispws/xsd`` (:func:`xsd_text`), so the two cannot disagree.
Element names and order follow the CyberTipline reporting schema. Parts that
Veille keeps only as free text (reporter, law enforcement, victims, intended
recipients, addresses) accept any well-formed content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

# Leaf kinds: text, bool, int, float, datetime, enum, flag (empty or true/false), any.
LEAF_KINDS = ("text", "bool", "int", "float", "datetime", "enum", "flag", "any")


@dataclass(frozen=True)
class Element:
    """An element: a leaf of some kind, a sequence or a choice of child elements."""

    name: str
    kind: str = "text"
    children: tuple[Child, ...] = ()
    values: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    doc: str = ""

    @property
    def is_complex(self) -> bool:
        return self.kind in ("sequence", "choice")

    def child(self, name: str) -> Child | None:
        for item in self.children:
            if item.element.name == name:
                return item
        return None


@dataclass(frozen=True)
class Child:
    """A child slot: the element and how often it may occur (``None``: unbounded)."""

    element: Element
    min_occurs: int = 0
    max_occurs: int | None = 1


def opt(element: Element) -> Child:
    return Child(element, 0, 1)


def req(element: Element) -> Child:
    return Child(element, 1, 1)


def many(element: Element) -> Child:
    return Child(element, 0, None)


def seq(name: str, *children: Child, attributes: tuple[str, ...] = (), doc: str = "") -> Element:
    return Element(name, "sequence", children, attributes=attributes, doc=doc)


def text(name: str, *attributes: str) -> Element:
    return Element(name, "text", attributes=attributes)


def kind(name: str, leaf: str, *attributes: str) -> Element:
    return Element(name, leaf, attributes=attributes)


def enum(name: str, values: tuple[str, ...]) -> Element:
    return Element(name, "enum", values=values)


INCIDENT_TYPES = (
    "Child Pornography (possession, manufacture, and distribution)",
    "Child Sex Trafficking",
    "Child Sex Tourism",
    "Child Sexual Molestation",
    "Misleading Domain Name",
    "Misleading Words or Digital Images on the Internet",
    "Online Enticement of Children for Sexual Acts",
    "Unsolicited Obscene Material Sent to a Child",
)
REPORT_ANNOTATIONS = (
    "sextortion",
    "csamSolicitation",
    "minorToMinorInteraction",
    "spam",
    "sadisticOnlineExploitation",
    "informational",
)
FILE_ANNOTATIONS = (
    "animeDrawingVirtualHentai",
    "potentialMeme",
    "viral",
    "possibleSelfProduction",
    "physicalHarm",
    "violenceGore",
    "bestiality",
    "liveStreaming",
    "infant",
    "generativeAi",
)
EVENT_NAMES = ("Login", "Registration", "Purchase", "Upload", "Other", "Unknown")
FILE_RELEVANCE = ("Reported", "Supplemental Reported")
INDUSTRY_CLASSIFICATION = ("A1", "A2", "B1", "B2")
INTERNET_DETAIL_KINDS = (
    "webPageIncident",
    "emailIncident",
    "newsgroupIncident",
    "chatImIncident",
    "onlineGamingIncident",
    "cellPhoneIncident",
    "nonInternetIncident",
    "peer2peerIncident",
)

ADDITIONAL_INFO = text("additionalInfo")
EMAIL = text("email", "type", "verified", "verificationDate")
PHONE = text("phone", "type", "verified", "verificationDate", "countryCallingCode", "extension")

IP_CAPTURE_EVENT = seq(
    "ipCaptureEvent",
    req(text("ipAddress")),
    opt(enum("eventName", EVENT_NAMES)),
    opt(kind("dateTime", "datetime")),
    opt(kind("possibleProxy", "bool")),
    opt(kind("port", "int")),
)
DEVICE_ID = seq(
    "deviceId",
    opt(text("idType")),
    opt(text("idValue")),
    opt(enum("eventName", EVENT_NAMES)),
    opt(kind("dateTime", "datetime")),
)
PERSON_CHILDREN = (
    opt(text("firstName")),
    opt(text("lastName")),
    many(PHONE),
    many(EMAIL),
    many(kind("address", "any", "type")),
    opt(kind("age", "int")),
    opt(text("dateOfBirth")),
)
ESTIMATED_LOCATION = seq(
    "estimatedLocation",
    opt(text("city")),
    opt(text("region")),
    opt(text("countryCode")),
    attributes=("verified", "timestamp"),
)


def _incident(name: str, *children: Child) -> Element:
    return seq(name, *children, opt(ADDITIONAL_INFO))


INTERNET_DETAILS = Element(
    "internetDetails",
    "choice",
    (
        req(
            _incident(
                "webPageIncident",
                many(text("url")),
                opt(kind("thirdPartyHostedContent", "bool")),
            )
        ),
        req(
            _incident(
                "emailIncident",
                many(text("emailAddress", "type", "verified", "verificationDate")),
                opt(text("content")),
            )
        ),
        req(
            _incident(
                "newsgroupIncident",
                opt(text("name")),
                many(text("emailAddress", "type", "verified", "verificationDate")),
                opt(text("content")),
            )
        ),
        req(
            _incident(
                "chatImIncident",
                opt(text("chatClient")),
                opt(text("chatRoomName")),
                opt(text("content")),
            )
        ),
        req(
            _incident(
                "onlineGamingIncident",
                opt(text("gameName")),
                opt(text("console")),
                opt(text("content")),
            )
        ),
        req(
            _incident(
                "cellPhoneIncident",
                opt(text("phoneNumber", "type", "verified", "countryCallingCode", "extension")),
                opt(kind("latitude", "float")),
                opt(kind("longitude", "float")),
            )
        ),
        req(
            _incident(
                "nonInternetIncident",
                opt(text("locationName")),
                many(kind("incidentAddress", "any", "type")),
            )
        ),
        req(
            _incident(
                "peer2peerIncident",
                opt(text("client")),
                many(IP_CAPTURE_EVENT),
                opt(text("fileNames")),
            )
        ),
    ),
)

PERSON_OR_USER_REPORTED = seq(
    "personOrUserReported",
    opt(seq("personOrUserReportedPerson", *PERSON_CHILDREN)),
    opt(text("vehicleDescription")),
    opt(text("espIdentifier")),
    opt(text("espService")),
    opt(kind("compromisedAccount", "bool")),
    opt(text("screenName")),
    many(text("displayName")),
    many(text("profileUrl")),
    opt(text("profileBio")),
    many(IP_CAPTURE_EVENT),
    many(DEVICE_ID),
    opt(kind("thirdPartyUserReported", "bool")),
    many(kind("priorCTReports", "int")),
    opt(text("groupIdentifier")),
    opt(
        kind(
            "accountTemporarilyDisabled",
            "bool",
            "disabledDate",
            "userNotified",
            "userNotifiedDate",
            "reenabledDate",
        )
    ),
    opt(
        kind(
            "accountPermanentlyDisabled", "bool", "disabledDate", "userNotified", "userNotifiedDate"
        )
    ),
    opt(ESTIMATED_LOCATION),
    opt(kind("allEmailsReported", "bool")),
    many(kind("associatedAccount", "any", "type")),
    opt(ADDITIONAL_INFO),
)

REPORT = seq(
    "report",
    opt(kind("batchedReport", "any", "reason")),
    req(
        seq(
            "incidentSummary",
            req(enum("incidentType", INCIDENT_TYPES)),
            opt(text("platform")),
            opt(text("escalateToHighPriority")),
            opt(seq("reportAnnotations", *(opt(kind(n, "flag")) for n in REPORT_ANNOTATIONS))),
            req(kind("incidentDateTime", "datetime")),
            opt(text("incidentDateTimeDescription")),
        )
    ),
    Child(INTERNET_DETAILS, 0, None),
    opt(kind("lawEnforcement", "any")),
    opt(kind("reporter", "any")),
    opt(PERSON_OR_USER_REPORTED),
    many(kind("intendedRecipient", "any")),
    many(kind("victim", "any")),
    opt(ADDITIONAL_INFO),
    doc="One incident report; only incidentType and incidentDateTime are required.",
)

FILE_DETAILS = seq(
    "fileDetails",
    req(kind("reportId", "int")),
    req(text("fileId")),
    opt(text("fileName")),
    opt(text("originalFileName")),
    opt(kind("uploadedToEspTimestamp", "datetime")),
    opt(text("locationOfFile")),
    opt(kind("fileViewedByEsp", "bool")),
    opt(kind("exifViewedByEsp", "bool")),
    opt(kind("publiclyAvailable", "bool")),
    opt(enum("fileRelevance", FILE_RELEVANCE)),
    opt(kind("potentialMeme", "bool")),
    opt(seq("fileAnnotations", *(opt(kind(n, "flag")) for n in FILE_ANNOTATIONS))),
    opt(enum("industryClassification", INDUSTRY_CLASSIFICATION)),
    many(text("originalFileHash", "hashType")),
    opt(IP_CAPTURE_EVENT),
    many(DEVICE_ID),
    many(kind("details", "any", "type")),
    many(ADDITIONAL_INFO),
    doc="What the provider knows about one uploaded file.",
)

ROOTS = {"report": REPORT, "fileDetails": FILE_DETAILS}


# --- XSD generation -------------------------------------------------------

_XS_TYPES = {
    "text": "xs:string",
    "bool": "xs:boolean",
    "int": "xs:long",
    "float": "xs:double",
    "datetime": "xs:dateTime",
}


@dataclass
class _Writer:
    lines: list[str] = field(default_factory=list)

    def add(self, depth: int, line: str) -> None:
        self.lines.append("  " * depth + line)


def _occurs(child: Child) -> str:
    low = "" if child.min_occurs == 1 else f' minOccurs="{child.min_occurs}"'
    high = (
        ' maxOccurs="unbounded"'
        if child.max_occurs is None
        else ("" if child.max_occurs == 1 else f' maxOccurs="{child.max_occurs}"')
    )
    return low + high


def _attributes(writer: _Writer, depth: int, element: Element) -> None:
    for attribute in element.attributes:
        writer.add(depth, f'<xs:attribute name="{attribute}" type="xs:string"/>')


def _element(writer: _Writer, depth: int, element: Element, occurs: str) -> None:
    name = f"<xs:element name={quoteattr(element.name)}{occurs}"
    if element.is_complex:
        writer.add(depth, name + ">")
        if element.doc:
            writer.add(depth + 1, "<xs:annotation><xs:documentation>")
            writer.add(depth + 2, element.doc)
            writer.add(depth + 1, "</xs:documentation></xs:annotation>")
        writer.add(depth + 1, "<xs:complexType>")
        group = "xs:sequence" if element.kind == "sequence" else "xs:choice"
        writer.add(depth + 2, f"<{group}>")
        for child in element.children:
            inner = "" if element.kind == "choice" else _occurs(child)
            _element(writer, depth + 3, child.element, inner)
        writer.add(depth + 2, f"</{group}>")
        _attributes(writer, depth + 2, element)
        writer.add(depth + 1, "</xs:complexType>")
        writer.add(depth, "</xs:element>")
        return
    if element.kind == "any":
        writer.add(depth, name + ">")
        writer.add(depth + 1, '<xs:complexType mixed="true">')
        writer.add(depth + 2, "<xs:sequence>")
        writer.add(
            depth + 3,
            '<xs:any processContents="lax" minOccurs="0" maxOccurs="unbounded"/>',
        )
        writer.add(depth + 2, "</xs:sequence>")
        writer.add(depth + 2, '<xs:anyAttribute processContents="lax"/>')
        writer.add(depth + 1, "</xs:complexType>")
        writer.add(depth, "</xs:element>")
        return
    if element.kind == "enum":
        writer.add(depth, name + ">")
        writer.add(depth + 1, '<xs:simpleType><xs:restriction base="xs:string">')
        for value in element.values:
            writer.add(depth + 2, f"<xs:enumeration value={quoteattr(value)}/>")
        writer.add(depth + 1, "</xs:restriction></xs:simpleType>")
        writer.add(depth, "</xs:element>")
        return
    base = "xs:string" if element.kind == "flag" else _XS_TYPES[element.kind]
    if not element.attributes:
        writer.add(depth, f'{name} type="{base}"/>')
        return
    writer.add(depth, name + ">")
    writer.add(depth + 1, "<xs:complexType><xs:simpleContent>")
    writer.add(depth + 2, f'<xs:extension base="{base}">')
    _attributes(writer, depth + 3, element)
    writer.add(depth + 2, "</xs:extension>")
    writer.add(depth + 1, "</xs:simpleContent></xs:complexType>")
    writer.add(depth, "</xs:element>")


def xsd_text() -> str:
    """The XSD of the report and fileDetails documents Veille accepts."""
    writer = _Writer()
    writer.add(0, '<?xml version="1.0" encoding="UTF-8"?>')
    writer.add(
        0, '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">'
    )
    writer.add(1, "<xs:annotation><xs:documentation>")
    writer.add(
        2,
        "Veille ESP reporting schema: the CyberTipline element names and order that Veille "
        "reads. Flags (annotations) are empty elements or true/false.",
    )
    writer.add(1, "</xs:documentation></xs:annotation>")
    for root in ROOTS.values():
        _element(writer, 1, root, "")
    writer.add(0, "</xs:schema>")
    return "\n".join(writer.lines) + "\n"
