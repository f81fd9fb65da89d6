"""The ``veille takedown`` commands end to end: providers, a notice from a report, sending."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.casework.helpers import smtp_server
from tests.linking.helpers import import_records, make_world, record
from veille.cli import app
from veille.store.db import Database


def test_a_notice_from_a_report_is_sent_and_followed_up_from_the_cli(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_world(database)
    ids = import_records(
        database,
        tmp_path / "reports",
        [record("u1", [{"kind": "url", "value": "https://friendloop.example/u/77"}]),
         record("n1", [])],
    )  # fmt: skip
    runner = CliRunner()
    with smtp_server() as (mailbox, settings):
        monkeypatch.setenv("VEILLE_SMTP_HOST", settings.smtp_host)
        monkeypatch.setenv("VEILLE_SMTP_PORT", str(settings.smtp_port))
        added = runner.invoke(
            app,
            ["takedown", "provider", "add", "Friendloop", "--domain", "friendloop.example",
             "--email", "safety@example.com"],
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        token = runner.invoke(app, ["takedown", "provider", "token", "Friendloop"])
        assert token.output.strip().startswith("vt_")
        listed = json.loads(runner.invoke(app, ["takedown", "provider", "list", "--json"]).output)
        assert listed[0]["domains"] == ["friendloop.example"] and listed[0]["has_token"]

        made = runner.invoke(
            app, ["takedown", "create", "--report", str(ids["u1"]), "--as", "Police FR", "--json"]
        )
        assert made.exit_code == 0, made.output
        notice = json.loads(made.output)
        assert (notice["url"], notice["provider"]) == (
            "https://friendloop.example/u/77",
            "Friendloop",
        )
        no_url = runner.invoke(
            app, ["takedown", "create", "--report", str(ids["n1"]), "--as", "Police FR"]
        )
        assert no_url.exit_code == 2 and "names no URL" in no_url.output
        hidden = runner.invoke(
            app, ["takedown", "create", "--report", str(ids["u1"]), "--as", "Police DE"]
        )
        assert hidden.exit_code == 1

        sent = runner.invoke(app, ["takedown", "send", str(notice["id"]), "--json"])
        assert json.loads(sent.output)["sent"] == 1
        later = runner.invoke(
            app, ["takedown", "follow-up", "--now", "2099-01-01T00:00:00Z", "--json"]
        )
        assert json.loads(later.output)["renotified"] == 1
        assert json.loads(later.output)["escalated"] == 1
    # The notice and its reminder; Police FR has no contact address to tell of the escalation.
    assert [m["Subject"].split(" ")[0] for m in mailbox.messages] == ["Take-down", "Reminder:"]
    shown = json.loads(
        runner.invoke(
            app, ["takedown", "show", str(notice["id"]), "--as", "Police FR", "--json"]
        ).output
    )
    assert [e["kind"] for e in shown["events"]][:2] == ["created", "sent"]
    assert {"renotified", "escalated"} <= {e["kind"] for e in shown["events"]}
