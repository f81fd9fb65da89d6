"""The travel watch on both engines: import, match, alerts, review, expiry and purge."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from veille.casework.travel.alerts import AlertNotFound, list_alerts, review_alert
from veille.casework.travel.lines import LinesRefused
from veille.casework.travel.models import AlertState, TravelAlert, TravelNotice, WatchEntry
from veille.casework.travel.notices import import_notices, match_notices
from veille.casework.travel.tasks import TASKS, match_new_notices, purge_expired_entries
from veille.casework.travel.watchlist import import_watch_list, purge_expired
from veille.cli import app
from veille.store.agencies import AgencySpec, add_agency
from veille.store.audit import events_for
from veille.store.db import Database
from veille.store.reports import Viewer
from veille.vocab import AgencyKind

runner = CliRunner()
ADMIN = Viewer.administrator("test-admin")


def _write_jsonl(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def _entry(watch_id: str, given: str, family: str, born: str, **extra: Any) -> dict[str, Any]:
    return {
        "watch_id": watch_id,
        "given_name": given,
        "family_name": family,
        "date_of_birth": born,
        "nationality": "UA",
        "legal_basis": "court order following conviction (synthetic)",
        "valid_until": "2030-12-31",
        **extra,
    }


def _notice(
    notice_id: str,
    given: str,
    family: str,
    born: str,
    *,
    departs: str = "2027-03-01",
    to: str = "TH",
) -> dict[str, Any]:
    return {
        "notice_id": notice_id,
        "given_name": given,
        "family_name": family,
        "date_of_birth": born,
        "nationality": "UA",
        "departure_country": "UA",
        "destination_country": to,
        "departure_at": f"{departs}T08:30:00+02:00",
    }


@pytest.fixture
def agencies(database: Database) -> dict[str, int]:
    with database.session() as session:
        found = {
            "Police TH": add_agency(session, AgencySpec("Police TH", AgencyKind.POLICE, "TH")).id,
            "Hotline TH": add_agency(
                session, AgencySpec("Hotline TH", AgencyKind.HOTLINE, "TH")
            ).id,
            "Police UA": add_agency(session, AgencySpec("Police UA", AgencyKind.POLICE, "UA")).id,
        }
    return found


@pytest.fixture
def watched(database: Database, agencies: dict[str, int], tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "watch.jsonl",
        [
            _entry(
                "WL-1",
                "Юрий",
                "Андреев",
                "1971-03-14",
                transliterations=[{"given_name": "Yuriy", "family_name": "Andreyev"}],
                issuing_agency="Police UA",
            ),
            _entry("WL-2", "José", "Müller-Ortega", "1981-05-06", valid_until="2026-01-31"),
        ],
    )
    import_watch_list(database, path, ADMIN, fmt="jsonl", as_of=date(2026, 1, 1))


def _alerts(database: Database) -> dict[str, tuple[str, float]]:
    with database.session() as session:
        rows = session.execute(
            select(TravelNotice.notice_id, TravelAlert.watch_id, TravelAlert.score).join(
                TravelNotice, TravelNotice.id == TravelAlert.notice_id
            )
        ).all()
    return {notice: (watch_id, score) for notice, watch_id, score in rows}


def test_a_transliterated_name_matches_and_the_alert_goes_to_the_destination_police(
    database: Database, agencies: dict[str, int], watched: None, tmp_path: Path
) -> None:
    notices = _write_jsonl(
        tmp_path / "notices.jsonl",
        [
            _notice("TN-1", "Iouri", "Andreiev", "1971-03-14"),  # French transliteration
            _notice("TN-2", "ANDREJEW", "JURIJ", "1971-03-14"),  # German, swapped, upper case
            _notice("TN-3", "Y.", "Andreev", "1971-03-14"),  # initial
            _notice("TN-4", "Yuriy", "Andreyev", "1988-09-30"),  # a homonym born another day
        ],
    )
    import_notices(database, notices, ADMIN, fmt="jsonl")
    summary = match_notices(database, ADMIN, as_of=date(2026, 1, 1))
    assert summary.notices == 4
    alerts = _alerts(database)
    assert set(alerts) == {"TN-1", "TN-2", "TN-3"}
    assert all(watch_id == "WL-1" for watch_id, _ in alerts.values())
    with database.session() as session:
        police = Viewer("officer", agencies["Police TH"])
        shown = list_alerts(session, police)
        assert {a.notice_id for a in shown} == {"TN-1", "TN-2", "TN-3"}
        assert shown[0].matched_fields["date_of_birth"] == 1.0
        assert "swapped" in next(a for a in shown if a.notice_id == "TN-2").notes
        assert list_alerts(session, Viewer("analyst", agencies["Hotline TH"])) == []
    # Matched once: a second run has nothing to do, --all adds no duplicate.
    assert match_notices(database, ADMIN, as_of=date(2026, 1, 1)).notices == 0
    again = match_notices(database, ADMIN, rematch=True, as_of=date(2026, 1, 1))
    assert (again.notices, again.alerts) == (4, 0)


def test_a_homonym_scores_lower_than_the_true_match(
    database: Database, agencies: dict[str, int], watched: None, tmp_path: Path
) -> None:
    notices = _write_jsonl(
        tmp_path / "notices.jsonl",
        [
            _notice("TN-true", "Yuriy", "Andreyev", "1971-03-14"),
            # Born the same month: a day mistyped, or another person; a reviewer decides.
            _notice("TN-same-month", "Yuriy", "Andreyev", "1971-03-02"),
            _notice("TN-another-day", "Yuriy", "Andreyev", "1988-09-30"),
        ],
    )
    import_notices(database, notices, ADMIN, fmt="jsonl")
    match_notices(database, ADMIN, threshold=0.0, as_of=date(2026, 1, 1))
    alerts = _alerts(database)
    assert alerts["TN-same-month"][1] < alerts["TN-true"][1]
    # Born another day altogether: not even a candidate (blocking), so no alert at any threshold.
    assert "TN-another-day" not in alerts


def test_an_expired_entry_no_longer_matches_and_is_purged_with_an_audit_event(
    database: Database, agencies: dict[str, int], watched: None, tmp_path: Path
) -> None:
    notices = _write_jsonl(
        tmp_path / "notices.jsonl",
        [
            _notice("TN-before", "Jose", "Muller Ortega", "1981-05-06", departs="2026-01-20"),
            _notice("TN-after", "Jose", "Muller Ortega", "1981-05-06", departs="2026-02-20"),
        ],
    )
    import_notices(database, notices, ADMIN, fmt="jsonl")
    # Valid until 2026-01-31: it covers the January trip, not the February one ...
    match_notices(database, ADMIN, as_of=date(2026, 1, 15))
    assert set(_alerts(database)) == {"TN-before"}
    # ... and once expired it matches nothing, not even the January notice.
    with database.session() as session:
        session.execute(TravelAlert.__table__.delete())
    assert match_notices(database, ADMIN, rematch=True, as_of=date(2026, 2, 1)).alerts == 0
    assert purge_expired(database, "test", date(2026, 2, 1)) == ["WL-2"]
    with database.session() as session:
        assert session.scalars(select(WatchEntry.watch_id)).all() == ["WL-1"]
        events = events_for(session, "travel_watch_entry", "WL-2")
        assert [e.action for e in events] == ["travel.watch_entry.purge"]
        assert "valid until 2026-01-31" in (events[0].detail or "")
    assert purge_expired(database, "test", date(2026, 2, 1)) == []


def test_the_scheduled_purge_is_a_task_of_the_job_system(
    database: Database, agencies: dict[str, int], tmp_path: Path
) -> None:
    spec = next(t for t in TASKS if t.name == "travel.purge")
    assert spec.every_minutes == 60
    path = _write_jsonl(
        tmp_path / "watch.jsonl",
        [_entry("WL-old", "Ann", "Old", "1960-01-01", valid_until="2020-01-01")],
    )
    summary = import_watch_list(database, path, ADMIN, fmt="jsonl")
    assert summary.expired == 1
    assert spec.run(database) == 1
    with database.session() as session:
        events = events_for(session, "travel_watch_entry", "WL-old")
        assert [(e.actor, e.action) for e in events] == [
            ("job:travel.purge", "travel.watch_entry.purge")
        ]
    assert purge_expired_entries(database) == 0


def test_the_scheduled_match_matches_new_notices_only(
    database: Database, agencies: dict[str, int], tmp_path: Path
) -> None:
    spec = next(t for t in TASKS if t.name == "travel.match")
    assert spec.every_minutes == 5
    assert match_new_notices(database) == 0
    watch = _write_jsonl(tmp_path / "w.jsonl", [_entry("WL-1", "Ann", "Example", "1970-01-01")])
    import_watch_list(database, watch, ADMIN, fmt="jsonl")
    notices = _write_jsonl(tmp_path / "n.jsonl", [_notice("TN-1", "ANN", "EXAMPLE", "1970-01-01")])
    import_notices(database, notices, ADMIN, fmt="jsonl")
    assert spec.run(database) == 1
    assert match_new_notices(database) == 0


def test_confirm_and_dismiss_are_recorded_with_who_and_when(
    database: Database, agencies: dict[str, int], watched: None, tmp_path: Path
) -> None:
    notices = _write_jsonl(
        tmp_path / "notices.jsonl",
        [
            _notice("TN-1", "Yuriy", "Andreyev", "1971-03-14"),
            _notice("TN-2", "Yuri", "Andreev", "1971-03-14"),
        ],
    )
    import_notices(database, notices, ADMIN, fmt="jsonl")
    match_notices(database, ADMIN, as_of=date(2026, 1, 1))
    police = Viewer("officer-a", agencies["Police TH"])
    with database.session() as session:
        first, second = sorted(a.id for a in list_alerts(session, police))
    confirmed = review_alert(database, police, first, AlertState.CONFIRMED, "seen at the gate")
    dismissed = review_alert(database, police, second, AlertState.DISMISSED)
    assert (confirmed.state, confirmed.reviewed_by, confirmed.review_note) == (
        "confirmed",
        "officer-a",
        "seen at the gate",
    )
    assert dismissed.state == "dismissed" and dismissed.reviewed_at is not None
    with pytest.raises(AlertNotFound):
        review_alert(database, Viewer("other", agencies["Police UA"]), first, AlertState.DISMISSED)
    with database.session() as session:
        stored = session.get(TravelAlert, first)
        assert stored is not None and stored.state is AlertState.CONFIRMED
        actions = [e.action for e in events_for(session, "travel_alert", first)]
        assert actions == ["travel.alert.confirm"]
        assert [e.actor for e in events_for(session, "travel_alert", second)] == ["officer-a"]


def test_import_errors_name_line_and_field_and_write_nothing(
    database: Database, agencies: dict[str, int], tmp_path: Path
) -> None:
    good = _notice("TN-1", "Ann", "Example", "1970-01-01")
    path = _write_jsonl(
        tmp_path / "notices.jsonl",
        [good, {**good, "notice_id": "TN-2", "destination_country": "XX"}],
    )
    with pytest.raises(LinesRefused) as refused:
        import_notices(database, path, ADMIN, fmt="jsonl")
    assert str(refused.value).startswith("line 2: destination_country:")
    csv_path = tmp_path / "watch.csv"
    csv_path.write_text(
        "watch_id,given_name,family_name,date_of_birth,legal_basis,valid_until\n"
        "WL-1,Ann,Example,1970-01-01,order,2030-01-01\n"
        "WL-2,Bob,Example,1970-13-01,order,2030-01-01\n"
        "WL-3,Cy,Example,1970-01-01, ,2030-01-01\n",
        encoding="utf-8",
    )
    with pytest.raises(LinesRefused) as refused:
        import_watch_list(database, csv_path, ADMIN, fmt="csv")
    assert [(p.line, p.field) for p in refused.value.problems] == [
        (3, "date_of_birth"),
        (4, "legal_basis"),
    ]
    with database.session() as session:
        assert session.scalars(select(TravelNotice)).all() == []
        assert session.scalars(select(WatchEntry)).all() == []


def test_a_notice_id_stored_with_other_content_is_refused(
    database: Database, agencies: dict[str, int], tmp_path: Path
) -> None:
    notice = _notice("TN-1", "Ann", "Example", "1970-01-01")
    path = _write_jsonl(tmp_path / "a.jsonl", [notice])
    assert import_notices(database, path, ADMIN, fmt="jsonl").imported == 1
    assert import_notices(database, path, ADMIN, fmt="jsonl").unchanged == 1
    changed = _write_jsonl(tmp_path / "b.jsonl", [{**notice, "family_name": "Other"}])
    with pytest.raises(LinesRefused, match="line 1: notice_id: already stored"):
        import_notices(database, changed, ADMIN, fmt="jsonl")


def test_the_commands_import_match_list_and_review(
    database: Database, agencies: dict[str, int], tmp_path: Path
) -> None:
    watch = tmp_path / "watch.csv"
    watch.write_text(
        "watch_id,given_name,family_name,transliterations,date_of_birth,nationality,documents,"
        "legal_basis,valid_until\n"
        "WL-9,Ахмед,Саидов,Akhmed|Saidov,1975-07-07,UA,UA AB123456,court order (synthetic),2030-01-01\n",
        encoding="utf-8",
    )
    notices = _write_jsonl(
        tmp_path / "notices.jsonl", [_notice("TN-9", "Achmed", "Saidow", "1975-07-07")]
    )
    done = runner.invoke(app, ["travel", "watch", "import", str(watch), "--as", "Police UA"])
    assert done.exit_code == 0, done.output
    assert "1 imported" in done.output
    assert runner.invoke(app, ["travel", "notices", "import", str(notices)]).exit_code == 0
    matched = runner.invoke(app, ["travel", "match", "--as-of", "2026-01-01", "--json"])
    assert json.loads(matched.stdout)["alerts"] == 1
    listed = runner.invoke(app, ["travel", "alerts", "list", "--as", "Police TH", "--json"])
    (alert,) = json.loads(listed.output)
    assert (alert["watch_id"], alert["notice_id"], alert["state"]) == ("WL-9", "TN-9", "open")
    review = runner.invoke(
        app,
        ["travel", "alerts", "dismiss", str(alert["id"]), "--as", "Police TH", "--note", "twin"],
    )
    assert review.exit_code == 0, review.output
    assert "dismissed" in review.output
    missing = runner.invoke(app, ["travel", "alerts", "confirm", "999", "--as", "Police TH"])
    assert missing.exit_code == 1
    bad = tmp_path / "bad.jsonl"
    no_name = {
        k: v for k, v in _notice("TN-x", "A", "B", "1970-01-01").items() if k != "given_name"
    }
    bad.write_text(json.dumps(no_name) + "\nnot json\n", encoding="utf-8")
    refused = runner.invoke(app, ["travel", "notices", "import", str(bad)])
    assert refused.exit_code == 1
    assert "line 1: given_name: Field required; line 2: (line): not JSON" in refused.output
    listed_watch = runner.invoke(app, ["travel", "watch", "list", "--json"])
    assert [e["watch_id"] for e in json.loads(listed_watch.output)] == ["WL-9"]
    purged = runner.invoke(app, ["travel", "watch", "purge", "--as-of", "2031-01-01", "--json"])
    assert json.loads(purged.output) == {"purged": ["WL-9"]}
