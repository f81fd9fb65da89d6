"""The scenario's settings: the YAML knobs, validated, and the size presets.

The defaults live in ``scenario.yaml`` beside this module; a user file is
merged over them key by key, then the whole is validated here so that a
mistake names its field and the value expected.
"""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from veille.safe_yaml import YamlLimitError, load_yaml_limited
from veille.vocab import Channel, OffenceType, PlatformCategory, ReportFlag

SIZES: dict[str, int] = {"small": 5_000, "medium": 100_000, "large": 2_000_000}
"""Approximate number of reports of each size preset."""


class ScenarioConfigError(ValueError):
    """A scenario file that cannot be used, with the field and what was expected."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Restrictions(_Strict):
    start: date
    end: date
    jitter_weeks: int = Field(ge=0, le=12)
    schools_reopen_weeks: int = Field(ge=0, le=26)
    travel_ban_extra_weeks: int = Field(ge=0, le=52)

    @model_validator(mode="after")
    def _ordered(self) -> Restrictions:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Countries(_Strict):
    size_exponent: float = Field(ge=0.0, le=1.5)


class Volume(_Strict):
    dispersion: float = Field(gt=0.0)
    seasonality: float = Field(ge=0.0, lt=1.0)
    growth_per_year: float = Field(ge=-0.5, le=2.0)


class Mix(_Strict):
    known: float = Field(ge=0.0)
    version: float = Field(ge=0.0)
    new: float = Field(ge=0.0)

    @model_validator(mode="after")
    def _positive(self) -> Mix:
        if self.known + self.version + self.new <= 0:
            raise ValueError("known + version + new must be positive")
        return self


class DelayedReporting(_Strict):
    deferred: float = Field(ge=0.0, le=1.0)
    lost: float = Field(ge=0.0, le=1.0)
    catch_up_weeks: int = Field(ge=1, le=52)

    @model_validator(mode="after")
    def _sum(self) -> DelayedReporting:
        if self.deferred + self.lost > 1.0:
            raise ValueError("deferred + lost must not exceed 1")
        return self


class Stream(_Strict):
    category: PlatformCategory
    share: float = Field(gt=0.0)
    offences: list[OffenceType] = Field(min_length=1)
    extra_offences: dict[OffenceType, float] = Field(default_factory=dict)
    flags: dict[ReportFlag, float] = Field(default_factory=dict)
    channels: dict[Channel, float] = Field(min_length=1)
    media: float = Field(ge=0.0, le=50.0)
    mix: Mix
    mix_during: dict[str, float] = Field(default_factory=dict)
    constant_new_content: bool = False
    offender_share: float = Field(ge=0.0, le=1.0)
    during: float = Field(default=1.0, ge=0.0)
    after: float = Field(default=1.0, ge=0.0)
    after_weeks: int = Field(default=0, ge=0)
    ramp_to: float | None = Field(default=None, gt=0.0)
    incidence_during: float | None = Field(default=None, gt=0.0)
    delayed_reporting: DelayedReporting | None = None

    def mix_in_restrictions(self) -> Mix:
        """The content mix while restrictions last."""
        mix = self.mix.model_copy(update=self.mix_during)
        if self.constant_new_content and self.during > 0:
            new = self.mix.new / self.during
            rest = max(mix.known + mix.version, 1e-9)
            scale = (1.0 - new) / rest
            mix = Mix(known=mix.known * scale, version=mix.version * scale, new=new)
        return mix


class Viral(_Strict):
    share: float = Field(ge=0.0, lt=1.0)
    size_median: int = Field(ge=2)
    variants: int = Field(ge=1, le=50)
    during: float = Field(ge=0.0)
    categories: dict[PlatformCategory, float] = Field(min_length=1)
    known_share: float = Field(ge=0.0, le=1.0)


class Intrusions(_Strict):
    countries_share: float = Field(ge=0.0, le=1.0)
    max_per_country: int = Field(ge=0, le=5)


class Offenders(_Strict):
    reports_per_offender: float = Field(ge=1.0)
    multi_country_share: float = Field(ge=0.0, le=1.0)
    multi_platform_share: float = Field(ge=0.0, le=1.0)
    hands_on_share: float = Field(ge=0.0, le=1.0)
    ongoing_access_share: float = Field(ge=0.0, le=1.0)
    live_abuse_share: float = Field(ge=0.0, le=1.0)
    repost_own_share: float = Field(ge=0.0, le=1.0)
    repost_near_duplicate_share: float = Field(ge=0.0, le=1.0)
    throwaway_account_share: float = Field(ge=0.0, le=1.0)


RISK_STATES = ("ongoing_access", "live_abuse", "self_harm")
"""The hidden risk states of a case: a child in danger now."""

RISK_FLAGS = {
    "ongoing_access": ReportFlag.ONGOING_ACCESS,
    "live_abuse": ReportFlag.LIVE_STREAMING,
    "self_harm": ReportFlag.SELF_HARM_THREAT,
}
"""The report flag that states each risk state when a reporter sees it."""


class Risk(_Strict):
    self_harm: dict[str, float] = Field(default_factory=dict)


class Observation(_Strict):
    flag_recall: dict[Literal["ongoing_access", "live_abuse", "self_harm"], float]
    silent_share: float = Field(ge=0.0, le=1.0)
    text_cue: float = Field(ge=0.0, le=1.0)
    vague_cue: float = Field(ge=0.0, le=1.0)
    false_flags: dict[ReportFlag, float] = Field(default_factory=dict)
    false_text_cue: float = Field(ge=0.0, le=1.0)
    vague_cue_ordinary: float = Field(ge=0.0, le=1.0)
    french: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shares(self) -> Observation:
        for name, share in [
            *self.flag_recall.items(),
            *self.false_flags.items(),
            *self.french.items(),
        ]:
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name}: share must be between 0 and 1")
        return self


class IdentifierNoise(_Strict):
    email_case: float = Field(ge=0.0, le=1.0)
    email_variant: float = Field(ge=0.0, le=1.0)
    phone_format: float = Field(ge=0.0, le=1.0)
    phone_typo: float = Field(ge=0.0, le=1.0)
    username_case: float = Field(ge=0.0, le=1.0)
    username_variant: float = Field(ge=0.0, le=1.0)
    account_renewal: float = Field(ge=0.0, le=1.0)
    one_off_phone: float = Field(ge=0.0, le=1.0)


class Addresses(_Strict):
    dynamic_share: float = Field(ge=0.0, le=1.0)
    dynamic_pool_per_country: int = Field(ge=1, le=2048)
    lease_days: float = Field(gt=0.0)
    cgnat_per_country: int = Field(ge=0, le=8)
    wifi_per_country: int = Field(ge=0, le=8)
    gateway_share: float = Field(ge=0.0, le=1.0)
    household_device_share: float = Field(ge=0.0, le=1.0)
    household_report_share: float = Field(ge=0.0, le=1.0)


class Persons(_Strict):
    named_share: float = Field(ge=0.0, le=1.0)
    date_of_birth_share: float = Field(ge=0.0, le=1.0)
    address_share: float = Field(ge=0.0, le=1.0)
    name_variation: float = Field(ge=0.0, le=1.0)
    homonym_share: float = Field(ge=0.0, le=1.0)


class Transform(_Strict):
    weight: float = Field(ge=0.0)
    bits: tuple[int, int]

    @model_validator(mode="after")
    def _range(self) -> Transform:
        low, high = self.bits
        if not 0 <= low <= high <= 256:
            raise ValueError("bits must be [low, high] with 0 <= low <= high <= 256")
        return self


class Media(_Strict):
    video_share: float = Field(ge=0.0, le=1.0)
    reshare_new_share: float = Field(ge=0.0, le=1.0)
    series_size_mean: float = Field(ge=1.0)
    transforms: dict[str, Transform] = Field(min_length=1)


class Takedowns(_Strict):
    share: float = Field(ge=0.0, le=1.0)
    median_hours: float = Field(gt=0.0)
    spread: float = Field(ge=0.0)
    during: float = Field(gt=0.0)
    never_removed: float = Field(ge=0.0, le=1.0)


class Usage(_Strict):
    stop_or_reduce_share: float = Field(ge=0.0, le=1.0)
    stop_share: float = Field(ge=0.0, le=1.0)
    reduce_factor: float = Field(ge=0.0, le=1.0)


class Travel(_Strict):
    trips_per_year: float = Field(ge=0.0)
    during: float = Field(ge=0.0)
    after: float = Field(ge=0.0)
    after_weeks: int = Field(ge=0)
    decoys_per_trip: float = Field(ge=0.0)
    name_variation: float = Field(ge=0.0, le=1.0)


class Questionnaire(_Strict):
    sent_on: date
    noise: float = Field(ge=0.0, le=1.0)


class Schools(_Strict):
    incidents_per_week: float = Field(ge=0.0)


class ScenarioConfig(_Strict):
    """Everything the generator reads besides the seed, size and period."""

    restrictions: Restrictions
    countries: Countries
    volume: Volume
    streams: dict[str, Stream] = Field(min_length=1)
    channel_effects: dict[Channel, float] = Field(default_factory=dict)
    viral: Viral
    intrusions: Intrusions
    offenders: Offenders
    risk: Risk
    observation: Observation
    identifiers: IdentifierNoise
    addresses: Addresses
    persons: Persons
    media: Media
    takedowns: Takedowns
    usage: Usage
    travel: Travel
    questionnaire: Questionnaire
    schools: Schools

    @model_validator(mode="after")
    def _risk_streams(self) -> ScenarioConfig:
        for name, share in self.risk.self_harm.items():
            if name not in self.streams:
                raise ValueError(f"risk.self_harm: {name!r} is not a stream")
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"risk.self_harm.{name}: share must be between 0 and 1")
        return self


def default_config_text() -> str:
    """The text of the shipped ``scenario.yaml``."""
    return resources.files("veille.synth").joinpath("scenario.yaml").read_text(encoding="utf-8")


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base``, mapping by mapping."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(path: Path | None = None) -> ScenarioConfig:
    """The default scenario, with the YAML file at ``path`` (if any) merged over it."""
    data = load_yaml_limited(default_config_text())
    if path is not None:
        try:
            override = load_yaml_limited(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, YamlLimitError) as error:
            raise ScenarioConfigError(f"{path}: cannot read YAML: {error}") from None
        if not isinstance(override, dict):
            raise ScenarioConfigError(f"{path}: expected a mapping at the top level")
        data = merge(data, override)
    try:
        return ScenarioConfig.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        source = path if path is not None else "scenario.yaml"
        raise ScenarioConfigError(
            f"{source}: {where}: {first['msg']} (got {first.get('input')!r})"
        ) from None
