"""`controlroom eval rca --json` through the CLI: one document on stdout, progress on stderr, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from controlroom.local import cli
from tests.integration.test_graph_evidence import layout  # noqa: F401  (the one-incident dataset fixture)


def test_eval_json_is_the_only_thing_on_stdout(layout: Path, capsys) -> None:  # noqa: F811
    assert cli.main(["eval", "rca", str(layout), "--json"]) == cli.EXIT_OK
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert set(report) == {"issues", "summary"}
    assert [set(issue) for issue in report["issues"]] == [{"issue", "ranking"}]
    assert {"incidents", "api_calls_per_incident", "seconds_per_incident", "overall", "scenarios"} <= set(
        report["summary"]
    )
    assert captured.err.startswith("synthetic/train/issue_0: top ")  # progress, on stderr


def test_eval_of_a_directory_that_is_no_dataset_is_a_usage_error(tmp_path: Path, capsys) -> None:
    assert cli.main(["eval", "rca", str(tmp_path / "missing")]) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert (
        captured.out == ""
        and captured.err == f"controlroom: error: {tmp_path / 'missing'}: not a directory\n"
    )
