"""notify.publish: what reaches SNS, within SNS's limits; nothing without a topic."""

from __future__ import annotations

from controlroom.notify import MESSAGE_LIMIT_BYTES, publish, subject_line
from tests.unit.test_policy_flow_state import topic_with_inbox


def test_publish_delivers_subject_and_message(aws):
    # Given a topic with a subscribed queue
    topic_arn, inbox = topic_with_inbox(aws)
    # When a message is published
    assert publish(topic_arn, "[controlroom] ESCALATED: checkout-errors", "Reason: error\nError: KeyError")
    # Then the subscriber receives it unchanged
    (message,) = inbox()
    assert message["Subject"] == "[controlroom] ESCALATED: checkout-errors"
    assert message["Message"] == "Reason: error\nError: KeyError"


def test_no_topic_means_not_notified(aws):
    assert publish("", "subject", "message") is False


def test_subject_is_one_printable_line_of_at_most_100_characters(aws):
    # Given a subject with a newline, non-ASCII text and 300 characters
    topic_arn, inbox = topic_with_inbox(aws)
    subject = "Alarm:\nchecköut " + "x" * 300
    # When published
    publish(topic_arn, subject, "body")
    # Then SNS got a cleaned, truncated subject
    (message,) = inbox()
    assert len(message["Subject"]) == 100 and message["Subject"].startswith("Alarm: check")
    assert "\n" not in message["Subject"] and message["Subject"].endswith("...")


def test_short_subject_is_kept_and_empty_subject_gets_a_default():
    assert subject_line("x" * 100) == "x" * 100
    assert subject_line("\n\t") == "controlroom"


def test_oversized_message_is_truncated_with_a_marker(aws):
    topic_arn, inbox = topic_with_inbox(aws)
    publish(topic_arn, "big", "é" * MESSAGE_LIMIT_BYTES)
    (message,) = inbox()
    assert message["Message"].endswith("[truncated]")
    assert len(message["Message"].encode("utf-8")) <= MESSAGE_LIMIT_BYTES + 20
