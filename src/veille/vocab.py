"""The controlled vocabularies of Veille, defined once.

Every enum value is the exact word of DESIGN.md; storage keeps the string value,
so adding a value never needs a schema change.
"""

from __future__ import annotations

from enum import StrEnum


class PlatformCategory(StrEnum):
    """Kind of online (or offline) space where the incident happened."""

    P2P = "p2p"
    DARKNET_FORUM = "darknet_forum"
    SOCIAL_MEDIA = "social_media"
    MESSAGING = "messaging"
    VIDEO_CONFERENCE = "video_conference"
    ONLINE_GAMING = "online_gaming"
    PAID_CONTENT = "paid_content"
    WEBSITE = "website"
    OFFLINE = "offline"
    OTHER = "other"


class OffenceType(StrEnum):
    """What the report is about; one report may carry several."""

    CSAM_POSSESSION = "csam_possession"
    CSAM_DISTRIBUTION = "csam_distribution"
    CSAM_PRODUCTION = "csam_production"
    GROOMING = "grooming"
    SEXTORTION = "sextortion"
    LIVE_STREAMING_ABUSE = "live_streaming_abuse"
    SELF_GENERATED = "self_generated"
    CONTACT_ABUSE = "contact_abuse"
    DOMESTIC_ABUSE = "domestic_abuse"
    TRAVELLING_OFFENDER = "travelling_offender"
    COMMERCIAL_EXPLOITATION = "commercial_exploitation"
    FORCED_MARRIAGE = "forced_marriage"
    OTHER = "other"


class Channel(StrEnum):
    """How the report reached Veille."""

    HOTLINE_FORM = "hotline_form"
    SMS = "sms"
    IN_APP = "in_app"
    ESP_API = "esp_api"
    REST_API = "rest_api"
    BULK_IMPORT = "bulk_import"
    PARTNER_REFERRAL = "partner_referral"
    SCHOOL = "school"
    SOCIAL_SERVICES = "social_services"
    HEALTH_SERVICES = "health_services"
    TELEPHONE = "telephone"
    OTHER = "other"


class ReporterKind(StrEnum):
    """Who made the report."""

    PUBLIC = "public"
    ESP = "esp"
    HOTLINE = "hotline"
    POLICE = "police"
    NGO = "ngo"


class ReportFlag(StrEnum):
    """Facts about a report that change its priority or its handling."""

    SELF_GENERATED = "self_generated"
    LIVE_STREAMING = "live_streaming"
    ONGOING_ACCESS = "ongoing_access"
    HANDS_ON_ABUSE = "hands_on_abuse"
    DOMESTIC_SETTING = "domestic_setting"
    TRAVELLING_OFFENDER = "travelling_offender"
    INFANT_VICTIM = "infant_victim"
    SELF_HARM_THREAT = "self_harm_threat"
    VIRAL = "viral"
    ESCALATED = "escalated"


class Marking(StrEnum):
    """Traffic Light Protocol 2.0 marking of a record."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"


class AgencyKind(StrEnum):
    """Kind of tenant."""

    HOTLINE = "hotline"
    POLICE = "police"
    ESP = "esp"
    NGO = "ngo"
    INTELLIGENCE = "intelligence"


class IdentifierKind(StrEnum):
    """Kind of account or technical identifier attached to reports."""

    EMAIL = "email"
    PHONE = "phone"
    IP = "ip"
    USERNAME = "username"
    P2P_CLIENT_ID = "p2p_client_id"
    PAYMENT_HANDLE = "payment_handle"
    URL = "url"
    DEVICE_ID = "device_id"


class CountryReason(StrEnum):
    """Why a report's derived country is what it is."""

    PROVIDED = "provided"
    IP = "ip"
    PHONE = "phone"
    STATED = "stated"
    UNKNOWN = "unknown"


def values(enum: type[StrEnum]) -> list[str]:
    """The string values of an enum, in definition order (for help texts and errors)."""
    return [member.value for member in enum]
