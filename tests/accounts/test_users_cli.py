"""``veille users``: add, list, reset, disable, second factor; clear errors naming the field."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from veille.accounts.models import UserAccount, WebSession
from veille.accounts.service import authenticate, open_session, totp_required
from veille.cli import app as cli
from veille.store.agencies import AgencySpec, add_agency
from veille.store.db import Database
from veille.store.models import AuditEvent
from veille.vocab import AgencyKind

runner = CliRunner()


def _agency(database: Database) -> int:
    with database.session() as session:
        return add_agency(session, AgencySpec("Police FR", AgencyKind.POLICE, "FR")).id


def test_a_user_is_added_with_a_temporary_password_and_listed(database: Database) -> None:
    _agency(database)
    added = runner.invoke(cli, ["users", "add", "Ana.M", "--agency", "Police FR"])
    assert added.exit_code == 0, added.output
    password = added.output.split("temporary password: ")[1].strip()
    assert len(password) >= 12
    with database.session() as session:
        user = session.scalars(select(UserAccount)).one()
        assert user.username == "ana.m"
        assert user.must_change_password
        assert password not in user.password_hash
        assert authenticate(session, "ana.m", password, None).user is not None
    listed = runner.invoke(cli, ["users", "list", "--json"])
    rows = json.loads(listed.output)
    assert rows == [
        {
            "username": "ana.m",
            "agency": "Police FR",
            "role": "analyst",
            "state": "active",
            "second_factor": False,
            "last_login_at": rows[0]["last_login_at"],
        }
    ]
    assert "argon2" not in listed.output


def test_bad_input_names_the_field(database: Database) -> None:
    _agency(database)
    bad_name = runner.invoke(cli, ["users", "add", "a b", "--agency", "Police FR"])
    assert bad_name.exit_code == 2
    assert "username" in bad_name.output
    short = runner.invoke(
        cli, ["users", "add", "ana", "--agency", "Police FR", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 2
    assert "password: at least 12 characters" in short.output
    no_agency = runner.invoke(cli, ["users", "add", "ana", "--agency", "Nowhere"])
    assert no_agency.exit_code == 2
    assert "--agency" in no_agency.output
    runner.invoke(cli, ["users", "add", "ana", "--agency", "Police FR"])
    taken = runner.invoke(cli, ["users", "add", "ANA", "--agency", "Police FR"])
    assert taken.exit_code == 2
    assert "taken" in taken.output
    missing = runner.invoke(cli, ["users", "reset", "nobody"])
    assert missing.exit_code == 1
    with database.session() as session:
        assert len(session.scalars(select(UserAccount)).all()) == 1


def test_reset_and_disable_end_the_sessions_and_are_audited(database: Database) -> None:
    _agency(database)
    runner.invoke(cli, ["users", "add", "ana", "--agency", "Police FR"])
    with database.session() as session:
        user = session.scalars(select(UserAccount)).one()
        open_session(session, user)
    reset = runner.invoke(cli, ["users", "reset", "ana"])
    assert reset.exit_code == 0
    new_password = reset.output.split("temporary password: ")[1].strip()
    with database.session() as session:
        assert session.scalars(select(WebSession)).all() == []
        assert authenticate(session, "ana", new_password, None).user is not None
        user = session.scalars(select(UserAccount)).one()
        open_session(session, user)
    assert runner.invoke(cli, ["users", "disable", "ana"]).exit_code == 0
    with database.session() as session:
        assert session.scalars(select(WebSession)).all() == []
        assert authenticate(session, "ana", new_password, None).user is None
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {"user.add", "user.reset", "user.disable", "user.login"} <= actions
    assert runner.invoke(cli, ["users", "enable", "ana"]).exit_code == 0


def test_second_factor_commands(database: Database) -> None:
    agency_id = _agency(database)
    runner.invoke(cli, ["users", "add", "ana", "--agency", "Police FR"])
    enrolled = runner.invoke(cli, ["users", "totp", "ana"])
    assert enrolled.exit_code == 0
    assert "otpauth://totp/Veille:ana" in enrolled.output
    required = runner.invoke(cli, ["users", "require-totp", "Police FR"])
    assert required.exit_code == 0
    with database.session() as session:
        assert totp_required(session, agency_id)
    assert runner.invoke(cli, ["users", "totp", "ana", "--remove"]).exit_code == 0
    assert runner.invoke(cli, ["users", "require-totp", "Police FR", "--off"]).exit_code == 0
    with database.session() as session:
        assert not totp_required(session, agency_id)
        assert session.scalars(select(UserAccount)).one().totp_secret is None


def test_veille_audit_shows_and_filters_events(database: Database) -> None:
    _agency(database)
    runner.invoke(cli, ["users", "add", "ana", "--agency", "Police FR"])
    with database.session() as session:
        authenticate(session, "ana", "wrong password for ana", None)
    everything = json.loads(runner.invoke(cli, ["audit", "--json"]).output)
    assert {e["action"] for e in everything} >= {"user.add", "user.login"}
    refused = json.loads(runner.invoke(cli, ["audit", "--refused", "--json"]).output)
    assert [(e["action"], e["actor"], e["success"]) for e in refused] == [
        ("user.login", "ana", False)
    ]
    added = json.loads(
        runner.invoke(
            cli, ["audit", "--agency", "Police FR", "--action", "user.add", "--json"]
        ).output
    )
    assert len(added) == 1
    bad = runner.invoke(cli, ["audit", "--since", "yesterday"])
    assert bad.exit_code == 2
    assert "--since" in bad.output
