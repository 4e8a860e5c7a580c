"""Entry point of the CDK app: `cdk synth -c env=<local|dev|staging|prod>` builds that environment's stack."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Quiet jsii's Node-version banners (Node 20 is deprecated, then end-of-life): they are not errors.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
ROOT = Path(__file__).absolute().parents[1]
if str(ROOT) not in sys.path:  # run as a script by the CDK CLI: make `infra_cdk` importable
    sys.path.insert(0, str(ROOT))

import aws_cdk as cdk  # noqa: E402

from infra_cdk.components.agents import FUNCTIONS_DIR, MissingFunctionCode  # noqa: E402
from infra_cdk.config import ConfigError, read_cdk_json_context, resolve  # noqa: E402
from infra_cdk.layer_build import build_layer  # noqa: E402
from infra_cdk.layer_lock import LayerLockError  # noqa: E402
from infra_cdk.nag import apply_aws_solutions_checks  # noqa: E402
from infra_cdk.stacks.controlroom_stack import ControlroomStack  # noqa: E402

# CDK behaviour this app relies on, set here so every synth (CLI, tests, local engine) gets it.
FEATURE_FLAGS = {
    # The agents' logic lives in the shared layer: a layer change must publish new function versions and
    # move the aliases, or the flow would keep running the old library behind unchanged versions.
    "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
}


def _stack_environment(env_name: str, account: str | None, region: str) -> cdk.Environment:
    return cdk.Environment(account=account or os.environ.get("CDK_DEFAULT_ACCOUNT"), region=region)


def build_app(
    context: Mapping[str, Any] | None = None, outdir: str | None = None, functions_dir: Path | None = None
) -> tuple[cdk.App, ControlroomStack]:
    """Build the app and the one stack chosen by the ``env`` context key.

    Parameters
    ----------
    context
        Extra context, e.g. ``{"env": "local", "override:approval_timeout_seconds": "5"}``. The CLI's
        ``-c`` values and cdk.json's context arrive through the environment and need not be passed;
        when cdk.json's context is absent (plain ``python infra_cdk/app.py``) it is read from the file.
    outdir
        Where to write the cloud assembly (defaults to the CLI's choice, or a temporary directory).
    functions_dir
        The folder of the agents' handlers; defaults to <repo>/functions.

    Returns
    -------
    tuple[cdk.App, ControlroomStack]
        Call ``app.synth()`` to write the template ``<outdir>/controlroom-<env>.template.json``.

    Raises
    ------
    infra_cdk.config.ConfigError
        The context is missing or invalid; the message names the key.
    infra_cdk.components.agents.MissingFunctionCode
        An agent has no functions/<agent>/handler.py.
    infra_cdk.layer_lock.LayerLockError
        The full layer's lock file is missing or does not match layers/requirements.txt.
    """
    app = cdk.App(context={**FEATURE_FLAGS, **dict(context or {})}, outdir=outdir)
    if "environments" not in app.node.get_all_context():
        # Not run by the CDK CLI: cdk.json's context (environments and the feature flags) must be in the
        # App from the start, since a construct reads its feature flags when it is created.
        app = cdk.App(
            context={**FEATURE_FLAGS, **read_cdk_json_context(), **dict(context or {})}, outdir=outdir
        )
    merged = app.node.get_all_context()
    env_name, config = resolve(merged)
    layer_dir = build_layer(config.layer_mode)
    synthesizer = None
    if env_name == "local":
        # moto's CloudFormation has no SSM dynamic references: drop the bootstrap-version check locally.
        synthesizer = cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False)
    stack = ControlroomStack(
        app,
        env_name=env_name,
        config=config,
        layer_dir=layer_dir,
        env=_stack_environment(env_name, config.account, config.region),
        synthesizer=synthesizer,
        functions_dir=functions_dir or FUNCTIONS_DIR,
    )
    apply_aws_solutions_checks(app, stack)
    return app, stack


def main() -> int:
    """Synthesize; print a one-line reason instead of a traceback when the context is wrong."""
    try:
        app, _ = build_app()
    except ConfigError as exc:
        print(f"controlroom: invalid CDK context: {exc}", file=sys.stderr)
        return 1
    except (MissingFunctionCode, LayerLockError) as exc:
        print(f"controlroom: cannot synthesize: {exc}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
