"""Evaluate the trend analytics on synthetic scenarios, against the effects they planted.

For each seed: generate a scenario (``veille synth``'s function), import its
reports into a fresh database (SQLite by default), count them into the
rollups, and ask the analytics what a person would ask — never reading the
truth except to score the answers afterwards:

- **effects**: for every stream, its series (category × primary offence)
  compared, pooled over countries each over its own restriction dates, with
  the weeks before the first restriction. A series mixes every stream whose
  reports land in it and the viral waves on its platforms, so it is scored
  against the factor planted on the series (:class:`PlantedSeries`, from the
  generator's own expected counts), not its main stream's: detected when the
  verdict has that direction, covered when the 95 % interval holds it, a
  false alarm when a series moved by less than 5 % gets a direction. Beside
  it, two baselines in the same run: the simplest rule (a ratio of mean
  weekly counts moving by more than 10 % is a change) and a random verdict.
  Each effect also gets the power the data give (the chance that a test at
  this size and dispersion finds the planted factor), so a miss the data
  cannot avoid is told apart from a miss of the method.
- **change points**: country × category series whose planted factor is ≥ 1.5
  or ≤ 0.67 and whose mean is ≥ 20 reports a week: a change point within 2
  weeks of the country's restriction start.
- **reporting gap** (domestic abuse): the estimated shortfall during the
  restrictions against the planted one (reports a baseline-level incidence
  would have brought, minus those that came), and the catch-up after schools
  reopen against the planted deferred reports. The countries are fitted
  together (``reporting_gap(..., pooled=True)``), each over its own dates,
  and their sum's interval comes from the same fit.
- **usage**: the share of regular database users that stopped or reduced,
  against the planted share.

Usage::

    python bench/analytics_eval.py --size small --seeds 1,2,3,4,5 --trend
    python bench/analytics_eval.py --size medium --seeds 1,2,3 --trend  # analytics_medium.md
    python bench/analytics_eval.py --size large --seeds 1 --trend      # analytics_large.md

``--database postgresql+psycopg://postgres@127.0.0.1:5432/test`` runs on
PostgreSQL, each seed in a schema of its own (``bench_aeval_SIZE_SEED``,
dropped and made again unless ``--reuse-database``); the result goes to
``analytics_SIZE_postgresql.md``.

``--reuse-database`` keeps the database an earlier run of a seed left in
``--workdir`` (a 2M-report import takes about 20 minutes on two cores) and
asks the questions again; its time table then says "reused".
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import norm
from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine_description, markdown_table, write_result
from veille.analytics.changes import change_points
from veille.analytics.compare import compare
from veille.analytics.gap import ALL_COUNTRIES, reporting_gap
from veille.analytics.periods import Period, PeriodSet
from veille.analytics.providers import provider_statistics
from veille.analytics.rollup import roll_up
from veille.analytics.series import SeriesQuery, series
from veille.analytics.survey import ALL_REGIONS, survey_summary
from veille.analytics.usage import import_usage, read_lines, usage
from veille.casework.survey import define_questionnaire, import_answers
from veille.casework.survey_definition import load_definition
from veille.casework.takedown_import import import_notices
from veille.intake.importer import import_reports
from veille.store import migrate
from veille.store.agencies import ensure_agencies, load_agency_specs
from veille.store.db import Database, create_veille_engine
from veille.store.models import Report
from veille.store.reports import Viewer

SIMPLE_RULE_MARGIN = 0.10
NO_EFFECT_MARGIN = 0.05
POWER_GOAL = 0.8


@dataclass
class Tally:
    """Counts of one method over every seed."""

    detected: int = 0
    effects: int = 0
    powered_detected: int = 0
    powered_effects: int = 0
    covered: int = 0
    intervals: int = 0
    false_alarms: int = 0
    no_effect: int = 0

    def row(self, name: str) -> list[object]:
        def share(a: int, b: int) -> str:
            return f"{a}/{b} ({a / b:.0%})" if b else "-"

        return [
            name,
            share(self.detected, self.effects),
            share(self.powered_detected, self.powered_effects),
            share(self.covered, self.intervals) if self.intervals else "-",
            share(self.false_alarms, self.no_effect),
        ]


@dataclass
class SeedResult:
    seed: int
    reports: int
    rows: list[list[object]] = field(default_factory=list)
    change_found: int = 0
    change_series: int = 0
    gap: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    takedowns: dict[str, Any] = field(default_factory=dict)
    survey: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float | str] = field(default_factory=dict)


def generate(folder: Path, size: str, seed: int) -> None:
    from veille.synth.generator import SynthOptions, generate_scenario

    generate_scenario(SynthOptions(out=folder, seed=seed, size=size, reports=None, images=0))


def seed_database(args: argparse.Namespace, workdir: Path, seed: int, fresh: bool) -> Database:
    """The seed's database: a SQLite file in the work folder, or a PostgreSQL schema of its own.

    ``fresh`` empties it first; otherwise it is opened as an earlier run left it.
    """
    if args.database is None:
        path = workdir / f"analytics-{seed}.db"
        if fresh:
            path.unlink(missing_ok=True)
        database = Database(create_veille_engine(f"sqlite:///{path}"))
    else:
        schema = f"bench_aeval_{args.size}_{seed}"
        if fresh:
            engine = create_engine(args.database)
            with engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine.dispose()
        separator = "&" if "?" in args.database else "?"
        database = Database(
            create_veille_engine(f"{args.database}{separator}options=-csearch_path%3D{schema}")
        )
    if fresh:
        migrate.upgrade(database)
    return database


def kept_database(args: argparse.Namespace, workdir: Path, seed: int) -> bool:
    """Whether an earlier run of this seed left a database with reports in it."""
    if args.database is None:
        return (workdir / f"analytics-{seed}.db").exists()
    engine = create_engine(args.database)
    schema = f"bench_aeval_{args.size}_{seed}"
    with engine.connect() as connection:
        found = connection.scalar(
            text("SELECT to_regclass(:table) IS NOT NULL"), {"table": f'"{schema}".reports'}
        )
    engine.dispose()
    return bool(found)


def periods_from_dates(truth: dict[str, Any]) -> PeriodSet:
    """Baseline, restrictions and after, per country, from the restriction dates alone."""
    first = date.fromisoformat(truth["scenario"]["from"])
    last = date.fromisoformat(truth["scenario"]["to"])
    countries = truth["countries"]
    starts = [date.fromisoformat(c["restrictions"]["start"]) for c in countries]
    baseline = Period("baseline", first, min(starts) - timedelta(days=1))
    defaults = (
        baseline,
        Period(
            "restrictions",
            min(starts),
            max(date.fromisoformat(c["restrictions"]["end"]) for c in countries),
        ),
        Period("after", max(date.fromisoformat(c["restrictions"]["end"]) for c in countries), last),
    )
    own = {}
    for c in countries:
        r = c["restrictions"]
        start, end = date.fromisoformat(r["start"]), date.fromisoformat(r["end"])
        own[c["code"]] = (
            Period("restrictions", start, end - timedelta(days=1)),
            Period("after", end, last),
        )
    return PeriodSet(defaults, own)


def catch_up_periods(truth: dict[str, Any], catch_up_weeks: int) -> PeriodSet:
    """Baseline, closed (restrictions start to schools reopening) and catch-up, per country."""
    first = date.fromisoformat(truth["scenario"]["from"])
    countries = truth["countries"]
    starts = [date.fromisoformat(c["restrictions"]["start"]) for c in countries]
    reopen = [date.fromisoformat(c["restrictions"]["schools_reopen"]) for c in countries]
    defaults = (
        Period("baseline", first, min(starts) - timedelta(days=1)),
        Period("closed", min(starts), max(reopen) - timedelta(days=1)),
        Period("catch_up", max(reopen), max(reopen) + timedelta(days=7 * catch_up_weeks - 1)),
    )
    own = {}
    for c in countries:
        r = c["restrictions"]
        start, opened = date.fromisoformat(r["start"]), date.fromisoformat(r["schools_reopen"])
        own[c["code"]] = (
            Period("closed", start, opened - timedelta(days=1)),
            Period("catch_up", opened, opened + timedelta(days=7 * catch_up_weeks - 1)),
        )
    return PeriodSet(defaults, own)


def power(
    factor: float, base_mean: float, base_weeks: int, period_weeks: int, dispersion: float
) -> float:
    """Chance that a two-sided 5 % test of the log rate ratio finds ``factor``."""
    if factor <= 0 or base_mean <= 0 or not base_weeks or not period_weeks:
        return 0.0
    se = math.sqrt(
        dispersion * (1 / (base_mean * base_weeks) + 1 / (base_mean * factor * period_weeks))
    )
    z = abs(math.log(factor)) / se
    return float(norm.cdf(z - 1.959964) + norm.cdf(-z - 1.959964))


def direction(factor: float) -> str | None:
    """The planted direction; a series moved by less than 5 % has no planted effect."""
    if abs(math.log(factor)) < math.log(1 + NO_EFFECT_MARGIN):
        return None
    return "increase" if factor > 1 else "decrease"


class PlantedSeries:
    """What the restrictions did to a series, from the generator's own expected counts.

    A series (category × offence) mixes every stream whose reports land in it
    (``contact_abuse`` reports come from three streams) and the viral waves
    re-shared on its platforms. Its planted factor is its expected count in
    the restriction weeks with every planted effect, over the same weeks
    without them: the streams' expected counts times their effect factors
    (channels closed, ramps; for delayed reporting the share reported at
    once), plus the waves as they were drawn, against the streams' counts
    plus waves at their rate before the restrictions. Season and growth
    cancel out. Only the evaluation reads this; Veille never does.
    """

    def __init__(self, truth: dict[str, Any]) -> None:
        from veille.synth.config import load_config
        from veille.synth.generator import random_stream
        from veille.synth.volume import stream_rates
        from veille.synth.world import World

        scenario = truth["scenario"]
        self.config = load_config()
        self.world = World(
            self.config,
            date.fromisoformat(scenario["from"]),
            date.fromisoformat(scenario["to"]),
            random_stream(scenario["seed"], "world"),
        )
        starts = [p.start_week for p in self.world.restrictions]
        drawn = [date.fromisoformat(c["restrictions"]["start"]) for c in truth["countries"]]
        if [self.world.week_of(d) for d in drawn] != starts:
            raise SystemExit("truth.json does not match the generator's world: regenerate it")
        self.rates = stream_rates(
            self.world,
            self.config,
            scenario["target_reports"] * (1.0 - self.config.viral.share),
        )
        self.restricted = np.array(self.world.in_restrictions())
        self.before = np.zeros_like(self.restricted)
        for c, period in enumerate(self.world.restrictions):
            self.before[c, : max(period.start_week, 0)] = True
        weights = np.array([c.weight for c in self.world.countries])
        self.waves: dict[str, np.ndarray] = {}
        for wave in truth["viral_waves"]:
            cells = self.waves.setdefault(
                wave["category"], np.zeros(self.restricted.shape, dtype=float)
            )
            first = self.world.week_of(date.fromisoformat(wave["start"]))
            weeks = [w for w in range(first, first + wave["weeks"]) if 0 <= w < self.world.weeks]
            for week in weeks:
                cells[:, week] += wave["reports"] / len(weeks) * weights / weights.sum()

    def factor(self, category: str, offence: str) -> float:
        with_effects = without = 0.0
        streams_before = 0.0
        for rates in self.rates:
            stream = rates.stream
            share = (
                1.0
                if offence in {o.value for o in stream.offences}
                else {o.value: p for o, p in stream.extra_offences.items()}.get(offence, 0.0)
            )
            if stream.category.value != category or not share:
                continue
            effect = rates.factor
            delay = stream.delayed_reporting
            if delay is not None and stream.incidence_during is not None:
                reported_at_once = stream.incidence_during * (1 - delay.deferred - delay.lost)
                effect = np.where(self.restricted, effect * reported_at_once, effect)
            with_effects += share * float((rates.baseline * effect)[self.restricted].sum())
            without += share * float(rates.baseline[self.restricted].sum())
            streams_before += share * float(rates.baseline[self.before].sum())
        waves = self.waves.get(category)
        stream_name = "social_media_sharing" if category == "social_media" else "messaging"
        carrier = self.config.streams.get(stream_name)
        if waves is not None and carrier is not None and streams_before:
            share = (
                1.0
                if offence in {o.value for o in carrier.offences}
                else {o.value: p for o, p in carrier.extra_offences.items()}.get(offence, 0.0)
            )
            rate_before = share * float(waves[self.before].sum()) / streams_before
            with_effects += share * float(waves[self.restricted].sum())
            without += rate_before * without
        return with_effects / without if without else 1.0


def evaluate_seed(
    args: argparse.Namespace, seed: int, workdir: Path, tallies: dict[str, Tally]
) -> SeedResult:
    folder = workdir / f"scenario-{seed}"
    started = time.perf_counter()
    made = not (folder / "truth.json").exists()
    if made:
        generate(folder, args.size, seed)
    generated = time.perf_counter()
    truth = json.loads((folder / "truth.json").read_text())
    if args.reuse_database and kept_database(args, workdir, seed):
        # Filled by an earlier run of this seed: the questions only (times marked "reused").
        database = seed_database(args, workdir, seed, fresh=False)
        with database.session() as session:
            reports = int(session.scalar(select(func.count()).select_from(Report)) or 0)
        result = SeedResult(seed, reports)
        result.seconds = {"generate": "reused", "import": "reused", "rollup": "reused"}
    else:
        database = seed_database(args, workdir, seed, fresh=True)
        with database.session() as session:
            ensure_agencies(session, load_agency_specs(folder / "agencies.jsonl"))
        summary = import_reports(database, folder / "reports.jsonl")
        imported = time.perf_counter()
        roll_up(database)
        rolled = time.perf_counter()
        result = SeedResult(seed, summary.imported)
        result.seconds = {
            # A scenario an earlier run left in --workdir is read again, not made.
            "generate": round(generated - started, 1) if made else "reused",
            "import": round(imported - generated, 1),
            "rollup": round(rolled - imported, 1),
        }
    periods = periods_from_dates(truth)
    rng = random.Random(seed)
    planted_series = PlantedSeries(truth)
    analysed = time.perf_counter()
    for effect in truth["effects"]:
        if effect["factor_during"] is None:
            continue  # domestic abuse: its reports move with the channels; see the gap
        planted = round(planted_series.factor(effect["category"], effect["offences"][0]), 3)
        query = SeriesQuery(
            categories=(effect["category"],), offences=(effect["offences"][0],), by=("country",)
        )
        with database.session() as session:
            found = series(session, query, None)
        compared = compare(found, periods, trend=args.trend, pooled=True)
        during = next(c for c in compared.comparisons if c.period == "restrictions")
        expected = direction(planted)
        simple_ratio = (
            during.mean_per_week / during.baseline_mean_per_week
            if during.baseline_mean_per_week
            else 1.0
        )
        simple = (
            "increase"
            if simple_ratio > 1 + SIMPLE_RULE_MARGIN
            else "decrease"
            if simple_ratio < 1 - SIMPLE_RULE_MARGIN
            else "stable"
        )
        guessed = rng.choice(["increase", "decrease", "stable"])
        chance = power(
            planted,
            during.baseline_mean_per_week,
            during.baseline_weeks,
            during.weeks,
            during.dispersion or 1.0,
        )
        for name, verdict, interval in (
            ("Veille (pooled quasi-Poisson)", during.verdict, (during.low, during.high)),
            ("simplest rule (mean ratio ±10 %)", simple, None),
            ("random verdict", guessed, None),
        ):
            tally = tallies[name]
            if expected is None:
                tally.no_effect += 1
                tally.false_alarms += verdict in ("increase", "decrease")
            else:
                tally.effects += 1
                tally.detected += verdict == expected
                if chance >= POWER_GOAL:
                    tally.powered_effects += 1
                    tally.powered_detected += verdict == expected
            if interval is not None and interval[0] is not None and interval[1] is not None:
                tally.intervals += 1
                tally.covered += interval[0] <= planted <= interval[1]
        result.rows.append(
            [
                seed,
                effect["stream"],
                f"{effect['category']} × {effect['offences'][0]}",
                round(effect["factor_during"] * effect["channel_factor"], 3),
                planted,
                None if during.rate_ratio is None else round(during.rate_ratio, 3),
                None if during.low is None else f"{during.low:.2f}–{during.high:.2f}",
                during.verdict,
                f"{simple_ratio:.2f} {simple}",
                f"{chance:.2f}",
            ]
        )
    # Change points per country × category.
    countries = {
        c["code"]: date.fromisoformat(c["restrictions"]["start"]) for c in truth["countries"]
    }
    for effect in truth["effects"]:
        if effect["factor_during"] is None:
            continue
        planted = planted_series.factor(effect["category"], effect["offences"][0])
        if 0.67 < planted < 1.5:
            continue
        with database.session() as session:
            found = series(
                session,
                SeriesQuery(
                    categories=(effect["category"],),
                    offences=(effect["offences"][0],),
                    by=("country",),
                ),
                None,
            )
        for one in found.series:
            start = countries.get(one.key[0])
            before = [
                c for w, c in zip(found.periods, one.counts, strict=True) if start and w < start
            ]
            if start is None or not before or sum(before) / len(before) < 20:
                continue
            points, _note = change_points(found.periods, one.counts)
            result.change_series += 1
            result.change_found += any(abs((p.week - start).days) <= 14 for p in points)
    # Reporting gap: domestic abuse.
    abuse = next((e for e in truth["effects"] if e["stream"] == "domestic_abuse"), None)
    if abuse is not None:
        catch_up = catch_up_periods(truth, args.catch_up_weeks)
        with database.session() as session:
            found = series(
                session, SeriesQuery(offences=("domestic_abuse",), by=("country",)), None
            )
        # Countries fitted together, each over its own dates; the rows of country
        # "all" add them up with the covariance of the shared terms.
        gaps = reporting_gap(found, catch_up, trend=args.trend, pooled=True)
        closed = next(g for g in gaps.gaps if g.key == (ALL_COUNTRIES,) and g.period == "closed")
        caught = next(g for g in gaps.gaps if g.key == (ALL_COUNTRIES,) and g.period == "catch_up")
        incidents = abuse["true_incidents_during"]
        deferred = round(incidents * abuse["deferred_to_after_reopening"])
        reported_during = incidents - deferred - abuse["never_reported"]
        planted_shortfall = incidents / abuse["true_incidence_factor_during"] - reported_during
        estimate = closed.gap or 0.0
        half = ((closed.high or 0.0) - (closed.low or 0.0)) / 2
        catch_estimate = caught.gap or 0.0
        catch_half = ((caught.high or 0.0) - (caught.low or 0.0)) / 2
        result.gap = {
            "planted_shortfall": round(planted_shortfall, 1),
            "estimated_shortfall": round(-estimate, 1),
            "interval": (round(-estimate - half, 1), round(-estimate + half, 1)),
            "covered": -estimate - half <= planted_shortfall <= -estimate + half,
            "planted_deferred": deferred,
            "estimated_catch_up": round(catch_estimate, 1),
            "catch_interval": (
                round(catch_estimate - catch_half, 1),
                round(catch_estimate + catch_half, 1),
            ),
            "catch_covered": catch_estimate - catch_half <= deferred <= catch_estimate + catch_half,
        }
    # Usage.
    import_usage(database, read_lines(folder / "usage-events.jsonl"), "scenario")
    with database.session() as session:
        used = usage(session, periods, "restrictions", regular_share=args.regular_share).as_dict()
    planted_usage = truth["usage"]
    result.usage = {
        "planted": f"{planted_usage['stopped_or_reduced']}/{planted_usage['regular_user_agencies']}",
        "found": f"{used['stopped_or_reduced']}/{used['regular_users']}",
        "planted_share": planted_usage["share_stopped_or_reduced"],
        "found_share": used["share_stopped_or_reduced"],
    }
    result.takedowns = score_takedowns(database, folder, truth)
    result.survey = score_survey(database, folder, truth)
    result.seconds["analytics"] = round(time.perf_counter() - analysed, 1)
    database.dispose()
    return result


def takedown_periods(truth: dict[str, Any]) -> PeriodSet:
    """Before, during and after each country's restrictions (as the generator's phases)."""
    first = date.fromisoformat(truth["scenario"]["from"])
    last = date.fromisoformat(truth["scenario"]["to"])
    own = {}
    for c in truth["countries"]:
        start = date.fromisoformat(c["restrictions"]["start"])
        end = date.fromisoformat(c["restrictions"]["end"])
        own[c["code"]] = (
            Period("before", first, start - timedelta(days=1)),
            Period("during", start, end - timedelta(days=1)),
            # Open-ended, as the generator's phase: a notice sent after the last report counts.
            Period("after", end, last + timedelta(days=366)),
        )
    default = own[truth["countries"][0]["code"]]
    return PeriodSet(default, own)


def score_takedowns(database: Database, folder: Path, truth: dict[str, Any]) -> dict[str, Any]:
    """Median hours to removal per phase, every provider over its own country's dates."""
    # Both imports leave what is stored already as it is (a reused database).
    import_notices(database, folder / "takedowns.jsonl", actor="bench")
    with database.session() as session:
        rows = provider_statistics(session, Viewer("bench", None), takedown_periods(truth))
    found = {r["period"]: r["median_hours"] for r in rows if r["provider"] == "all providers"}
    planted = truth["takedowns"]["median_hours"]
    return {
        "notices": sum(r["notices"] for r in rows if r["provider"] == "all providers"),
        "planted_notices": truth["takedowns"]["notices"],
        "phases": {
            phase: (planted.get(phase), found.get(phase)) for phase in ("before", "during", "after")
        },
    }


def score_survey(database: Database, folder: Path, truth: dict[str, Any]) -> dict[str, Any]:
    """Countries per answer and question, against a plain count of the answers file."""
    from veille.synth.questionnaire import QUESTIONS

    definition = load_definition(folder / "questionnaire.json")
    with database.session() as session:
        define_questionnaire(session, definition, actor="bench")
    import_answers(database, folder / "questionnaire-answers.jsonl", actor="bench")
    with database.session() as session:
        summary = survey_summary(session, definition.id)
    # The scenario has one police unit per country: a country's answer is its unit's.
    counted: dict[str, Counter[str]] = {}
    for line in read_lines(folder / "questionnaire-answers.jsonl"):
        for question, answer in json.loads(line)["answers"].items():
            counted.setdefault(question, Counter())[answer] += 1
    planted = {
        question: truth["questionnaire"]["expected_answers"].get(key)
        for question, _t, key in QUESTIONS
    }
    equal = agreeing = questions = 0
    for row in summary["rows"]:
        if row["region"] != ALL_REGIONS:
            continue
        questions += 1
        mine = {a: row.get(a, 0) for a in ("increase", "stable", "decrease", "unknown")}
        equal += mine == {a: counted[row["question"]].get(a, 0) for a in mine}
        most = max(mine, key=lambda a: mine[a])
        agreeing += planted.get(row["question"]) == most
    return {
        "respondents": summary["countries"],
        "planted_respondents": truth["questionnaire"]["responses"],
        "questions": questions,
        "equal": equal,
        "agreeing": agreeing,
        "with_planted": sum(1 for value in planted.values() if value),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="small")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--trend", action="store_true", help="Fit a log-linear trend (growth) too.")
    parser.add_argument("--catch-up-weeks", type=int, default=8)
    parser.add_argument("--regular-share", type=float, default=0.25)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--reuse-database",
        action="store_true",
        help="Keep the database an earlier run of a seed left in --workdir (no import).",
    )
    parser.add_argument(
        "--database",
        default=None,
        help="A PostgreSQL URL: each seed gets a schema of its own, bench_aeval_SIZE_SEED "
        "(default: a SQLite file per seed in --workdir).",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    tallies = {
        name: Tally()
        for name in (
            "Veille (pooled quasi-Poisson)",
            "simplest rule (mean ratio ±10 %)",
            "random verdict",
        )
    }
    with tempfile.TemporaryDirectory(prefix="veille-analytics-eval-") as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        results = []
        for seed in seeds:
            result = evaluate_seed(args, seed, workdir, tallies)
            results.append(result)
            print(f"seed {seed}: {result.reports} reports, {result.seconds}", file=sys.stderr)
    command = "python bench/analytics_eval.py " + " ".join(sys.argv[1:])
    summary = markdown_table(
        [
            "method",
            "planted effects detected",
            "detected where power ≥ 0.8",
            "95 % intervals covering the planted factor",
            "false alarms (no planted effect)",
        ],
        [t.row(name) for name, t in tallies.items()],
    )
    effects = markdown_table(
        [
            "seed",
            "stream",
            "series (category × offence)",
            "stream's factor",
            "series' planted ×",
            "Veille ×",
            "95 % interval",
            "verdict",
            "simplest rule",
            "power",
        ],
        [row for r in results for row in r.rows],
    )
    changes = markdown_table(
        [
            "seed",
            "series (factor ≥ 1.5 or ≤ 0.67, ≥ 20/week)",
            "change point within 2 weeks of the start",
        ],
        [[r.seed, r.change_series, r.change_found] for r in results],
    )
    gaps = markdown_table(
        [
            "seed",
            "planted shortfall",
            "estimated (95 %)",
            "covered",
            "planted deferred",
            "estimated catch-up (95 %)",
            "covered",
        ],
        [
            [
                r.seed,
                r.gap.get("planted_shortfall"),
                f"{r.gap.get('estimated_shortfall')} {r.gap.get('interval')}",
                r.gap.get("covered"),
                r.gap.get("planted_deferred"),
                f"{r.gap.get('estimated_catch_up')} {r.gap.get('catch_interval')}",
                r.gap.get("catch_covered"),
            ]
            for r in results
        ],
    )
    takedown_table = markdown_table(
        [
            "seed",
            "notices (planted)",
            *(f"median h {phase}: planted / found" for phase in ("before", "during", "after")),
            "equal",
        ],
        [
            [
                r.seed,
                f"{r.takedowns['notices']} ({r.takedowns['planted_notices']})",
                *(f"{a} / {b}" for a, b in r.takedowns["phases"].values()),
                all(a == b for a, b in r.takedowns["phases"].values())
                and r.takedowns["notices"] == r.takedowns["planted_notices"],
            ]
            for r in results
        ],
    )
    survey_table = markdown_table(
        [
            "seed",
            "countries answering (planted)",
            "questions whose counts equal the answers file",
            "questions whose most common answer is the planted one",
        ],
        [
            [
                r.seed,
                f"{r.survey['respondents']} ({r.survey['planted_respondents']})",
                f"{r.survey['equal']}/{r.survey['questions']}",
                f"{r.survey['agreeing']}/{r.survey['with_planted']}",
            ]
            for r in results
        ],
    )
    usage_table = markdown_table(
        ["seed", "planted stopped or reduced", "found", "planted share", "found share"],
        [
            [
                r.seed,
                r.usage["planted"],
                r.usage["found"],
                r.usage["planted_share"],
                r.usage["found_share"],
            ]
            for r in results
        ],
    )
    timing = markdown_table(
        ["seed", "reports", "generate s", "import s", "rollup s", "analytics s"],
        [[r.seed, r.reports, *r.seconds.values()] for r in results],
    )
    body = "\n\n".join(
        [
            f"Run: `{command}` ({'SQLite' if args.database is None else 'PostgreSQL'}; "
            + (
                "each seed's database reused from an earlier run where one was left"
                if args.reuse_database
                else "each seed a fresh scenario and database"
            )
            + f"; trend term: {'yes' if args.trend else 'no'}).",
            "### Planted stream effects during the restrictions (every seed)\n\n" + summary,
            "### Each effect\n\n" + effects,
            "### Change points\n\n" + changes,
            "### Reporting gap (domestic abuse, every country; closed = restrictions start to schools reopening, catch-up = the "
            f"{args.catch_up_weeks} weeks after; countries pooled)\n\n" + gaps,
            f"### Database usage (regular: active in ≥ {args.regular_share:.0%} of baseline weeks; reduced: −50 % or more)\n\n"
            + usage_table,
            "### Take-down notices (median hours to removal, each provider over its own country's dates)\n\n"
            + takedown_table,
            "### Questionnaire (countries per answer; the answers carry 20 % noise, as planted)\n\n"
            + survey_table,
            "### Time\n\n" + timing,
            machine_description(("statsmodels", "ruptures", "sqlalchemy")),
        ]
    )
    print(body)
    if not args.no_write:
        # The small run is the headline; other sizes keep their own file.
        name = "analytics" if args.size == "small" else f"analytics_{args.size}"
        engine = "SQLite"
        if args.database is not None:
            name, engine = f"{name}_postgresql", "PostgreSQL"
        write_result(
            name, f"Trend analytics against the planted effects ({args.size}, {engine})", body
        )


if __name__ == "__main__":
    main()
