"""Random and hostile bodies on every ESP endpoint: answers are 2xx/4xx, never 5xx."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web.conftest import Tenants
from tests.web.esp_client import MINIMAL_REPORT

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
