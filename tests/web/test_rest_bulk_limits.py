"""Bulk JSON Lines: a line nested too deep or with a huge number is refused by its number."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.web.conftest import Tenants
from tests.web.test_rest_api import REPORT

DEEP = "[" * 100_000 + "]" * 100_000
HUGE_NUMBER = '{"external_id": ' + "7" * 5000 + "}"


def test_hostile_lines_are_refused_with_their_line_number(
    client: TestClient, tenants: Tenants
) -> None:
    lines = [json.dumps(REPORT), DEEP, HUGE_NUMBER, '{"a": ' * 40 + "1" + "}" * 40, "NaN"]
    refused = client.post(
        "/api/v1/reports/bulk",
        content="\n".join(lines),
        headers={"X-API-Key": tenants.write_key},
    )
    assert refused.status_code == 422
    assert refused.json()["detail"] == [
        {"field": "(line)", "reason": "nested deeper than 16 levels", "line": 2},
        {"field": "(line)", "reason": "a number has more than 20 digits", "line": 3},
        {"field": "(line)", "reason": "nested deeper than 16 levels", "line": 4},
        {"field": "(line)", "reason": "NaN is not a JSON number", "line": 5},
    ]


def test_a_single_report_nested_too_deep_is_bad_input_not_a_server_error(
    client: TestClient, tenants: Tenants
) -> None:
    for body in (DEEP, HUGE_NUMBER):
        answer = client.post(
            "/api/v1/reports",
            content=body,
            headers={"X-API-Key": tenants.write_key, "Content-Type": "application/json"},
        )
        assert 400 <= answer.status_code < 500
