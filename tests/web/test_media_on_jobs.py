"""Media hashing and matching as the job system's ``media.work``, done by a real ``veille worker``.

``veille serve`` runs with its consumer off (``VEILLE_JOBS_IN_SERVE=false``):
it starts no media worker, and a dedicated ``veille worker`` process hashes,
matches, links and scores. A worker killed mid-hash loses no file and the
next one hashes each file once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.processes import kill_once_started
from tests.web.conftest import Tenants
from tests.web.esp_client import GOLDEN, answer, procedural_jpeg
from tests.web.test_flow_channels import wait_in_queue
from veille.flow import forget_job_system, job_system
from veille.intake.media_jobs import DONE, MATCHED
from veille.intake.models import EspReport, MediaJob, ReportMediaState
from veille.intake.settings import IntakeSettings
from veille.store.db import Database
from veille.web import create_app


@pytest.fixture
def jobs_database(database: Database) -> Iterator[Database]:
    """The database with an empty job queue before and after the test."""
    job_system(database).huey.storage.flush_all()
    yield database
    job_system(database).huey.storage.flush_all()
    forget_job_system(database)


@pytest.fixture
def serve_without_consumer(
    jobs_database: Database, tenants: Tenants, intake_settings: IntakeSettings
) -> Iterator[tuple[TestClient, FastAPI]]:
    settings = intake_settings.model_copy(update={"jobs_in_serve": False})
    app = create_app(jobs_database, settings)
    with TestClient(app) as client:
        yield client, app


def _send_esp_report(client: TestClient, tenants: Tenants, database: Database) -> int:
    auth = tenants.esp_auth
    submitted = answer(
        client.post(
            "/ispws/submit",
            content=(GOLDEN / "full_report.xml").read_bytes(),
            headers={**auth, "Content-Type": "text/xml; charset=utf-8"},
        )
    )
    esp_id = submitted.value("reportId")
    for seed in (11, 12):
        uploaded = answer(
            client.post(
                "/ispws/upload",
                data={"id": esp_id},
                files={"file": (f"image{seed}.jpg", procedural_jpeg(seed), "image/jpeg")},
                headers=auth,
            )
        )
        assert uploaded.code == 0
    assert answer(client.post("/ispws/finish", data={"id": esp_id}, headers=auth)).code == 0
    with database.session() as session:
        report_id = session.scalar(
            select(EspReport.report_id).where(EspReport.id == int(esp_id or 0))
        )
    assert report_id is not None
    return report_id


STALLED = """
import os, sys, time
from pathlib import Path
import veille.intake.media_hashing as media_hashing
def stalled(paths):
    Path(os.environ["MEDIA_TEST_STARTED"]).write_text("started")
    time.sleep(120)
    raise SystemExit(1)
media_hashing.hash_in_thread = stalled
from veille.cli import app
sys.argv = ["veille", "worker", "--threads", "1"]
app()
"""

COUNTING = """
import os, sys
import veille.intake.media_hashing as media_hashing
real = media_hashing.hash_in_thread
def counting(paths):
    with open(os.environ["MEDIA_TEST_HASHED"], "a") as log:
        log.writelines(f"{path}\\n" for path in paths)
    return real(paths)
media_hashing.hash_in_thread = counting
from veille.cli import app
sys.argv = ["veille", "worker", "--threads", "1"]
app()
"""


def _worker(env: dict[str, str], script: str | None = None) -> subprocess.Popen[bytes]:
    command = (
        [sys.executable, "-c", script]
        if script
        else [str(Path(sys.executable).parent / "veille"), "worker"]
    )
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _jobs(database: Database, report_id: int) -> list[MediaJob]:
    with database.session() as session:
        return list(session.scalars(select(MediaJob).where(MediaJob.report_id == report_id)))


def _media_state(database: Database, report_id: int) -> str | None:
    with database.session() as session:
        state = session.get(ReportMediaState, report_id)
        return state.state if state is not None else None


def _wait_matched(database: Database, report_id: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while _media_state(database, report_id) != MATCHED:
        assert time.monotonic() < deadline, "media not matched in 60 s"
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.1)


def test_dedicated_worker_hashes_matches_links_and_scores_an_esp_report(
    serve_without_consumer: tuple[TestClient, FastAPI],
    tenants: Tenants,
    jobs_database: Database,
    intake_settings: IntakeSettings,
) -> None:
    client, app = serve_without_consumer
    assert app.state.veille.worker is None  # serve hashes nothing
    report_id = _send_esp_report(client, tenants, jobs_database)
    time.sleep(0.5)
    assert {job.state for job in _jobs(jobs_database, report_id)} == {"pending"}
    env = {**os.environ, "VEILLE_SPOOL_DIR": str(intake_settings.resolved_spool_dir())}
    worker = _worker(env)
    try:
        _wait_matched(jobs_database, report_id, worker)
        assert wait_in_queue(jobs_database, report_id)[0] == tenants.esp_id
    finally:
        _stop(worker)
    jobs = _jobs(jobs_database, report_id)
    assert len(jobs) == 2 and {job.state for job in jobs} == {DONE}


def test_worker_killed_mid_hash_loses_no_file_and_hashes_each_once(
    serve_without_consumer: tuple[TestClient, FastAPI],
    tenants: Tenants,
    jobs_database: Database,
    intake_settings: IntakeSettings,
    tmp_path: Path,
) -> None:
    client, _ = serve_without_consumer
    report_ids = [_send_esp_report(client, tenants, jobs_database) for _ in range(2)]
    started, hashed = tmp_path / "started", tmp_path / "hashed.log"
    env = {
        **os.environ,
        "VEILLE_SPOOL_DIR": str(intake_settings.resolved_spool_dir()),
        "VEILLE_WORKER_HASH_PROCESS": "false",  # the hashing function is patched in the worker
        "MEDIA_TEST_STARTED": str(started),
        "MEDIA_TEST_HASHED": str(hashed),
    }
    kill_once_started(_worker(env, STALLED), started)
    for report_id in report_ids:
        assert _media_state(jobs_database, report_id) != MATCHED
    second = _worker(env, COUNTING)
    try:
        for report_id in report_ids:
            _wait_matched(jobs_database, report_id, second)
            assert wait_in_queue(jobs_database, report_id)[0] == tenants.esp_id
    finally:
        _stop(second)
    jobs = [job for report_id in report_ids for job in _jobs(jobs_database, report_id)]
    assert len(jobs) == 4 and {job.state for job in jobs} == {DONE}
    lines = hashed.read_text().splitlines()
    assert sorted(lines) == sorted(job.spool_path for job in jobs)  # each file hashed once
