"""Free-text summaries of reports in English and French, built from benign templates.

A summary says who reported and what about, in the procedural words of a
case file; sometimes it names the suspect (offline reports) and sometimes it
carries a cue of a child in danger now ("the reporter says the man lives
with the girl"), plainly or vaguely. It never says how the generator made
the report: no stream, no planting, no truth.
"""

from __future__ import annotations

import random

Sentences = tuple[tuple[str, str], ...]
"""Alternatives of one sentence: (English, French)."""

_WHO: dict[str, Sentences] = {
    "esp_api": (
        (
            "The service's safety team sent this report.",
            "L'équipe de sécurité du service a transmis ce signalement.",
        ),
        (
            "Report forwarded by the platform after moderation.",
            "Signalement transmis par la plateforme après modération.",
        ),
    ),
    "in_app": (
        (
            "A user reported this through the app.",
            "Un utilisateur a signalé ceci depuis l'application.",
        ),
    ),
    "hotline_form": (
        (
            "A member of the public filled in the hotline form.",
            "Une personne a rempli le formulaire de la ligne de signalement.",
        ),
        ("Report received through the web form.", "Signalement reçu par le formulaire en ligne."),
    ),
    "sms": (("Report received by text message.", "Signalement reçu par SMS."),),
    "telephone": (
        ("A caller contacted the hotline.", "Une personne a appelé la ligne de signalement."),
    ),
    "school": (
        ("A teacher passed on a concern.", "Un enseignant a fait part d'une inquiétude."),
        ("The school reported a concern.", "L'établissement scolaire a signalé une inquiétude."),
    ),
    "social_services": (
        (
            "Social services passed on a concern.",
            "Les services sociaux ont transmis une inquiétude.",
        ),
    ),
    "health_services": (
        (
            "A health professional passed on a concern.",
            "Un professionnel de santé a transmis une inquiétude.",
        ),
    ),
    "partner_referral": (
        ("Referral from a partner police unit.", "Transmission d'une unité de police partenaire."),
    ),
    "bulk_import": (
        (
            "Detection from peer-to-peer monitoring.",
            "Détection issue de la surveillance pair-à-pair.",
        ),
    ),
}
_WHO_OTHER: Sentences = (("Report received.", "Signalement reçu."),)

_WHAT: dict[str, Sentences] = {
    "csam_possession": (
        ("Files were found on an account.", "Des fichiers ont été trouvés sur un compte."),
    ),
    "csam_distribution": (
        ("Files were shared online.", "Des fichiers ont été partagés en ligne."),
        ("An account offered files to others.", "Un compte a proposé des fichiers à d'autres."),
    ),
    "csam_production": (("The files appear to be recent.", "Les fichiers semblent récents."),),
    "grooming": (
        (
            "An adult contacted a child and asked for pictures.",
            "Un adulte a contacté un enfant et lui a demandé des photos.",
        ),
    ),
    "sextortion": (
        (
            "The child is being pressured to send more.",
            "L'enfant subit des pressions pour en envoyer davantage.",
        ),
    ),
    "live_streaming_abuse": (
        ("A paid stream was advertised.", "Une diffusion payante a été annoncée."),
    ),
    "self_generated": (
        (
            "A teenager shared pictures of themself.",
            "Un adolescent a partagé des photos de lui-même.",
        ),
    ),
    "contact_abuse": (
        (
            "The reporter describes contact with a child.",
            "La personne qui signale décrit un contact avec un enfant.",
        ),
    ),
    "domestic_abuse": (
        (
            "The concern is about the child's home.",
            "L'inquiétude porte sur le domicile de l'enfant.",
        ),
    ),
    "travelling_offender": (
        (
            "The person is said to travel abroad often.",
            "La personne voyagerait souvent à l'étranger.",
        ),
    ),
    "commercial_exploitation": (
        ("Access was offered for payment.", "Un accès était proposé contre paiement."),
    ),
}

_CUES: dict[str, Sentences] = {
    "ongoing_access": (
        (
            "The reporter says the man lives with the girl.",
            "La personne qui signale indique que l'homme vit avec la fillette.",
        ),
        (
            "The reporter says he still looks after the boy every weekend.",
            "La personne qui signale indique qu'il garde encore le garçon chaque week-end.",
        ),
        (
            "The suspect is said to share a home with the child.",
            "Le suspect partagerait le domicile de l'enfant.",
        ),
    ),
    "live_abuse": (
        (
            "The reporter says it is happening now.",
            "La personne qui signale indique que cela se passe en ce moment.",
        ),
        (
            "The newest pictures were taken this week, with the same child.",
            "Les photos les plus récentes datent de cette semaine, avec le même enfant.",
        ),
        (
            "A live session is announced for tonight.",
            "Une session en direct est annoncée pour ce soir.",
        ),
    ),
    "self_harm": (
        (
            "The child wrote that she wants to hurt herself.",
            "L'enfant a écrit qu'elle veut se faire du mal.",
        ),
        (
            "The boy said he does not want to live any more.",
            "Le garçon a dit qu'il ne voulait plus vivre.",
        ),
    ),
}
_VAGUE: Sentences = (
    (
        "The reporter is worried about the child.",
        "La personne qui signale s'inquiète pour l'enfant.",
    ),
    (
        "The reporter fears it may not be over.",
        "La personne qui signale craint que ce ne soit pas terminé.",
    ),
    ("Please look at this quickly.", "Merci de traiter ceci rapidement."),
    ("The child seemed upset.", "L'enfant semblait bouleversé."),
)

_NAMED = (
    "The reporter names the man as {name}.",
    "La personne qui signale désigne l'homme : {name}.",
)
_BORN = (", born {date}", ", né le {date}")
_LIVING = (", living in {place}", ", domicilié {place}")


def _pick(options: Sentences, french: bool, rng: random.Random) -> str:
    return options[rng.randrange(len(options))][1 if french else 0]


def suspect_sentence(name: str, born: str | None, place: str | None, french: bool) -> str:
    """The sentence that names a suspect, with what the reporter knows of them."""
    detail = name
    if born:
        detail += _BORN[french].format(date=born)
    if place:
        detail += _LIVING[french].format(place=place)
    return _NAMED[french].format(name=detail)


def write_summary(
    channel: str,
    offences: list[str],
    cue: str | None,
    vague: bool,
    suspect: str | None,
    french: bool,
    rng: random.Random,
) -> str:
    """A report's summary: who reported, about what, the suspect (if named) and the cue (if any)."""
    parts = [_pick(_WHO.get(channel, _WHO_OTHER), french, rng)]
    described = [o for o in offences if o in _WHAT]
    if described:
        parts.append(_pick(_WHAT[described[rng.randrange(len(described))]], french, rng))
    if suspect:
        parts.append(suspect)
    if cue is not None:
        parts.append(_pick(_CUES[cue], french, rng))
    elif vague:
        parts.append(_pick(_VAGUE, french, rng))
    return " ".join(parts)


def cue_sentences(state: str) -> list[tuple[str, str]]:
    """The plain cues of a risk state, (English, French) (for tests and readers)."""
    return list(_CUES[state])


def vague_sentences() -> list[tuple[str, str]]:
    """The vague cues, (English, French)."""
    return list(_VAGUE)
