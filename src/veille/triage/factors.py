"""What each policy factor means, as a function of a report's signals.

Each factor answers "how much of its weight applies" (0 to 1) and why, in
words an analyst can check against the report. The policy only weighs them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from veille.triage.policy import FactorSpec
from veille.triage.signals import ReportSignals

# (fraction of the weight that applies, the evidence in words)
Applied = tuple[float, str]
FactorRule = Callable[[ReportSignals, FactorSpec, datetime], Applied | None]


def _any_of(signals: ReportSignals, flags: set[str], offences: set[str]) -> str | None:
    found = sorted(signals.flags & flags) + sorted(signals.offences & offences)
    return ", ".join(found) if found else None


def _marker(flags: set[str], offences: set[str]) -> FactorRule:
    def rule(signals: ReportSignals, spec: FactorSpec, as_of: datetime) -> Applied | None:
        found = _any_of(signals, flags, offences)
        return None if found is None else (1.0, found)

    return rule


# Media that matched no list is only *possibly* new content: most reported
# media is simply not in any list yet. It counts for a quarter of the weight;
# a production offence (someone made the content) counts in full.
UNMATCHED_MEDIA_SHARE = 0.25


def _new_content(signals: ReportSignals, spec: FactorSpec, as_of: datetime) -> Applied | None:
    if "csam_production" in signals.offences:
        return 1.0, "offence csam_production"
    if signals.media is not None and signals.media.new > 0:
        return (
            UNMATCHED_MEDIA_SHARE,
            f"{signals.media.new} media item(s) in no hash list (possibly new content)",
        )
    return None


def _unidentified_victim(
    signals: ReportSignals, spec: FactorSpec, as_of: datetime
) -> Applied | None:
    media = signals.media
    if media is not None and media.victim_identified_known:
        return None
    if "csam_production" in signals.offences:
        return 1.0, "production of content whose victim is not identified"
    if media is not None and (media.new > 0 or media.new_version > 0):
        return UNMATCHED_MEDIA_SHARE, "unmatched content: its victim is not identified"
    return None


def _new_version(signals: ReportSignals, spec: FactorSpec, as_of: datetime) -> Applied | None:
    if signals.media is not None and signals.media.new_version > 0:
        return 1.0, f"{signals.media.new_version} new version(s) of known content"
    return None


def _recency(signals: ReportSignals, spec: FactorSpec, as_of: datetime) -> Applied | None:
    when = signals.incident_at or signals.received_at
    age_days = max(0.0, (as_of - when).total_seconds() / 86400)
    full, zero = spec.full_days or 0.0, spec.zero_days or 1.0
    if age_days >= zero:
        return None
    share = 1.0 if age_days <= full else (zero - age_days) / (zero - full)
    label = "incident" if signals.incident_at else "report"
    return share, f"{label} {age_days:.0f} day(s) old"


def _linked(signals: ReportSignals, spec: FactorSpec, as_of: datetime) -> Applied | None:
    if signals.cluster is None or signals.cluster.size < 2:
        return None
    others = signals.cluster.size - 1
    cap = spec.saturate_at or 1
    return (
        min(others, cap) / cap,
        f"linked to {others} other report(s) in case cluster {signals.cluster.cluster_id}",
    )


def _countries(signals: ReportSignals, spec: FactorSpec, as_of: datetime) -> Applied | None:
    if signals.cluster is None or signals.cluster.country_count < 2:
        return None
    return 1.0, f"case cluster spans {signals.cluster.country_count} countries"


def _viral_only(signals: ReportSignals, spec: FactorSpec, as_of: datetime) -> Applied | None:
    media = signals.media
    viral = "viral" in signals.flags or (media is not None and media.viral)
    known_only = media is not None and media.known > 0 and media.new == 0 and media.new_version == 0
    if not (viral or known_only):
        return None
    return 1.0, "viral content" if viral else f"{media.known if media else 0} known item(s) only"


def _linked_risk(signals: ReportSignals, spec: FactorSpec, as_of: datetime) -> Applied | None:
    said: list[str] = []
    if signals.cluster_flags:
        said.append("is flagged " + ", ".join(sorted(signals.cluster_flags)))
    if signals.cluster_text_states:
        states = ", ".join(STATE_WORDS[state] for state in sorted(signals.cluster_text_states))
        said.append("states in its text " + states)
    if not said:
        return None
    return 1.0, "another report of its case cluster " + "; another ".join(said)


def _possibly_linked_risk(
    signals: ReportSignals, spec: FactorSpec, as_of: datetime
) -> Applied | None:
    # A case cluster's own risk says more; this one is for reports that weak evidence
    # alone (a named suspect without a date of birth, a rough match) joins to a risk.
    if not signals.candidate_risks or signals.cluster_flags or signals.cluster_text_states:
        return None
    said = [
        f"is flagged {risk[5:]}" if risk.startswith("flag:") else f"states {STATE_WORDS[risk[5:]]}"
        for risk in sorted(signals.candidate_risks)
    ]
    return 1.0, (
        "a report that may be about the same named suspect (candidate link, match "
        f"{signals.candidate_score:.2f}, to be confirmed) " + "; ".join(said)
    )


# How a risk state reads in a reason.
STATE_WORDS = {
    "ongoing_access": "ongoing access to a child",
    "live_abuse": "abuse happening now",
    "self_harm": "a child threatening self-harm",
}


def _risk_in_text(signals: ReportSignals, spec: FactorSpec, as_of: datetime) -> Applied | None:
    if not signals.text_cues.plain:
        return None
    return 1.0, "the summary states " + "; ".join(
        f'{STATE_WORDS[state]}: "{words}"' for state, words in signals.text_cues.plain
    )


def _concern_in_text(signals: ReportSignals, spec: FactorSpec, as_of: datetime) -> Applied | None:
    if signals.text_cues.vague is None:
        return None
    return 1.0, f'the summary voices a concern for the child: "{signals.text_cues.vague}"'


RULES: dict[str, FactorRule] = {
    "hands_on_abuse": _marker({"hands_on_abuse"}, {"contact_abuse"}),
    "ongoing_access": _marker({"ongoing_access"}, set()),
    "new_content_production": _new_content,
    "unidentified_victim_new_content": _unidentified_victim,
    "live_streaming": _marker({"live_streaming"}, {"live_streaming_abuse"}),
    "infant_victim": _marker({"infant_victim"}, set()),
    "sextortion": _marker(set(), {"sextortion"}),
    "self_harm_threat": _marker({"self_harm_threat"}, set()),
    "domestic_setting": _marker({"domestic_setting"}, {"domestic_abuse"}),
    "grooming": _marker(set(), {"grooming"}),
    "commercial_exploitation": _marker(set(), {"commercial_exploitation"}),
    "travelling_offender": _marker({"travelling_offender"}, {"travelling_offender"}),
    "new_version_of_known": _new_version,
    "escalated": _marker({"escalated"}, set()),
    "recency": _recency,
    "linked_reports": _linked,
    "several_countries": _countries,
    "linked_to_child_at_risk": _linked_risk,
    "possibly_linked_to_child_at_risk": _possibly_linked_risk,
    "risk_stated_in_text": _risk_in_text,
    "concern_in_text": _concern_in_text,
    "known_viral_only": _viral_only,
}

# Factors that do not count as "another signal" for known_viral_only.
CONTEXT_FACTORS = frozenset({"recency", "known_viral_only"})
