"""The words of the public pages (the hotline form), in English; French is in the catalog.

Each word is marked with ``N_`` so that ``pybabel extract`` finds it (see
``babel.cfg``); :data:`TEXTS` and :data:`CATEGORY_LABELS` give them in each
language through the gettext catalogs of :mod:`veille.web.translations`.
"""

from __future__ import annotations

from veille.vocab import PlatformCategory
from veille.web.translations import LANGUAGES, translations


def N_(text: str) -> str:
    """Mark ``text`` for translation; it is translated where it is shown."""
    return text


WORDS: dict[str, str] = {
    "title": N_("Report child sexual exploitation"),
    "intro": N_(
        "You do not need an account. You may stay anonymous. Do not attach or send pictures or videos: describe what you saw and where."
    ),
    "danger": N_("If a child is in immediate danger, call the emergency number 112."),
    "description": N_("What happened?"),
    "category": N_("Where did it happen?"),
    "platform": N_("Name of the app, game or website (optional)"),
    "url": N_("Web address (optional)"),
    "suspect_account": N_("Account name of the person involved (optional)"),
    "country": N_("Country (optional, e.g. FR)"),
    "incident_date": N_("When did it happen? (optional)"),
    "anonymous": N_("I want to stay anonymous"),
    "contact_email": N_("Your e-mail, if we may contact you (optional)"),
    "submit": N_("Send the report"),
    "thanks_title": N_("Thank you"),
    "thanks": N_("Your report has been received. Its reference is"),
    "error": N_("Please check this field"),
    "expired": N_("The form has expired. Please send it again."),
    "too_many": N_("Too many reports from your connection. Please try again later."),
    "unavailable": N_("Reporting is not available right now. Please call the hotline."),
}
"""The form's words by key, in English."""

CATEGORY_WORDS: dict[PlatformCategory, str] = {
    PlatformCategory.SOCIAL_MEDIA: N_("Social network"),
    PlatformCategory.MESSAGING: N_("Messaging app"),
    PlatformCategory.ONLINE_GAMING: N_("Online game"),
    PlatformCategory.VIDEO_CONFERENCE: N_("Video call"),
    PlatformCategory.WEBSITE: N_("Website"),
    PlatformCategory.P2P: N_("File sharing (peer-to-peer)"),
    PlatformCategory.DARKNET_FORUM: N_("Dark-web forum"),
    PlatformCategory.PAID_CONTENT: N_("Paid content or live stream"),
    PlatformCategory.OFFLINE: N_("Not online"),
    PlatformCategory.OTHER: N_("Other / I don't know"),
}

OTHER_LANGUAGE = {"en": "Français", "fr": "English"}
"""The link to the other language, written in that language."""


def _texts(language: str) -> dict[str, str]:
    gettext = translations(language).gettext
    words = {key: gettext(text) for key, text in WORDS.items()}
    return {**words, "other_language": OTHER_LANGUAGE[language]}


TEXTS: dict[str, dict[str, str]] = {language: _texts(language) for language in LANGUAGES}
"""The form's words in each language."""
CATEGORY_LABELS: dict[str, dict[PlatformCategory, str]] = {
    language: {c: translations(language).gettext(t) for c, t in CATEGORY_WORDS.items()}
    for language in LANGUAGES
}
"""The platform categories as the form names them, in each language."""
