"""How many reports each week: baseline × country size × season × trend × restriction effect.

The expected weekly count of every (country, stream) is computed up front as
one array; counts are then drawn week by week from a negative binomial around
it. The effects are the ones the seed describes and ``truth.json`` names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from veille.synth.config import ScenarioConfig, Stream
from veille.synth.world import World


@dataclass(frozen=True)
class StreamRates:
    """Expected weekly reports (countries × weeks) of one stream, and its effect factors."""

    name: str
    stream: Stream
    baseline: np.ndarray
    factor: np.ndarray

    @property
    def expected(self) -> np.ndarray:
        """Expected reports per country and week, effects included."""
        return self.baseline * self.factor


def season_and_trend(world: World, config: ScenarioConfig) -> np.ndarray:
    """Multiplier per week: yearly cycle (peak in January) and slow growth."""
    weeks = np.arange(world.weeks)
    day_of_year = np.array([world.week_start(int(w)).timetuple().tm_yday for w in weeks])
    season = 1.0 + config.volume.seasonality * np.cos(2 * np.pi * (day_of_year - 15) / 365.25)
    years = weeks / 52.18
    return season * (1.0 + config.volume.growth_per_year) ** years


def channel_factor(stream: Stream, config: ScenarioConfig) -> float:
    """How much of a stream still arrives while channels such as schools are closed."""
    total = sum(stream.channels.values())
    kept = sum(w * config.channel_effects.get(ch, 1.0) for ch, w in stream.channels.items())
    return kept / total if total else 1.0


def channel_weights(stream: Stream, config: ScenarioConfig, restricted: bool) -> np.ndarray:
    """Normalised weights of a stream's channels, in or out of restrictions."""
    weights = np.array(
        [
            w * (config.channel_effects.get(ch, 1.0) if restricted else 1.0)
            for ch, w in stream.channels.items()
        ]
    )
    return weights / weights.sum()


def effect_factor(stream: Stream, world: World, config: ScenarioConfig) -> np.ndarray:
    """Multiplier (countries × weeks) of a stream's *reported* volume."""
    factor = np.ones((len(world.countries), world.weeks))
    weeks = np.arange(world.weeks)
    channels = channel_factor(stream, config)
    for i, period in enumerate(world.restrictions):
        during = (weeks >= period.start_week) & (weeks < period.end_week)
        after = (weeks >= period.end_week) & (weeks < period.end_week + stream.after_weeks)
        if stream.delayed_reporting is None:
            factor[i, during] *= stream.during * channels
        factor[i, after] *= stream.after
        if stream.ramp_to is not None:
            span = max(world.weeks - period.start_week, 1)
            progress = np.clip((weeks - period.start_week) / span, 0.0, 1.0)
            factor[i] *= 1.0 + (stream.ramp_to - 1.0) * progress
    return factor


def stream_rates(world: World, config: ScenarioConfig, target_reports: float) -> list[StreamRates]:
    """Every stream's expected weekly counts, scaled so that all of them add up to the target."""
    sizes = np.array([c.weight for c in world.countries])[:, None]
    shape = season_and_trend(world, config)[None, :]
    total_share = sum(s.share for s in config.streams.values())
    raw = []
    for name, stream in config.streams.items():
        baseline = sizes * shape * (stream.share / total_share)
        raw.append((name, stream, baseline, effect_factor(stream, world, config)))
    total = sum(float((baseline * factor).sum()) for _, _, baseline, factor in raw)
    scale = target_reports / total if total else 0.0
    return [
        StreamRates(name, stream, baseline * scale, factor)
        for name, stream, baseline, factor in raw
    ]


def negative_binomial(rng: np.random.Generator, mean: np.ndarray, dispersion: float) -> np.ndarray:
    """Counts around ``mean`` with variance ``mean + mean² / dispersion``."""
    mean = np.maximum(mean, 0.0)
    probability = dispersion / (dispersion + mean)
    counts = rng.negative_binomial(dispersion, np.clip(probability, 1e-12, 1.0))
    return np.where(mean > 0, counts, 0)


class DelayedReports:
    """Incidents now, reports later: the domestic-abuse reporting gap and its catch-up.

    During restrictions incidence rises; part of the incidents is reported at
    once, part is deferred until schools reopen (then spread over the
    catch-up weeks) and part is never reported.
    """

    def __init__(self, weeks: int, countries: int) -> None:
        self.pending = np.zeros((countries, weeks + 1), dtype=np.int64)
        self.incident_weeks: dict[tuple[int, int], list[int]] = {}
        self.true_incidents = np.zeros((countries, weeks), dtype=np.int64)
        self.lost = 0

    def add(
        self,
        country: int,
        week: int,
        incidents: int,
        restricted: bool,
        reopen_week: int,
        stream: Stream,
        rng: np.random.Generator,
    ) -> int:
        """Record ``incidents`` of ``week``; returns how many are reported that same week."""
        self.true_incidents[country, week] += incidents
        if not restricted or stream.delayed_reporting is None or incidents == 0:
            return incidents
        delay = stream.delayed_reporting
        fates = rng.choice(
            3, incidents, p=[1 - delay.deferred - delay.lost, delay.deferred, delay.lost]
        )
        self.lost += int((fates == 2).sum())
        for _ in range(int((fates == 1).sum())):
            later = reopen_week + int(rng.integers(0, delay.catch_up_weeks))
            if later < self.pending.shape[1] - 1:
                self.pending[country, later] += 1
                self.incident_weeks.setdefault((country, later), []).append(week)
        return int((fates == 0).sum())

    def due(self, country: int, week: int) -> list[int]:
        """Incident weeks of the deferred reports that arrive in ``week``."""
        return self.incident_weeks.pop((country, week), [])
