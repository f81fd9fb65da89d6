"""The records around reports: take-down notices, database usage and school
incidents, each with its planted effect (questionnaires and travel have their
own modules).

Each writer takes the world and a random generator of its own, writes JSON
Lines and returns the truth that ``truth.json`` records about it.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import IO, Any

import numpy as np

from veille.synth.config import ScenarioConfig
from veille.synth.people import Offender
from veille.synth.reports import ReportSpec, dumps, poisson, time_in_week
from veille.synth.world import AgencyRecord, World
from veille.vocab import PlatformCategory


class TakedownWriter:
    """Notices sent to providers for reported URLs; removal slows during restrictions."""

    def __init__(
        self,
        config: ScenarioConfig,
        world: World,
        rng: random.Random,
        out: IO[str],
        id_tag: str = "",
    ) -> None:
        self.id_tag = id_tag
        self.settings = config.takedowns
        self.world = world
        self.rng = rng
        self.out = out
        self.count = 0
        self.hours: dict[str, list[float]] = {"before": [], "during": [], "after": []}

    def consider(
        self, record: dict[str, Any], spec: ReportSpec, _offender: Offender | None
    ) -> None:
        """Send a notice for a report's URL, sometimes."""
        platform = spec.platform
        urls = [i["value"] for i in record["identifiers"] if i["kind"] == "url"]
        if not urls or spec.stream.category not in (
            PlatformCategory.WEBSITE,
            PlatformCategory.SOCIAL_MEDIA,
        ):
            return
        if self.rng.random() >= self.settings.share:
            return
        provider = next(
            (p.provider for p in self.world.platforms if p.name == record["platform"]), None
        )
        if provider is None:
            return
        del platform
        rng = self.rng
        received = datetime.fromisoformat(record["received_at"])
        sent = received + timedelta(seconds=int(rng.expovariate(1 / 6.0) * 3600))
        provider_country = self.world.provider_country[provider]
        period = self.world.restrictions[self.world.country_index[provider_country]]
        week = (sent - self.world.first_monday).days // 7
        phase = (
            "before"
            if week < period.start_week
            else "during"
            if week < period.end_week
            else "after"
        )
        median = self.settings.median_hours * (self.settings.during if phase == "during" else 1.0)
        hours = rng.lognormvariate(math.log(median), self.settings.spread)
        removed: datetime | None = sent + timedelta(seconds=int(hours * 3600))
        if rng.random() < self.settings.never_removed or (
            removed is not None and removed > self.world.end
        ):
            removed = None
        else:
            self.hours[phase].append(hours)
        self.count += 1
        self.out.write(
            dumps(
                {
                    "notice_id": f"TD-{self.id_tag}{self.count:07d}",
                    "report_external_id": record["external_id"],
                    "sender_agency": record["owner_agency"],
                    "provider_agency": provider,
                    "url": urls[0],
                    "host": urls[0].split("://", 1)[1].split("/", 1)[0],
                    "sent_at": sent.isoformat(),
                    "acknowledged_at": (
                        sent + timedelta(seconds=int(rng.expovariate(1 / 3.0) * 3600))
                    ).isoformat(),
                    "removed_at": removed.isoformat() if removed else None,
                }
            )
            + "\n"
        )

    def truth(self) -> dict[str, Any]:
        """Median removal hours before, during and after the provider's restrictions."""
        return takedown_truth(self.count, self.hours, self.settings.during)


def takedown_truth(count: int, hours: dict[str, list[float]], during: float) -> dict[str, Any]:
    """The take-down part of ``truth.json`` from the removal times of every notice."""
    return {
        "notices": count,
        "planted_factor_during": during,
        "median_hours": {
            phase: round(float(np.median(v)), 1) if v else None for phase, v in hours.items()
        },
    }


USAGE_MARGIN = 0.1
"""How far from the 50 % line a planted behaviour must show (see :func:`write_usage`)."""

_UsageEvent = tuple[datetime, str, int, str]


def _usage_week(
    world: World, week: int, agency: AgencyRecord, rate: float, rng: random.Random
) -> list[_UsageEvent]:
    """One agency's log-ins of one week, each with its queries and perhaps an upload."""
    events: list[_UsageEvent] = []
    for _ in range(poisson(rng, rate)):
        at = time_in_week(world, week, rng)
        user = f"analyst{rng.randint(1, 5)}.{agency.country.lower()}"
        events.append((at, "login", 1, user))
        for _ in range(poisson(rng, 2.5)):
            events.append((at + timedelta(seconds=rng.randrange(60, 5400)), "query", 1, user))
        if rng.random() < 0.4:
            items = rng.randint(1, 199)
            events.append((at + timedelta(seconds=rng.randrange(300, 7200)), "upload", items, user))
    return sorted(events)


def _shows(behaviour: str, before: float, during: float) -> bool:
    """Whether weekly event rates ``before`` and ``during`` show ``behaviour`` beyond doubt."""
    if behaviour == "stopped":
        return during == 0
    if behaviour == "reduced":
        return 0 < during <= (0.5 - USAGE_MARGIN) * before
    return during >= (0.5 + USAGE_MARGIN) * before


def _agency_usage(
    world: World,
    agency: AgencyRecord,
    rate: float,
    factor: float,
    behaviour: str,
    rng: random.Random,
) -> list[list[_UsageEvent]]:
    """One agency's events week by week, its restriction weeks redrawn until they show its behaviour.

    Weekly counts are noisy: an agency that kept on could, by chance, look as
    if it had halved its use. The truth's figure is a count that the data
    must show exactly, so the restriction weeks are drawn again (at most 200
    times) until the drop is at least 10 points clear of the 50 % line.
    """
    period = world.restrictions[world.country_index[agency.country]]
    weeks = [_usage_week(world, w, agency, rate, rng) for w in range(world.weeks)]
    base = [w for w in range(world.weeks) if w < period.start_week]
    during = [w for w in range(world.weeks) if period.start_week <= w < period.end_week]
    if not base or not during:
        return weeks
    before = sum(len(weeks[w]) for w in base) / len(base)
    for _ in range(200):
        for w in during:
            weeks[w] = _usage_week(world, w, agency, rate * factor, rng)
        if _shows(behaviour, before, sum(len(weeks[w]) for w in during) / len(during)):
            break
    return weeks


def write_usage(
    config: ScenarioConfig, world: World, rng: random.Random, events_per_week: float, out: IO[str]
) -> dict[str, Any]:
    """Database usage events (log-ins, queries, uploads) of the regular user agencies."""
    settings = config.usage
    users = [a for a in world.agencies if a.regular_database_user]
    # Exactly the planted share of agencies changes behaviour, so the figure is reproducible.
    affected = round(len(users) * settings.stop_or_reduce_share)
    stopped = round(affected * settings.stop_share)
    order = list(range(len(users)))
    rng.shuffle(order)
    behaviour = {}
    for rank, position in enumerate(order):
        name = users[position].name
        behaviour[name] = (
            "stopped" if rank < stopped else "reduced" if rank < affected else "continued"
        )
    rates = {a.name: events_per_week * rng.lognormvariate(0.0, 0.4) for a in users}
    factors = {"stopped": 0.0, "reduced": settings.reduce_factor, "continued": 0.9}
    drawn = [
        _agency_usage(world, a, rates[a.name], factors[behaviour[a.name]], behaviour[a.name], rng)
        for a in users
    ]
    count = 0
    for week in range(world.weeks):
        for agency, weeks in zip(users, drawn, strict=True):
            for at, action, items, user in weeks[week]:
                count += 1
                out.write(
                    dumps(
                        {
                            "event_id": f"EV-{count:08d}",
                            "agency": agency.name,
                            "user": user,
                            "action": action,
                            "items": items,
                            "at": at.isoformat(),
                        }
                    )
                    + "\n"
                )
    stopped_or_reduced = sum(1 for b in behaviour.values() if b != "continued")
    return {
        "events": count,
        "regular_user_agencies": len(users),
        "stopped_or_reduced": stopped_or_reduced,
        "share_stopped_or_reduced": round(stopped_or_reduced / max(len(users), 1), 3),
        "behaviour": dict(sorted(behaviour.items())),
    }


SCHOOL_KINDS = ("grooming_contact", "image_sharing", "sextortion_attempt", "inappropriate_contact")


def school_incidents_for_week(
    config: ScenarioConfig, world: World, rng: random.Random, week: int, country: int
) -> int:
    """How many ordinary school incidents a country records in a week (none while schools are closed)."""
    period = world.restrictions[country]
    if period.start_week <= week < period.schools_reopen_week:
        return 0
    rate = config.schools.incidents_per_week * world.countries[country].population_m ** 0.5
    return poisson(rng, rate)


def school_record(
    incident_id: str,
    country: str,
    school: str,
    kind: str,
    platform: str | None,
    occurred: datetime,
    report: str | None,
) -> str:
    """One line of ``school-incidents.jsonl``."""
    return (
        dumps(
            {
                "incident_id": incident_id,
                "country": country,
                "school": school,
                "kind": kind,
                "platform": platform,
                "occurred_at": occurred.isoformat(),
                "reported_at": (occurred + timedelta(hours=20)).isoformat(),
                "report_external_id": report,
            }
        )
        + "\n"
    )
