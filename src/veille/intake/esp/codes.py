"""The CyberTipline response codes the ESP API answers with.

Every ``reportResponse`` carries a ``responseCode``: 0 for success, any
other number for an error. The numbers and their meanings are those of the
CyberTipline reporting API's documentation (section "Report response" of
https://report.cybertip.org/ispws/documentation/, which is not reachable
from here; read as listed by the open-source client CyberTipline-Tools,
``src/types/Constants/ResponseCode.ts``), so a provider's client that
reacts to a code reacts the same way to Veille. The documented codes
Veille never sends are listed in ``docs/intake.md`` with the reason.
"""

from __future__ import annotations

from enum import IntEnum


class ResponseCode(IntEnum):
    """A ``responseCode`` and, in :meth:`description`, its documented meaning."""

    SUCCESS = 0
    SERVER_ERROR = 1000
    AUTHENTICATION_REQUIRED = 2000
    INVALID_REQUEST = 4000
    VALIDATION_FAILED = 4100
    MALFORMED_XML = 4110
    MALFORMED_FILE = 4200
    REPORT_DOES_NOT_EXIST = 5001
    FILE_DOES_NOT_EXIST = 5002
    REPORT_ALREADY_RETRACTED = 5101
    REPORT_ALREADY_FINISHED = 5102

    def description(self) -> str:
        """The documented meaning, for a ``responseDescription`` without more detail."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    ResponseCode.SUCCESS: "Success",
    ResponseCode.SERVER_ERROR: "Server error",
    ResponseCode.AUTHENTICATION_REQUIRED: "Authentication required",
    ResponseCode.INVALID_REQUEST: "Invalid request",
    ResponseCode.VALIDATION_FAILED: "Validation failed",
    ResponseCode.MALFORMED_XML: "Malformed XML submittal",
    ResponseCode.MALFORMED_FILE: "Malformed file submittal",
    ResponseCode.REPORT_DOES_NOT_EXIST: "Report does not exist",
    ResponseCode.FILE_DOES_NOT_EXIST: "File does not exist",
    ResponseCode.REPORT_ALREADY_RETRACTED: "Report already retracted",
    ResponseCode.REPORT_ALREADY_FINISHED: "Report already finished",
}
