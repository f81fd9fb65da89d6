"""The work queue: order, states, capacity and what is not reached today."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.linking.helpers import import_records, make_world, record
from veille.cli import app
from veille.store.db import Database
from veille.triage.models import Outcome, QueueState
from veille.triage.queue import QueueError, QueueItemNotFound, change_state, queue_for, set_capacity
from veille.triage.scoring import score_reports

NOW = datetime(2020, 4, 20, 12, tzinfo=UTC)
runner = CliRunner()


def _scenario(database: Database, tmp_path: Path) -> tuple[dict[str, int], dict[str, int]]:
    agencies = make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record("viral", [], flags=["viral"], received_at="2020-04-01T08:00:00Z"),
            record(
                "child",
                [],
                flags=["ongoing_access", "hands_on_abuse"],
                received_at="2020-04-19T08:00:00Z",
            ),
            record("groom-old", [], offence_types=["grooming"], received_at="2020-04-02T08:00:00Z"),
            record("groom-new", [], offence_types=["grooming"], received_at="2020-04-18T08:00:00Z"),
            record("other", [], owner_agency="Police DE", stated_country="DE"),
        ],
    )
    score_reports(database, media_source=None, as_of=NOW)
    return agencies, ids


def test_queue_orders_by_band_then_score_then_due_time_and_shows_reasons(
    database: Database, tmp_path: Path
) -> None:
    agencies, ids = _scenario(database, tmp_path)
    with database.session() as session:
        view = queue_for(session, agencies["Police FR"], "analyst", as_of=NOW)
    order = [item["report_id"] for item in view.items]
    # In P3 the recent grooming report scores higher (recency) and comes before the
    # older one, although the older one is due first.
    assert order == [ids["child"], ids["groom-new"], ids["groom-old"], ids["viral"]]
    assert [item["band"] for item in view.items] == ["P1", "P3", "P3", "P4"]
    assert view.items[1]["score"] > view.items[2]["score"]
    assert view.items[0]["reasons"][0]["factor"] == "hands_on_abuse"
    assert view.open_total == 4
    assert view.open_by_band == {"P1": 1, "P2": 0, "P3": 2, "P4": 1}
    assert ids["other"] not in order
    # P3 due 72 h after arrival: the older grooming report is overdue.
    assert view.items[2]["overdue"] is True
    assert view.items[1]["overdue"] is False


def test_capacity_says_what_will_not_be_reached_today(database: Database, tmp_path: Path) -> None:
    agencies, ids = _scenario(database, tmp_path)
    fr = agencies["Police FR"]
    with database.session() as session:
        set_capacity(session, fr, 2, "supervisor")
        view = queue_for(session, fr, "analyst", as_of=NOW)
    assert view.capacity_per_day == 2
    assert view.not_reached_today == 2
    assert view.not_reached_by_band == {"P1": 0, "P2": 0, "P3": 1, "P4": 1}
    assert [item["reached_today"] for item in view.items] == [True, True, False, False]
    assert "2 will not be reached today (P3 1, P4 1)" in view.summary()
    with database.session() as session:
        change_state(
            session, fr, ids["child"], QueueState.CLOSED, "analyst", outcome=Outcome.SAFEGUARDING
        )
    with database.session() as session:
        after = queue_for(session, fr, "analyst")
    # One handled today: one left for today, and three open.
    assert after.handled_today == 1
    assert after.open_total == 3
    assert after.not_reached_today == 2


def test_states_move_as_allowed_and_refuse_the_rest(database: Database, tmp_path: Path) -> None:
    agencies, ids = _scenario(database, tmp_path)
    fr = agencies["Police FR"]
    report = ids["groom-new"]
    with database.session() as session:
        with pytest.raises(QueueError, match="assignee: required"):
            change_state(session, fr, report, QueueState.ASSIGNED, "sup")
        item = change_state(session, fr, report, QueueState.ASSIGNED, "sup", assignee="alice")
        assert (item.state, item.assignee) == (QueueState.ASSIGNED, "alice")
        change_state(session, fr, report, QueueState.IN_PROGRESS, "alice")
        with pytest.raises(QueueError, match="outcome: required"):
            change_state(session, fr, report, QueueState.CLOSED, "alice")
        with pytest.raises(QueueError, match="use 'veille refer'"):
            change_state(session, fr, report, QueueState.REFERRED, "alice")
        closed = change_state(
            session, fr, report, QueueState.CLOSED, "alice", outcome=Outcome.ARREST
        )
        assert closed.outcome is Outcome.ARREST
        with pytest.raises(QueueError, match="it can move to new, not in_progress"):
            change_state(session, fr, report, QueueState.IN_PROGRESS, "alice")
        with pytest.raises(QueueItemNotFound):
            change_state(session, agencies["Police DE"], report, QueueState.IN_PROGRESS, "bob")
    with database.session() as session:
        mine = queue_for(session, fr, "alice", states=(QueueState.CLOSED,))
    assert [(i["report_id"], i["outcome"]) for i in mine.items] == [(report, Outcome.ARREST)]


def test_queue_is_judged_at_as_of(database: Database, tmp_path: Path) -> None:
    # Due: viral 04-15 08:00 (P4), groom-old 04-05 08:00 and groom-new 04-21 08:00 (P3),
    # child 04-19 12:00 (P1, received 04-19 08:00).
    agencies, ids = _scenario(database, tmp_path)
    fr = agencies["Police FR"]
    with database.session() as session:
        set_capacity(session, fr, 3, "supervisor")
        morning = queue_for(session, fr, "analyst", as_of=datetime(2020, 4, 19, 9, tzinfo=UTC))
        before_child = queue_for(session, fr, "analyst", as_of=datetime(2020, 4, 18, 9))
        later = queue_for(session, fr, "analyst", as_of=datetime(2020, 4, 21, 7, tzinfo=UTC))
    assert (morning.open_total, morning.overdue, morning.due_later_today) == (4, 2, 1)
    assert "4 open (P1 1, P2 0, P3 2, P4 1); 2 overdue, 1 due later today" in morning.summary()
    child = next(item for item in morning.items if item["report_id"] == ids["child"])
    assert (child["overdue"], child["due_later_today"]) == (False, True)
    # Not received yet at that moment (a naive time is UTC): not in the queue.
    assert ids["child"] not in [item["report_id"] for item in before_child.items]
    assert (before_child.open_total, before_child.overdue, before_child.due_later_today) == (
        3,
        2,
        0,
    )
    assert before_child.as_of == datetime(2020, 4, 18, 9, tzinfo=UTC)
    assert (later.overdue, later.due_later_today) == (3, 1)
    # Handled today counts the day of as_of: a report closed now was not handled on 2020-04-19.
    with database.session() as session:
        change_state(
            session, fr, ids["child"], QueueState.CLOSED, "analyst", outcome=Outcome.SAFEGUARDING
        )
    with database.session() as session:
        then = queue_for(session, fr, "analyst", as_of=datetime(2020, 4, 19, 17, tzinfo=UTC))
        now = queue_for(session, fr, "analyst")
    assert (then.handled_today, then.not_reached_today) == (0, 0)
    assert (now.handled_today, now.not_reached_today) == (1, 1)


def test_queue_command_takes_as_of(database: Database, tmp_path: Path) -> None:
    _scenario(database, tmp_path)
    result = runner.invoke(
        app,
        ["triage", "queue", "--as", "Police FR", "--as-of", "2020-04-19T09:00:00Z", "--json"],
    )
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert (view["agency"], view["as_of"]) == ("Police FR", "2020-04-19T09:00:00+00:00")
    assert (view["open_total"], view["overdue"], view["due_later_today"]) == (4, 2, 1)
    table = runner.invoke(app, ["triage", "queue", "--as", "Police FR", "--as-of", "2020-04-19"])
    assert "Police FR at 2020-04-19T00:00Z: 3 open" in table.stdout
    bad = runner.invoke(app, ["triage", "queue", "--as", "Police FR", "--as-of", "yesterday"])
    assert bad.exit_code == 2
    assert "--as-of" in bad.output
