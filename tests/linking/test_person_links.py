"""Named suspects in offline reports' summaries link through the one person matcher."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.linking.helpers import import_records, make_world, record
from veille.linking.clusters import cluster_of_report, public_cluster_ids, show_cluster
from veille.linking.engine import link_reports
from veille.linking.models import CandidateLink, ReportLink
from veille.linking.suspects import named_suspect, person_from_key, person_key
from veille.store.db import Database
from veille.store.reports import Viewer


def _offline(external_id: str, summary: str, **overrides: str) -> dict[str, object]:
    return record(
        external_id,
        platform_category="offline",
        offence_types=["contact_abuse"],
        summary=summary,
        **overrides,
    )


def _cluster(database: Database, report_id: int) -> int | None:
    with database.session() as session:
        return cluster_of_report(session, report_id)


@pytest.mark.parametrize(
    ("summary", "given", "family", "born"),
    [
        (
            "A teacher passed on a concern. The reporter names the man as Jan KOWALSKI, "
            "born 04/03/1971, living in Lipowa, Kraków.",
            "Jan",
            "KOWALSKI",
            date(1971, 3, 4),
        ),
        (
            "La personne qui signale désigne l'homme : J. Kowalski, né le 1971-03-04.",
            "J.",
            "Kowalski",
            date(1971, 3, 4),
        ),
        ("Suspect: Anna Maria Silva, born 1980-12-01.", "Anna", "Maria Silva", date(1980, 12, 1)),
    ],
)
def test_a_named_suspect_with_a_date_of_birth_is_read_in_both_languages(
    summary: str, given: str, family: str, born: date
) -> None:
    person = named_suspect(summary)
    assert person is not None
    assert (person.names[0].given, person.names[0].family) == (given, family)
    assert person.date_of_birth == born
    assert person_from_key(person_key(person)) is not None


@pytest.mark.parametrize(
    "summary",
    [
        "The reporter names the man as Chege Koech, living in Joshuamouth.",
        "The reporter names the man as Tony Robinon.",
        "The reporter names the man as Jan Kowalski, born 31/02/1971.",
        "Files were found on an account.",
        None,
    ],
)
def test_no_suspect_without_a_valid_date_of_birth(summary: str | None) -> None:
    assert named_suspect(summary) is None


def test_spellings_of_one_named_suspect_link_and_a_namesake_born_elsewhen_does_not(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            _offline("s1", "The reporter names the man as Jürgen Müller, born 1969-07-21."),
            _offline(
                "s2",
                "La personne qui signale désigne l'homme : MUELLER Juergen, né le 21/07/1969.",
                owner_agency="Police DE",
                stated_country="DE",
            ),
            _offline("s3", "The reporter names the man as Jurgen Muler, born 21/07/1969."),
            # A homonym born another day, and a stranger born the same day.
            _offline("h", "The reporter names the man as Jürgen Müller, born 1975-02-11."),
            _offline("x", "The reporter names the man as Pierre Lambert, born 1969-07-21."),
            # A name without a date of birth links nothing.
            _offline("n", "The reporter names the man as Jürgen Müller."),
        ],
    )
    summary = link_reports(database)
    cluster = _cluster(database, ids["s1"])
    assert _cluster(database, ids["s2"]) == cluster
    assert _cluster(database, ids["s3"]) == cluster
    for other in ("h", "x", "n"):
        assert _cluster(database, ids[other]) != cluster
    assert summary.alerts_raised == 2
    with database.session() as session:
        links = session.scalars(select(ReportLink).order_by(ReportLink.id)).all()
    assert {link.evidence_kind for link in links} == {"person"}
    assert links[0].report_id == ids["s2"]
    assert links[0].key == "person:1969-07-21:jurgen|muller"


def test_person_links_are_incremental(database: Database, tmp_path: Path) -> None:
    make_world(database)
    first = import_records(
        database,
        tmp_path,
        [_offline("a", "The reporter names the man as Olivier Dubois, born 02/05/1960.")],
    )
    link_reports(database)
    later = import_records(
        database,
        tmp_path,
        [_offline("b", "The reporter names the man as Olivier DUBOIS, born 1960-05-02.")],
    )
    summary = link_reports(database)
    assert summary.reports_linked == 1
    assert summary.links_recorded == 1
    assert _cluster(database, first["a"]) == _cluster(database, later["b"])


def test_a_red_report_naming_a_suspect_is_not_linked_by_name(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            _offline("open", "The reporter names the man as Olivier Dubois, born 02/05/1960."),
            _offline(
                "red",
                "The reporter names the man as Olivier Dubois, born 02/05/1960.",
                marking="red",
            ),
        ],
    )
    link_reports(database)
    assert _cluster(database, ids["open"]) != _cluster(database, ids["red"])


def test_a_name_without_a_date_of_birth_is_a_candidate_link_and_merges_nothing(
    database: Database, tmp_path: Path
) -> None:
    """Weak evidence is kept for review: clusters and alerts see strong links only."""
    agencies = make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            _offline("dated", "The reporter names the man as Jürgen Müller, born 1969-07-21."),
            _offline(
                "undated",
                "The reporter names the man as MUELLER Juergen.",
                owner_agency="Police DE",
                stated_country="DE",
            ),
            _offline("other", "The reporter names the man as Pierre Lambert."),
        ],
    )
    summary = link_reports(database)
    assert summary.links_recorded == 0
    assert summary.alerts_raised == 0
    assert _cluster(database, ids["dated"]) != _cluster(database, ids["undated"])
    with database.session() as session:
        candidates = session.scalars(select(CandidateLink)).all()
        assert [(c.report_id, c.other_report_id, c.evidence_kind) for c in candidates] == [
            (ids["undated"], ids["dated"], "person")
        ]
        assert candidates[0].key == "person:1969-07-21:jurgen|muller"
        assert 0.8 <= candidates[0].score < 1.0
        public_id = public_cluster_ids(session, [_cluster(database, ids["dated"]) or 0])
        admin = Viewer(actor="test", agency_id=None)
        shown = show_cluster(session, admin, next(iter(public_id.values())))
        assert [c["other_report_id"] for c in shown["candidates"]] == [ids["dated"]]
        # Police FR may not see Police DE's amber report: the candidate is not shown to it.
        police_fr = Viewer(actor="test", agency_id=agencies["Police FR"])
        shown_fr = show_cluster(session, police_fr, next(iter(public_id.values())))
        assert shown_fr["candidates"] == []


def test_a_rebuild_forgets_candidate_links_and_finds_them_again(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    import_records(
        database,
        tmp_path,
        [
            _offline("a", "The reporter names the man as Olivier Dubois, born 02/05/1960."),
            _offline("b", "The reporter names the man as Olivier Dubois."),
        ],
    )
    link_reports(database)
    link_reports(database, rebuild=True)
    with database.session() as session:
        assert len(session.scalars(select(CandidateLink)).all()) == 1
