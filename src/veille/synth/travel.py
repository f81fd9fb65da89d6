"""The watch-list of known offenders and travel notices: true matches among decoys.

Watch-listed offenders travel less while borders are closed and resume
afterwards; some notices spell their name differently, and decoy travellers
share a family name or a whole name with them, so that matching must look at
more than the name.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any

from veille.synth.config import ScenarioConfig
from veille.synth.people import Offender
from veille.synth.reports import dumps, poisson, time_in_week
from veille.synth.world import World


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _vary(given: str, family: str, rng: random.Random) -> tuple[str, str, str]:
    kind = rng.randrange(4)
    if kind == 0:
        return _ascii(given).upper(), _ascii(family).upper(), "upper_ascii"
    if kind == 1:
        return family, given, "swapped"
    if kind == 2 and len(family) > 3:
        position = rng.randrange(1, len(family) - 1)
        return given, family[:position] + family[position + 1 :], "typo"
    return given[:1] + ".", family, "initial"


def write_travel(
    config: ScenarioConfig,
    world: World,
    rng: random.Random,
    offenders: list[Offender],
    make_person: Callable[[str], dict[str, str]],
    watch_out: IO[str],
    notices_out: IO[str],
) -> dict[str, Any]:
    """The watch-list of known offenders and travel notices, true matches among decoys."""
    settings = config.travel
    watched = [
        o
        for o in offenders
        if o.person is not None and (o.pool == "travelling" or rng.random() < 0.2)
    ]
    for number, offender in enumerate(watched, start=1):
        assert offender.person is not None
        watch_out.write(
            dumps(
                {
                    "watch_id": f"WL-{number:06d}",
                    **offender.person,
                    "legal_basis": "court order following conviction (synthetic)",
                    "issuing_country": offender.countries[0],
                    "valid_until": "2025-12-31",
                }
            )
            + "\n"
        )
    destinations = ["PH", "TH", "ID", "KE", "GT", "CR", "CO", "MX", "IN", "MA"]
    matches: list[dict[str, object]] = []
    count = 0
    weekly = settings.trips_per_year / 52.18
    for week in range(world.weeks):
        for number, offender in enumerate(watched, start=1):
            home = offender.countries[0]
            period = world.restrictions[world.country_index[home]]
            factor = 1.0
            if period.start_week <= week < period.travel_reopen_week:
                factor = settings.during
            elif (
                period.travel_reopen_week <= week < period.travel_reopen_week + settings.after_weeks
            ):
                factor = settings.after
            if rng.random() >= weekly * factor:
                continue
            assert offender.person is not None
            person = offender.person
            given, family, variation = person["given_name"], person["family_name"], "exact"
            if rng.random() < settings.name_variation:
                given, family, variation = _vary(given, family, rng)
            departure = time_in_week(world, week, rng)
            destination = rng.choice([d for d in destinations if d != home])
            count += 1
            notice_id = f"TN-{count:08d}"
            notices_out.write(
                _notice(
                    notice_id, given, family, person["date_of_birth"], home, destination, departure
                )
            )
            matches.append(
                {"notice": notice_id, "watch_id": f"WL-{number:06d}", "variation": variation}
            )
            for _ in range(poisson(rng, settings.decoys_per_trip)):
                decoy = make_person(home)
                if rng.random() < 0.2:
                    decoy["family_name"] = person["family_name"]  # same family name, another person
                if rng.random() < 0.1:
                    decoy["given_name"], decoy["family_name"] = (
                        person["given_name"],
                        person["family_name"],
                    )
                count += 1
                notices_out.write(
                    _notice(
                        f"TN-{count:08d}",
                        decoy["given_name"],
                        decoy["family_name"],
                        decoy["date_of_birth"],
                        home,
                        destination,
                        time_in_week(world, week, rng),
                    )
                )
    return {
        "watch_list": len(watched),
        "watched_offenders": {
            f"WL-{number:06d}": offender.offender_id
            for number, offender in enumerate(watched, start=1)
        },
        "notices": count,
        "true_matches": matches,
    }


def _notice(
    notice_id: str,
    given: str,
    family: str,
    born: str,
    home: str,
    destination: str,
    departure: datetime,
) -> str:
    return (
        dumps(
            {
                "notice_id": notice_id,
                "given_name": given,
                "family_name": family,
                "date_of_birth": born,
                "nationality": home,
                "departure_country": home,
                "destination_country": destination,
                "departure_at": departure.isoformat(),
            }
        )
        + "\n"
    )
