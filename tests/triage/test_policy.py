"""The scoring policy file: validation messages that name the key, and safe loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from veille.cli import app
from veille.store.db import Database
from veille.triage.factors import RULES
from veille.triage.policy import (
    FACTORS,
    PolicyError,
    active_policy,
    default_policy,
    install_policy,
    parse_policy,
)

runner = CliRunner()

GOOD = """
version: "test-1"
factors:
  hands_on_abuse: {weight: 50}
  recency: {weight: 10, full_days: 3, zero_days: 30}
bands:
  P1: {min_score: 50, due_hours: 2}
  P2: {min_score: 30, due_hours: 24}
  P3: {min_score: 10, due_hours: 72}
  P4: {min_score: 0, due_hours: 240}
"""


def test_every_factor_has_a_rule_and_the_default_policy_weighs_them_all() -> None:
    assert set(FACTORS) == set(RULES)
    policy = default_policy()
    assert set(policy.spec.factors) == set(FACTORS)
    assert policy.band_for(1000) == ("P1", 4.0)
    assert policy.band_for(-5) == ("P4", 336.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("{weight: 50}", "{weight: high}"),
            "factors.hands_on_abuse.weight: Input should be a valid number",
        ),
        (GOOD.replace("hands_on_abuse", "hands_on"), "factors.hands_on: unknown factor"),
        (
            GOOD.replace("full_days: 3", "full_days: 40"),
            "factors.recency.full_days: must be less than zero_days",
        ),
        (
            GOOD.replace("P1: {min_score: 50", "P1: {min_score: 20"),
            "bands.P1.min_score: must be above bands.P2.min_score",
        ),
        (
            GOOD.replace("  P4: {min_score: 0, due_hours: 240}\n", ""),
            "bands: expected exactly P1, P2, P3, P4",
        ),
        (
            GOOD.replace("due_hours: 2}", "due_hours: 0}"),
            "bands.P1.due_hours: Input should be greater than 0",
        ),
        (GOOD.replace("version", "versoin"), "versoin: Extra inputs are not permitted"),
        ("factors: [", "line 1"),
        ("- just a list", "(file): expected a mapping"),
    ],
)
def test_bad_policy_names_the_key_at_fault(text: str, expected: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "bad.yaml")
    assert any(
        message.startswith(expected) or expected in message for message in caught.value.messages
    ), caught.value.messages


def test_a_bad_policy_keeps_the_old_one(database: Database) -> None:
    with database.session() as session:
        assert active_policy(session).version == default_policy().version
        install_policy(session, GOOD, actor="test", source="good.yaml")
    with database.session() as session:
        assert active_policy(session).version == "test-1"
    broken = GOOD.replace('"test-1"', '"test-2"').replace("{weight: 50}", "{weight: lots}")
    with pytest.raises(PolicyError), database.session() as session:
        install_policy(session, broken, actor="test", source="broken.yaml")
    with database.session() as session:
        assert active_policy(session).version == "test-1"
        assert active_policy(session).weight("hands_on_abuse") == 50


def test_a_version_cannot_be_reloaded_with_other_content(database: Database) -> None:
    with database.session() as session:
        install_policy(session, GOOD, actor="test", source="good.yaml")
    with pytest.raises(PolicyError, match="bump the version"), database.session() as session:
        install_policy(session, GOOD.replace("{weight: 50}", "{weight: 45}"), actor="t", source="x")


def test_policy_check_command_prints_each_error_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text(GOOD.replace("{weight: 50}", "{weight: high}").replace("hands_on_abuse", "x"))
    result = runner.invoke(app, ["triage", "policy", "check", str(bad)])
    assert result.exit_code == 2
    assert "factors.x.weight" in result.output
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    result = runner.invoke(app, ["triage", "policy", "check", str(good)])
    assert result.exit_code == 0
    assert "policy test-1 is valid" in result.output


def test_policy_load_command_refuses_a_bad_file_and_keeps_the_active_one(
    database: Database, tmp_path: Path
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert runner.invoke(app, ["triage", "policy", "load", str(good)]).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace('"test-1"', '"test-2"').replace("bands:", "bandz:"))
    result = runner.invoke(app, ["triage", "policy", "load", str(bad)])
    assert result.exit_code == 2
    assert "the active policy is unchanged" in result.output
    shown = runner.invoke(app, ["triage", "policy", "show", "--json"])
    assert '"version": "test-1"' in shown.output
