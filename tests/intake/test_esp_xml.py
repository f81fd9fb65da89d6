"""Parsing and mapping of CyberTipline XML: golden documents, hostile input, properties."""

from __future__ import annotations

import contextlib
from pathlib import Path
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veille.intake.esp.mapping import (
    DETAIL_CATEGORY,
    FILE_ANNOTATION_FLAGS,
    REPORT_ANNOTATION_OFFENCES,
    map_file_details,
    map_report,
)
from veille.intake.esp.parse import EspXmlError, parse_document
from veille.intake.esp.spec import (
    FILE_ANNOTATIONS,
    INCIDENT_TYPES,
    INTERNET_DETAIL_KINDS,
    REPORT_ANNOTATIONS,
    xsd_text,
)
from veille.vocab import PlatformCategory

GOLDEN = Path(__file__).parent / "esp_golden"

DETAIL_EXAMPLES = {
    "webPageIncident": "<url>http://Example.COM/a</url><thirdPartyHostedContent>true</thirdPartyHostedContent>",
    "emailIncident": '<emailAddress type="Home">Someone@Example.org</emailAddress><content>hello</content>',
    "newsgroupIncident": "<name>alt.test</name><emailAddress>poster@example.net</emailAddress>",
    "chatImIncident": "<chatClient>ExampleIM</chatClient><chatRoomName>r1</chatRoomName>",
    "onlineGamingIncident": "<gameName>Example Quest</gameName><console>PC</console>",
    "cellPhoneIncident": '<phoneNumber countryCallingCode="61">491570156</phoneNumber><latitude>-33.8</latitude>',
    "nonInternetIncident": "<locationName>Park</locationName>",
    "peer2peerIncident": "<client>ExampleShare</client><ipCaptureEvent><ipAddress>203.0.113.9</ipAddress></ipCaptureEvent>",
}
DETAIL_IDENTIFIER = {
    "webPageIncident": ("url", "http://example.com/a"),
    "emailIncident": ("email", "someone@example.org"),
    "newsgroupIncident": ("email", "poster@example.net"),
    "chatImIncident": None,
    "onlineGamingIncident": None,
    "cellPhoneIncident": ("phone", "+61491570156"),
    "nonInternetIncident": None,
    "peer2peerIncident": ("ip", "203.0.113.9"),
}


def report_xml(
    details: str = "", annotations: str = "", incident: str = INCIDENT_TYPES[0], extra: str = ""
) -> bytes:
    return (
        "<report><incidentSummary>"
        f"<incidentType>{incident}</incidentType>"
        f"{f'<reportAnnotations>{annotations}</reportAnnotations>' if annotations else ''}"
        "<incidentDateTime>2024-01-02T03:04:05+01:00</incidentDateTime>"
        f"</incidentSummary>{details}{extra}</report>"
    ).encode()


def test_golden_full_report_maps_every_part() -> None:
    mapped = map_report(parse_document((GOLDEN / "full_report.xml").read_bytes(), "report"))
    fields = mapped.fields
    assert fields["platform_category"] is PlatformCategory.WEBSITE
    assert fields["platform"] == "ExampleChat"
    assert fields["incident_at"].isoformat() == "2024-03-01T10:15:00+00:00"
    assert [o.value for o in fields["offence_types"]] == [
        "csam_distribution",
        "csam_possession",
        "grooming",
        "sextortion",
    ]
    assert [f.value for f in fields["flags"]] == ["escalated", "self_harm_threat"]
    kinds = {(i["kind"].value, i["value"], i["platform"]) for i in fields["identifiers"]}
    assert ("username", "shadow_fox", "examplechat") in kinds
    assert ("phone", "+447700900123", "") in kinds
    assert ("phone", "+33639981234", "") in kinds
    assert ("ip", "198.51.100.23", "") in kinds
    assert ("device_id", "490154203237518", "") in kinds
    # The reporting person's own address is not an identifier of the case.
    assert not any(value == "safety@example.com" for _, value, _ in kinds)
    assert mapped.provided_country == "FR"
    assert mapped.ips == ["203.0.113.77", "198.51.100.23"]
    assert "Escalated to high priority" in fields["summary"]


@pytest.mark.parametrize("kind", INTERNET_DETAIL_KINDS)
def test_each_internet_details_kind(kind: str) -> None:
    body = report_xml(
        f"<internetDetails><{kind}>{DETAIL_EXAMPLES[kind]}</{kind}></internetDetails>"
    )
    mapped = map_report(parse_document(body, "report"))
    assert mapped.fields["platform_category"] is DETAIL_CATEGORY[kind]
    expected = DETAIL_IDENTIFIER[kind]
    found = [(i["kind"].value, i["value"]) for i in mapped.fields["identifiers"]]
    assert found == ([expected] if expected else [])


@pytest.mark.parametrize("annotation", REPORT_ANNOTATIONS)
def test_each_report_annotation(annotation: str) -> None:
    mapped = map_report(parse_document(report_xml(annotations=f"<{annotation}/>"), "report"))
    offences = {o.value for o in mapped.fields["offence_types"]}
    expected = {o.value for o in REPORT_ANNOTATION_OFFENCES.get(annotation, ())}
    assert expected <= offences
    assert annotation in mapped.fields["summary"]


@pytest.mark.parametrize("annotation", FILE_ANNOTATIONS)
def test_each_file_annotation(annotation: str) -> None:
    body = (
        f"<fileDetails><reportId>7</reportId><fileId>f1</fileId>"
        f"<fileAnnotations><{annotation}>true</{annotation}></fileAnnotations></fileDetails>"
    ).encode()
    mapped = map_file_details(parse_document(body, "fileDetails"))
    assert mapped.annotations == [annotation]
    assert mapped.flags == sorted({f.value for f in FILE_ANNOTATION_FLAGS.get(annotation, ())})


def test_golden_file_details() -> None:
    text = (
        (GOLDEN / "file_details_all_annotations.xml")
        .read_text()
        .replace("{report_id}", "12")
        .replace("{file_id}", "abc")
    )
    mapped = map_file_details(parse_document(text.encode(), "fileDetails"))
    assert (mapped.report_id, mapped.file_id, mapped.file_name) == (12, "abc", "IMG_0042.jpg")
    assert mapped.annotations == sorted(FILE_ANNOTATIONS)
    assert mapped.industry_classification == "A1"
    assert mapped.original_hashes[0] == {"type": "MD5", "value": "0cc175b9c0f1b6a831c399e269772661"}
    assert {"kind": "ip", "value": "192.0.2.15", "platform": ""} in mapped.identifiers


HOSTILE = {
    "external entity": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><report>&x;</report>',
    "billion laughs": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><report>&b;</report>',
    "doctype": b'<!DOCTYPE report SYSTEM "http://example.com/x.dtd"><report/>',
    "invalid utf-8": b'<?xml version="1.0" encoding="UTF-8"?><report>\xc3\x28</report>',
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_xml_is_refused_before_expansion(name: str) -> None:
    with pytest.raises(EspXmlError) as caught:
        parse_document(HOSTILE[name], "report")
    assert caught.value.path == "report"
    assert "passwd" not in str(caught.value)


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        (
            b"<report><incidentSummary><incidentDateTime>2024-01-01T00:00:00Z</incidentDateTime>"
            b"<incidentType>Child Sex Tourism</incidentType></incidentSummary></report>",
            "report/incidentSummary/incidentType",
            "out of order",
        ),
        (report_xml(extra="<colour>red</colour>"), "report/colour", "unknown element"),
        (
            report_xml(incident="Something Else"),
            "report/incidentSummary/incidentType",
            "is not one of",
        ),
        (b"<report/>", "report/incidentSummary", "required element is missing"),
        (
            b"<fileDetails><reportId>x</reportId><fileId>a</fileId></fileDetails>",
            "fileDetails/reportId",
            "integer",
        ),
        (
            report_xml("<internetDetails><webPageIncident/><emailIncident/></internetDetails>"),
            "report/internetDetails[1]",
            "exactly one",
        ),
        (
            report_xml(
                "<internetDetails><cellPhoneIncident><latitude>north</latitude></cellPhoneIncident></internetDetails>"
            ),
            "report/internetDetails[1]/cellPhoneIncident/latitude",
            "not a number",
        ),
        (b"<reportx/>", "reportx", "expected a <report>"),
    ],
)
def test_validation_errors_name_the_element(body: bytes, path: str, words: str) -> None:
    with pytest.raises(EspXmlError) as caught:
        parse_document(body, "fileDetails" if body.startswith(b"<fileDetails") else "report")
    assert caught.value.path == path
    assert words in caught.value.reason


def test_identifier_that_cannot_be_normalised_names_its_element() -> None:
    body = report_xml(
        extra="<personOrUserReported><ipCaptureEvent><ipAddress>999.1.1.1</ipAddress></ipCaptureEvent></personOrUserReported>"
    )
    with pytest.raises(EspXmlError) as caught:
        map_report(parse_document(body, "report"))
    assert caught.value.path == "report/personOrUserReported/ipCaptureEvent[1]/ipAddress"


def test_xsd_is_well_formed_and_declares_every_element() -> None:
    schema = ElementTree.fromstring(xsd_text())
    names = {node.get("name") for node in schema.iter("{http://www.w3.org/2001/XMLSchema}element")}
    assert {
        "report",
        "fileDetails",
        *INTERNET_DETAIL_KINDS,
        *REPORT_ANNOTATIONS,
        *FILE_ANNOTATIONS,
    } <= names
    values = {
        node.get("value") for node in schema.iter("{http://www.w3.org/2001/XMLSchema}enumeration")
    }
    assert set(INCIDENT_TYPES) <= values


safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="<>&"),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(INTERNET_DETAIL_KINDS), max_size=4),
    annotations=st.sets(st.sampled_from(REPORT_ANNOTATIONS)),
    incident=st.sampled_from(INCIDENT_TYPES),
    note=safe_text,
)
def test_mapping_properties(
    kinds: list[str], annotations: set[str], incident: str, note: str
) -> None:
    details = "".join(
        f"<internetDetails><{k}>{DETAIL_EXAMPLES[k]}</{k}></internetDetails>" for k in kinds
    )
    marks = "".join(f"<{a}/>" for a in REPORT_ANNOTATIONS if a in annotations)
    extra = f"<additionalInfo>{note}</additionalInfo>"
    mapped = map_report(parse_document(report_xml(details, marks, incident, extra), "report"))
    fields = mapped.fields
    expected_category = DETAIL_CATEGORY[kinds[0]] if kinds else PlatformCategory.OTHER
    assert fields["platform_category"] is expected_category
    assert fields["offence_types"] and fields["offence_types"] == sorted(
        set(fields["offence_types"])
    )
    if "sextortion" in annotations:
        assert "sextortion" in {o.value for o in fields["offence_types"]}
    if note.strip():
        assert note.strip() in fields["summary"]


@settings(max_examples=80, deadline=None)
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_other_errors(body: bytes) -> None:
    with contextlib.suppress(EspXmlError):
        parse_document(body, "report")


@settings(max_examples=60, deadline=None)
@given(
    flags=st.sets(st.sampled_from(FILE_ANNOTATIONS)),
    values=st.sampled_from(["", "true", "1"]),
)
def test_file_annotation_properties(flags: set[str], values: str) -> None:
    marks = "".join(f"<{name}>{values}</{name}>" for name in FILE_ANNOTATIONS if name in flags)
    body = f"<fileDetails><reportId>1</reportId><fileId>x</fileId><fileAnnotations>{marks}</fileAnnotations></fileDetails>"
    mapped = map_file_details(parse_document(body.encode(), "fileDetails"))
    assert mapped.annotations == sorted(flags)
    expected = {f.value for name in flags for f in FILE_ANNOTATION_FLAGS.get(name, ())}
    assert set(mapped.flags) == expected
