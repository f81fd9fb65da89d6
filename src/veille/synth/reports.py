"""Assemble one synthetic report (the ``ReportIn`` import record) and its truth lines.

A report gets a channel, an owner, times, offences, flags, identifiers of the
reported person (a recurring offender or a one-off user) and media drawn from
the content world. The builder writes the report line and, beside it, the
truth lines: which offender it is about and what each file really is.
"""

from __future__ import annotations

import bisect
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

import numpy as np

from veille.synth.config import Mix, ScenarioConfig, Stream
from veille.synth.identifiers import IdentifierFactory
from veille.synth.media import ContentBase, MediaDraw, Wave
from veille.synth.people import Offender, OffenderPools, pool_of
from veille.synth.volume import channel_weights
from veille.synth.world import Platform, World
from veille.vocab import PlatformCategory

REPORTER_KIND = {
    "esp_api": "esp",
    "partner_referral": "police",
    "bulk_import": "ngo",
}
MARKINGS = ("amber", "green", "amber+strict", "red")
MARKING_CUMULATIVE = (0.72, 0.90, 0.96, 1.0)
_ESP_CATEGORIES = {
    PlatformCategory.SOCIAL_MEDIA,
    PlatformCategory.MESSAGING,
    PlatformCategory.ONLINE_GAMING,
    PlatformCategory.VIDEO_CONFERENCE,
    PlatformCategory.PAID_CONTENT,
    PlatformCategory.WEBSITE,
}


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> str:
    """Compact, stable JSON for one output line."""
    return _ENCODER.encode(value)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson count (Knuth's method for small means, a rounded normal for large ones)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


@dataclass
class ReportSpec:
    """What the generator decided about one report before it is assembled."""

    stream_name: str
    stream: Stream
    country: str
    received_at: datetime
    incident_at: datetime | None
    restricted: bool
    wave: Wave | None = None
    channel: str | None = None
    platform: Platform | None = None
    extra_offences: list[str] = field(default_factory=list)
    forced_media: list[MediaDraw] | None = None


@dataclass
class ReportWriter:
    """Builds report lines and their truth; counts what it wrote."""

    seed: int
    config: ScenarioConfig
    world: World
    content: ContentBase
    offenders: OffenderPools
    factory: IdentifierFactory
    shared_ips: list[str]
    rng: random.Random
    reports_out: IO[str]
    links_out: IO[str]
    media_out: IO[str]
    on_report: Callable[[dict[str, Any], ReportSpec, Offender | None], None]
    written: int = 0
    media_written: int = 0
    high_priority: list[dict[str, object]] = field(default_factory=list)
    shared_ip_reports: int = 0
    id_tag: str = ""
    _channel_cache: dict[tuple[int, bool], tuple[list[str], list[float]]] = field(
        default_factory=dict
    )

    def external_id(self) -> str:
        """The next report id (``SYN<seed>-<part letter><8 digits>``)."""
        self.written += 1
        return f"SYN{self.seed}-{self.id_tag}{self.written:08d}"

    def write(self, spec: ReportSpec) -> dict[str, Any]:
        """Assemble, write and return one report."""
        rng = self.rng
        stream = spec.stream
        channel = spec.channel or self._channel(stream, spec.restricted)
        offender = None
        if spec.wave is None and rng.random() < stream.offender_share:
            pool = pool_of(stream.category, [str(o) for o in stream.offences])
            offender = self.offenders.draw(spec.country, pool, rng)
        platform = spec.platform or self._platform(stream.category, offender)
        offences = [o.value for o in stream.offences] + spec.extra_offences
        for offence, probability in stream.extra_offences.items():
            if rng.random() < probability:
                offences.append(offence.value)
        flags = [flag.value for flag, p in stream.flags.items() if rng.random() < p]
        identifiers = self._identifiers(stream.category, platform, offender)
        reasons: list[str] = []
        produces_new = False
        if offender is not None and offender.hands_on:
            if offender.ongoing_access:
                reasons.append("ongoing_access")
                if rng.random() < 0.7:
                    flags.append("ongoing_access")
            if stream.category != PlatformCategory.OFFLINE:
                produces_new = True
                offences.append("csam_production")
                if rng.random() < 0.7:
                    flags.append("hands_on_abuse")
        if "self_harm_threat" in flags:
            reasons.append("self_harm_threat")
        media = (
            spec.forced_media
            if spec.forced_media is not None
            else self._media(stream, spec.restricted, produces_new)
        )
        external_id = self.external_id()
        record: dict[str, Any] = {
            "external_id": external_id,
            "source": f"synth-{self.seed}",
            "channel": channel,
            "reporter_kind": REPORTER_KIND.get(channel, "public"),
            "received_at": spec.received_at.isoformat(),
            "incident_at": spec.incident_at.isoformat() if spec.incident_at else None,
            "stated_country": spec.country,
            "platform": platform.name if platform else None,
            "platform_category": stream.category.value,
            "offence_types": sorted(set(offences)),
            "flags": sorted(set(flags)),
            "summary": f"Synthetic {spec.stream_name.replace('_', ' ')} report ({spec.country}).",
            "marking": MARKINGS[bisect.bisect_left(MARKING_CUMULATIVE, rng.random())],
            "owner_agency": self.world.owner_for(spec.country, channel, platform),
            "identifiers": identifiers,
            "media": [draw.fields for draw in media],
        }
        if record["incident_at"] is None:
            del record["incident_at"]
        self.reports_out.write(dumps(record) + "\n")
        for index, draw in enumerate(media):
            self.media_out.write(
                f'{{"report":"{external_id}","index":{index},{dumps(draw.truth())[1:]}\n'
            )
        self.media_written += len(media)
        if offender is not None:
            offender.note_identifiers([f"{i['kind']}:{i['value']}" for i in identifiers])
            self.links_out.write(
                f'{{"report":"{external_id}","offender":"{offender.offender_id}"}}\n'
            )
        if reasons:
            self.high_priority.append(
                {
                    "report": external_id,
                    "offender": offender.offender_id if offender else None,
                    "country": spec.country,
                    "reasons": reasons,
                    "flagged": sorted(
                        set(flags) & {"ongoing_access", "hands_on_abuse", "self_harm_threat"}
                    ),
                }
            )
        self.on_report(record, spec, offender)
        return record

    def _channel(self, stream: Stream, restricted: bool) -> str:
        key = (id(stream), restricted)
        if key not in self._channel_cache:
            weights = channel_weights(stream, self.config, restricted)
            cumulative = np.cumsum(weights).tolist()
            cumulative[-1] = 1.0
            self._channel_cache[key] = ([str(c.value) for c in stream.channels], cumulative)
        names, cumulative = self._channel_cache[key]
        return names[bisect.bisect_left(cumulative, self.rng.random())]

    def _platform(self, category: PlatformCategory, offender: Offender | None) -> Platform | None:
        options = self.world.platforms_of(category)
        if not options:
            return None
        if offender is not None:
            for platform in options:
                if platform.name in offender.accounts:
                    return platform
        return options[self.rng.randrange(len(options))]

    def _identifiers(
        self, category: PlatformCategory, platform: Platform | None, offender: Offender | None
    ) -> list[dict[str, str]]:
        rng, factory = self.rng, self.factory
        found: list[dict[str, str]] = []

        def add(kind: str, value: str | None, on: str = "") -> None:
            if value:
                found.append(
                    {"kind": kind, "value": value, "platform": on}
                    if on
                    else {"kind": kind, "value": value}
                )

        if category == PlatformCategory.P2P:
            add("p2p_client_id", offender.p2p_client_id if offender else factory.p2p_client_id())
            add(
                "ip", offender.ips[rng.randrange(len(offender.ips))] if offender else factory.ipv6()
            )
        elif category == PlatformCategory.DARKNET_FORUM and platform is not None:
            account = offender.accounts.get(platform.name) if offender else None
            add("username", account or factory.username(), platform.name)
        elif category in _ESP_CATEGORIES and platform is not None:
            if offender is not None:
                add("username", offender.accounts.get(platform.name), platform.name)
                if offender.emails and rng.random() < 0.6:
                    add("email", offender.emails[rng.randrange(len(offender.emails))])
                if rng.random() < 0.5:
                    add("ip", offender.ips[rng.randrange(len(offender.ips))])
                if offender.phone and rng.random() < 0.25:
                    add("phone", offender.phone)
                if offender.payment_handle and rng.random() < 0.9:
                    add("payment_handle", offender.payment_handle)
            else:
                add("username", factory.username(), platform.name)
                if rng.random() < 0.5:
                    add("email", factory.email())
                if rng.random() < 0.4:
                    add("ip", factory.ipv6())
            if rng.random() < self.config.offenders.shared_ip_share:
                add("ip", self.shared_ips[rng.randrange(len(self.shared_ips))])
                self.shared_ip_reports += 1
            if category == PlatformCategory.WEBSITE or rng.random() < 0.2:
                add("url", factory.url(platform.domain))
        elif offender is not None:
            if offender.phone and rng.random() < 0.3:
                add("phone", offender.phone)
            if offender.emails and rng.random() < 0.2:
                add("email", offender.emails[0])
        return found

    def _media(self, stream: Stream, restricted: bool, produces_new: bool) -> list[MediaDraw]:
        rng = self.rng
        count = poisson(rng, stream.media)
        if produces_new:
            count = max(count, 1)
        if count == 0:
            return []
        mix: Mix = stream.mix_in_restrictions() if restricted else stream.mix
        total = mix.known + mix.version + mix.new
        cut_known = mix.known / total
        cut_version = cut_known + mix.version / total
        draws = []
        for _ in range(count):
            roll = rng.random()
            if produces_new or roll >= cut_version:
                draws.append(self.content.draw_new(rng, reshare=not produces_new))
            elif roll < cut_known:
                draws.append(self.content.draw_known(rng))
            else:
                draws.append(self.content.draw_version(rng))
        return draws


def time_in_week(world: World, week: int, rng: random.Random) -> datetime:
    """A random moment (whole seconds) of week ``week`` inside the scenario's period."""
    low, span = world.week_bounds(week)
    return low + timedelta(seconds=int(rng.random() * span))
