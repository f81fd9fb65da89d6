"""X-Forwarded-For is believed only from the proxies named in VEILLE_TRUSTED_PROXIES."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import Tenants
from tests.web.test_form import FORM, token
from veille.intake.settings import IntakeSettings
from veille.web.peers import client_address, proxy_networks

PROXIES = proxy_networks(["10.0.0.1", "192.168.0.0/16"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # not a proxy: header ignored
        ("10.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.1", ["198.51.100.7, 198.51.100.1"], "198.51.100.1"),  # the rightmost hop
        ("10.0.0.1", ["198.51.100.1, 192.168.4.4"], "198.51.100.1"),  # through two proxies
        ("10.0.0.1", ["198.51.100.7", "198.51.100.1"], "198.51.100.1"),  # repeated header
        ("10.0.0.1", ["not-an-address"], "10.0.0.1"),
        ("10.0.0.1", [""], "10.0.0.1"),
        ("10.0.0.1", [], "10.0.0.1"),
    ],
)
def test_client_address(peer: str, forwarded: list[str], client: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == client


def _post_as(http: httpx.Client, address: str) -> int:
    page = http.get("/report")
    sent = http.post(
        "/report",
        data={**FORM, "csrf_token": token(page.text)},
        headers={"X-Forwarded-For": address},
    )
    return sent.status_code


def test_a_client_cannot_escape_the_form_rate_limit_by_naming_other_addresses(
    live_server: str, tenants: Tenants, intake_settings: IntakeSettings
) -> None:
    with httpx.Client(base_url=live_server) as http:
        statuses = [_post_as(http, f"198.51.100.{n}") for n in range(1, 7)]
    limit = intake_settings.form_rate_limit
    assert statuses == [200] * limit + [429] * (6 - limit)


class TestBehindAProxy:
    @pytest.fixture
    def intake_settings(self, intake_settings: IntakeSettings) -> IntakeSettings:
        return intake_settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]})

    def test_clients_behind_a_trusted_proxy_are_counted_apart(
        self, live_server: str, tenants: Tenants, intake_settings: IntakeSettings
    ) -> None:
        with httpx.Client(base_url=live_server) as http:
            others = [_post_as(http, f"198.51.100.{n}") for n in range(1, 7)]
            one = [_post_as(http, "198.51.100.99") for _ in range(6)]
        limit = intake_settings.form_rate_limit
        assert others == [200] * 6
        assert one == [200] * limit + [429] * (6 - limit)
