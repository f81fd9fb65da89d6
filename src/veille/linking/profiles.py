"""Platform-specific identity rules: one account, one linking key.

Import keeps a username exactly as normalised (lower case, no ``@``), but
whether two handles are the same account depends on the platform: some ignore
dots or underscores, some have several names (``twitter.com`` and ``x.com``),
and a profile URL names the same account as its handle. This module turns an
identifier into the *linking key* used to decide that two reports share an
account, without changing the stored identifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from veille.vocab import IdentifierKind

# Names a platform goes by (host names and labels seen in reports) → one name.
PLATFORM_ALIASES: dict[str, str] = {
    "twitter": "x",
    "twitter.com": "x",
    "x.com": "x",
    "x": "x",
    "instagram": "instagram",
    "instagram.com": "instagram",
    "instagr.am": "instagram",
    "facebook": "facebook",
    "facebook.com": "facebook",
    "fb.com": "facebook",
    "tiktok": "tiktok",
    "tiktok.com": "tiktok",
    "telegram": "telegram",
    "t.me": "telegram",
    "telegram.me": "telegram",
    "reddit": "reddit",
    "reddit.com": "reddit",
    "snapchat": "snapchat",
    "snapchat.com": "snapchat",
    "youtube": "youtube",
    "youtube.com": "youtube",
    "discord": "discord",
    "discord.com": "discord",
    "twitch": "twitch",
    "twitch.tv": "twitch",
    "roblox": "roblox",
    "roblox.com": "roblox",
    "kik": "kik",
    "kik.me": "kik",
}

# Path patterns of profile pages per platform; the named group is the handle.
_PROFILE_PATHS: dict[str, re.Pattern[str]] = {
    "x": re.compile(r"^/(?P<handle>[A-Za-z0-9_]{1,15})/?$"),
    "instagram": re.compile(r"^/(?P<handle>[A-Za-z0-9_.]{1,30})/?$"),
    "facebook": re.compile(r"^/(?P<handle>[A-Za-z0-9.]{5,50})/?$"),
    "tiktok": re.compile(r"^/@(?P<handle>[A-Za-z0-9_.]{2,24})/?$"),
    "telegram": re.compile(r"^/(?P<handle>[A-Za-z0-9_]{5,32})/?$"),
    "reddit": re.compile(r"^/(?:u|user)/(?P<handle>[A-Za-z0-9_-]{3,20})/?$"),
    "snapchat": re.compile(r"^/add/(?P<handle>[A-Za-z0-9._-]{3,15})/?$"),
    "youtube": re.compile(r"^/@(?P<handle>[A-Za-z0-9_.-]{3,30})/?$"),
    "twitch": re.compile(r"^/(?P<handle>[A-Za-z0-9_]{4,25})/?$"),
    "roblox": re.compile(r"^/users/(?P<handle>[0-9]{1,20})/profile/?$"),
    "kik": re.compile(r"^/(?P<handle>[A-Za-z0-9_.]{2,20})/?$"),
}

# Paths that look like a handle but are site pages.
_RESERVED_PATHS = {"home", "explore", "login", "search", "settings", "share", "watch", "p", "i"}


def canonical_platform(platform: str) -> str:
    """The one name of a platform (``Twitter.com`` → ``x``); unknown names are lower-cased."""
    text = platform.strip().lower()
    if text.startswith("www."):
        text = text[4:]
    return PLATFORM_ALIASES.get(text, text)


def canonical_handle(platform: str, handle: str) -> str:
    """A handle as its platform compares it.

    Instagram and Telegram handles are case-insensitive (already lower-cased at
    import); Snapchat ignores nothing; Reddit and X ignore case only. Roblox
    profile URLs carry a numeric id that stands for the account.
    """
    text = handle.strip().lstrip("@").lower()
    if canonical_platform(platform) == "telegram":
        # t.me/+invite links are not accounts; "joinchat" neither.
        text = text.removeprefix("s/")
    return text


@dataclass(frozen=True)
class ProfileRef:
    """An account named by a profile URL."""

    platform: str
    handle: str


def profile_from_url(url: str) -> ProfileRef | None:
    """The account a profile URL points to, or ``None`` if it is not a known profile page."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    host = (parts.hostname or "").lower()
    for prefix in ("www.", "m.", "mobile."):
        host = host.removeprefix(prefix)
    platform = PLATFORM_ALIASES.get(host)
    if platform is None:
        return None
    pattern = _PROFILE_PATHS.get(platform)
    match = pattern.match(parts.path) if pattern else None
    if match is None:
        return None
    handle = match.group("handle")
    if handle.lower() in _RESERVED_PATHS:
        return None
    return ProfileRef(platform, canonical_handle(platform, handle))


def mailbox(address: str) -> str:
    """The mailbox an address delivers to: without its ``+tag`` (``ann+pics@example.org`` → ``ann@example.org``).

    Import removes tags only for the providers known to deliver them; nearly
    every mail system does (RFC 5233 sub-addressing), and an address whose
    local part really holds a ``+`` is rare, so for linking a tag never
    makes another account.
    """
    local, at, domain = address.rpartition("@")
    if not at or "+" not in local:
        return address
    base = local.split("+", 1)[0]
    return f"{base}@{domain}" if base else address


def linking_key(kind: IdentifierKind | str, value: str, platform: str = "") -> str:
    """The key under which two reports are considered to share this identifier.

    Usernames are keyed per platform (``alice`` on one platform is not
    ``alice`` on another); a profile URL of a known platform is keyed as that
    platform's username, so ``https://www.instagram.com/alice/`` and the
    Instagram username ``alice`` link.
    """
    kind = IdentifierKind(kind)
    if kind is IdentifierKind.USERNAME:
        canonical = canonical_platform(platform) if platform else ""
        return f"username:{canonical}:{canonical_handle(canonical, value)}"
    if kind is IdentifierKind.URL:
        profile = profile_from_url(value)
        if profile is not None:
            return f"username:{profile.platform}:{profile.handle}"
        parts = urlsplit(value)
        host = (parts.hostname or "").removeprefix("www.")
        path = parts.path.rstrip("/")
        query = "&".join(
            item for item in parts.query.split("&") if item and not item.startswith("utm_")
        )
        return f"url:{host}{path}" + (f"?{query}" if query else "")
    if kind is IdentifierKind.EMAIL:
        return f"email:{mailbox(value)}"
    scope = f"{platform}:" if platform and kind is IdentifierKind.PAYMENT_HANDLE else ""
    return f"{kind.value}:{scope}{value}"
