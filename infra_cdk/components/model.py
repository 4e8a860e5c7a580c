"""The model path of Diagnose and Plan: which adapter, which model, and the one permission it needs."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra_cdk.acknowledge import acknowledge, rendered
from infra_cdk.config import EnvironmentConfig

MODEL_AGENTS = ("diagnose", "plan")


class ModelAccess(Construct):
    """Give Diagnose and Plan their model settings and exactly the access their adapter needs.

    ``none``: nothing (the deterministic fallback answers). ``anthropic``: read one secret holding the API
    key, created here empty of a real key (put it with ``aws secretsmanager put-secret-value``).
    ``bedrock``: ``bedrock:InvokeModel`` on Anthropic models and inference profiles, nothing else. No other
    agent gets either.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        config: EnvironmentConfig,
        functions: dict[str, lambda_.Function],
        retain: bool,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self._key = key
        self.api_key: secretsmanager.Secret | None = None
        agents = [functions[name] for name in MODEL_AGENTS]
        for function in agents:
            function.add_environment("MODEL_PROVIDER", config.model_provider)
            function.add_environment("MODEL_ID", config.model_id)
            function.add_environment("TOKEN_BUDGET_PER_INCIDENT", str(config.token_budget_per_incident))
        if config.model_provider == "anthropic":
            self._api_key(prefix, agents, retain)
        elif config.model_provider == "bedrock":
            self._bedrock(agents)

    def _api_key(self, prefix: str, agents: list[lambda_.Function], retain: bool) -> None:
        self.api_key = secretsmanager.Secret(
            self,
            "ApiKey",
            secret_name=f"{prefix}/anthropic-api-key",
            description="Anthropic API key for Diagnose and Plan: replace the generated value with your key.",
            encryption_key=self._key,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        acknowledge(self.api_key, "SMG4", "A vendor API key is rotated at the vendor, then put here by hand.")
        for function in agents:
            function.add_environment("MODEL_API_KEY_SECRET_ARN", self.api_key.secret_arn)
            self.api_key.grant_read(function)

    def _bedrock(self, agents: list[lambda_.Function]) -> None:
        stack = Stack.of(self)
        # Foundation-model ARNs have an empty account; "*" matches it, and keeps "::" out of cdk-nag's finding id.
        models = f"arn:{stack.partition}:bedrock:{stack.region}:*:foundation-model/anthropic.*"
        profiles = (
            f"arn:{stack.partition}:bedrock:{stack.region}:{stack.account}:inference-profile/*anthropic.*"
        )
        for function in agents:
            policy = iam.Policy(
                self,
                f"Invoke{function.node.id}",
                statements=[
                    iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=[models, profiles])
                ],
            )
            assert function.role is not None
            policy.attach_to_role(function.role)
            partition, region, account = (
                rendered(stack.partition, "AWS::Partition"),
                rendered(stack.region, "AWS::Region"),
                rendered(stack.account, "AWS::AccountId"),
            )
            for resource in (
                f"{region}:*:foundation-model/anthropic.*",
                f"{region}:{account}:inference-profile/*anthropic.*",
            ):
                acknowledge(
                    policy,
                    f"IAM5[Resource::arn:{partition}:bedrock:{resource}]",
                    "Anthropic models and inference profiles on Bedrock: the model id is configuration, and "
                    "invoking is the only action granted.",
                )
