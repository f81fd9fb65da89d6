"""Which reports an agency may see, as one SQL condition.

Rules (TLP 2.0): an agency sees the reports it owns; ``clear`` reports are
visible to every agency; a report shared with an agency (``report_share``) is
visible to it unless it is ``red``, which never leaves its owner. Every query
that reads reports on behalf of an agency adds this condition, so access
control happens in the database, never by filtering rows afterwards.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, or_, select

from veille.store.models import Report, ReportShare
from veille.vocab import Marking


def report_visible_to(agency_id: int) -> ColumnElement[bool]:
    """SQL condition on ``Report`` that is true for the reports ``agency_id`` may see."""
    shared_with_agency = exists(
        select(ReportShare.report_id).where(
            ReportShare.report_id == Report.id, ReportShare.agency_id == agency_id
        )
    )
    return or_(
        Report.owner_agency_id == agency_id,
        Report.marking == Marking.CLEAR,
        and_(Report.marking != Marking.RED, shared_with_agency),
    )
