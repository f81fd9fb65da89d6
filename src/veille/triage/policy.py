"""The triage scoring policy: a versioned YAML file, validated before it is used.

A policy names factors (from the fixed set in :data:`FACTORS`, each computed
from a report's facts) with their weights, and priority bands with a minimum
score and a due time. Loading a policy that does not validate raises
:class:`PolicyError`, whose messages name the key at fault; the active policy
stays what it was.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from veille.safe_yaml import YamlLimitError, clip, load_yaml_limited
from veille.store.audit import record_event
from veille.triage.models import TriagePolicy

BANDS = ("P1", "P2", "P3", "P4")

# Every factor a policy may weigh, and what makes it apply.
FACTORS: dict[str, str] = {
    "hands_on_abuse": "hands-on (contact) abuse: flag hands_on_abuse or offence contact_abuse",
    "ongoing_access": "the offender still has access to a child: flag ongoing_access",
    "new_content_production": "production of new content: offence csam_production or new media",
    "unidentified_victim_new_content": "new content whose victim is not identified",
    "live_streaming": "live streaming: flag live_streaming or offence live_streaming_abuse",
    "infant_victim": "infant or very young victim: flag infant_victim",
    "sextortion": "sextortion of a child: offence sextortion",
    "self_harm_threat": "a child threatens self-harm: flag self_harm_threat (a life at risk now)",
    "domestic_setting": "abuse in the home: flag domestic_setting or offence domestic_abuse",
    "grooming": "grooming of a child: offence grooming",
    "commercial_exploitation": "paid content or commercial exploitation",
    "travelling_offender": "travelling offender: flag or offence travelling_offender",
    "new_version_of_known": "a new version of known content (a lead to the original)",
    "escalated": "escalated by an analyst: flag escalated",
    "recency": "recent incident: full weight up to full_days, none after zero_days",
    "linked_reports": "linked to other reports: weight × min(others, saturate_at) / saturate_at",
    "several_countries": "its case cluster spans two or more countries",
    "linked_to_child_at_risk": "another report of its case cluster is flagged ongoing_access, "
    "live_streaming or self_harm_threat, or its summary states a child in danger now",
    "possibly_linked_to_child_at_risk": "a candidate link (a named suspect who may be the same "
    "person, to be confirmed) joins it to such a report; not when its own cluster already does",
    "risk_stated_in_text": "the summary states a child in danger now (ongoing access, abuse "
    "happening now, self-harm), in English or French",
    "concern_in_text": "the summary voices a vague concern for the child",
    "known_viral_only": "known or viral content and no other signal (use a negative weight)",
}


# Messages echo keys and values from the file: each is cut, and so is their
# number, so that a hostile file cannot make the answer larger than itself.
MAX_MESSAGES = 20
MAX_MESSAGE_CHARS = 200


class PolicyError(ValueError):
    """A policy file that cannot be used; ``messages`` name each key at fault."""

    def __init__(self, source: str, messages: list[str]) -> None:
        shown = [clip(message, MAX_MESSAGE_CHARS) for message in messages[:MAX_MESSAGES]]
        if len(messages) > MAX_MESSAGES:
            shown.append(f"... and {len(messages) - MAX_MESSAGES} more problems")
        source = clip(source, MAX_MESSAGE_CHARS)
        super().__init__(f"{source}: " + "; ".join(shown))
        self.source = source
        self.messages = shown


class FactorSpec(BaseModel):
    """One factor's weight and, for scaled factors, its parameters."""

    model_config = ConfigDict(extra="forbid")

    weight: float = Field(ge=-100, le=100)
    full_days: float | None = Field(default=None, ge=0)
    zero_days: float | None = Field(default=None, gt=0)
    saturate_at: int | None = Field(default=None, ge=1)


class BandSpec(BaseModel):
    """A priority band: from which score, and within how many hours it is due."""

    model_config = ConfigDict(extra="forbid")

    min_score: float
    due_hours: float = Field(gt=0)


class PolicySpec(BaseModel):
    """The whole policy file."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=64)
    description: str | None = None
    factors: dict[str, FactorSpec]
    bands: dict[str, BandSpec]

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        # "version: 2" in YAML is a number; it is still a fine version.
        return (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )

    @model_validator(mode="after")
    def _consistent(self) -> PolicySpec:
        problems = []
        unknown = [name for name in self.factors if name not in FACTORS]
        for name in unknown[:MAX_MESSAGES]:
            problems.append(
                f"factors.{clip(name, 60)}: unknown factor (see the factor table in docs/triage.md)"
            )
        recency = self.factors.get("recency")
        if recency is not None:
            if recency.full_days is None or recency.zero_days is None:
                problems.append("factors.recency: full_days and zero_days are required")
            elif recency.full_days >= recency.zero_days:
                problems.append("factors.recency.full_days: must be less than zero_days")
        linked = self.factors.get("linked_reports")
        if linked is not None and linked.saturate_at is None:
            problems.append("factors.linked_reports.saturate_at: required (an integer ≥ 1)")
        if sorted(self.bands) != sorted(BANDS):
            problems.append(
                f"bands: expected exactly {', '.join(BANDS)}, got {', '.join(self.bands) or 'none'}"
            )
        else:
            for higher, lower in itertools.pairwise(BANDS):
                if self.bands[higher].min_score <= self.bands[lower].min_score:
                    problems.append(
                        f"bands.{higher}.min_score: must be above bands.{lower}.min_score "
                        f"({self.bands[higher].min_score} ≤ {self.bands[lower].min_score})"
                    )
                if self.bands[higher].due_hours > self.bands[lower].due_hours:
                    problems.append(
                        f"bands.{higher}.due_hours: must not exceed bands.{lower}.due_hours"
                    )
        if problems:
            raise ValueError("\n".join(problems))
        return self


@dataclass(frozen=True)
class Policy:
    """A validated policy and its source text."""

    spec: PolicySpec
    text: str

    @property
    def version(self) -> str:
        """The policy's version string."""
        return self.spec.version

    def weight(self, factor: str) -> float:
        """A factor's weight (0 when the policy leaves it out)."""
        found = self.spec.factors.get(factor)
        return 0.0 if found is None else found.weight

    def band_for(self, score: float) -> tuple[str, float]:
        """The band a score falls in and its due time in hours."""
        for band in BANDS:
            spec = self.spec.bands[band]
            if score >= spec.min_score:
                return band, spec.due_hours
        return BANDS[-1], self.spec.bands[BANDS[-1]].due_hours


def _messages(error: ValidationError) -> list[str]:
    messages = []
    for item in error.errors():
        location = clip(".".join(str(part) for part in item["loc"]), 100)
        text = item["msg"].removeprefix("Value error, ")
        if item["type"] == "value_error" and not location:
            # Whole-file checks already name their keys, one per line.
            messages.extend(text.splitlines())
            continue
        got = item.get("input")
        suffix = (
            f" (got {clip(repr(got), 60)})"
            if got is not None and not isinstance(got, dict | list)
            else ""
        )
        messages.append(f"{location or '(file)'}: {text}{suffix}")
    return messages


def parse_policy(text: str, source: str = "policy") -> Policy:
    """Validate a policy's YAML text; raises :class:`PolicyError` naming every key at fault."""
    try:
        data = load_yaml_limited(text)
    except YamlLimitError as error:
        raise PolicyError(source, [str(error)]) from None
    if not isinstance(data, dict):
        raise PolicyError(source, ["(file): expected a mapping with version, factors and bands"])
    try:
        spec = PolicySpec.model_validate(data)
    except ValidationError as error:
        raise PolicyError(source, _messages(error)) from None
    return Policy(spec, text)


def read_policy_file(path: Path) -> Policy:
    """Read and validate a policy file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(str(path), [f"cannot read the file: {error}"]) from None
    return parse_policy(text, str(path))


def default_policy() -> Policy:
    """The policy shipped with Veille (``veille/triage/policy.yaml``)."""
    text = resources.files("veille.triage").joinpath("policy.yaml").read_text(encoding="utf-8")
    return parse_policy(text, "veille/triage/policy.yaml")


def active_policy(session: Session) -> Policy:
    """The policy loaded last, or the default one when none was loaded."""
    stored = session.scalar(select(TriagePolicy).where(TriagePolicy.active.is_(True)))
    if stored is None:
        return default_policy()
    return parse_policy(stored.source_text, f"stored policy {stored.version}")


def install_policy(session: Session, policy_text: str, *, actor: str, source: str) -> Policy:
    """Validate and activate a policy; on any error the active policy is unchanged.

    A version already loaded with other content is refused: bump the version.
    """
    policy = parse_policy(policy_text, source)
    stored = session.scalar(select(TriagePolicy).where(TriagePolicy.version == policy.version))
    if stored is not None and stored.source_text != policy_text:
        raise PolicyError(
            source,
            [
                f"version: {policy.version!r} was already loaded with other content; bump the version"
            ],
        )
    session.execute(update(TriagePolicy).values(active=False))
    if stored is None:
        session.add(
            TriagePolicy(
                version=policy.version,
                description=policy.spec.description,
                source_text=policy_text,
                active=True,
                loaded_by=actor,
            )
        )
    else:
        stored.active = True
    record_event(
        session,
        actor=actor,
        action="triage.policy.load",
        object_type="triage_policy",
        object_id=policy.version,
        detail=source,
    )
    session.flush()
    return policy


def describe_policy(policy: Policy) -> dict[str, Any]:
    """A policy as plain data, for display."""
    return {
        "version": policy.version,
        "description": (policy.spec.description or "").strip(),
        "factors": {
            name: {**spec.model_dump(exclude_none=True), "meaning": FACTORS[name]}
            for name, spec in policy.spec.factors.items()
        },
        "bands": {name: spec.model_dump() for name, spec in policy.spec.bands.items()},
    }
