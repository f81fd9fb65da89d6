"""Errors of casework: each names the field at fault, and the line of a file when there is one."""

from __future__ import annotations

from dataclasses import dataclass


class CaseworkError(ValueError):
    """A request casework refuses; ``field`` names what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(LookupError):
    """No such record, or none the caller may see."""


class Conflict(CaseworkError):
    """The request contradicts what is stored (a state the record has left, an id taken)."""


@dataclass(frozen=True)
class LineProblem:
    """One thing wrong in one line of an imported file."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


class ImportRefused(ValueError):
    """A file with bad lines: nothing of it was written."""

    def __init__(self, problems: list[LineProblem]) -> None:
        shown = "\n".join(str(p) for p in problems[:20])
        more = f"\n… and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s); nothing was imported\n{shown}{more}")
        self.problems = problems
