"""The intake CLI: API keys, ESP logins, the XSD, the worker; and the intake migration."""

from __future__ import annotations

import json

from sqlalchemy import inspect
from typer.testing import CliRunner

from veille.cli import app
from veille.intake.credentials import check_api_key, check_esp_login
from veille.intake.demo import run_intake_demo
from veille.store import migrate
from veille.store.agencies import AgencySpec, add_agency
from veille.store.db import Database
from veille.vocab import AgencyKind
from veille.web.app import create_app

runner = CliRunner()


def test_keys_create_list_revoke(database: Database) -> None:
    with database.session() as session:
        add_agency(session, AgencySpec("Police FR", AgencyKind.POLICE, "FR"))
    created = runner.invoke(
        app, ["keys", "create", "--agency", "Police FR", "--scope", "reports:read", "--json"]
    )
    assert created.exit_code == 0, created.output
    secret = json.loads(created.output)["key"]
    with database.session() as session:
        principal = check_api_key(session, secret)
        assert principal is not None and principal.scopes == frozenset({"reports:read"})
    listed = runner.invoke(app, ["keys", "list", "--json"])
    assert secret not in listed.output and '"scopes": "reports:read"' in listed.output
    assert json.loads(listed.stdout)[0]["agency"] == "Police FR"
    table = runner.invoke(app, ["keys", "list"])
    assert "Police FR" in table.stdout
    assert (
        runner.invoke(app, ["keys", "revoke", str(json.loads(created.output)["id"])]).exit_code == 0
    )
    with database.session() as session:
        assert check_api_key(session, secret) is None
    bad = runner.invoke(app, ["keys", "create", "--agency", "Police FR", "--scope", "everything"])
    assert bad.exit_code == 2 and "scope" in bad.output
    missing = runner.invoke(
        app, ["keys", "create", "--agency", "Nobody", "--scope", "reports:read"]
    )
    assert missing.exit_code == 2 and "Nobody" in missing.output


def test_esp_credentials_set_and_xsd(database: Database) -> None:
    with database.session() as session:
        add_agency(session, AgencySpec("Example ESP", AgencyKind.ESP, "US"))
    result = runner.invoke(
        app,
        [
            "esp",
            "credentials",
            "set",
            "--agency",
            "Example ESP",
            "--username",
            "esp-a",
            "--password",
            "pw-123456",
        ],
    )
    assert result.exit_code == 0, result.output
    with database.session() as session:
        assert check_esp_login(session, "esp-a", "pw-123456") is not None
        assert check_esp_login(session, "esp-a", "wrong") is None
    xsd = runner.invoke(app, ["esp", "xsd"])
    assert xsd.exit_code == 0 and "<xs:schema" in xsd.output
    work = runner.invoke(app, ["intake", "work"])
    assert work.exit_code == 0 and "hashed 0 file(s)" in work.output


def test_demo_runs_every_channel(database: Database) -> None:
    counts = run_intake_demo(database, create_app)
    assert {
        k: counts[k]
        for k in (
            "esp_api",
            "esp_files",
            "rest_api",
            "rest_api_bulk",
            "in_app",
            "sms",
            "hotline_form",
        )
    } == {
        "esp_api": 1,
        "esp_files": 2,
        "rest_api": 1,
        "rest_api_bulk": 3,
        "in_app": 1,
        "sms": 1,
        "hotline_form": 1,
    }
    assert counts["files_hashed"] == 2
    assert counts["sms_reply"].startswith("Merci")


def test_intake_migration_up_and_down(empty_database: Database) -> None:
    migrate.upgrade(empty_database)
    assert "intake_esp_report" in inspect(empty_database.engine).get_table_names()
    migrate.downgrade(empty_database, "intake@base")
    tables = inspect(empty_database.engine).get_table_names()
    assert not any(name.startswith("intake_") for name in tables)
    assert "report" in tables
    migrate.upgrade(empty_database)
    assert "intake_media_job" in inspect(empty_database.engine).get_table_names()


def test_one_process_hashes_a_sqlite_database(database: Database) -> None:
    """A second process neither hashes nor puts the first one's batch back in the queue."""
    import subprocess
    import sys

    import pytest

    from veille.intake.tasks import work_media

    if database.dialect != "sqlite":
        pytest.skip("PostgreSQL: processes share the queue (rows claimed with SKIP LOCKED)")
    url = database.engine.url.render_as_string(hide_password=False)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from veille.store.db import open_database\n"
            "from veille.intake.tasks import may_hash\n"
            f"assert may_hash(open_database({url!r}))\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        work = runner.invoke(app, ["intake", "work"])
        assert work.exit_code == 1
        assert "another process" in work.output and "SQLite" in work.output
        assert work_media(database) == 0
    finally:
        holder.kill()
        holder.wait()
    # Its holder gone, the lock is free again (the kernel released it).
    assert runner.invoke(app, ["intake", "work"]).exit_code == 0
