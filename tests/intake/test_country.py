"""Country derivation: provided estimate, then IP, then phone, then stated."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from veille.intake.country import CountryClues, derive_country, ip_country
from veille.vocab import CountryReason


def test_documentation_and_private_addresses_do_not_geolocate() -> None:
    for address in (
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.200",
        "10.0.0.1",
        "2001:db8::1",
        "not an ip",
    ):
        assert ip_country(address) is None


def test_order_of_clues() -> None:
    assert derive_country(
        CountryClues.of(provided="DE", ips=["192.0.2.1"], phones=["+447700900123"], stated="FR")
    ) == (
        "DE",
        CountryReason.PROVIDED,
    )
    # The documentation IP falls through to the phone number.
    assert derive_country(
        CountryClues.of(ips=["192.0.2.1"], phones=["+447700900123"], stated="FR")
    ) == (
        "GB",
        CountryReason.PHONE,
    )
    assert derive_country(CountryClues.of(stated="FR")) == ("FR", CountryReason.STATED)
    assert derive_country(CountryClues()) == (None, CountryReason.UNKNOWN)


def test_a_public_address_that_geolocates_wins_over_the_phone() -> None:
    # A public address whose country the bundled database knows (checked at run time:
    # the test only needs *some* country, not a particular one).
    address = "81.2.69.160"
    country = ip_country(address)
    if country is None:
        return
    assert derive_country(CountryClues.of(ips=[address], phones=["+33639981234"])) == (
        country,
        CountryReason.IP,
    )


@given(st.ip_addresses())
def test_any_address_gives_a_country_code_or_nothing(address: object) -> None:
    country = ip_country(str(address))
    assert country is None or (len(country) == 2 and country.isupper())
