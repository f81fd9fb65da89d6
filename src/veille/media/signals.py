"""Signal types: one small class per kind of hash.

A signal type knows its name, how to validate and normalise the string form of
its hash, how to compute it from a file's bytes or image, and how to compare
two hashes. Adding a new hash (PhotoDNA-like, TMK, ...) means adding a class
here and listing it in ``SIGNAL_TYPES``, not editing the callers.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from typing import ClassVar


class SignalError(ValueError):
    """A hash string that is not a valid hash of its signal type."""


class SignalType(ABC):
    """The interface every hash type implements."""

    name: ClassVar[str]
    #: Whether two different hashes can still mean the same content.
    is_perceptual: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def validate(cls, value: str) -> str:
        """The normalised form of ``value``; raises ``SignalError`` naming what was expected."""

    @classmethod
    def distance(cls, left: str, right: str) -> int:
        """0 when the two hashes are equal, else 1 (perceptual types return bits)."""
        return 0 if cls.validate(left) == cls.validate(right) else 1

    @classmethod
    def matches(cls, left: str, right: str, threshold: int = 0) -> bool:
        """Whether ``left`` and ``right`` are within ``threshold`` of each other."""
        return cls.distance(left, right) <= threshold

    @classmethod
    @abstractmethod
    def get_examples(cls) -> list[str]:
        """Valid example hashes (benign content), used by tests and demos."""


class CryptographicHash(SignalType):
    """A hex digest of the file bytes: equal hashes, equal files."""

    hex_length: ClassVar[int]
    algorithm: ClassVar[str]

    @classmethod
    def validate(cls, value: str) -> str:
        text = value.strip().lower()
        if len(text) != cls.hex_length or not re.fullmatch(r"[0-9a-f]+", text):
            raise SignalError(
                f"{cls.name}: {value!r} is not a {cls.name.upper()} hash "
                f"(expected {cls.hex_length} hexadecimal characters)"
            )
        return text

    @classmethod
    def of_bytes(cls, data: bytes) -> str:
        """The hash of ``data``."""
        return hashlib.new(cls.algorithm, data).hexdigest()

    @classmethod
    def get_examples(cls) -> list[str]:
        return [cls.of_bytes(text) for text in (b"", b"veille", b"benign example")]


class Md5Signal(CryptographicHash):
    """MD5 of the file bytes (the hash most legacy lists carry)."""

    name = "md5"
    hex_length = 32
    algorithm = "md5"


class Sha1Signal(CryptographicHash):
    """SHA-1 of the file bytes (Project VIC lists carry it)."""

    name = "sha1"
    hex_length = 40
    algorithm = "sha1"


class Sha256Signal(CryptographicHash):
    """SHA-256 of the file bytes."""

    name = "sha256"
    hex_length = 64
    algorithm = "sha256"


class PdqSignal(SignalType):
    """PDQ: a 256-bit perceptual hash of an image; compared by Hamming distance."""

    name = "pdq"
    is_perceptual = True
    #: Meta's recommended threshold for a confident match.
    default_threshold_bits: ClassVar[int] = 31

    @classmethod
    def validate(cls, value: str) -> str:
        text = value.strip().lower()
        if len(text) != 64 or not re.fullmatch(r"[0-9a-f]+", text):
            raise SignalError(
                f"pdq: {value!r} is not a PDQ hash (expected 64 hexadecimal characters)"
            )
        return text

    @classmethod
    def distance(cls, left: str, right: str) -> int:
        """Hamming distance in bits (0–256)."""
        return (int(cls.validate(left), 16) ^ int(cls.validate(right), 16)).bit_count()

    @classmethod
    def get_examples(cls) -> list[str]:
        # The reference bridge photo and two of its edits (ThreatExchange test data).
        return [
            "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
            "f8f8f0cee0f4a84f06370a2a038f63f0b36e26d596621e1d33e6b39c4e9c9b22",
            "d8f8f0cec0f4a84f8e370a22038f67f0b36a2ed597231e1d72e6b39c4a9c9b22",
        ]


SIGNAL_TYPES: dict[str, type[SignalType]] = {
    signal.name: signal for signal in (Md5Signal, Sha1Signal, Sha256Signal, PdqSignal)
}
EXACT_SIGNAL_TYPES: tuple[type[CryptographicHash], ...] = (Md5Signal, Sha1Signal, Sha256Signal)


def signal_type(name: str) -> type[SignalType]:
    """The signal type called ``name`` (case-insensitive)."""
    try:
        return SIGNAL_TYPES[name.strip().lower()]
    except KeyError:
        known = ", ".join(SIGNAL_TYPES)
        raise SignalError(f"unknown signal type {name!r} (expected one of: {known})") from None


def guess_signal_type(value: str) -> type[SignalType]:
    """The signal type of a bare hash string, told apart by its length."""
    text = value.strip().lower()
    by_length: dict[int, type[SignalType]] = {32: Md5Signal, 40: Sha1Signal, 64: PdqSignal}
    if len(text) in by_length and re.fullmatch(r"[0-9a-f]+", text):
        return by_length[len(text)]
    raise SignalError(
        f"{value!r} is not a hash (expected 32 hex characters for MD5, 40 for SHA-1, "
        "64 for PDQ; write sha256:<hex> for SHA-256)"
    )
