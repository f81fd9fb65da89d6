"""schemathesis against the published OpenAPI spec: generated requests never get a 5xx."""

from __future__ import annotations

import os

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.web.conftest import Tenants


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_: object, value: object) -> bytes:
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else str(value).encode()


def test_generated_requests_never_get_a_server_error(web_app: FastAPI, tenants: Tenants) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", web_app)
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        tested.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20")),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"X-API-Key": tenants.write_key}, checks=[not_a_server_error]
            )

        check()
    spec_operations = sum(
        1
        for path in web_app.openapi()["paths"].values()
        for method in path
        if method in ("get", "post", "put", "patch", "delete")
    )
    assert len(tested) == spec_operations
    for expected in ("POST /api/v1/reports", "GET /api/v1/triage/queue", "GET /api/v1/clusters"):
        assert expected in tested
