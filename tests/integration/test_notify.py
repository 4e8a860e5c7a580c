"""notify.publish: what reaches SNS, within SNS's limits; nothing without a topic."""

from __future__ import annotations

import json

from controlroom.notify import MESSAGE_LIMIT_BYTES, publish, subject_line
from tests.unit.test_policy_flow_state import topic_with_inbox


def test_publish_delivers_subject_and_message(aws):
    # Given a topic with a subscribed queue
    topic_arn, inbox = topic_with_inbox(aws)
    # When a message is published
    assert publish(
        topic_arn,
        "[controlroom] ESCALATED: checkout-errors",
        "Reason: error\nError: KeyError",
        kind="escalation",
    )
    # Then the subscriber receives it unchanged
    (message,) = inbox()
    assert message["Subject"] == "[controlroom] ESCALATED: checkout-errors"
    assert message["Message"] == "Reason: error\nError: KeyError"


def test_no_topic_means_not_notified(aws):
    assert publish("", "subject", "message", kind="escalation") is False


def test_subject_is_one_printable_line_of_at_most_100_characters(aws):
    # Given a subject with a newline, non-ASCII text and 300 characters
    topic_arn, inbox = topic_with_inbox(aws)
    subject = "Alarm:\nchecköut " + "x" * 300
    # When published
    publish(topic_arn, subject, "body", kind="closed")
    # Then SNS got a cleaned, truncated subject
    (message,) = inbox()
    assert len(message["Subject"]) == 100 and message["Subject"].startswith("Alarm: check")
    assert "\n" not in message["Subject"] and message["Subject"].endswith("...")


def test_short_subject_is_kept_and_empty_subject_gets_a_default():
    assert subject_line("x" * 100) == "x" * 100
    assert subject_line("\n\t") == "controlroom"


def test_oversized_message_is_truncated_with_a_marker(aws):
    topic_arn, inbox = topic_with_inbox(aws)
    publish(topic_arn, "big", "é" * MESSAGE_LIMIT_BYTES, kind="escalation")
    (message,) = inbox()
    assert message["Message"].endswith("[truncated]")
    assert len(message["Message"].encode("utf-8")) <= MESSAGE_LIMIT_BYTES + 20


# The filter policy docs/deploying.md gives for a pager: escalations, and anything without a kind (the ops
# alarms CloudWatch publishes), but not close notices, advice or deployment notices.
PAGER_FILTER = {"$or": [{"kind": ["escalation"]}, {"kind": [{"exists": False}]}]}


def test_a_pager_subscription_filtered_on_kind_gets_escalations_and_ops_alarms_only(aws):
    # Given the topic with a pager's queue subscribed through the documented filter policy
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic_arn = sns.create_topic(Name="oncall")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="pager")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"FilterPolicy": json.dumps(PAGER_FILTER), "FilterPolicyScope": "MessageAttributes"},
    )
    # When controlroom publishes one message of each kind, and an ops alarm arrives without attributes
    publish(topic_arn, "escalated", "e", kind="escalation", environment="prod", incident="inc-1")
    publish(topic_arn, "resolved", "c", kind="closed", environment="prod", incident="inc-1")
    publish(topic_arn, "advice", "a", kind="advice", incident="inc-1")
    publish(topic_arn, "deployment rolledback", "d", kind="deployment", environment="prod")
    sns.publish(TopicArn=topic_arn, Subject="ALARM: controlroom-prod-ops-errors", Message="{}")
    # Then the pager gets the escalation, with its attributes, and the ops alarm; nothing else
    received = [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert sorted(m["Subject"] for m in received) == ["ALARM: controlroom-prod-ops-errors", "escalated"]
    (escalation,) = [m for m in received if m["Subject"] == "escalated"]
    assert {k: v["Value"] for k, v in escalation["MessageAttributes"].items()} == {
        "kind": "escalation",
        "environment": "prod",
        "incident": "inc-1",
    }
