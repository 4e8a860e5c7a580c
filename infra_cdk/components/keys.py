"""The environment's customer-managed KMS key: tables, topic, queues, log groups and secrets use it."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
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


# The audit chain key is used only through these two actions: writers MAC, verifiers check.
AUDIT_MAC_WRITE = "kms:GenerateMac"
AUDIT_MAC_VERIFY = "kms:VerifyMac"


class AuditChainKey(Construct):
    """The HMAC key the audit chains' heads are MACed under (KMS HMAC_256; the key never leaves KMS).

    Someone who can write the audit table but holds no ``kms:GenerateMac`` on this key cannot append,
    rewrite or replace a chain without ``controlroom audit verify`` noticing. The agents get
    GenerateMac, operators VerifyMac (through ``verifier_policy``); nobody gets both from this stack.
    KMS does not rotate HMAC keys automatically: a new key is a new chain generation.

    Parameters
    ----------
    prefix
        ``controlroom-<env>``; the alias is ``alias/<prefix>-audit``, the audit table's name, so the
        CLI finds the key of a deployed table by its name.
    retain
        Keep the key when the stack is deleted (prod): retained chains stay verifiable.
    """

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, retain: bool) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            alias=f"alias/{prefix}-audit",
            description=f"{prefix}: HMAC over the audit chains' heads",
            key_spec=kms.KeySpec.HMAC_256,
            key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
            pending_window=Duration.days(30 if retain else 7),
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        self.verifier_policy = iam.ManagedPolicy(
            self,
            "VerifierPolicy",
            managed_policy_name=f"{prefix}-audit-verifier",
            description="Attach to operators who run `controlroom audit verify` against this environment.",
            statements=[
                iam.PolicyStatement(actions=[AUDIT_MAC_VERIFY], resources=[self.key.key_arn]),
            ],
        )

    def allow_verifier_reads(self, audit_table: dynamodb.ITable, data_key: kms.IKey) -> None:
        """Let the verifier read the chains: the audit table, and decrypt what it is encrypted with."""
        self.verifier_policy.add_statements(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:Query"], resources=[audit_table.table_arn]
            ),
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:DescribeKey"], resources=[data_key.key_arn]),
        )


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
