"""Linking keys: usernames per platform, profile URLs, stop-list entries."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veille.linking.profiles import canonical_platform, linking_key, profile_from_url
from veille.linking.stoplist import BUILTIN_NETWORKS, StopList, StopListError, parse_stop_key
from veille.vocab import IdentifierKind

handles = st.from_regex(r"[a-z][a-z0-9_]{3,14}", fullmatch=True)


@given(
    handles,
    st.sampled_from(
        [
            "https://twitter.com/{}",
            "http://www.x.com/{}/",
            "x.com/{}",
            "https://mobile.twitter.com/{}",
        ]
    ),
)
def test_profile_urls_and_handles_share_one_key(handle: str, template: str) -> None:
    from_url = linking_key(IdentifierKind.URL, template.format(handle))
    from_handle = linking_key(IdentifierKind.USERNAME, handle, "Twitter")
    assert from_url == from_handle == f"username:x:{handle}"


@pytest.mark.parametrize(
    ("url", "platform", "handle"),
    [
        ("https://www.instagram.com/some.user/", "instagram", "some.user"),
        ("https://www.tiktok.com/@Dancer_01", "tiktok", "dancer_01"),
        ("https://t.me/channel_name", "telegram", "channel_name"),
        ("https://www.reddit.com/user/Thrower-9/", "reddit", "thrower-9"),
        ("https://www.roblox.com/users/123456/profile", "roblox", "123456"),
    ],
)
def test_known_profile_pages(url: str, platform: str, handle: str) -> None:
    profile = profile_from_url(url)
    assert profile is not None
    assert (profile.platform, profile.handle) == (platform, handle)


@pytest.mark.parametrize(
    "url",
    ["https://x.com/home", "https://www.instagram.com/p/abc123/", "https://example.com/alice"],
)
def test_pages_that_are_not_profiles_stay_urls(url: str) -> None:
    assert profile_from_url(url) is None
    assert linking_key(IdentifierKind.URL, url).startswith("url:")


def test_same_handle_on_two_platforms_is_two_keys_and_tracking_is_ignored() -> None:
    assert linking_key("username", "alice", "Roblox") != linking_key("username", "alice", "Discord")
    assert canonical_platform("WWW.Twitter.com") == "x"
    assert (
        linking_key("url", "https://example.com/page?utm_source=a&id=3")
        == "url:example.com/page?id=3"
    )
    assert linking_key("payment_handle", "$cash1", "cashapp") == "payment_handle:cashapp:$cash1"


@given(st.integers(min_value=0, max_value=2**22 - 1))
def test_every_cgnat_address_is_stopped(offset: int) -> None:
    stop = StopList(networks=[(ipaddress.ip_network(n), why) for n, why in BUILTIN_NETWORKS])
    address = ipaddress.ip_address("100.64.0.0") + offset
    assert stop.reason(f"ip:{address}") is not None


@given(st.integers(min_value=0, max_value=255))
def test_documentation_ranges_are_not_stopped(last: int) -> None:
    stop = StopList(networks=[(ipaddress.ip_network(n), why) for n, why in BUILTIN_NETWORKS])
    for prefix in ("192.0.2.", "198.51.100.", "203.0.113."):
        assert stop.reason(f"ip:{prefix}{last}") is None


def test_stop_entries_are_normalised_like_identifiers() -> None:
    assert parse_stop_key("ip:::ffff:203.0.113.9") == ("ip:203.0.113.9", False)
    assert parse_stop_key("ip:198.51.100.7/24") == ("ip:198.51.100.0/24", True)
    assert parse_stop_key("email:No.Reply+x@GMAIL.com") == ("email:noreply@gmail.com", False)
    assert parse_stop_key("username:Twitter:@Spam") == ("username:x:spam", False)
    assert parse_stop_key("content:42") == ("content:42", False)
    for bad in ("nothing", "ip:300.1.1.1", "email:not-an-email", "content:x", "colour:red"):
        with pytest.raises(StopListError):
            parse_stop_key(bad)


def test_an_address_and_its_plus_tags_are_one_mailbox_on_any_domain() -> None:
    assert linking_key("email", "ann+pics@example.org") == "email:ann@example.org"
    assert linking_key("email", "ann+a+b@example.org") == "email:ann@example.org"
    assert linking_key("email", "ann@example.org") == "email:ann@example.org"
    # Nothing before the tag: the address is kept as it is.
    assert linking_key("email", "+ann@example.org") == "email:+ann@example.org"
