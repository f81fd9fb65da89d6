"""``veille synth`` and ``veille demo`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veille.cli import app
from veille.synth.config import load_config

runner = CliRunner()


def test_synth_writes_a_scenario_and_reports_counts(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "synth",
            "--out",
            str(tmp_path / "s"),
            "--reports",
            "400",
            "--images",
            "3",
            "--seed",
            "4",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output[result.output.index("{") :])
    assert 300 <= counts["reports"] <= 500
    assert counts["images"] == 3
    assert (tmp_path / "s" / "truth.json").is_file()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--size", "huge"], "size"),
        (["--from", "2020-13-01"], "--from"),
        (["--from", "2021-01-01", "--to", "2020-01-01"], "--to"),
    ],
)
def test_synth_refuses_bad_options_with_exit_code_2(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    result = runner.invoke(app, ["synth", "--out", str(tmp_path / "s"), *arguments])
    assert result.exit_code == 2
    assert message in result.output


def test_synth_names_the_bad_field_of_a_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "mine.yaml"
    settings.write_text("streams:\n  p2p_sharing:\n    during: -1\n", encoding="utf-8")
    result = runner.invoke(app, ["synth", "--out", str(tmp_path / "s"), "--config", str(settings)])
    assert result.exit_code == 2
    assert "streams.p2p_sharing.during" in result.output


def test_synth_applies_a_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "mine.yaml"
    settings.write_text("intrusions:\n  countries_share: 0.0\n", encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "synth",
            "--out",
            str(tmp_path / "s"),
            "--reports",
            "300",
            "--images",
            "0",
            "--config",
            str(settings),
        ],
    )
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "s" / "truth.json").read_text(encoding="utf-8"))
    assert truth["intrusions"]["per_country"] == {}


def test_reports_target_is_documented_as_it_behaves(tmp_path: Path) -> None:
    out = tmp_path / "s"
    result = runner.invoke(
        app, ["synth", "--reports", "200", "--images", "0", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    written = sum(1 for _ in (out / "reports.jsonl").open(encoding="utf-8"))
    docs = (Path(__file__).parents[2] / "docs" / "synth.md").read_text(encoding="utf-8")
    assert f"200 gives {written}" in docs
    help_text = runner.invoke(app, ["synth", "--help"], env={"COLUMNS": "300"}).stdout
    assert "exact" not in help_text.lower()
    assert f"200 gives {written}" in " ".join(help_text.split())


def test_every_setting_is_documented() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "synth.md").read_text(encoding="utf-8")
    config = load_config()
    missing = []
    for section, value in config.model_dump().items():
        if section in ("streams", "channel_effects") or not isinstance(value, dict):
            continue
        for key in value:
            if f"`{section}.{key}" not in docs and not (
                f"`{key}`" in docs and f"`{section}." in docs
            ):
                missing.append(f"{section}.{key}")
    assert missing == []
