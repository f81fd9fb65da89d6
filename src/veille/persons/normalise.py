"""Person names reduced to what survives spelling: folded tokens, transliteration skeletons, keys.

A name reaches Veille written by many hands: upper-cased by a border
system, stripped of accents, transliterated from Cyrillic, Greek or Arabic
by one of several schemes (``Юрий`` is ``Yuriy``, ``Yuri``, ``Iouri``,
``Jurij``), given and family name swapped, a given name cut to its
initial. Three forms serve the matcher:

- :func:`fold_tokens`: any script to ASCII (``anyascii``), lower case,
  punctuation and hyphens as separators (``Jean-Pierre`` is two tokens);
- :func:`skeleton`: a token with the letters that transliteration schemes
  disagree on merged (``ks``/``x``, ``kh``/``h``, ``y``/``j``/``i``,
  ``w``/``v``, ``ou``/``u``, doubled letters), compared with Jaro-Winkler;
- :func:`blocking_key`: the skeleton's Metaphone code, short enough that a
  dropped or doubled letter rarely changes it, used to find candidates.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import jellyfish
from anyascii import anyascii

_SEPARATORS = re.compile(r"[^a-z0-9]+")
# Marks inside a name, dropped rather than read as a separator: apostrophes (O'Neill is
# one name) and what anyascii writes for them.
_INNER_MARKS = re.compile(r"['`´ʹʺ’‘]")
# Before transliteration: the hard sign is a vowel in Bulgarian names (Първанов,
# Parvanov) and the soft sign is dropped by the passport schemes (ICAO 9303).
_CYRILLIC_SIGNS = str.maketrans({"ъ": "a", "Ъ": "A", "ь": "", "Ь": ""})

# Applied in order to a folded token. Each rule merges spellings that schemes of
# transliteration (ICAO 9303, BGN/PCGN, French, German, Polish) use for one sound.
_SKELETON_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"shch|sch|tsch|tch|sh|ch|zh|sz|cz|ş", "s"),
        (r"kh", "h"),
        (r"ks|x", "ks"),
        (r"ph", "f"),
        (r"ck|q", "k"),
        (r"w", "v"),
        (r"ou", "u"),
        (r"ts|tz", "z"),
        (r"[yj]", "i"),
        (r"ff$|f$", "v"),
        (r"(.)\1+", r"\1"),
        # Iotated vowels: Yelena/Elena/Jelena, Andreyev/Andreev, Mariya/Maria.
        (r"^i(?=[aeou])", ""),
        (r"(?<=[aeiou])i(?=[aeou])", ""),
        (r"(.)\1+", r"\1"),
    )
)


# The second reading of the letters the first merges differently: "ch" as German and Czech
# write Х (Zakhar/Sachar), and "z" with "s" (German writes З as "s").
_COARSE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"shch|sch|tsch|tch|sh|zh|sz|cz"), "s"),
    (re.compile(r"ch|kh"), "h"),
    (re.compile(r"z"), "s"),
)


def fold(text: str) -> str:
    """``text`` in ASCII lower case, any script transliterated, separators as single spaces."""
    ascii_text = anyascii(unicodedata.normalize("NFKC", text).translate(_CYRILLIC_SIGNS)).lower()
    return _SEPARATORS.sub(" ", _INNER_MARKS.sub("", ascii_text)).strip()


def fold_tokens(text: str) -> tuple[str, ...]:
    """The folded tokens of a name (``"Jean-Pierre  O'NEILL"`` → ``("jean", "pierre", "oneill")``)."""
    folded = fold(text)
    return tuple(folded.split()) if folded else ()


@lru_cache(maxsize=200_000)
def skeleton(token: str) -> str:
    """A folded token with the letters transliteration schemes disagree on merged."""
    result = token
    for pattern, replacement in _SKELETON_RULES:
        result = pattern.sub(replacement, result)
    return result or token


@lru_cache(maxsize=200_000)
def coarse_skeleton(token: str) -> str:
    """A second skeleton for the letters :func:`skeleton` merges one way and schemes another
    (``ch`` read as ``h``, ``z`` as ``s``): ``Zakhar`` and ``Sachar`` meet here."""
    result = token
    for pattern, replacement in _COARSE_RULES:
        result = pattern.sub(replacement, result)
    return skeleton(result)


@lru_cache(maxsize=200_000)
def blocking_key(token: str) -> str:
    """A short phonetic code of a folded token, for finding candidates (not for scoring)."""
    code = jellyfish.metaphone(skeleton(token))
    return code[:4] if code else token[:4]


def initial_class(letter: str) -> str:
    """The class of an initial letter: ``i``, ``j`` and ``y`` are one (``Jurij``/``Yuri``), as are ``c`` and ``k``."""
    return {"j": "i", "y": "i", "c": "k", "q": "k", "w": "v"}.get(letter, letter)


def normalise_document(number: str) -> str:
    """A document number as compared: letters and digits only, upper case (``AB 12-345`` → ``AB12345``)."""
    return re.sub(r"[^A-Z0-9]", "", anyascii(number).upper())
