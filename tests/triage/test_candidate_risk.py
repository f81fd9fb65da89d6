"""A candidate link to a report with a child at risk is a reason of its own, within markings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.linking.helpers import import_records, make_world, record
from veille.linking.engine import link_reports
from veille.store.db import Database
from veille.triage.models import TriageScore
from veille.triage.scoring import score_reports

NOW = datetime(2020, 4, 20, 12, tzinfo=UTC)
FACTOR = "possibly_linked_to_child_at_risk"


def _offline(external_id: str, summary: str, **overrides: str) -> dict[str, object]:
    return record(
        external_id,
        platform_category="offline",
        offence_types=["contact_abuse"],
        summary=summary,
        **overrides,
    )


def _factors(database: Database, report_id: int) -> dict[str, dict[str, object]]:
    with database.session() as session:
        score = session.get(TriageScore, report_id)
        assert score is not None
        return {reason["factor"]: reason for reason in score.reasons}


def test_a_name_that_may_be_a_suspect_at_risk_raises_the_earlier_report(
    database: Database, tmp_path: Path
) -> None:
    """The undated name arrives first; the dated suspect who lives with a child comes later."""
    make_world(database)
    first = import_records(
        database,
        tmp_path / "first",
        [
            _offline("undated", "The reporter names the man as MUELLER Juergen."),
            _offline(
                "undated-de",
                "The reporter names the man as Juergen Mueller.",
                owner_agency="Police DE",
                stated_country="DE",
            ),
            _offline("stranger", "The reporter names the man as Pierre Lambert."),
        ],
    )
    link_reports(database)
    score_reports(database, media_source=None, as_of=NOW)
    assert FACTOR not in _factors(database, first["undated"])
    later = import_records(
        database,
        tmp_path / "later",
        [
            _offline(
                "dated",
                "The reporter names the man as Jürgen Müller, born 1969-07-21. "
                "The reporter says the man lives with the girl.",
            )
        ],
    )
    summary = link_reports(database)
    # The earlier report is re-scored: the new candidate link reaches it.
    assert {first["undated"], later["dated"]} <= summary.affected_report_ids
    score_reports(
        database, summary.affected_report_ids, trigger="link", media_source=None, as_of=NOW
    )
    reasons = _factors(database, first["undated"])
    assert reasons[FACTOR]["contribution"] == 20.0
    detail = str(reasons[FACTOR]["detail"])
    assert "candidate link" in detail and "to be confirmed" in detail
    assert "states ongoing access to a child" in detail
    # Strong evidence was not invented: the two stay in separate clusters.
    assert "linked_to_child_at_risk" not in reasons
    # Police DE may not see Police FR's amber report: no reason drawn from it.
    assert FACTOR not in _factors(database, first["undated-de"])
    assert FACTOR not in _factors(database, first["stranger"])
