"""Random and hostile bodies on every ESP endpoint: answers are 2xx/4xx, never 5xx; and the
fuzz target of the report parser (mutated reports: a result or a documented code)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web.conftest import Tenants
from tests.web.esp_client import GOLDEN, MINIMAL_REPORT
from veille.intake.esp.codes import ResponseCode
from veille.intake.esp.errors import EspError
from veille.intake.esp.lifecycle import opened_values as _opened_values
from veille.intake.settings import IntakeSettings

ENDPOINTS = ("/ispws/submit", "/ispws/fileinfo", "/ispws/finish", "/ispws/retract", "/ispws/upload")
CONTENT_TYPES = (
    "text/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data",
    "application/octet-stream",
)


def test_random_bodies_never_get_a_server_error(client: TestClient, tenants: Tenants) -> None:
    @given(
        endpoint=st.sampled_from(ENDPOINTS),
        content_type=st.sampled_from(CONTENT_TYPES),
        body=st.one_of(
            st.binary(max_size=400),
            st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
            st.builds(lambda n: f"id={n}".encode(), st.integers(-(2**70), 2**70)),
            st.just(MINIMAL_REPORT.replace("2024", "99999").encode()),
            st.just(
                b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc\r\n--xyz--\r\n'
            ),
        ),
    )
    @settings(
        max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def check(endpoint: str, content_type: str, body: bytes) -> None:
        response = client.post(
            endpoint, content=body, headers={**tenants.esp_auth, "Content-Type": content_type}
        )
        assert response.status_code < 500, (endpoint, body, response.text)
        assert "<responseCode>" in response.text

    check()


SEEDS = (MINIMAL_REPORT, (GOLDEN / "full_report.xml").read_text(encoding="utf-8"))
_FRAGMENTS = (
    "²",
    "١",
    "9223372036854775808",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "<",
    "&amp;",
    "&#0;",
    "]]>",
    "<profileUrl>https://social.example.com/x</profileUrl>",
    '<?xml version="1.0" encoding="no-such"?>',
    "\udcff",
)


@st.composite
def _mutated_reports(draw: st.DrawFn) -> bytes:
    """A report document with a few bytes replaced, cut, or spliced with hostile fragments."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        end = draw(st.integers(at, min(len(text), at + 20)))
        piece = draw(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=12)))
        text = text[:at] + piece + text[end:]
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1"]))
    return text.encode(encoding, "surrogatepass" if encoding != "latin-1" else "replace")


def test_the_report_parser_answers_a_result_or_a_documented_code() -> None:
    """The fuzz target of the ESP XML parser: parsing, mapping and the stored form's checks."""
    settings_ = IntakeSettings()

    @given(body=_mutated_reports())
    @settings(max_examples=300, deadline=None, database=None)
    def check(body: bytes) -> None:
        try:
            _opened_values(1, body, settings_)
        except EspError as error:
            assert error.code in set(ResponseCode), error.code
            assert error.code != ResponseCode.SERVER_ERROR
            assert error.description

    check()
