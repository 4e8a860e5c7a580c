"""The checkpoint and audit tables, the rejected-events bucket and the notification topic."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from controlroom.store.checkpoint import REJECTED_EVENT_TTL_SECONDS
from controlroom.store.tables import AUDIT_KEYS, CHECKPOINT_GSI, CHECKPOINT_KEYS, CHECKPOINT_TTL_ATTRIBUTE


class DataStores(Construct):
    """DynamoDB tables shaped exactly like controlroom.store.tables, and the SNS topic.

    Parameters
    ----------
    prefix
        ``controlroom-<env>``; every physical name starts with it.
    retain
        Keep tables and topic when the stack is deleted (prod), with deletion protection on the tables.
    key
        The environment's customer-managed key: both tables and the topic are encrypted with it.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, prefix: str, retain: bool, key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        pitr = dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True)
        self.checkpoint_table = dynamodb.Table(
            self,
            "CheckpointTable",
            table_name=f"{prefix}-checkpoint",
            partition_key=dynamodb.Attribute(
                name=CHECKPOINT_KEYS["partition"], type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=CHECKPOINT_KEYS["sort"], type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=CHECKPOINT_TTL_ATTRIBUTE,
            point_in_time_recovery_specification=pitr,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            deletion_protection=retain,
            removal_policy=removal,
        )
        self.checkpoint_table.add_global_secondary_index(
            index_name=CHECKPOINT_GSI["name"],
            partition_key=dynamodb.Attribute(
                name=CHECKPOINT_GSI["partition"], type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=CHECKPOINT_GSI["sort"], type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.audit_table = dynamodb.Table(
            self,
            "AuditTable",
            table_name=f"{prefix}-audit",
            partition_key=dynamodb.Attribute(
                name=AUDIT_KEYS["partition"], type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=AUDIT_KEYS["sort"], type=dynamodb.AttributeType.NUMBER),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=pitr,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            deletion_protection=retain,
            removal_policy=removal,
        )
        # Rejected events too large for a table item are kept here in full, as long as the table keeps
        # the small ones (REJECTED_EVENT_TTL_SECONDS), then expire.
        self.rejected_events_bucket = s3.Bucket(
            self,
            "RejectedEventsBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-rejected-events",
                    prefix="rejected/",
                    expiration=Duration.seconds(REJECTED_EVENT_TTL_SECONDS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal,
            auto_delete_objects=False,
        )
        # enforce_ssl: a topic policy denies publishing over plain HTTP.
        self.topic = sns.Topic(
            self,
            "NotificationTopic",
            topic_name=f"{prefix}-notifications",
            display_name="controlroom notifications",
            enforce_ssl=True,
            master_key=key,
        )
        self.topic.apply_removal_policy(removal)
