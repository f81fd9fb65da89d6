"""The flow on the job system: the bulk import, a late hash list, a worker killed mid-task."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.factories import make_agencies, report_record, write_jsonl
from tests.processes import kill_once_started
from veille.cli import app
from veille.flow import forget_job_system, job_system
from veille.intake.channels import receive_sms
from veille.linking.models import ReportCluster
from veille.store.db import Database
from veille.store.models import Agency
from veille.triage.models import QueueItem, TriageScore

runner = CliRunner()


@pytest.fixture
def flow_database(database: Database) -> Iterator[Database]:
    """The database with an empty job queue before and after the test."""
    job_system(database).huey.storage.flush_all()
    yield database
    job_system(database).huey.storage.flush_all()
    forget_job_system(database)


def _counts(database: Database, table: type, column: str = "report_id") -> dict[int, int]:
    with database.session() as session:
        key = getattr(table, column)
        return dict(session.execute(select(key, func.count()).group_by(key)).all())


def test_bulk_import_puts_reports_in_their_queue(flow_database: Database, tmp_path: Path) -> None:
    with flow_database.session() as session:
        make_agencies(session)
    path = write_jsonl(tmp_path / "r.jsonl", [report_record(n) for n in range(1, 6)])
    result = runner.invoke(app, ["import", "reports", str(path)])
    assert result.exit_code == 0, result.output
    assert len(_counts(flow_database, ReportCluster)) == 5
    assert len(_counts(flow_database, QueueItem)) == 5


def test_late_hash_list_import_rescores_a_queued_report(
    flow_database: Database, tmp_path: Path
) -> None:
    with flow_database.session() as session:
        make_agencies(session)
    path = write_jsonl(tmp_path / "r.jsonl", [report_record(7)])
    assert runner.invoke(app, ["import", "reports", str(path)]).exit_code == 0
    with flow_database.session() as session:
        before = session.scalars(select(TriageScore)).one()
        reasons_before, report_id = before.reasons, before.report_id
    hash_list = tmp_path / "known.csv"
    hash_list.write_text(f"md5,category\n{7:032x},1\n")
    result = runner.invoke(app, ["lists", "import", str(hash_list), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert job_system(flow_database).run_pending() >= 1  # the queued re-score, on real storage
    with flow_database.session() as session:
        after = session.get(TriageScore, report_id)
        assert after is not None
        assert after.trigger == "match" and after.reasons != reasons_before
    assert _counts(flow_database, QueueItem) == {report_id: 1}


WORKER = """
import os, sys, time
from pathlib import Path
import dataclasses
import veille.linking.flow as linking_flow
real = linking_flow.FLOW_STEPS[0]
def stalled(database, ids, **options):
    Path(os.environ["FLOW_TEST_STARTED"]).write_text("started")
    time.sleep(120)
    return real.run(database, ids, **options)
linking_flow.FLOW_STEPS = (dataclasses.replace(real, run=stalled),)
from veille.cli import app
sys.argv = ["veille", "worker", "--threads", "1"]
app()
"""


def _worker(env: dict[str, str], stalled: bool) -> subprocess.Popen[bytes]:
    command = (
        [sys.executable, "-c", WORKER]
        if stalled
        else [str(Path(sys.executable).parent / "veille"), "worker"]
    )
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_worker_killed_mid_task_loses_nothing_and_does_each_report_once(
    flow_database: Database, tmp_path: Path
) -> None:
    with flow_database.session() as session:
        make_agencies(session)
        owner = session.scalars(select(Agency.id)).first()
    assert owner is not None
    ids = [
        receive_sms(
            flow_database,
            sender="+33612345678",
            text=f"message {n}",
            received_at=None,
            owner_id=owner,
            gateway="test",
            message_id=f"m{n}",
        ).report_id
        for n in range(5)
    ]
    started = tmp_path / "started"
    env = {**os.environ, "FLOW_TEST_STARTED": str(started)}
    kill_once_started(_worker(env, stalled=True), started)
    assert _counts(flow_database, TriageScore) == {}
    listed = runner.invoke(app, ["jobs", "--json"])
    assert '"interrupted"' in listed.stdout, listed.output
    second = _worker(env, stalled=False)
    try:
        deadline = time.monotonic() + 60
        while len(_counts(flow_database, QueueItem)) < len(ids):
            assert time.monotonic() < deadline and second.poll() is None
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(30)
    assert _counts(flow_database, ReportCluster) == dict.fromkeys(ids, 1)
    assert _counts(flow_database, TriageScore) == dict.fromkeys(ids, 1)
    assert _counts(flow_database, QueueItem) == dict.fromkeys(ids, 1)
    assert [r.state for r in job_system(flow_database).listing()] == []


def test_work_requested_by_stored_reports_is_not_starved_by_the_flow() -> None:
    """huey takes the highest priority first: a task that every stored report requests
    must not sit below the flow's steps, which arriving reports keep requesting."""
    from veille.flow import all_tasks, flow_tasks

    flow_priority = {spec.priority for spec in flow_tasks()}
    assert len(flow_priority) == 1
    requested = [spec for spec in all_tasks() if spec.on_reports_stored]
    assert requested and all(spec.priority in flow_priority for spec in requested)
