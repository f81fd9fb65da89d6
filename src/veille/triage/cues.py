"""Cues of a child in danger now, read from a report's free text in English and French.

Reporters often say in words what no flag records: "the man lives with the
girl", "l'enfant a écrit qu'elle veut se faire du mal". A plain cue names a
risk state (the offender's ongoing access to a child, abuse happening now,
a child threatening self-harm); a vague one only says that the reporter is
worried. Each cue found is returned with the words that matched, so that
the reason shown to an analyst quotes the report. The patterns are phrases,
not single words: "a concern" about a platform is not a child at risk.
Negations ("does not live with the child") are not understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

RISK_STATES = ("ongoing_access", "live_abuse", "self_harm")
"""The risk states a plain cue can name."""

_CHILD_EN = (
    r"(?:the|a|his|her|their|my) (?:child|girl|boy|daughter|son|kids?|children|niece|nephew)"
)
_CHILD_FR = (
    r"(?:la |le |l'|les |sa |son |ses |une |un )"
    r"(?:fillette|garçon|enfant|enfants|fille|fils|nièce|neveu|petite|petit)"
)

_PLAIN: dict[str, tuple[str, ...]] = {
    "ongoing_access": (
        rf"\b(?:lives|living|stays|staying|sleeps|sleeping) with {_CHILD_EN}",
        rf"\b(?:looks after|babysits|baby-sits|cares for|minds|takes care of) {_CHILD_EN}",
        rf"\bshares? (?:a|the|his|her) (?:home|house|flat|room) with {_CHILD_EN}",
        rf"\b(?:has|still has|keeps) (?:unsupervised )?access to {_CHILD_EN}",
        rf"\b(?:vit|habite|dort|loge) (?:encore |toujours )?avec {_CHILD_FR}",
        rf"\bgarde (?:encore |toujours |souvent )?{_CHILD_FR}",
        r"\bpartag\w* (?:le|un|son) (?:domicile|logement|foyer) (?:de|d'|avec) ?" + _CHILD_FR,
        rf"\b(?:a|garde) (?:encore |toujours )?accès à {_CHILD_FR}",
    ),
    "live_abuse": (
        r"\b(?:is |it is |it's )?happening (?:right )?now\b",
        r"\b(?:taken|made|filmed|recorded) (?:this week|today|yesterday)\b",
        r"\blive (?:session|stream|show|broadcast)\b[^.]*\b(?:tonight|today|now|this evening)\b",
        r"\bse (?:passe|produit|déroule) (?:en ce moment|actuellement|maintenant)\b",
        r"\b(?:datent|date|prises?|filmées?) (?:de|d')? ?(?:cette semaine|aujourd'hui|hier)\b",
        r"\ben direct\b[^.]*\b(?:ce soir|aujourd'hui|maintenant)\b",
    ),
    "self_harm": (
        r"\b(?:hurt|harm|kill|cut) (?:herself|himself|themselves|themself|myself)\b",
        r"\b(?:does not|doesn't|do not|don't|did not|didn't) want to (?:live|be alive)\b",
        r"\bend (?:her|his|their|my) life\b",
        r"\bsuicid\w*",
        r"\bse faire du mal\b",
        r"\bse (?:tuer|blesser|suicider)\b",
        r"\bne (?:veut|voulait|veux|voulais) plus vivre\b",
        r"\bmettre fin à (?:ses jours|sa vie)\b",
    ),
}
_VAGUE: tuple[str, ...] = (
    r"\b(?:is |are |am )?(?:worried|frightened|scared) (?:about|for) ",
    r"\bfears? (?:that |it )",
    r"\bmay not be over\b",
    r"\bseemed (?:upset|scared|frightened|distressed)\b",
    r"\bs'inquièt\w* pour\b",
    r"\bcrain\w* que\b",
    r"\bsemblait (?:bouleversée?|effrayée?|terrifiée?)\b",
    r"\bpas terminé\b",
    r"\b(?:look at|deal with|handle|treat) (?:this|it) (?:quickly|urgently|as a matter of urgency)\b",
    r"\b(?:traiter|examiner|regarder) (?:ceci|cela|ce signalement) (?:rapidement|en urgence|d'urgence)\b",
)

_PLAIN_PATTERNS = tuple(
    (state, re.compile(pattern, re.IGNORECASE))
    for state, patterns in _PLAIN.items()
    for pattern in patterns
)
_VAGUE_PATTERNS = tuple(re.compile(pattern, re.IGNORECASE) for pattern in _VAGUE)


@dataclass(frozen=True)
class TextCues:
    """What a report's text says of a child in danger: plain cues by state, a vague cue."""

    plain: tuple[tuple[str, str], ...] = ()
    """(risk state, the words that matched), one per state, in :data:`RISK_STATES` order."""
    vague: str | None = None
    """The words of a vague cue ("worried about"), when no plain cue was found."""

    @property
    def states(self) -> frozenset[str]:
        """The risk states the text names."""
        return frozenset(state for state, _ in self.plain)


NO_CUES = TextCues()


@lru_cache(maxsize=65_536)
def read_cues(text: str | None) -> TextCues:
    """The cues in ``text`` (English or French; case and accents as written)."""
    if not text:
        return NO_CUES
    found: dict[str, str] = {}
    for state, pattern in _PLAIN_PATTERNS:
        if state in found:
            continue
        match = pattern.search(text)
        if match is not None:
            found[state] = match.group(0).strip()
    if found:
        return TextCues(tuple((state, found[state]) for state in RISK_STATES if state in found))
    for pattern in _VAGUE_PATTERNS:
        match = pattern.search(text)
        if match is not None:
            return TextCues(vague=match.group(0).strip())
    return NO_CUES
