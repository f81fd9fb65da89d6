"""Synthetic offenders: their accounts and identifiers, where they act, what they do.

An offender is a recurring reported person. Reports about them carry some of
their identifiers (as people write them: see ``noise``), so that linking can
find them; the truth keeps which reports are whose, and whether their
reports are connected by identifiers at all (an offender whose reports share
nothing cannot be linked by anyone).

Offline suspects are named: an offender of the contact and travelling pools
has a person (name, date of birth, nationality) and a home address; innocent
persons are drawn from the same per-country name pools, so homonyms happen.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import numpy as np

from veille.synth.identifiers import IdentifierFactory
from veille.synth.noise import username_variant
from veille.synth.world import World
from veille.vocab import PlatformCategory

ONLINE = (
    PlatformCategory.SOCIAL_MEDIA,
    PlatformCategory.MESSAGING,
    PlatformCategory.ONLINE_GAMING,
    PlatformCategory.WEBSITE,
    PlatformCategory.VIDEO_CONFERENCE,
    PlatformCategory.PAID_CONTENT,
)


def pool_of(category: PlatformCategory, offences: list[str]) -> str:
    """The offender pool a stream draws from: its category, or contact/travelling offline."""
    if category != PlatformCategory.OFFLINE:
        return category.value
    return "travelling" if "travelling_offender" in offences else "contact"


@dataclass
class Offender:
    """One recurring offender and what the truth needs to know about them."""

    offender_id: str
    pool: str
    countries: list[str]
    accounts: dict[str, str]
    emails: list[str]
    phone: str | None
    ips: list[str]
    p2p_client_id: str | None
    payment_handle: str | None
    hands_on: bool
    ongoing_access: bool
    activity: float
    live_abuse: bool = False
    subscriber: int = 0
    dynamic_ip: bool = False
    device_id: str | None = None
    person: dict[str, str] | None = None
    home: tuple[str, str] | None = None
    handle_roots: dict[str, str] = field(default_factory=dict)
    own_media: list[Any] = field(default_factory=list)
    report_count: int = 0
    _parent: dict[str, str] = field(default_factory=dict)
    _isolated: int = 0

    def note_identifiers(self, keys: list[str]) -> None:
        """Record that one report carried ``keys`` (for the linkability truth)."""
        self.report_count += 1
        if not keys:
            self._isolated += 1
            return
        roots = {self._find(key) for key in keys}
        first = min(roots)
        for root in roots:
            self._parent[root] = first

    def _find(self, key: str) -> str:
        parent = self._parent.setdefault(key, key)
        while parent != key:
            grand = self._parent[parent]
            self._parent[key] = grand
            key, parent = parent, self._parent.setdefault(grand, grand)
        return key

    def stats(self) -> tuple[int, int, list[list[str]]]:
        """Reports, reports without identifiers, and the identifier groups seen (for merging)."""
        groups: dict[str, list[str]] = {}
        for key in list(self._parent):
            groups.setdefault(self._find(key), []).append(key)
        return self.report_count, self._isolated, [sorted(g) for _, g in sorted(groups.items())]

    def merge_stats(self, reports: int, isolated: int, groups: list[list[str]]) -> None:
        """Add what another part of the generation saw of this offender."""
        self.report_count += reports
        self._isolated += isolated
        for keys in groups:
            roots = {self._find(key) for key in keys}
            first = min(roots)
            for root in roots:
                self._parent[root] = first

    def components(self) -> int:
        """Groups of this offender's reports that identifiers connect (1 = fully linkable)."""
        return len({self._find(key) for key in list(self._parent)}) + self._isolated

    def truth(self) -> dict[str, object]:
        """The offender as written to ``truth.json``."""
        line: dict[str, object] = {
            "id": self.offender_id,
            "pool": self.pool,
            "countries": self.countries,
            "platforms": sorted(self.accounts),
            "hands_on": self.hands_on,
            "ongoing_access": self.ongoing_access,
            "live_abuse": self.live_abuse,
            "dynamic_ip": self.dynamic_ip,
            "reports": self.report_count,
            "identifier_components": self.components(),
            "identifiers": {
                "accounts": dict(sorted(self.accounts.items())),
                "emails": self.emails,
                "phone": self.phone,
                "ips": self.ips,
                "p2p_client_id": self.p2p_client_id,
                "payment_handle": self.payment_handle,
                "device_id": self.device_id,
            },
        }
        if self.person is not None:
            line["person"] = self.person
        if self.home is not None:
            line["home"] = {"street": self.home[0], "town": self.home[1]}
        return line


class OffenderPools:
    """Offenders by (country, pool), each drawn in proportion to their activity."""

    def __init__(
        self,
        world: World,
        factory: IdentifierFactory,
        rng: np.random.Generator,
        expected_reports: dict[tuple[str, str], float],
        reports_per_offender: float,
        multi_country_share: float,
        multi_platform_share: float,
        hands_on_share: float,
        ongoing_access_share: float,
        make_person: Callable[[str], dict[str, str]] | None,
        noise: OffenderNoise | None = None,
    ) -> None:
        self.world = world
        self.noise = noise or OffenderNoise()
        self.household_devices: dict[str, list[str]] = {}
        self.factory = factory
        self.rng = rng
        self.offenders: list[Offender] = []
        members: dict[tuple[str, str], list[int]] = {}
        country_codes = [c.code for c in world.countries]
        country_p = np.array([c.weight for c in world.countries])
        for (country, pool), expected in sorted(expected_reports.items()):
            count = int(np.ceil(expected / reports_per_offender))
            for _ in range(count):
                countries = [country]
                if rng.random() < multi_country_share:
                    extra = rng.choice(country_codes, int(rng.integers(1, 3)), p=country_p)
                    countries += sorted({str(e) for e in extra} - {country})
                categories = [pool]
                if pool in {c.value for c in ONLINE} and rng.random() < multi_platform_share:
                    others = [c.value for c in ONLINE[:3] if c.value != pool]
                    categories += [
                        str(c) for c in rng.choice(others, int(rng.integers(1, 3)), replace=False)
                    ]
                offender = self._make(
                    pool, countries, categories, hands_on_share, ongoing_access_share
                )
                if pool in ("contact", "travelling") and make_person is not None:
                    offender.person = make_person(countries[0])
                    if self.noise.names is not None:
                        offender.home = self.noise.names.home(countries[0], self.noise.rng)
                if offender.device_id is not None:
                    self.household_devices.setdefault(countries[0], []).append(offender.device_id)
                index = len(self.offenders)
                self.offenders.append(offender)
                for member_country in countries:
                    for category in categories:
                        members.setdefault((member_country, category), []).append(index)
        self.pools: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
        for key, indexes in members.items():
            activity = np.array([self.offenders[i].activity for i in indexes])
            self.pools[key] = (indexes, (np.cumsum(activity) / activity.sum()).tolist())

    def _make(
        self,
        pool: str,
        countries: list[str],
        categories: list[str],
        hands_on_share: float,
        ongoing_access_share: float,
    ) -> Offender:
        rng, factory, noise = self.rng, self.factory, self.noise
        accounts: dict[str, str] = {}
        roots: dict[str, str] = {}
        handle: str | None = None
        for category in categories:
            if category in ("contact", "travelling", "p2p"):
                continue
            platforms = self.world.platforms_of(PlatformCategory(category))
            platform = platforms[int(rng.integers(len(platforms)))]
            if handle is not None and noise.rng.random() < noise.username_variant:
                # People reuse their handle, slightly changed, on the next platform.
                accounts[platform.name] = username_variant(handle, noise.rng)
                roots[platform.name] = handle
            else:
                accounts[platform.name] = factory.username()
                roots[platform.name] = accounts[platform.name]
                handle = handle or accounts[platform.name]
        hands_on = pool == "contact" or (
            pool in ("social_media", "messaging", "paid_content", "travelling")
            and rng.random() < hands_on_share * (4 if pool == "travelling" else 1)
        )
        ongoing = hands_on and pool != "travelling" and rng.random() < ongoing_access_share
        live = (
            hands_on
            and not ongoing
            and pool not in ("contact", "travelling")
            and noise.rng.random() < noise.live_abuse_share
        )
        home = countries[0]
        phone = factory.phone(home) if rng.random() < 0.5 else None
        emails = [factory.email() for _ in range(int(rng.integers(1, 3)))]
        return Offender(
            offender_id=f"O{len(self.offenders) + 1:07d}",
            pool=pool,
            countries=countries,
            accounts=accounts,
            emails=emails if pool not in ("p2p", "darknet_forum") else [],
            phone=phone if pool not in ("p2p", "darknet_forum") else None,
            ips=[factory.ipv6() for _ in range(int(rng.integers(1, 4)))],
            p2p_client_id=factory.p2p_client_id() if pool == "p2p" else None,
            payment_handle=factory.payment_handle() if pool == "paid_content" else None,
            hands_on=hands_on,
            ongoing_access=ongoing,
            activity=float(rng.lognormal(0.0, 1.0)),
            live_abuse=live,
            subscriber=noise.rng.getrandbits(48),
            dynamic_ip=noise.rng.random() < noise.dynamic_share,
            device_id=factory.device_id()
            if noise.rng.random() < noise.household_device_share
            else None,
            handle_roots=roots,
        )

    def draw(self, country: str, pool: str, rng: random.Random) -> Offender | None:
        """An offender active in ``country`` and ``pool``, or ``None`` if there is none."""
        entry = self.pools.get((country, pool))
        if entry is None:
            return None
        indexes, cumulative = entry
        position = min(bisect.bisect_left(cumulative, rng.random()), len(indexes) - 1)
        return self.offenders[indexes[position]]


@dataclass
class OffenderNoise:
    """What the noisy world adds to an offender (drawn from its own random stream)."""

    rng: random.Random = field(default_factory=lambda: random.Random(0))
    username_variant: float = 0.0
    live_abuse_share: float = 0.0
    dynamic_share: float = 0.0
    household_device_share: float = 0.0
    names: NamePools | None = None


class NamePools:
    """Per-country given names, family names, streets and towns, drawn once from Faker.

    Report parts draw persons from these lists with their own random stream
    (Faker itself stays out of the parts, so that they cannot disturb each
    other), and lists this short make homonyms as common as they are.
    """

    def __init__(self, world: World, seed: int) -> None:
        self.given: dict[str, list[str]] = {}
        self.family: dict[str, list[str]] = {}
        self.streets: dict[str, list[str]] = {}
        self.towns: dict[str, list[str]] = {}
        for number, country in enumerate(world.countries):
            faker = _faker(country.locale)
            faker.seed_instance(seed * 1009 + number)
            self.given[country.code] = sorted({faker.first_name_male() for _ in range(60)})
            self.family[country.code] = sorted({faker.last_name() for _ in range(120)})
            self.streets[country.code] = sorted({faker.street_name() for _ in range(30)})
            self.towns[country.code] = sorted({faker.city() for _ in range(12)})

    def person(self, country: str, rng: random.Random) -> dict[str, str]:
        """A person of ``country``: name, date of birth, nationality."""
        given, family = self.given[country], self.family[country]
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 50))
        return {
            "given_name": given[rng.randrange(len(given))],
            "family_name": family[rng.randrange(len(family))],
            "date_of_birth": born.isoformat(),
            "nationality": country,
        }

    def home(self, country: str, rng: random.Random) -> tuple[str, str]:
        """A street and a town of ``country``."""
        streets, towns = self.streets[country], self.towns[country]
        return streets[rng.randrange(len(streets))], towns[rng.randrange(len(towns))]


@lru_cache(maxsize=64)
def _faker(locale: str) -> Any:
    # Building a Faker scans its providers (tens of ms): build each locale once per
    # process; every scenario re-seeds the instances it uses, so output stays reproducible.
    from faker import Faker

    return Faker(locale)


def make_person_factory(rng: np.random.Generator, world: World) -> Callable[[str], dict[str, str]]:
    """A function that gives a synthetic person (name, date of birth, nationality) for a country."""
    fakers: dict[str, Any] = {}

    def make(country: str) -> dict[str, str]:
        locale = world.countries[world.country_index[country]].locale
        if locale not in fakers:
            faker = _faker(locale)
            faker.seed_instance(int(rng.integers(1 << 31)))
            fakers[locale] = faker
        faker = fakers[locale]
        born = date(1950, 1, 1) + timedelta(days=int(rng.integers(0, 365 * 50)))
        return {
            "given_name": faker.first_name_male(),
            "family_name": faker.last_name(),
            "date_of_birth": born.isoformat(),
            "nationality": country,
        }

    return make
