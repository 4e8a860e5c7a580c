"""The kill switch of one environment: an SSM parameter Policy and Execute read at run time."""

from __future__ import annotations

import json

from aws_cdk import aws_ssm as ssm
from constructs import Construct

# The template's value never changes, so a deploy never overwrites a halt flipped at run time (CloudFormation
# updates a parameter only when its template value changes). The mode is left out for the same reason:
# without one in the switch, the environment's deploy-time autonomy_mode applies.
INITIAL_VALUE = json.dumps({"state": "run"})


def switch_parameter_name(env_name: str) -> str:
    """``/controlroom/<env>/autonomy``."""
    return f"/controlroom/{env_name}/autonomy"


class KillSwitch(Construct):
    """The parameter; its name is AUTONOMY_PARAMETER of Policy and Execute."""

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str) -> None:
        super().__init__(scope, construct_id)
        self.parameter_name = switch_parameter_name(env_name)
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            parameter_name=self.parameter_name,
            string_value=INITIAL_VALUE,
            description=(
                f"controlroom {env_name} kill switch (JSON state halt or run, optional mode); "
                "halt: nothing executes, incidents escalate as halted."
            ),
            tier=ssm.ParameterTier.STANDARD,
        )
