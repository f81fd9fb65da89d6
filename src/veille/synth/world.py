"""The fixed stage of the scenario: countries, platforms, agencies, weeks, restrictions.

Everything here is fictional or public reference data (country codes, rounded
populations). Platform and provider names are invented so that no real
company appears in synthetic abuse reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from veille.synth.config import ScenarioConfig
from veille.vocab import AgencyKind, PlatformCategory

# code, INTERPOL region, population (millions, rounded, 2020), Faker locale, national hotline
_COUNTRIES: tuple[tuple[str, str, float, str, bool], ...] = (
    ("FR", "Europe", 67.0, "fr_FR", True),
    ("DE", "Europe", 83.0, "de_DE", True),
    ("GB", "Europe", 67.0, "en_GB", True),
    ("ES", "Europe", 47.0, "es_ES", True),
    ("IT", "Europe", 60.0, "it_IT", True),
    ("NL", "Europe", 17.4, "nl_NL", True),
    ("BE", "Europe", 11.5, "fr_BE", True),
    ("SE", "Europe", 10.3, "sv_SE", True),
    ("PL", "Europe", 38.0, "pl_PL", True),
    ("PT", "Europe", 10.3, "pt_PT", True),
    ("IE", "Europe", 5.0, "en_IE", True),
    ("CH", "Europe", 8.6, "de_CH", True),
    ("AT", "Europe", 8.9, "de_AT", True),
    ("NO", "Europe", 5.4, "no_NO", True),
    ("RO", "Europe", 19.0, "ro_RO", True),
    ("US", "Americas", 331.0, "en_US", True),
    ("CA", "Americas", 38.0, "en_CA", True),
    ("MX", "Americas", 128.0, "es_MX", True),
    ("BR", "Americas", 212.0, "pt_BR", True),
    ("AR", "Americas", 45.0, "es_AR", True),
    ("CO", "Americas", 50.0, "es_CO", True),
    ("CL", "Americas", 19.0, "es_CL", False),
    ("GT", "Americas", 17.0, "es_MX", False),
    ("CR", "Americas", 5.1, "es_MX", False),
    ("AU", "Asia-Pacific", 25.7, "en_AU", True),
    ("NZ", "Asia-Pacific", 5.1, "en_NZ", True),
    ("JP", "Asia-Pacific", 126.0, "en_US", True),
    ("KR", "Asia-Pacific", 51.8, "en_US", True),
    ("PH", "Asia-Pacific", 109.0, "en_PH", True),
    ("TH", "Asia-Pacific", 70.0, "en_TH", True),
    ("IN", "Asia-Pacific", 1380.0, "en_IN", True),
    ("ID", "Asia-Pacific", 273.0, "id_ID", True),
    ("SG", "Asia-Pacific", 5.7, "en_US", False),
    ("ZA", "Africa", 59.0, "en_US", True),
    ("NG", "Africa", 206.0, "en_NG", False),
    ("KE", "Africa", 53.0, "en_KE", True),
    ("GH", "Africa", 31.0, "en_US", False),
    ("MA", "Middle East and North Africa", 37.0, "fr_FR", False),
    ("AE", "Middle East and North Africa", 9.9, "en_US", False),
    ("JO", "Middle East and North Africa", 10.2, "en_US", False),
)


@dataclass(frozen=True)
class Country:
    """One country of the scenario."""

    code: str
    region: str
    population_m: float
    locale: str
    has_hotline: bool
    weight: float


@dataclass(frozen=True)
class Platform:
    """A fictional online service; ``provider`` is the agency that reports for it (if any)."""

    name: str
    category: PlatformCategory
    provider: str | None
    domain: str


# name, category, provider (an ESP agency), provider country
_PLATFORMS: tuple[tuple[str, PlatformCategory, str | None, str], ...] = (
    ("chirpline", PlatformCategory.SOCIAL_MEDIA, "Chirpline Inc. (trust and safety)", "US"),
    ("friendloop", PlatformCategory.SOCIAL_MEDIA, "Friendloop Ltd (safety team)", "IE"),
    ("picturely", PlatformCategory.SOCIAL_MEDIA, "Picturely SAS (moderation)", "FR"),
    ("parley", PlatformCategory.MESSAGING, "Parley Messenger (safety)", "US"),
    ("whisprr", PlatformCategory.MESSAGING, "Whisprr GmbH (abuse desk)", "DE"),
    ("blocktown", PlatformCategory.ONLINE_GAMING, "Blocktown Games AB (safety)", "SE"),
    ("questhaven", PlatformCategory.ONLINE_GAMING, "Questhaven KK (community safety)", "JP"),
    ("meetspace", PlatformCategory.VIDEO_CONFERENCE, "MeetSpace Inc. (trust)", "US"),
    ("classroom-live", PlatformCategory.VIDEO_CONFERENCE, "Classroom Live Ltd (safety)", "GB"),
    ("fanvault", PlatformCategory.PAID_CONTENT, "Fanvault Ltd (compliance)", "GB"),
    ("hostabyte", PlatformCategory.WEBSITE, "Hostabyte BV (abuse desk)", "NL"),
    ("clouddrop", PlatformCategory.WEBSITE, "CloudDrop Inc. (abuse desk)", "US"),
    ("bittorrent", PlatformCategory.P2P, None, ""),
    ("gnutella", PlatformCategory.P2P, None, ""),
    ("edonkey", PlatformCategory.P2P, None, ""),
    ("forum-nightjar", PlatformCategory.DARKNET_FORUM, None, ""),
    ("forum-larkspur", PlatformCategory.DARKNET_FORUM, None, ""),
    ("forum-umbra", PlatformCategory.DARKNET_FORUM, None, ""),
)

INTELLIGENCE_UNIT = "International CSE Intelligence Unit"
P2P_MONITOR = "P2P Monitoring Coalition (NGO)"


def police_name(country: str) -> str:
    """The name of a country's police child-exploitation unit."""
    return f"{country} Police Child Exploitation Unit"


def hotline_name(country: str) -> str:
    """The name of a country's national hotline."""
    return f"{country} National Hotline"


@dataclass(frozen=True)
class AgencyRecord:
    """One agency of the scenario, as written to ``agencies.jsonl``."""

    name: str
    kind: AgencyKind
    country: str
    contact: str
    regular_database_user: bool

    def to_json(self) -> dict[str, str]:
        """The line of ``veille agencies import``."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "country": self.country,
            "contact": self.contact,
        }


@dataclass(frozen=True)
class RestrictionPeriod:
    """One country's restrictions, as week indexes (start inclusive, end exclusive)."""

    start_week: int
    end_week: int
    schools_reopen_week: int
    travel_reopen_week: int


class World:
    """Countries, platforms, agencies, the week grid and each country's restrictions."""

    def __init__(
        self, config: ScenarioConfig, start: date, end: date, rng: np.random.Generator
    ) -> None:
        self.config = config
        monday = start - timedelta(days=start.weekday())
        self.first_monday = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
        self.start = datetime(start.year, start.month, start.day, tzinfo=UTC)
        self.end = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
        self.weeks = max(1, -(-(self.end - self.first_monday).days // 7))
        self._bounds: dict[int, tuple[datetime, float]] = {}
        self._restricted: np.ndarray | None = None
        raw = np.array([entry[2] for entry in _COUNTRIES]) ** config.countries.size_exponent
        weights = raw / raw.sum()
        self.countries = [
            Country(code, region, population, locale, hotline, float(weight))
            for (code, region, population, locale, hotline), weight in zip(
                _COUNTRIES, weights, strict=True
            )
        ]
        self.country_index = {country.code: i for i, country in enumerate(self.countries)}
        self.platforms = [
            Platform(name, category, provider, f"{name}.example")
            for name, category, provider, _ in _PLATFORMS
        ]
        self.provider_country = {provider: cc for _, _, provider, cc in _PLATFORMS if provider}
        self.restrictions = self._restrictions(rng)
        self.agencies = self._agencies()

    def week_start(self, week: int) -> datetime:
        """Monday 00:00 UTC of week ``week``."""
        return self.first_monday + timedelta(weeks=int(week))

    def week_bounds(self, week: int) -> tuple[datetime, float]:
        """Start of the part of week ``week`` inside the period, and its length in seconds."""
        cached = self._bounds.get(week)
        if cached is None:
            low = max(self.week_start(week), self.start)
            high = min(self.week_start(week + 1), self.end)
            cached = (low, max((high - low).total_seconds(), 1.0))
            self._bounds[week] = cached
        return cached

    def week_of(self, moment: date) -> int:
        """The week index that holds ``moment``."""
        day = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
        return (day - self.first_monday).days // 7

    def platforms_of(self, category: PlatformCategory) -> list[Platform]:
        """The platforms of a category (offline and other have none)."""
        return [p for p in self.platforms if p.category == category]

    def _restrictions(self, rng: np.random.Generator) -> list[RestrictionPeriod]:
        settings = self.config.restrictions
        jitter = settings.jitter_weeks
        periods = []
        for _ in self.countries:
            start = self.week_of(settings.start) + int(rng.integers(-jitter, jitter + 1))
            end = self.week_of(settings.end) + 1 + int(rng.integers(-jitter, jitter + 1))
            end = max(end, start + 3)
            periods.append(
                RestrictionPeriod(
                    start,
                    end,
                    end + settings.schools_reopen_weeks,
                    end + settings.travel_ban_extra_weeks,
                )
            )
        return periods

    def in_restrictions(self) -> np.ndarray:
        """Boolean matrix countries × weeks: restrictions in force (read-only)."""
        if self._restricted is None:
            matrix = np.zeros((len(self.countries), self.weeks), dtype=bool)
            for i, period in enumerate(self.restrictions):
                matrix[i, max(0, period.start_week) : max(0, period.end_week)] = True
            matrix.flags.writeable = False
            self._restricted = matrix
        return self._restricted

    def _agencies(self) -> list[AgencyRecord]:
        agencies = [
            AgencyRecord(
                INTELLIGENCE_UNIT,
                AgencyKind.INTELLIGENCE,
                "FR",
                "intelligence-unit@example.org",
                True,
            ),
            AgencyRecord(P2P_MONITOR, AgencyKind.NGO, "US", "p2p-monitor@example.org", False),
        ]
        for country in self.countries:
            lower = country.code.lower()
            agencies.append(
                AgencyRecord(
                    police_name(country.code),
                    AgencyKind.POLICE,
                    country.code,
                    f"cse-unit.{lower}@example.org",
                    True,
                )
            )
            if country.has_hotline:
                agencies.append(
                    AgencyRecord(
                        hotline_name(country.code),
                        AgencyKind.HOTLINE,
                        country.code,
                        f"hotline.{lower}@example.org",
                        False,
                    )
                )
        for platform in self.platforms:
            if platform.provider is not None:
                agencies.append(
                    AgencyRecord(
                        platform.provider,
                        AgencyKind.ESP,
                        self.provider_country[platform.provider],
                        f"safety@{platform.domain}",
                        False,
                    )
                )
        return agencies

    def owner_for(self, country: str, channel: str, platform: Platform | None) -> str:
        """The agency that owns a report arriving through ``channel``."""
        if channel in ("esp_api", "in_app") and platform is not None and platform.provider:
            return platform.provider
        has_hotline = self.countries[self.country_index[country]].has_hotline
        if channel in ("hotline_form", "sms", "telephone") and has_hotline:
            return hotline_name(country)
        if channel == "bulk_import":
            return P2P_MONITOR
        return police_name(country)
