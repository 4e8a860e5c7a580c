"""One controlroom deployment: tables, topic, agents, state machine and alarm rule for one environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from infra_cdk.components.agents import FUNCTIONS_DIR, AgentFunctions, pascal
from infra_cdk.components.approval import ApprovalEndpoint
from infra_cdk.components.autonomy import KillSwitch, KillSwitchMonitor
from infra_cdk.components.data import DataStores
from infra_cdk.components.deployment import DeploymentFlow
from infra_cdk.components.keys import AuditChainKey, DataKey
from infra_cdk.components.model import ModelAccess
from infra_cdk.components.operations import Operations
from infra_cdk.components.orchestration import IncidentResponse
from infra_cdk.components.permissions import AGENTS, Resources
from infra_cdk.config import EnvironmentConfig


def stack_name(env_name: str) -> str:
    """``controlroom-<env>``: the stack name and the prefix of every physical name."""
    return f"controlroom-{env_name}"


class ControlroomStack(Stack):
    """The whole control plane for one environment.

    Parameters
    ----------
    env_name
        local, dev, staging or prod (a key of cdk.json's ``environments``).
    config
        That environment's validated settings.
    layer_dir
        The built layer directory (infra_cdk.layer_build.build_layer).
    functions_dir
        The folder holding functions/<agent>/handler.py (tests point it at a workspace).
    """

    def __init__(
        self,
        scope: Construct,
        *,
        env_name: str,
        config: EnvironmentConfig,
        layer_dir: Path,
        functions_dir: Path = FUNCTIONS_DIR,
        **kwargs: Any,
    ) -> None:
        prefix = stack_name(env_name)
        super().__init__(
            scope,
            prefix,
            stack_name=prefix,
            description=f"controlroom ({env_name}): AI ops agents on Step Functions",
            **kwargs,
        )
        Tags.of(self).add("controlroom:environment", env_name)
        self.env_name = env_name
        self.config = config
        retain = config.removal_policy == "retain"
        self.key = DataKey(self, "DataKey", prefix=prefix, retain=retain).key
        self.audit_key = AuditChainKey(self, "AuditKey", prefix=prefix, retain=retain)
        self.data = DataStores(self, "Data", prefix=prefix, retain=retain, key=self.key)
        self.audit_key.allow_verifier_reads(self.data.audit_table, self.key)
        self.kill_switch = KillSwitch(self, "KillSwitch", env_name=env_name)
        res = Resources(
            stack=self,
            prefix=prefix,
            checkpoint_table=self.data.checkpoint_table,
            audit_table=self.data.audit_table,
            topic=self.data.topic,
            ssm_documents=tuple(config.ssm_documents),
            key=self.key,
            audit_key=self.audit_key.key,
            alarm_opt_in_by_tag=bool(config.alarm_opt_in_tag),
            deploy_opt_in_tag=config.deploy_opt_in_tag,
            deploy_function_prefix=config.deploy_function_prefix,
            flow_alias_name=env_name,
            rejected_events_bucket_arn=self.data.rejected_events_bucket.bucket_arn,
            rejected_events_bucket_name=self.data.rejected_events_bucket.bucket_name,
            autonomy_parameter=self.kill_switch.parameter_name,
        )
        self.agents = AgentFunctions(
            self,
            "Agents",
            env_name=env_name,
            config=config,
            res=res,
            layer_dir=layer_dir,
            functions_dir=functions_dir,
        )
        self.approval = ApprovalEndpoint(
            self,
            "Approval",
            prefix=prefix,
            stage_name=env_name,
            sender=config.approval_sender,
            request_approval=self.agents.functions["request_approval"],
            approval_callback=self.agents.functions["approval_callback"],
            callback_alias=self.agents.aliases["approval_callback"],
            retain=retain,
            key=self.key,
        )
        self.model = ModelAccess(
            self,
            "Model",
            prefix=prefix,
            config=config,
            functions=self.agents.functions,
            retain=retain,
            key=self.key,
        )
        self.incident_response = IncidentResponse(
            self,
            "IncidentResponse",
            prefix=prefix,
            env_name=env_name,
            config=config,
            aliases=self.agents.aliases,
            key=self.key,
        )
        self.kill_switch_monitor = KillSwitchMonitor(
            self,
            "KillSwitchMonitor",
            prefix=prefix,
            parameter_name=self.kill_switch.parameter_name,
            monitor=self.agents.aliases["autonomy_monitor"],
        )
        self.operations = Operations(
            self,
            "Operations",
            prefix=prefix,
            env_name=env_name,
            functions=self.agents.aliases,
            state_machine=self.incident_response.state_machine,
            queues={
                "alarm-events": self.incident_response.dead_letter_queue,
                "agent-async": self.agents.async_dead_letter_queue,
            },
            topic=self.data.topic,
        )
        self.deployment = DeploymentFlow(
            self,
            "Deployment",
            prefix=prefix,
            env_name=env_name,
            config=config,
            aliases=self.agents.aliases,
            functions=self.agents.functions,
            roles=self.agents.roles,
            incident_alias_arn=self.incident_response.alias_arn,
            approval=self.approval,
            key=self.key,
        )
        self.deployment.add_operations(self.operations.dashboard, self.data.topic)
        self._outputs()

    def _outputs(self) -> None:
        CfnOutput(self, "StateMachineArn", value=self.incident_response.state_machine.state_machine_arn)
        CfnOutput(self, "StateMachineAliasArn", value=self.incident_response.alias_arn)
        CfnOutput(self, "StateMachineVersionArn", value=self.incident_response.version.attr_arn)
        CfnOutput(self, "FlowRevision", value=self.incident_response.revision)
        CfnOutput(self, "DeploymentStateMachineArn", value=self.deployment.state_machine.state_machine_arn)
        CfnOutput(self, "DeploymentStateMachineAliasArn", value=self.deployment.alias_arn)
        CfnOutput(self, "DataKeyArn", value=self.key.key_arn)
        CfnOutput(self, "DashboardName", value=self.operations.dashboard.dashboard_name)
        CfnOutput(self, "CheckpointTableName", value=self.data.checkpoint_table.table_name)
        CfnOutput(self, "AuditTableName", value=self.data.audit_table.table_name)
        CfnOutput(self, "AuditKeyArn", value=self.audit_key.key.key_arn)
        CfnOutput(self, "AuditVerifierPolicyArn", value=self.audit_key.verifier_policy.managed_policy_arn)
        CfnOutput(self, "TopicArn", value=self.data.topic.topic_arn)
        CfnOutput(self, "RejectedEventsBucketName", value=self.data.rejected_events_bucket.bucket_name)
        CfnOutput(self, "AutonomyParameterName", value=self.kill_switch.parameter_name)
        CfnOutput(self, "ApprovalBaseUrl", value=self.approval.api.url)
        for agent in AGENTS:
            CfnOutput(self, f"{pascal(agent)}FunctionName", value=self.agents.functions[agent].function_name)
