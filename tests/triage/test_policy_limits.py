"""A policy is read with limits: no YAML aliases, bounded size and depth, short errors.

The policy check route needs an administrative key: a reader's key, even an
ESP's, must not make the server parse YAML for it.
"""

from __future__ import annotations

import contextlib
import time
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.linking.helpers import make_world
from veille.intake.credentials import Scope, create_api_key
from veille.safe_yaml import MAX_YAML_BYTES, YamlLimitError, load_yaml_limited
from veille.store.db import Database
from veille.triage import api as triage_api
from veille.triage.policy import MAX_MESSAGES, PolicyError, default_policy, parse_policy
from veille.web.auth import install_api_keys

# The 289-byte document of issue 12: nine levels of nine aliases each.
ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
)


def test_an_alias_bomb_is_refused_at_once_with_a_short_message() -> None:
    started = time.perf_counter()
    with pytest.raises(PolicyError) as caught:
        parse_policy(ALIAS_BOMB, "body")
    # Expanded, the document is 9**7 strings: minutes and gigabytes. Refused, milliseconds
    # (the bound leaves room for a machine busy with other tests).
    assert time.perf_counter() - started < 2
    assert caught.value.messages == [
        "line 1, column 4: anchors and aliases (&name, *name) are not allowed"
    ]


def test_a_single_anchor_is_refused_too() -> None:
    text = default_policy().text.replace("factors:", "factors: &f", 1)
    with pytest.raises(PolicyError, match="anchors and aliases"):
        parse_policy(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x: " + "[" * 5000 + "]" * 5000, "nested deeper than 20 levels"),
        ("x: [" + "1," * 30_000 + "1]", "more than 20000 values"),
        ("version: " + "9" * 5000, "not valid YAML: Exceeds the limit"),
        ("version: 2021-02-30", "not valid YAML: day is out of range"),
        ("a: \x00", "not valid YAML"),
        ("version: x\n" + "#" * MAX_YAML_BYTES, f"more than the {MAX_YAML_BYTES} allowed"),
    ],
)
def test_limits_on_depth_values_numbers_and_size(text: str, expected: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert expected in caught.value.messages[0]
    assert len(str(caught.value)) < 400


def test_errors_that_echo_input_are_bounded() -> None:
    factors = "".join(f"  {'f' * 5000}{n}: {{weight: {'x' * 5000}}}\n" for n in range(200))
    with pytest.raises(PolicyError) as caught:
        parse_policy(f"version: {'v' * 5000}\nfactors:\n{factors}bands: {{}}\n")
    assert len(caught.value.messages) <= MAX_MESSAGES + 1
    assert all(len(message) <= 200 for message in caught.value.messages)
    assert len(str(caught.value)) < 6000


def test_scenario_files_use_the_same_limits(tmp_path: object) -> None:
    from pathlib import Path

    from veille.synth.config import ScenarioConfigError, load_config

    assert isinstance(tmp_path, Path)
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB, encoding="utf-8")
    with pytest.raises(ScenarioConfigError, match="anchors and aliases"):
        load_config(path)


YAMLISH = st.lists(
    st.sampled_from(
        [*"ab:-[]{},&*!|>'\"#%@ \n\t019.", "version: ", "factors:", "bands:", "weight: ", "  "]
    ),
    max_size=120,
).map("".join)


@settings(max_examples=400, deadline=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(YAMLISH, st.text(max_size=300)))
def test_fuzz_any_text_gives_a_policy_or_a_policy_error(text: str) -> None:
    try:
        policy = parse_policy(text, "fuzz")
    except PolicyError as error:
        assert all(len(message) <= 200 for message in error.messages)
        return
    assert policy.version


@settings(max_examples=200, deadline=500)
@given(st.text(max_size=300))
def test_fuzz_the_limited_loader_raises_only_its_own_error(text: str) -> None:
    with contextlib.suppress(YamlLimitError):
        load_yaml_limited(text)


def _app_with_real_keys(database: Database) -> FastAPI:
    app = FastAPI()
    app.state.veille = SimpleNamespace(database=database)
    install_api_keys(app)
    app.include_router(triage_api.router(), prefix="/api/v1")
    return app


def test_policy_check_needs_an_administrative_key(database: Database) -> None:
    make_world(database)
    with database.session() as session:
        _, reader = create_api_key(session, "Police FR", [Scope.REPORTS_READ, Scope.REPORTS_WRITE])
        _, admin = create_api_key(session, "Coordination", [Scope.ADMIN])
    client = TestClient(_app_with_real_keys(database))
    body = {"Content-Type": "application/yaml"}
    refused = client.post(
        "/api/v1/triage/policy/check", content=ALIAS_BOMB, headers={**body, "X-API-Key": reader}
    )
    assert refused.status_code == 403
    assert "admin" in refused.json()["detail"][0]["reason"]
    checked = client.post(
        "/api/v1/triage/policy/check", content=ALIAS_BOMB, headers={**body, "X-API-Key": admin}
    )
    assert checked.status_code == 200
    assert checked.json()["valid"] is False
    assert len(checked.content) < 500
    good = client.post(
        "/api/v1/triage/policy/check",
        content=default_policy().text,
        headers={**body, "X-API-Key": admin},
    )
    assert good.json() == {"valid": True, "version": default_policy().version, "errors": []}
