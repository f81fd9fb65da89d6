"""Assemble one synthetic report (the ``ReportIn`` import record) and its truth lines.

A report gets a channel, an owner, times, offences, flags, a free-text
summary, identifiers of the reported person (a recurring offender or a
one-off user, written with the noise of ``noise``) and media drawn from the
content world. A report may be a case: a child in danger now (a hidden risk
state), which the reporter sees or not through the observation model. The
builder writes the report line and, beside it, the truth lines: which
offender it is about, the evidence in it that can connect it to their other
reports, its cues, and what each file really is.
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

from veille.synth.config import RISK_FLAGS, RISK_STATES, Mix, ScenarioConfig, Stream
from veille.synth.identifiers import IdentifierFactory
from veille.synth.media import ContentBase, MediaDraw, Wave
from veille.synth.noise import (
    AddressPlan,
    email_case,
    email_variant,
    name_variant,
    phone_format,
    phone_typo,
    username_case,
    username_variant,
)
from veille.synth.people import NamePools, Offender, OffenderPools, pool_of
from veille.synth.summaries import suspect_sentence, write_summary
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


CUE_FLAGS = {flag.value for flag in RISK_FLAGS.values()}
"""Flags a reader takes as a sign of a child in danger now."""

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
    addresses: AddressPlan
    names: NamePools
    rng: random.Random
    reports_out: IO[str]
    links_out: IO[str]
    media_out: IO[str]
    cases_out: IO[str]
    streams_out: IO[str]
    on_report: Callable[[dict[str, Any], ReportSpec, Offender | None], None]
    written: int = 0
    media_written: int = 0
    cases: int = 0
    shared_ip_reports: int = 0
    id_tag: str = ""
    _channel_cache: dict[tuple[int, bool], tuple[list[str], list[float]]] = field(
        default_factory=dict
    )
    _offender_persons: dict[str, list[dict[str, str]]] | None = None

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
        evidence: dict[str, list[str]] = {}
        producing = (
            offender is not None
            and offender.hands_on
            and stream.category != PlatformCategory.OFFLINE
        )
        if producing and rng.random() < self.config.offenders.throwaway_account_share:
            # Posted from a throwaway account: only the offender's own files can join it.
            identifiers = self._identifiers(stream.category, platform, None, spec, {})
        else:
            identifiers = self._identifiers(stream.category, platform, offender, spec, evidence)
        risk: list[str] = []
        produces_new = False
        if offender is not None and offender.hands_on:
            if offender.ongoing_access:
                risk.append("ongoing_access")
            if stream.category != PlatformCategory.OFFLINE:
                produces_new = True
                offences.append("csam_production")
                if rng.random() < 0.7:
                    flags.append("hands_on_abuse")
                if offender.live_abuse:
                    risk.append("live_abuse")
        self_harm = self.config.risk.self_harm.get(spec.stream_name, 0.0)
        if self_harm and rng.random() < self_harm:
            risk.append("self_harm")
        cue, vague, risk_flags = self._observe(risk)
        flags += risk_flags
        french = rng.random() < self.config.observation.french.get(spec.country, 0.0)
        suspect, named = None, None
        if stream.category == PlatformCategory.OFFLINE:
            suspect, named = self._suspect(offender, spec.country, french, evidence)
        offences = sorted(set(offences))
        media = (
            spec.forced_media
            if spec.forced_media is not None
            else self._media(stream, spec.restricted, produces_new, offender, evidence)
        )
        external_id = self.external_id()
        owner = self.world.owner_for(spec.country, channel, platform)
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
            "offence_types": offences,
            "flags": sorted(set(flags)),
            "summary": write_summary(channel, offences, cue, vague, suspect, french, rng),
            "marking": MARKINGS[bisect.bisect_left(MARKING_CUMULATIVE, rng.random())],
            "owner_agency": owner,
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
        self.streams_out.write(f'{{"report":"{external_id}","stream":"{spec.stream_name}"}}\n')
        seen = sorted(set(record["flags"]) & CUE_FLAGS)
        cues = (["flag"] if seen else []) + (["text"] if cue else []) + (["vague"] if vague else [])
        if offender is not None:
            offender.note_identifiers(evidence.get("exact", []))
            line: dict[str, Any] = {
                "report": external_id,
                "offender": offender.offender_id,
                "evidence": {level: sorted(set(keys)) for level, keys in sorted(evidence.items())},
                "cues": cues,
            }
            if named is not None:
                line["named"] = named
            self.links_out.write(dumps(line) + "\n")
        if risk:
            self.cases += 1
            self.cases_out.write(
                dumps(
                    {
                        "report": external_id,
                        "offender": offender.offender_id if offender else None,
                        "country": spec.country,
                        "owner_agency": owner,
                        "risk": risk,
                        "flags": seen,
                        "text": "plain" if cue in risk else ("vague" if vague else None),
                    }
                )
                + "\n"
            )
        self.on_report(record, spec, offender)
        return record

    def _observe(self, risk: list[str]) -> tuple[str | None, bool, list[str]]:
        """What the reporter saw of the hidden risk: a cue for the text, a vague cue, flags."""
        rng, seen = self.rng, self.config.observation
        if risk:
            if rng.random() < seen.silent_share:
                return None, False, []
            flags = [
                RISK_FLAGS[state].value
                for state in risk
                if rng.random() < seen.flag_recall.get(state, 0.0)  # type: ignore[call-overload]
            ]
            if rng.random() < seen.text_cue:
                return risk[rng.randrange(len(risk))], False, flags
            return None, rng.random() < seen.vague_cue, flags
        flags = [flag.value for flag, p in seen.false_flags.items() if rng.random() < p]
        if rng.random() < seen.false_text_cue:
            return RISK_STATES[rng.randrange(len(RISK_STATES))], False, flags
        return None, rng.random() < seen.vague_cue_ordinary, flags

    def _suspect(
        self, offender: Offender | None, country: str, french: bool, evidence: dict[str, list[str]]
    ) -> tuple[str | None, str | None]:
        """The sentence naming the suspect of an offline report (if the reporter knows them)."""
        rng, settings = self.rng, self.config.persons
        if rng.random() >= settings.named_share:
            return None, None
        if offender is not None and offender.person is not None:
            person = offender.person
            home = offender.home or self.names.home(country, rng)
            evidence.setdefault("name", []).append(f"person:{offender.offender_id}")
        else:
            if self._offender_persons is None:
                self._offender_persons = {}
                for other in self.offenders.offenders:
                    if other.person is not None:
                        self._offender_persons.setdefault(other.countries[0], []).append(
                            other.person
                        )
            namesakes = self._offender_persons.get(country)
            person = self.names.person(country, rng)
            if namesakes and rng.random() < settings.homonym_share:
                # Another person with an offender's name: matching a name alone misleads.
                namesake = namesakes[rng.randrange(len(namesakes))]
                person["given_name"] = namesake["given_name"]
                person["family_name"] = namesake["family_name"]
            home = self.names.home(country, rng)
        given, family, named = person["given_name"], person["family_name"], "exact"
        if rng.random() < settings.name_variation:
            given, family, named = name_variant(given, family, rng)
        born = None
        if rng.random() < settings.date_of_birth_share:
            year, month, day = person["date_of_birth"].split("-")
            born = person["date_of_birth"] if rng.random() < 0.4 else f"{day}/{month}/{year}"
            if offender is not None and offender.person is not None:
                # A name with a date of birth identifies one person; a name alone does not.
                evidence.setdefault("person", []).append(f"person:{offender.offender_id}")
        place = None
        if rng.random() < settings.address_share:
            street, town = home
            place = (street, town, f"{street}, {town}")[rng.randrange(3)]
        return suspect_sentence(f"{given} {family}", born, place, french), named

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
        self,
        category: PlatformCategory,
        platform: Platform | None,
        offender: Offender | None,
        spec: ReportSpec,
        evidence: dict[str, list[str]],
    ) -> list[dict[str, str]]:
        rng, factory, noise = self.rng, self.factory, self.config.identifiers
        addresses = self.config.addresses
        found: list[dict[str, str]] = []

        def add(kind: str, value: str | None, on: str = "") -> None:
            if value:
                found.append(
                    {"kind": kind, "value": value, "platform": on}
                    if on
                    else {"kind": kind, "value": value}
                )

        def note(level: str, key: str) -> None:
            evidence.setdefault(level, []).append(key)

        def username(on: str) -> None:
            if offender is None:
                add("username", factory.username(), on)
                return
            value = offender.accounts.get(on)
            if value is None:
                return
            root = offender.handle_roots.get(on, value)
            if rng.random() < noise.account_renewal:
                # Banned, registered again under a handle close to the old one.
                value = offender.accounts[on] = username_variant(root, rng)
            note("exact", f"username:{on}:{value.lower()}")
            note("variant", f"username~{root.lower()}")
            add(
                "username",
                username_case(value, rng) if rng.random() < noise.username_case else value,
                on,
            )

        def email(value: str) -> None:
            note("variant", f"email~{value}")
            if rng.random() < noise.email_variant:
                value = email_variant(value, rng)
                note("exact", f"email:{value.lower()}")
                add("email", value)
                return
            note("exact", f"email:{value}")
            add("email", email_case(value, rng) if rng.random() < noise.email_case else value)

        def phone(value: str) -> None:
            note("variant", f"phone~{value}")
            if rng.random() < noise.phone_typo:
                value = phone_typo(value, rng)
                note("exact", f"phone:{value}")
                add("phone", value)
                return
            note("exact", f"phone:{value}")
            written = value
            if rng.random() < noise.phone_format:
                written = phone_format(value, spec.country, rng)
            add("phone", written)

        def ip() -> None:
            if offender is not None:
                if offender.dynamic_ip:
                    address = self.addresses.lease(
                        offender.countries[0], offender.subscriber, spec.received_at
                    )
                    note("address", f"ip:{address}")
                    add("ip", address)
                else:
                    address = offender.ips[rng.randrange(len(offender.ips))]
                    note("exact", f"ip:{address}")
                    add("ip", address)
            elif rng.random() < addresses.dynamic_share:
                add("ip", self.addresses.lease(spec.country, rng.getrandbits(48), spec.received_at))
            else:
                add("ip", factory.ipv6())

        if category == PlatformCategory.P2P:
            if offender is not None and offender.p2p_client_id:
                note("exact", f"p2p:{offender.p2p_client_id}")
                add("p2p_client_id", offender.p2p_client_id)
            else:
                add("p2p_client_id", factory.p2p_client_id())
            ip()
        elif category == PlatformCategory.DARKNET_FORUM and platform is not None:
            if offender is not None and platform.name in offender.accounts:
                username(platform.name)
            else:
                add("username", factory.username(), platform.name)
        elif category in _ESP_CATEGORIES and platform is not None:
            if offender is not None:
                username(platform.name)
                if offender.emails and rng.random() < 0.6:
                    email(offender.emails[rng.randrange(len(offender.emails))])
                if rng.random() < 0.5:
                    ip()
                if offender.phone and rng.random() < 0.25:
                    phone(offender.phone)
                if offender.payment_handle and rng.random() < 0.9:
                    note("exact", f"payment:{offender.payment_handle}")
                    add("payment_handle", offender.payment_handle)
                if offender.device_id and rng.random() < 0.3:
                    note("exact", f"device:{offender.device_id}")
                    add("device_id", offender.device_id)
            else:
                username(platform.name)
                if rng.random() < 0.5:
                    value = factory.email()
                    add(
                        "email",
                        email_case(value, rng) if rng.random() < noise.email_case else value,
                    )
                if rng.random() < 0.4:
                    ip()
                if rng.random() < noise.one_off_phone:
                    number = factory.phone(spec.country)
                    if number is not None and rng.random() < noise.phone_format:
                        number = phone_format(number, spec.country, rng)
                    add("phone", number)
                household = self.offenders.household_devices.get(spec.country)
                if household and rng.random() < addresses.household_report_share:
                    # Another member of an offender's household, on the shared device.
                    add("device_id", household[rng.randrange(len(household))])
            if rng.random() < addresses.gateway_share:
                gateway = self.addresses.gateway(spec.country, rng)
                if gateway is not None:
                    note("address", f"ip:{gateway}")
                    add("ip", gateway)
                    self.shared_ip_reports += 1
            if category == PlatformCategory.WEBSITE or rng.random() < 0.2:
                add("url", factory.url(platform.domain))
        elif offender is not None:
            if offender.phone and rng.random() < 0.3:
                phone(offender.phone)
            if offender.emails and rng.random() < 0.2:
                email(offender.emails[0])
        return found

    def _media(
        self,
        stream: Stream,
        restricted: bool,
        produces_new: bool,
        offender: Offender | None,
        evidence: dict[str, list[str]],
    ) -> list[MediaDraw]:
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
        settings = self.config.offenders
        draws = []
        for _ in range(count):
            roll = rng.random()
            if produces_new and offender is not None:
                own = offender.own_media
                if own and rng.random() < settings.repost_own_share:
                    original = own[rng.randrange(len(own))]
                    if rng.random() < settings.repost_near_duplicate_share:
                        draw = self.content.near_duplicate(original, rng)
                    else:
                        draw = self.content.repost(original)
                else:
                    draw = self.content.draw_new(rng, reshare=False)
                    own.append(draw)
                # Only what a matcher can see joins reports: the same bytes, or a PDQ hash.
                evidence.setdefault("media", []).append(
                    f"media:{draw.cluster if 'pdq' in draw.fields else draw.content}"
                )
                draws.append(draw)
            elif produces_new or roll >= cut_version:
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
