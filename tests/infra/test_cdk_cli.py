"""The pinned CDK CLI synthesizes the local environment from cdk.json, exactly as `make synth` and CI do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from infra_cdk.config import ROOT

from tests.infra.conftest import make_functions_dir

CDK = ROOT / "node_modules" / ".bin" / "cdk"
# What the CLI needs from the repository; functions/ is rebuilt with stand-ins for handlers not written yet.
LINKED = ("infra_cdk", "layers", "stepfunctions", "node_modules", ".venv", "package.json")


def _workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "repo"
    workspace.mkdir()
    for name in LINKED:
        (workspace / name).symlink_to(ROOT / name)
    shutil.copyfile(ROOT / "cdk.json", workspace / "cdk.json")
    make_functions_dir(workspace / "functions")
    return workspace


@pytest.mark.synth
@pytest.mark.skipif(
    not CDK.exists(), reason="node_modules/.bin/cdk is missing: run `npm ci` to install the pinned CLI"
)
def test_pinned_cli_synthesizes_local(tmp_path: Path) -> None:
    # Given a workspace shaped like the repository and an empty output directory
    workspace = _workspace(tmp_path)
    outdir = tmp_path / "cdk.out"
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "CDK_DISABLE_VERSION_CHECK": "1",
    }
    # When the pinned CLI synthesizes the local environment with a short approval timeout
    result = subprocess.run(
        [
            "npx",
            "--no-install",
            "cdk",
            "synth",
            "-q",
            "-c",
            "env=local",
            "-c",
            "override:approval_timeout_seconds=5",
            "-o",
            str(outdir),
        ],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    # Then it succeeds and writes the template with the override applied
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((outdir / "controlroom-local.template.json").read_text())
    machine = next(
        r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    )
    assert (
        json.loads(machine["Properties"]["DefinitionString"])["States"]["RequestApproval"]["TimeoutSeconds"]
        == 5
    )


def test_app_without_env_fails_with_one_line_naming_the_key(tmp_path: Path) -> None:
    # Given the app run as the CLI runs it, but without -c env=...
    workspace = _workspace(tmp_path)
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "infra_cdk/app.py"],
        cwd=workspace,
        env={**os.environ, "CDK_OUTDIR": str(tmp_path / "cdk.out")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Then it exits non-zero with a message naming the key, not a traceback
    assert result.returncode == 1
    assert "context key 'env' is required" in result.stderr
    assert "Traceback" not in result.stderr
