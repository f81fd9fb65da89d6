"""Providers that receive take-down notices: who serves a URL, how to reach them, their token.

A URL finds its provider through the host names each provider serves
(``takedown_provider_domain``): the longest registered suffix of the URL's
host wins, so ``cdn.chirpline.example`` belongs to whoever serves
``chirpline.example`` unless ``cdn.chirpline.example`` is registered itself.
Each provider may hold one confirmation token for the API; only its SHA-256
is stored, and the token is shown once when made.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from veille.casework.errors import CaseworkError, NotFound
from veille.casework.models import TakedownProvider, TakedownProviderDomain
from veille.store.models import Agency

TOKEN_PREFIX = "vt_"


@dataclass(frozen=True)
class ParsedUrl:
    """A notice's URL with the host it names."""

    url: str
    host: str


NOTICE_URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://"
    r"[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9-]{1,46}){0,4}\.?"
    r"(?::[0-9]{1,5})?(?:[/?#][^\x00]*)?$"
)
"""What a notice's URL may be: http(s), a host name in ASCII (IDNs in their
``xn--`` form) of at most 253 characters, an optional port, then anything.
The API's schema publishes the same pattern."""
_NOTICE_URL = re.compile(NOTICE_URL_PATTERN)


def parse_notice_url(url: str, field: str = "url") -> ParsedUrl:
    """The URL checked (:data:`NOTICE_URL_PATTERN`) and its host in lower case."""
    if not url or len(url) > 2000:
        raise CaseworkError(field, "expected an http(s) URL of 1 to 2,000 characters")
    if not _NOTICE_URL.fullmatch(url):
        scheme = url.partition("://")[0] if "://" in url else ""
        if scheme.lower() not in ("http", "https"):
            raise CaseworkError(field, f"expected an http or https URL, not {scheme or 'none'!r}")
        raise CaseworkError(
            field, "expected a host name of letters, digits, '-' and '.' (IDNs as xn--)"
        )
    host = urlsplit(url).hostname or ""
    return ParsedUrl(url, host.rstrip(".").lower())


def normalise_domain(domain: str, field: str = "domain") -> str:
    """A host name as stored: lower case, no trailing dot."""
    value = domain.strip().rstrip(".").lower()
    if not value or len(value) > 253 or any(c in value for c in "/:@ "):
        raise CaseworkError(field, f"{domain!r} is not a host name")
    return value


def host_suffixes(host: str) -> list[str]:
    """``a.b.example`` → ``a.b.example``, ``b.example``, ``example`` (longest first)."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def provider_for_host(session: Session, host: str) -> TakedownProvider | None:
    """The provider serving ``host`` (its longest registered suffix), or ``None``."""
    suffixes = host_suffixes(host)
    rows = session.execute(
        select(TakedownProviderDomain.domain, TakedownProviderDomain.provider_id).where(
            TakedownProviderDomain.domain.in_(suffixes)
        )
    ).all()
    if not rows:
        return None
    best = max(rows, key=lambda row: len(row.domain))
    return session.get(TakedownProvider, best.provider_id)


def find_provider(session: Session, name_or_id: str | int) -> TakedownProvider:
    """A provider by name or id."""
    text = str(name_or_id).strip()
    found = session.scalar(select(TakedownProvider).where(TakedownProvider.name == text))
    if found is None and text.isdigit() and len(text) < 10:
        found = session.get(TakedownProvider, int(text))
    if found is None:
        raise NotFound(f"no take-down provider {text!r}")
    return found


def ensure_provider(session: Session, name: str) -> TakedownProvider:
    """The provider called ``name``, made when new (linked to the agency of that name, if any)."""
    clean = name.strip()
    if not clean or len(clean) > 200:
        raise CaseworkError("provider", "expected a name of 1 to 200 characters")
    found = session.scalar(select(TakedownProvider).where(TakedownProvider.name == clean))
    if found is not None:
        return found
    agency_id = session.scalar(select(Agency.id).where(Agency.name == clean))
    provider = TakedownProvider(name=clean, agency_id=agency_id)
    session.add(provider)
    session.flush()
    return provider


def add_domain(session: Session, provider: TakedownProvider, domain: str) -> bool:
    """Register ``domain`` as served by ``provider``; False when it already was (by anyone)."""
    value = normalise_domain(domain)
    existing = session.get(TakedownProviderDomain, value)
    if existing is not None:
        if existing.provider_id != provider.id:
            raise CaseworkError("domain", f"{value} is already served by another provider")
        return False
    session.add(TakedownProviderDomain(domain=value, provider_id=provider.id))
    session.flush()
    return True


def configure_provider(
    session: Session,
    name: str,
    *,
    domains: list[str] | None = None,
    contact_email: str | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
) -> TakedownProvider:
    """Create or update a provider: the domains it serves and how notices reach it."""
    provider = ensure_provider(session, name)
    if contact_email is not None:
        if "@" not in contact_email or len(contact_email) > 320:
            raise CaseworkError("contact_email", f"{contact_email!r} is not an e-mail address")
        provider.contact_email = contact_email.strip()
    if webhook_url is not None:
        parsed = parse_notice_url(webhook_url, "webhook_url")
        if webhook_secret is None and provider.webhook_secret is None:
            raise CaseworkError("webhook_secret", "a webhook needs a secret to sign its bodies")
        provider.webhook_url = parsed.url
    if webhook_secret is not None:
        if len(webhook_secret) < 16 or len(webhook_secret) > 200:
            raise CaseworkError("webhook_secret", "expected 16 to 200 characters")
        provider.webhook_secret = webhook_secret
    for domain in domains or []:
        add_domain(session, provider, domain)
    session.flush()
    return provider


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_provider_token(session: Session, provider: TakedownProvider) -> str:
    """A new confirmation token for ``provider`` (the previous one stops working); shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    provider.token_hash = _token_digest(token)
    session.flush()
    return token


def provider_by_token(session: Session, token: str) -> TakedownProvider | None:
    """The provider holding ``token``, or ``None``."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return session.scalar(
        select(TakedownProvider).where(TakedownProvider.token_hash == _token_digest(token))
    )


def provider_domains(session: Session, provider_id: int) -> list[str]:
    """The host names a provider serves, sorted."""
    return list(
        session.scalars(
            select(TakedownProviderDomain.domain)
            .where(TakedownProviderDomain.provider_id == provider_id)
            .order_by(TakedownProviderDomain.domain)
        )
    )
