"""``veille match`` as an operator sees it: missing files and reports, progress, clean JSON."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.media.conftest import add_report, flip_hex
from veille.cli import app
from veille.store.db import Database

runner = CliRunner()
P = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_a_missing_file_is_called_a_missing_file(database: Database) -> None:
    result = runner.invoke(app, ["match", "nosuch.jpg"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: nosuch.jpg: no such file (and not a hash)"
    assert "'xyz' is not a MD5 hash" in runner.invoke(app, ["match", "md5:xyz"]).stderr
    assert "neither a file nor a hash" in runner.invoke(app, ["match", "nosuch"]).stderr


def test_a_missing_report_is_refused(database: Database) -> None:
    report_id = add_report(database, 1, [{"pdq": P, "pdq_quality": 100}])
    result = runner.invoke(app, ["match", "--report", "999", "--report", str(report_id)])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: --report: no report with id 999"
    assert runner.invoke(app, ["match", "--report", str(report_id)]).exit_code == 0


def test_match_all_shows_progress_on_stderr_and_json_alone_on_stdout(database: Database) -> None:
    for number in range(1, 4):
        add_report(database, number, [{"pdq": flip_hex(P, number), "pdq_quality": 100}])
    result = runner.invoke(app, ["match", "--all", "--json", "--rebuild-index"])
    assert result.exit_code == 0, result.output
    # Three near copies: each new one links once to the cluster it meets (2 edges, not 3).
    assert json.loads(result.stdout)["media_pairs"] == 2
    assert "matching media and growing content clusters" in result.stderr
    assert "PDQ index rebuilt" in result.stderr
