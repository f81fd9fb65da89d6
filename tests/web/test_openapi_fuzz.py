"""schemathesis, with every check, against the published OpenAPI document of ``/api/v1``.

The run is the one ``schemathesis run --checks all`` makes (examples, coverage,
fuzzing and stateful phases; positive and negative data), in process against
the app on each engine. Every failure it finds is a place where the document
and the server disagree, so the test asserts there are none. ``FUZZ_EXAMPLES``
sets the examples per operation (default 5; ``FUZZ_EXAMPLES=200`` for a long
local run) and ``FUZZ_SEED`` replays a run; the counts are printed (``-s``).
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from fastapi import FastAPI
from schemathesis.engine import events, from_schema

from tests.web.conftest import Tenants
from veille.intake.credentials import Scope, create_api_key
from veille.intake.schema import e164_pattern
from veille.store.db import Database


def _import_schemathesis_whole() -> None:
    """Import every schemathesis module now, at collection, rather than lazily mid-run.

    schemathesis is a pytest plugin, so pytest rewrites each of its modules as it is
    imported. Many are imported inside functions, deep in a Hypothesis run that has
    raised the recursion limit; CPython 3.11.7 then fails to compile the module with
    "SystemError: AST constructor recursion depth mismatch" (fixed in later 3.11
    releases). Imported here, at a shallow stack, nothing is compiled during the run.
    """
    for module in pkgutil.walk_packages(schemathesis.__path__, "schemathesis."):
        try:
            importlib.import_module(module.name)
        except ImportError:  # optional integrations (e.g. Allure) that are not installed
            continue


_import_schemathesis_whole()


@schemathesis.serializer("application/x-ndjson")
def _json_lines(_: object, value: Any) -> bytes:
    """A bulk body described as an array of reports is sent as one JSON object per line."""
    items = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(item).encode("utf-8", "surrogatepass") + b"\n" for item in items)


def _allowed(operation: str, check: str, message: str) -> str | None:
    """Why a failure is not a disagreement between the document and the server, if it is not.

    Three cases. Phone numbers: the document gives the strict international form
    (+CC and as many digits as the country's numbers have); libphonenumber, which
    the server asks, also reads numbers written with punctuation or spaces
    ("+381 47 719 2601", "+381477192601*") and no JSON Schema pattern can say which.
    A value that breaks the pattern and is still accepted is such a number.
    """
    phone_field = (
        operation == "POST /api/v1/sms" and "/properties/from" in message
    ) or e164_pattern() in message
    if check == "negative_data_rejection" and phone_field:
        return "phone number in a form libphonenumber reads but the E.164 pattern does not"
    # Stateful phase: a value carried from another operation's response into an integer
    # path parameter by a link schemathesis inferred (the document declares none) is a
    # string the document does not allow there, so its refusal is the document's word.
    if (
        check == "positive_data_acceptance"
        and '"field":"path.' in message
        and "unable to parse string as an integer" in message
    ):
        return "an inferred link put a string into an integer path parameter"
    # Analytics: what a schema cannot say. A period's dates must exist and not end
    # before they start, the baseline must name a period, a series spans at most 800
    # weeks or months, and it is filtered by offence types or by flags, not both; the
    # server refuses the rest with a 422 naming the parameter.
    semantic = any(
        f'"field":"{name}"' in message
        for name in ("period", "baseline", "since", "interval", "offence and flag")
    )
    if (
        check == "positive_data_acceptance"
        and operation.startswith("GET /api/v1/analytics/")
        and "422" in message
        and semantic
    ):
        return "analytics dates that match their pattern but do not exist, overlap wrongly or span too long"
    return None


@dataclass
class FuzzOutcome:
    """What one schemathesis run tried and what it found."""

    cases_by_operation: Counter[str] = field(default_factory=Counter)
    cases_by_phase: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    allowed: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    seed: int | None = None

    @property
    def cases(self) -> int:
        return sum(self.cases_by_operation.values())


def run_schemathesis(app: FastAPI, api_key: str, max_examples: int) -> FuzzOutcome:
    """Every phase and every check of schemathesis against ``app``'s ``/openapi.json``."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.update(headers={"X-API-Key": api_key}, workers=1)
    schema.config.checks.update(included_check_names=["all"])
    schema.config.generation.update(max_examples=max_examples, database="none")
    # A body over its documented size is refused by the edge with 413 (documented on every
    # operation) before it is parsed: a rejection as good as 422 for schema-violating data.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    if os.environ.get("FUZZ_SEED"):
        schema.config.seed = int(os.environ["FUZZ_SEED"])
    outcome = FuzzOutcome(seed=schema.config.seed)
    seen: set[tuple[str, str, str]] = set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            for node in recorder.cases.values():
                outcome.cases_by_operation[node.value.operation.label] += 1
                outcome.cases_by_phase[event.phase.value] += 1
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    operation = recorder.cases[case_id].value.operation.label
                    interaction = recorder.interactions.get(case_id)
                    answer = interaction.response if interaction else None
                    answered = (
                        f"{answer.status_code} {answer.content[:300]!r}" if answer else "no answer"
                    )
                    why = _allowed(operation, check.name, f"{failure.message}\n{answered}")
                    if why is not None:
                        outcome.allowed[f"{operation}: {why}"] += 1
                        continue
                    key = (operation, check.name, failure.title)
                    if key in seen:
                        continue
                    seen.add(key)
                    outcome.failures.append(
                        f"[{event.phase.value}] {operation}: {check.name}: {failure.title}\n"
                        f"{failure.message}\n{check.failure_info.code_sample}\n-> {answered}"
                    )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            outcome.errors.append(str(getattr(event, "value", event)))
    return outcome


def test_openapi_document_describes_what_the_server_does(
    web_app: FastAPI, database: Database, tenants: Tenants
) -> None:
    # Every scope, so that the policy check (scope admin) is tested past its 403.
    with database.session() as session:
        _, key = create_api_key(session, "Example ESP", list(Scope.ALL))
    outcome = run_schemathesis(web_app, key, int(os.environ.get("FUZZ_EXAMPLES", "5")))
    print(
        f"\nschemathesis: {outcome.cases} cases over {len(outcome.cases_by_operation)} operations,"
        f" {len(outcome.failures)} distinct failures, {len(outcome.errors)} errors"
        f" (seed {outcome.seed}); by phase: {dict(outcome.cases_by_phase)}"
    )
    for operation, count in sorted(outcome.cases_by_operation.items()):
        print(f"  {count:6d}  {operation}")
    for allowance, count in outcome.allowed.items():
        print(f"  allowed {count} x {allowance}")
    print("\n\n".join(outcome.failures + outcome.errors))
    assert not outcome.errors
    assert not outcome.failures
    spec_operations = {
        f"{method.upper()} {path}"
        for path, methods in web_app.openapi()["paths"].items()
        for method in methods
    }
    assert spec_operations <= set(outcome.cases_by_operation)
