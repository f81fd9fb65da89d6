"""Generate a whole scenario folder from one seed: ``generate_scenario``.

Reports are generated week by week and written as they are made (bounded
memory); every component draws from its own random stream derived from the
seed, so the same seed, size, period and settings give byte-identical files.
"""

from __future__ import annotations

import json
import random
import time
import zlib
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
import yaml

from veille.synth import casework, hashlists, parts, questionnaire, travel
from veille.synth.config import SIZES, ScenarioConfig, ScenarioConfigError, load_config
from veille.synth.events import Events
from veille.synth.identifiers import IdentifierFactory
from veille.synth.media import ContentBase, Wave
from veille.synth.noise import AddressPlan
from veille.synth.people import (
    NamePools,
    OffenderNoise,
    OffenderPools,
    make_person_factory,
    pool_of,
)
from veille.synth.reports import ReportSpec, ReportWriter, dumps, time_in_week
from veille.synth.truth import stream_effect, truth_document, write_case_truth
from veille.synth.volume import (
    DelayedReports,
    negative_binomial,
    stream_rates,
)
from veille.synth.world import World
from veille.vocab import PlatformCategory

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class SynthOptions:
    """What to generate: seed, size (or a report target), period, images, settings."""

    out: Path
    seed: int = 1
    size: str = "small"
    reports: int | None = None
    start: date = date(2019, 1, 1)
    end: date = date(2021, 6, 30)
    images: int = 500
    config_path: Path | None = None

    def target_reports(self) -> int:
        """The number of reports aimed at."""
        if self.reports is not None:
            return self.reports
        if self.size not in SIZES:
            raise ValueError(f"size: {self.size!r} is not one of {', '.join(SIZES)}")
        return SIZES[self.size]


@dataclass
class SynthResult:
    """What was generated, where, and how long it took."""

    out: Path
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def random_stream(seed: int, name: str) -> np.random.Generator:
    """The random generator of one component, independent of every other component."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))


def python_random(seed: int, name: str) -> random.Random:
    """A fast scalar random source for one component (Mersenne Twister, seeded from the seed)."""
    state = np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(4)
    return random.Random(int.from_bytes(state.tobytes(), "little"))


def _word_pool(seed: int) -> list[str]:
    from faker import Faker

    faker = Faker("en_US")
    faker.seed_instance(seed)
    words = {faker.first_name().lower() for _ in range(300)} | {
        faker.word().lower() for _ in range(300)
    }
    return sorted(w for w in words if w.isascii() and w.isalpha())


class _Scenario:
    """One generation run: the world, its people and content, and the open output files."""

    def __init__(self, options: SynthOptions, config: ScenarioConfig) -> None:
        if options.end <= options.start:
            raise ValueError("--to must be after --from")
        self.options = options
        self.config = config
        seed = options.seed
        self.target = options.target_reports()
        self.world = World(config, options.start, options.end, random_stream(seed, "world"))
        self.rates = stream_rates(self.world, config, self.target * (1.0 - config.viral.share))
        value_key = int(random_stream(seed, "identifier-key").integers(1 << 62))
        self.factory = IdentifierFactory(
            python_random(seed, "identifiers"), _word_pool(seed), value_key
        )
        try:
            self.addresses = AddressPlan(
                seed, config.addresses, [c.code for c in self.world.countries], self.factory
            )
        except ValueError as error:
            raise ScenarioConfigError(str(error)) from None
        self.names = NamePools(self.world, seed)
        self.make_person = make_person_factory(random_stream(seed, "persons"), self.world)
        expected: dict[tuple[str, str], float] = {}
        for rates in self.rates:
            stream = rates.stream
            pool = pool_of(stream.category, [o.value for o in stream.offences])
            per_country = rates.expected.sum(axis=1) * stream.offender_share
            for country, value in zip(self.world.countries, per_country, strict=True):
                key = (country.code, pool)
                expected[key] = expected.get(key, 0.0) + float(value)
        settings = config.offenders
        self.offenders = OffenderPools(
            self.world,
            self.factory,
            random_stream(seed, "offenders"),
            expected,
            settings.reports_per_offender,
            settings.multi_country_share,
            settings.multi_platform_share,
            settings.hands_on_share,
            settings.ongoing_access_share,
            self.make_person,
            OffenderNoise(
                python_random(seed, "offender-noise"),
                config.identifiers.username_variant,
                settings.live_abuse_share,
                config.addresses.dynamic_share,
                config.addresses.household_device_share,
                self.names,
            ),
        )
        known = int(np.clip(self.target // 10, 500, 500_000))
        self.content = ContentBase(
            seed,
            config.media,
            random_stream(seed, "content"),
            known,
            options.out / "media",
            options.images,
        )

    def run(self, on_progress: ProgressCallback | None) -> SynthResult:
        started = time.perf_counter()
        out = self.options.out
        (out / "truth").mkdir(parents=True, exist_ok=True)
        # Images are named by their hash: drop those of an earlier run so that the
        # folder holds exactly this scenario's files (nothing else is touched).
        for stale in sorted((out / "media").glob("img-*.jpg")):
            stale.unlink()
        self.content.render_images()
        result = SynthResult(out)
        plan = self._partition()
        pieces = parts.run_parts(self, plan, self.world.weeks, on_progress)
        truth = self._merge(pieces, out)
        with ExitStack() as files:

            def open_(name: str) -> IO[str]:
                return files.enter_context((out / name).open("w", encoding="utf-8", newline="\n"))

            usage = casework.write_usage(
                self.config,
                self.world,
                python_random(self.options.seed, "usage"),
                {"small": 1.0, "medium": 3.0}.get(self.options.size, 6.0),
                open_("usage-events.jsonl"),
            )
            truth["usage"] = usage
            truth["questionnaire"] = questionnaire.write_questionnaire(
                self.config,
                self.world,
                python_random(self.options.seed, "questionnaire"),
                usage["behaviour"],
                open_("questionnaire.json"),
                open_("questionnaire-answers.jsonl"),
            )
            truth["travel"] = travel.write_travel(
                self.config,
                self.world,
                python_random(self.options.seed, "travel"),
                self.offenders.offenders,
                self.make_person,
                open_("watchlist.jsonl"),
                open_("travel-notices.jsonl"),
            )
            agencies_out = open_("agencies.jsonl")
            for agency in self.world.agencies:
                agencies_out.write(dumps(agency.to_json()) + "\n")
            images_out = open_("truth/images.jsonl")
            for line in self.content.image_truth:
                images_out.write(dumps(line) + "\n")
            offenders_out = open_("truth/offenders.jsonl")
            for offender in self.offenders.offenders:
                if offender.report_count:
                    offenders_out.write(dumps(offender.truth()) + "\n")
        hashlists.write_hash_lists(self.content, out / "hashlists")
        (out / "scenario.yaml").write_text(
            yaml.safe_dump(self.config.model_dump(mode="json"), sort_keys=True, allow_unicode=True),
            encoding="utf-8",
        )
        result.counts = self._counts(truth)
        truth["counts"] = result.counts
        (out / "truth.json").write_text(
            json.dumps(self._truth_document(truth), ensure_ascii=False, indent=1) + "\n",
            encoding="utf-8",
        )
        result.seconds = time.perf_counter() - started
        return result

    # -- parts: the report streams split in two, generated side by side ------------

    def _partition(self) -> list[list[int]]:
        """Stream indexes of each part, balanced by expected volume; the last part also
        generates viral waves, intrusions and school incidents."""
        loads = [0.0, self.target * self.config.viral.share]
        plan: list[list[int]] = [[], []]
        order = sorted(
            range(len(self.rates)), key=lambda i: (-float(self.rates[i].expected.sum()), i)
        )
        for index in order:
            lighter = 0 if loads[0] <= loads[1] else 1
            plan[lighter].append(index)
            loads[lighter] += float(self.rates[index].expected.sum())
        return [sorted(indexes) for indexes in plan]

    def run_part(
        self, part: int, plan: list[list[int]], tick: Callable[[int], None]
    ) -> dict[str, Any]:
        """Generate the reports of one part into part files; return its truth (in a fork)."""
        seed, out = self.options.seed, self.options.out
        tag = "abcdefghij"[part]
        self.content.start_part(part, len(plan), random_stream(seed, f"content-{part}"))
        self.factory.start_part(part, len(plan), python_random(seed, f"identifiers-{part}"))
        with ExitStack() as files:

            def open_(name: str) -> IO[str]:
                path = out / f"{name}.part{part}"
                return files.enter_context(path.open("w", encoding="utf-8", newline="\n"))

            takedowns = casework.TakedownWriter(
                self.config,
                self.world,
                python_random(seed, f"takedowns-{part}"),
                open_("takedowns.jsonl"),
                tag,
            )
            self.writer = ReportWriter(
                seed,
                self.config,
                self.world,
                self.content,
                self.offenders,
                self.factory,
                self.addresses,
                self.names,
                python_random(seed, f"reports-{part}"),
                open_("reports.jsonl"),
                open_("truth/links.jsonl"),
                open_("truth/media.jsonl"),
                open_("truth/cases.jsonl"),
                open_("truth/reports.jsonl"),
                takedowns.consider,
                id_tag=tag,
            )
            extras = part == len(plan) - 1
            truth = self._reports(part, plan[part], extras, open_("school-incidents.jsonl"), tick)
        truth["takedown_count"] = takedowns.count
        truth["takedown_hours"] = takedowns.hours
        truth["written"] = self.writer.written
        truth["media_written"] = self.writer.media_written
        truth["offenders"] = {
            index: offender.stats()
            for index, offender in enumerate(self.offenders.offenders)
            if offender.report_count
        }
        return truth

    def _merge(self, pieces: list[dict[str, Any]], out: Path) -> dict[str, Any]:
        """Join the parts' files in part order and add up their truth."""
        for name in (
            "reports.jsonl",
            "takedowns.jsonl",
            "school-incidents.jsonl",
            "truth/links.jsonl",
            "truth/media.jsonl",
            "truth/cases.jsonl",
            "truth/reports.jsonl",
        ):
            parts.concatenate([out / f"{name}.part{p}" for p in range(len(pieces))], out / name)
        effects = sorted(
            (entry for piece in pieces for entry in piece["effects"]), key=lambda e: e["order"]
        )
        for entry in effects:
            del entry["order"]
        hours: dict[str, list[float]] = {}
        for piece in pieces:
            for phase, values in piece["takedown_hours"].items():
                hours.setdefault(phase, []).extend(values)
            for index, (reports, isolated, groups) in piece["offenders"].items():
                self.offenders.offenders[index].merge_stats(reports, isolated, groups)
        self.written = sum(piece["written"] for piece in pieces)
        self.media_written = sum(piece["media_written"] for piece in pieces)
        last = pieces[-1]
        return {
            "effects": effects,
            "viral_waves": last["viral_waves"],
            "intrusions": last["intrusions"],
            "high_priority": write_case_truth(out),
            "shared_ips": {
                **self.addresses.truth(),
                "reports": sum(piece["shared_ip_reports"] for piece in pieces),
            },
            "takedowns": casework.takedown_truth(
                sum(piece["takedown_count"] for piece in pieces),
                hours,
                self.config.takedowns.during,
            ),
        }

    # -- the weekly loop -----------------------------------------------------------

    def _reports(
        self,
        part: int,
        streams: list[int],
        extras: bool,
        schools_out: IO[str],
        tick: Callable[[int], None],
    ) -> dict[str, Any]:
        world, config, writer = self.world, self.config, self.writer
        seed = self.options.seed
        rng = random_stream(seed, f"volume-{part}")
        times = python_random(seed, f"times-{part}")
        school_rng = python_random(seed, "schools")
        restricted = world.in_restrictions()
        delayed = {
            rates.name: DelayedReports(world.weeks, len(world.countries))
            for rates in self.rates
            if rates.stream.delayed_reporting is not None
        }
        events = Events(config, world, self.content, writer, self.factory.words, self.target)
        waves: list[Wave] = []
        intrusions: dict[tuple[int, int], list[datetime]] = {}
        if extras:
            waves = events.plan_waves(random_stream(seed, "waves"), python_random(seed, "waves"))
            intrusions = events.plan_intrusions(
                random_stream(seed, "intrusions"), python_random(seed, "intrusion-times")
            )
        counts = np.zeros((len(self.rates), len(world.countries), world.weeks), dtype=np.int64)
        school_count = 0
        active: list[Wave] = []
        pending_waves = sorted(waves, key=lambda w: (w.start_week, w.wave_id))
        for week in range(world.weeks):
            for index in streams:
                rates = self.rates[index]
                stream = rates.stream
                mean = rates.expected[:, week]
                if rates.name in delayed and stream.incidence_during is not None:
                    mean = np.where(restricted[:, week], mean * stream.incidence_during, mean)
                drawn = negative_binomial(rng, mean, config.volume.dispersion)
                lag_rate = 1 / 20.0 if stream.category == PlatformCategory.OFFLINE else 1 / 1.5
                for c, country in enumerate(world.countries):
                    n = int(drawn[c])
                    incident_weeks: list[int] = []
                    if rates.name in delayed:
                        period = world.restrictions[c]
                        n = delayed[rates.name].add(
                            c,
                            week,
                            n,
                            bool(restricted[c, week]),
                            period.schools_reopen_week,
                            stream,
                            rng,
                        )
                        incident_weeks = delayed[rates.name].due(c, week)
                    for number in range(n + len(incident_weeks)):
                        received = time_in_week(world, week, times)
                        if number < n:
                            lag_days = times.expovariate(lag_rate)
                            incident = received - timedelta(seconds=int(lag_days * 86_400))
                        else:
                            incident = time_in_week(world, incident_weeks[number - n], times)
                        writer.write(
                            ReportSpec(
                                rates.name,
                                stream,
                                country.code,
                                received,
                                max(incident, world.start),
                                bool(restricted[c, week]),
                            )
                        )
                    counts[index, c, week] += n + len(incident_weeks)
            while pending_waves and pending_waves[0].start_week <= week:
                active.append(pending_waves.pop(0))
            for wave in list(active):
                events.wave_week(wave, week, rng, times)
                if week >= wave.start_week + wave.weeks - 1:
                    active.remove(wave)
            for c, country in enumerate(world.countries if extras else []):
                for occurred in intrusions.get((c, week), []):
                    school_count += 1
                    events.intrusion(country.code, occurred, school_count, schools_out, times)
                for _ in range(
                    casework.school_incidents_for_week(config, world, school_rng, week, c)
                ):
                    school_count += 1
                    schools_out.write(
                        casework.school_record(
                            f"SI-{school_count:07d}",
                            country.code,
                            events.school_name(country.code, school_rng),
                            school_rng.choice(casework.SCHOOL_KINDS),
                            None,
                            time_in_week(world, week, school_rng),
                            None,
                        )
                    )
            tick(week + 1)
        return self._report_truth(streams, counts, delayed, waves, restricted, events)

    # -- truth -----------------------------------------------------------------------

    def _report_truth(
        self,
        streams: list[int],
        counts: np.ndarray,
        delayed: dict[str, DelayedReports],
        waves: list[Wave],
        restricted: np.ndarray,
        events: Events,
    ) -> dict[str, Any]:
        world = self.world
        effects = []
        for index in streams:
            rates = self.rates[index]
            entry = stream_effect(
                self.world, self.config, rates, counts[index], restricted, delayed.get(rates.name)
            )
            effects.append({"order": index, **entry})
        return {
            "effects": effects,
            "viral_waves": [
                {
                    "wave": wave.wave_id,
                    "content": wave.origin.content,
                    "known": wave.origin.status == "known",
                    "category": wave.category,
                    "start": world.week_start(wave.start_week).date().isoformat(),
                    "weeks": wave.weeks,
                    "reports": wave.reported,
                    "variants": [v.content for v in wave.variants],
                }
                for wave in waves
            ],
            "intrusions": {
                "per_country": {c: len(v) for c, v in sorted(events.intrusion_reports.items())},
                "reports": dict(sorted(events.intrusion_reports.items())),
            },
            "shared_ip_reports": self.writer.shared_ip_reports,
        }

    def _counts(self, truth: dict[str, Any]) -> dict[str, int]:
        return {
            "reports": self.written,
            "media_items": self.media_written,
            "images": self.content.images_written,
            "known_items": self.content.known_count,
            "offenders": sum(1 for o in self.offenders.offenders if o.report_count),
            "agencies": len(self.world.agencies),
            "takedown_notices": truth["takedowns"]["notices"],
            "usage_events": truth["usage"]["events"],
            "questionnaire_responses": truth["questionnaire"]["responses"],
            "watch_list": truth["travel"]["watch_list"],
            "travel_notices": truth["travel"]["notices"],
            "viral_waves": len(truth["viral_waves"]),
            "high_priority": len(truth["high_priority"]),
            "observable_cases": sum(1 for case in truth["high_priority"] if case["observable"]),
        }

    def _truth_document(self, truth: dict[str, Any]) -> dict[str, Any]:
        return truth_document(self.options, self.target, self.world, truth)


def generate_scenario(
    options: SynthOptions,
    config: ScenarioConfig | None = None,
    on_progress: ProgressCallback | None = None,
) -> SynthResult:
    """Write a scenario folder (see ``docs/synth.md``) and return what was written."""
    config = config or load_config(options.config_path)
    options.out.mkdir(parents=True, exist_ok=True)
    scenario = _Scenario(options, config)
    return scenario.run(on_progress)


def parse_day(value: str, option: str) -> date:
    """A ``YYYY-MM-DD`` option value, or an error naming the option."""
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"{option}: {value!r} is not a date (expected YYYY-MM-DD)") from None
