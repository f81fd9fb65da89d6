"""The refusals of the ESP API: an error with its response code, and the report id check.

Every call answers a refusal the same way (a response code, a description
naming the element, an HTTP status), so the modules of a call raise
:class:`EspError` and the routes render it.
"""

from __future__ import annotations

import re

from veille.intake.esp.codes import ResponseCode
from veille.intake.esp.parse import EspXmlError


class EspError(Exception):
    """A request the API answers with a non-zero response code."""

    def __init__(self, code: ResponseCode, description: str, http_status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.http_status = http_status

    @classmethod
    def of_document(cls, error: EspXmlError) -> EspError:
        """4110 for a document that is not well-formed XML, else 4100; both name the element."""
        code = ResponseCode.MALFORMED_XML if error.malformed else ResponseCode.VALIDATION_FAILED
        return cls(code, str(error))


def no_open_report(element: str, esp_report_id: int) -> EspError:
    """5001: the agency has no open report of that id (or another agency has it)."""
    return EspError(
        ResponseCode.REPORT_DOES_NOT_EXIST, f"{element}: no open report {esp_report_id}", 404
    )


_REPORT_ID = re.compile(r"[0-9]{1,12}")


def parse_report_id(value: str | None, element: str = "id") -> int:
    """A report id from a form field, or a 4100 error naming the field."""
    text = (value or "").strip()
    # ASCII digits only: str.isdigit() is also true of "²" (which int() refuses) and of
    # "١" (which int() reads as 1, so another spelling of report 1).
    if not _REPORT_ID.fullmatch(text):
        raise EspError(
            ResponseCode.VALIDATION_FAILED,
            f"{element}: expected a report id (digits), got {text!r}",
        )
    return int(text)
