"""Which reports an agency may see, as one SQL condition.

Rules (TLP 2.0): an agency sees the reports it owns; ``clear`` reports are
visible to every agency; a report shared with an agency (``report_share``) is
visible to it unless it is ``red``, which never leaves its owner. Every query
that reads reports on behalf of an agency adds this condition, so access
control happens in the database, never by filtering rows afterwards.

Derived data (a score, a cluster's size, a reason) is read by everyone who
may read the record it is stored on, so it may only draw on evidence that
*each* of those readers may see: :func:`evidence_readable_by_readers_of`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select
from sqlalchemy.orm import aliased

from veille.store.models import Report, ReportShare
from veille.vocab import Marking


def report_visible_to(agency_id: int | Any, report: Any = Report) -> ColumnElement[bool]:
    """SQL condition on ``report`` (``Report`` or an alias) true when ``agency_id`` may see it.

    ``agency_id`` may be a column, so that a query can ask "visible to the
    owner of that other report" without a round trip per agency.
    """
    share = aliased(ReportShare)
    shared_with_agency = exists(
        select(share.report_id).where(share.report_id == report.id, share.agency_id == agency_id)
    )
    return or_(
        report.owner_agency_id == agency_id,
        report.marking == Marking.CLEAR,
        and_(report.marking != Marking.RED, shared_with_agency),
    )


def evidence_readable_by_readers_of(evidence: Any, derived: Any) -> ColumnElement[bool]:
    """True when every agency that may read ``derived`` may also see ``evidence``.

    ``derived`` is the report a derived record is stored on (its score and
    reasons), ``evidence`` another report that record would draw on. Readers
    of ``derived`` are its owner, the agencies it is shared with, and every
    agency when it is ``clear``; a ``red`` report is read by its owner only.
    So a red report is evidence for its owner's unshared reports only, and a
    clear report's score draws on clear reports only.
    """
    share = aliased(ReportShare)
    reader_who_may_not_see = exists(
        select(share.report_id).where(
            share.report_id == derived.id,
            not_(report_visible_to(share.agency_id, evidence)),
        )
    )
    return or_(
        evidence.marking == Marking.CLEAR,
        and_(
            derived.marking != Marking.CLEAR,
            report_visible_to(derived.owner_agency_id, evidence),
            not_(reader_who_may_not_see),
        ),
    )
