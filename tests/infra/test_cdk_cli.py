"""The pinned CDK CLI synthesizes the local environment from cdk.json, exactly as `make synth` and CI do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from infra_cdk.components.permissions import AGENTS
from infra_cdk.config import ROOT

from tests.infra.conftest import make_functions_dir
from tests.run_once import build_once

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


def _cli(
    workspace: Path, command: str, context: tuple[str, ...], *extra: str
) -> subprocess.CompletedProcess[str]:
    """Run the pinned CLI (``cdk <command> -c ... <extra>``) in the workspace."""
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "CDK_DISABLE_VERSION_CHECK": "1",
    }
    arguments = [item for pair in context for item in ("-c", pair)]
    return subprocess.run(
        ["npx", "--no-install", "cdk", command, *arguments, *extra],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _cli_synth(workspace: Path, outdir: Path, *context: str) -> subprocess.CompletedProcess[str]:
    return _cli(workspace, "synth", context, "-q", "-o", str(outdir))


def _cli_diff_against(workspace: Path, deployed: Path, *context: str) -> str:
    """``cdk diff --template``: compare with a template file, offline; stdout and stderr together."""
    result = _cli(workspace, "diff", context, "--template", str(deployed), "controlroom-local")
    return result.stdout + result.stderr


@dataclass(frozen=True)
class CliSynth:
    """What one ``cdk synth`` of the pinned CLI left: its exit code, its output, and the cloud assembly."""

    returncode: int
    stdout: str
    stderr: str
    outdir: Path


@pytest.fixture(scope="session")
def cli_synth(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Callable[..., CliSynth]:
    """``cli_synth(*context)``: the pinned CLI's synth of the repository for that context, once per run.

    Each context is synthesized once, whichever worker asks first, in one pristine workspace (the CLI only
    reads it, and the layer build in it takes a lock); the tests only read what it wrote.
    """
    workspace = build_once(
        tmp_path_factory,
        pytestconfig,
        "cli-workspace",
        lambda d: _workspace(d),
        "preparing the CLI workspace",
    )

    def _synth(*context: str) -> CliSynth:
        def run(directory: Path) -> None:
            result = _cli_synth(workspace / "repo", directory / "cdk.out", *context)
            (directory / "result.json").write_text(
                json.dumps(
                    {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}
                )
            )

        shared = build_once(
            tmp_path_factory,
            pytestconfig,
            "cli-synth." + ".".join(context),
            run,
            f"cdk synth {' '.join(context)}",
        )
        return CliSynth(**json.loads((shared / "result.json").read_text()), outdir=shared / "cdk.out")

    return _synth


needs_cli = pytest.mark.skipif(
    not CDK.exists(), reason="node_modules/.bin/cdk is missing: run `npm ci` to install the pinned CLI"
)
LOCAL_SOURCE_ONLY = ("env=local", "override:layer_mode=source-only")


@pytest.mark.synth
@needs_cli
def test_pinned_cli_synthesizes_local(cli_synth: Callable[..., CliSynth]) -> None:
    # Given a workspace shaped like the repository
    # When the pinned CLI synthesizes the local environment with a short approval timeout
    result = cli_synth("env=local", "override:approval_timeout_seconds=5")
    # Then it succeeds and writes the template with the override applied
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((result.outdir / "controlroom-local.template.json").read_text())
    machine = next(
        r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    )
    assert (
        json.loads(machine["Properties"]["DefinitionString"])["States"]["RequestApproval"]["TimeoutSeconds"]
        == 5
    )


@pytest.mark.synth
@needs_cli
@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_pinned_cli_synthesizes_every_environment_clean_under_cdk_nag(
    cli_synth: Callable[..., CliSynth], env: str
) -> None:
    # Given the repository's cdk.json (the layer from source: the wheel download is `make synth-all`'s job)
    # When the pinned CLI synthesizes the environment (cdk-nag runs inside the app; an unacknowledged
    # finding is an error annotation, and the CLI fails synth on errors)
    result = cli_synth(f"env={env}", "override:layer_mode=source-only")
    # Then it succeeds with no AwsSolutions finding printed, and names the stack after the environment
    assert result.returncode == 0, result.stderr[-3000:]
    assert "AwsSolutions-" not in result.stdout + result.stderr
    # and cdk.json sets every feature flag this aws-cdk-lib recommends (the CLI counts the unset ones)
    assert "feature flags are not configured" not in result.stdout + result.stderr
    assert (result.outdir / f"controlroom-{env}.template.json").is_file()


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


@pytest.mark.synth
@needs_cli
def test_a_change_of_agent_code_is_a_new_version_in_cdk_diff(
    tmp_path: Path, cli_synth: Callable[..., CliSynth]
) -> None:
    # Given the local environment synthesized by the pinned CLI (the "deployed" template)
    before = cli_synth(*LOCAL_SOURCE_ONLY)
    assert before.returncode == 0, before.stderr[-3000:]
    deployed = before.outdir / "controlroom-local.template.json"
    # When Intake's code changes in a copy of that workspace and `cdk diff` compares against that template
    # (offline: --template)
    workspace = _workspace(tmp_path)
    handler = workspace / "functions" / "intake" / "handler.py"
    handler.write_text(handler.read_text() + "\n# a change of agent code\n")
    output = _cli_diff_against(workspace, deployed, *LOCAL_SOURCE_ONLY)
    assert "Number of stacks with differences: 1" in output, output[-3000:]
    # Then the diff publishes a new Intake version and moves the alias to it; no other agent changes
    added = [line for line in output.splitlines() if line.startswith("[+] AWS::Lambda::Version")]
    assert len(added) == 1 and "Agents/IntakeFunction/CurrentVersion" in added[0], output[-3000:]
    assert "[~] AWS::Lambda::Alias Agents/IntakeAlias" in output
    changed_functions = [line for line in output.splitlines() if line.startswith("[~] AWS::Lambda::Function")]
    assert [line.split()[2] for line in changed_functions] == ["Agents/IntakeFunction"]


@pytest.mark.synth
@needs_cli
def test_a_change_of_the_shared_layer_is_a_new_version_of_every_agent(
    tmp_path: Path, cli_synth: Callable[..., CliSynth]
) -> None:
    # Given the local environment synthesized by the pinned CLI (the "deployed" template)
    before = cli_synth(*LOCAL_SOURCE_ONLY)
    assert before.returncode == 0, before.stderr[-3000:]
    deployed = before.outdir / "controlroom-local.template.json"
    # When only the shared library changes, in a copy of the workspace with its own layers/ (the agents'
    # logic lives there)
    workspace = _workspace(tmp_path)
    (workspace / "layers").unlink()
    shutil.copytree(ROOT / "layers", workspace / "layers", ignore=shutil.ignore_patterns("__pycache__"))
    library = workspace / "layers" / "controlroom" / "__init__.py"
    library.write_text(library.read_text() + "\n# a change of the shared library\n")
    output = _cli_diff_against(workspace, deployed, *LOCAL_SOURCE_ONLY)
    # Then every agent gets a new version and its alias moves: the flow cannot keep running the old library
    added = [line for line in output.splitlines() if line.startswith("[+] AWS::Lambda::Version")]
    assert len(added) == len(AGENTS), output[-3000:]
    assert sum(line.startswith("[~] AWS::Lambda::Alias") for line in output.splitlines()) == len(AGENTS)
