"""One JSON shape of a report: ``veille reports show/list --json`` print what the REST API answers."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.web.conftest import Tenants
from tests.web.test_rest_api import REPORT
from veille.cli import app

runner = CliRunner()

# Without media, so that the media state cannot move between the two reads.
NO_MEDIA = {k: v for k, v in REPORT.items() if k != "media"}


def test_cli_and_api_print_the_same_report(client: TestClient, tenants: Tenants) -> None:
    headers = {"X-API-Key": tenants.write_key}
    report_id = client.post("/api/v1/reports", json=NO_MEDIA, headers=headers).json()["id"]
    client.post("/api/v1/reports", json={**NO_MEDIA, "platform_category": "p2p"}, headers=headers)

    shown = runner.invoke(app, ["reports", "show", str(report_id), "--as", "Example ESP", "--json"])
    assert shown.exit_code == 0, shown.output
    from_api = client.get(f"/api/v1/reports/{report_id}", headers=headers).json()
    assert json.loads(shown.output) == from_api
    assert from_api["media_state"] == "none"
    assert from_api["received_at"].endswith("Z")

    listed = runner.invoke(app, ["reports", "list", "--as", "Example ESP", "--json"])
    assert listed.exit_code == 0, listed.output
    page = json.loads(listed.output)
    assert page == client.get("/api/v1/reports", headers=headers).json()
    assert page["total"] == 2
    assert set(page["reports"][0]) == {
        "id",
        "received_at",
        "channel",
        "derived_country",
        "platform_category",
        "offence_types",
        "marking",
        "owner_agency",
    }


def test_cli_table_of_a_report_names_the_api_fields(client: TestClient, tenants: Tenants) -> None:
    headers = {"X-API-Key": tenants.write_key}
    report_id = client.post("/api/v1/reports", json=NO_MEDIA, headers=headers).json()["id"]
    shown = runner.invoke(app, ["reports", "show", str(report_id), "--as", "Example ESP"])
    assert shown.exit_code == 0, shown.output
    assert "offence_types: grooming" in shown.output
    assert "owner_agency: Example ESP" in shown.output
    assert "media_state: none" in shown.output
