"""cdk-nag's AwsSolutions pack runs on every synth; each environment passes with only reasoned acknowledgments."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_iam as iam
from infra_cdk.app import build_app


def _report(outdir: Path) -> dict[str, Any]:
    return dict(json.loads((outdir / "validation-report.json").read_text()))


@pytest.mark.parametrize("env", ["local", "dev", "staging", "prod"])
def test_aws_solutions_checks_pass(env: str, synth: Callable[..., Any]) -> None:
    # Given the environment synthesized with the AwsSolutions pack registered (the session fixture; a
    # finding left unacknowledged would have raised ValidationFailed there)
    stack, _ = synth(env)
    # Then the validation report records the pack's success
    reports: list[dict[str, Any]] = _report(Path(stack.node.root.outdir))["pluginReports"]
    (report,) = reports
    assert report["pluginName"] == "AwsSolutions"
    assert report["conclusion"] == "success"


def test_an_unexplained_wildcard_fails_the_synth(tmp_path: Path, functions_dir: Path) -> None:
    # Given a new wildcard grant that nobody acknowledged
    app, stack = build_app({"env": "local"}, outdir=str(tmp_path), functions_dir=functions_dir)
    stack.agents.roles["diagnose"].add_to_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::evidence-bucket/*"])
    )
    # When the app synthesizes, then the checks fail naming the rule and the finding
    with pytest.raises(Exception, match=r"ValidationFailed") as failure:
        app.synth()
    assert "AwsSolutions-IAM5[Resource::arn:aws:s3:::evidence-bucket/*]" in str(failure.value)
    assert "DiagnoseRole" in str(failure.value)
