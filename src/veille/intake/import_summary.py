"""What an import did: counts, the first errors, and the rejects file of a lenient import."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from veille.intake.import_lines import LineError

MAX_ERRORS_KEPT = 1000


@dataclass
class ImportSummary:
    """What an import did.

    ``errors`` keeps the first :data:`MAX_ERRORS_KEPT` line errors and
    ``error_count`` counts them all; ``unknown_agencies`` holds (up to
    :data:`MAX_ERRORS_KEPT`) owner names that matched no agency, named by
    ``unknown_agency_lines`` lines.
    """

    imported: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[LineError] = field(default_factory=list)
    error_count: int = 0
    unknown_agencies: set[str] = field(default_factory=set)
    unknown_agency_lines: int = 0
    written: bool = False
    rejects_path: Path | None = None
    new_report_ids: list[int] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        """True when invalid lines made the whole import roll back."""
        return self.rejected > 0 and not self.written

    def count_rejected(self, errors: Iterable[LineError]) -> None:
        """Count a rejected line and keep (the first of) its errors."""
        self.rejected += 1
        unknown = False
        for error in errors:
            self.error_count += 1
            if len(self.errors) < MAX_ERRORS_KEPT:
                self.errors.append(error)
            if error.unknown_agency is not None:
                unknown = True
                if len(self.unknown_agencies) < MAX_ERRORS_KEPT:
                    self.unknown_agencies.add(error.unknown_agency)
        self.unknown_agency_lines += unknown


class ImportRefused(Exception):
    """The file has invalid lines and ``skip_invalid`` was not set; nothing was written."""

    def __init__(self, summary: ImportSummary) -> None:
        first = "; ".join(str(error) for error in summary.errors[:3])
        super().__init__(f"{summary.rejected} invalid line(s), nothing imported: {first}")
        self.summary = summary


class RejectsFile:
    """The rejected lines of a lenient import, as written (the CSV header first); opened
    on the first rejected line, so that a clean import leaves no file behind."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: str | None = None
        self._stream: IO[str] | None = None

    @property
    def opened(self) -> bool:
        """Whether a line was written."""
        return self._stream is not None

    def write(self, text: str) -> None:
        """Add a rejected line."""
        if self._stream is None:
            self._stream = self.path.open("w", encoding="utf-8", errors="surrogateescape")
            if self.header is not None:
                self._stream.write(self.header)
        self._stream.write(text if text.endswith("\n") else text + "\n")

    def close(self) -> None:
        """Close the file, if it was opened."""
        if self._stream is not None:
            self._stream.close()
