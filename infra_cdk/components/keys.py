"""The environment's customer-managed KMS key: tables, topic, queues, log groups and secrets use it."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# What a role needs to read and write data encrypted under the key (DynamoDB, SNS, SQS call KMS on the
# caller's behalf). Spelled out: no kms:* and no GenerateDataKey* wildcard.
KEY_USE_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")


class DataKey(Construct):
    """One symmetric key per environment, rotated yearly by KMS.

    The key policy lets the account's IAM policies grant its use (the CDK default) and lets exactly the
    services that write encrypted data on our behalf use it: CloudWatch Logs (only for this account's log
    groups), CloudWatch alarms publishing to the encrypted topic, and EventBridge writing to the encrypted
    dead-letter queue.

    Parameters
    ----------
    prefix
        ``controlroom-<env>``; the alias is ``alias/<prefix>``.
    retain
        Keep the key when the stack is deleted (prod): data retained elsewhere stays readable.
    """

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, retain: bool) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            alias=f"alias/{prefix}",
            description=f"{prefix}: checkpoint and audit tables, notifications, dead-letter queues, logs, secrets",
            enable_key_rotation=True,
            pending_window=Duration.days(30 if retain else 7),
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                # The action list CloudWatch Logs documents for encrypting log groups.
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
                        )
                    }
                },
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsAndRulesDeliverEncrypted",
                principals=[
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                    iam.ServicePrincipal("events.amazonaws.com"),
                ],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )

    def use_statement(self) -> iam.PolicyStatement:
        """The identity-policy statement a role needs to use data encrypted under the key."""
        return iam.PolicyStatement(actions=list(KEY_USE_ACTIONS), resources=[self.key.key_arn])


def dead_letter_queue(
    scope: Construct, construct_id: str, *, queue_name: str, key: kms.IKey, removal_policy: RemovalPolicy
) -> sqs.Queue:
    """A dead-letter queue: 14 days to look at what failed, encrypted under the key, TLS only."""
    return sqs.Queue(
        scope,
        construct_id,
        queue_name=queue_name,
        retention_period=Duration.days(14),
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        removal_policy=removal_policy,
    )
