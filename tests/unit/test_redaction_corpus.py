"""Redaction against a corpus of secret shapes, and of look-alikes that must survive storage untouched."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from controlroom.redaction import redact, redact_for_storage

# (shape, text, the secret value that must not survive)
SECRETS = [
    ("json password", '{"password": "hunter2!x"}', "hunter2!x"),
    (
        "json SecretAccessKey",
        '{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}',
        "wJalrXUtnFEMI",
    ),
    ("json SessionToken", '{"SessionToken": "IQoJb3JpZ2luX2VjEJr//////////wEaCXVz"}', "IQoJb3JpZ2lu"),
    ("json AccessKeyId", '{"AccessKeyId": "ASIAIOSFODNN7EXAMPLE"}', "ASIAIOSFODNN7EXAMPLE"),
    ("json access_token", '{"access_token":"ya29.a0AfH6SMBx3q"}', "ya29.a0AfH6SMBx3q"),
    ("json refresh_token single-quoted", "{'refresh_token': '1//0gLy8tQz'}", "1//0gLy8tQz"),
    ("json client_secret", '{"client_secret": "GOCSPX-abc123def"}', "GOCSPX-abc123def"),
    (
        "env aws_secret_access_key",
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI",
    ),
    ("access key id in text", "using key AKIAIOSFODNN7EXAMPLE for s3", "AKIAIOSFODNN7EXAMPLE"),
    ("Bearer header", "Authorization: Bearer eyJraWQiOiJabc.def-123_xyz", "eyJraWQiOiJabc"),
    ("Basic header", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
    ("basic lower case", "curl -H 'authorization: basic YWRtaW46czNjcjN0'", "YWRtaW46czNjcjN0"),
    ("postgres url", "connect postgres://app:hunter2@db.internal:5432/orders failed", "hunter2"),
    ("https url", "GET https://deploy:gh0stT0ken@git.example.com/repo.git", "gh0stT0ken"),
    ("redis url", "redis://:s3cretpw@cache:6379/0", "s3cretpw"),
    ("amqp url", "amqp://guest:guestpw@mq:5672/", "guestpw"),
    (
        "RSA private key",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEA7",
    ),
    (
        "OpenSSH private key, escaped newlines",
        r"key=-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
        "b3BlbnNzaC1rZXktdjEAAAAA",
    ),
    (
        "truncated PEM",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    ),
    (
        "JWT",
        "id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dozjgNryP4J3jVmNHl0w5N",
    ),
    ("Anthropic key", "x-api-key: sk-ant-api03-abcdefghijklmnop", "sk-ant-api03-abcdefghijklmnop"),
    ("OpenAI-style key", "OPENAI sk-AbCdEfGhIjKlMnOpQrStUvWx123", "sk-AbCdEfGhIjKlMnOpQrStUvWx123"),
    ("GitHub token", "token ghp_0123456789abcdefghijABCDEFGHIJ", "ghp_0123456789abcdefghij"),
    ("GitHub fine-grained", "github_pat_11ABCDEFG0123456789_abcdefghij", "github_pat_11ABCDEFG0123456789"),
    ("Slack token", "xoxb-123456789012-abcdefghijkl", "xoxb-123456789012-abcdefghijkl"),
    (
        "Google API key",
        "key=AIzaSyA1234567890abcdefghijklmnopqrstuv",
        "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    ),
    ("password in connection string", "Server=db;User Id=sa;Password=Pa55w0rd;", "Pa55w0rd"),
    ("session_token env", "AWS_SESSION_TOKEN=FwoGZXIvYXdzEJr", "FwoGZXIvYXdzEJr"),
]

# Text that looks technical but is not secret: stored verbatim (the audit must name what changed).
NOT_SECRETS = [
    "arn:aws:lambda:us-east-1:123456789012:function:checkout-api:live",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:controlroom-approval-key-AbCdEf",
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "plan_digest 3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b",
    "approved by oncall@example.com",
    "max_tokens: 2048, tokens_in=1200 tokens_out=300",
    "idempotency key 6f1c2d1e-8c1a-5b7e-9d3a-0e2f4b6a8c10",
    "https://console.aws.amazon.com/lambda/home?region=us-east-1#/functions/checkout-api",
    "basic information about the incident",
    "deployment d-ABCDEFGHI moved alias live from version 2 to version 1",
]


@pytest.mark.parametrize(("shape", "text", "secret"), SECRETS, ids=[s[0] for s in SECRETS])
def test_secret_shapes_are_redacted_before_storage(shape: str, text: str, secret: str) -> None:
    counts: Counter[str] = Counter()
    clean = redact_for_storage(text, counts)
    assert secret not in clean, shape
    assert "[REDACTED:" in clean and sum(counts.values()) >= 1


def test_the_corpus_covers_at_least_twenty_shapes() -> None:
    assert len(SECRETS) >= 20


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_look_alikes_survive_storage(text: str) -> None:
    counts: Counter[str] = Counter()
    assert redact_for_storage(text, counts) == text and not counts


def test_secret_named_fields_are_redacted_whatever_their_value_looks_like() -> None:
    # Given structured data (a tool result) with secrets under their usual keys, and fields that only
    # contain the word "token" or "key" in a non-secret sense
    payload = {
        "Credentials": {"AccessKeyId": "AKIA0000", "SecretAccessKey": "short", "SessionToken": "x"},
        "db": {"password": "p"},
        "tokens_in": 1200,
        "max_tokens": 2048,
        "idempotency_key": "6f1c2d1e",
        "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:checkout",
    }
    clean = redact_for_storage(payload)
    text = json.dumps(clean)
    for value in ('"short"', '"x"', '"p"'):
        assert value not in text
    assert clean["tokens_in"] == 1200 and clean["max_tokens"] == 2048
    assert clean["idempotency_key"] == "6f1c2d1e"
    assert clean["function_arn"] == payload["function_arn"]


def test_the_model_profile_also_hides_account_ids_and_emails() -> None:
    clean = redact({"who": "oncall@example.com", "arn": NOT_SECRETS[0]})
    assert "oncall@example.com" not in json.dumps(clean) and "123456789012" not in json.dumps(clean)


def test_timeline_steps_and_recorded_model_inputs_are_stored_redacted(aws) -> None:
    # Given a decision record whose error message quotes a connection string, and a model input with a key
    from controlroom.llm.recording import ExchangeRecorder
    from controlroom.store.checkpoint import DynamoCheckpointStore
    from tests.unit.test_schema_versions import _step

    table = aws.dynamodb.Table(aws.checkpoint_table)
    step = _step().model_copy(update={"error_message": "connect postgres://app:hunter2@db:5432 refused"})
    # When both are stored
    DynamoCheckpointStore(table).put_step(step)
    ExchangeRecorder(table).put_input(
        step.incident_id, "diagnose", {"logs": ["SessionToken=FwoGZXIvYXdzEJr"]}
    )
    # Then neither secret is in the table, and the rest of the text is
    stored = json.dumps(table.scan()["Items"], default=str)
    assert "hunter2" not in stored and "FwoGZXIvYXdzEJr" not in stored
    assert "postgres://[REDACTED:url_credentials]@db:5432 refused" in stored


# Untrusted lines an attacker or a noisy service controls: long runs of scheme- and address-shaped text
# (dotted host lists, dashed ids) with no credential in them. Each pattern must scan them in linear time.
PATHOLOGICAL = ["a." * 100_000, "a-" * 100_000, "1." * 100_000, "sk-" * 60_000, "eyJ." * 50_000]


@pytest.mark.parametrize("text", PATHOLOGICAL, ids=["dots", "dashes", "digits", "sk-dashes", "jwt-dots"])
def test_a_long_adversarial_line_is_redacted_in_linear_time(text: str) -> None:
    # When a 200 KB line of look-alike text is redacted for storage and for a model
    started = time.process_time()
    stored, shown = redact_for_storage(text), redact(text)
    elapsed = time.process_time() - started
    # Then it takes well under a second (a pattern that tried every dot as a start took minutes here)
    assert stored == text and shown == text
    assert elapsed < 1.0, f"{elapsed:.2f} s of CPU for {len(text)} characters"


@pytest.mark.parametrize(
    "text",
    ["-http://app:hunter2@db/x", "x.https://deploy:gh0stT0ken@git.example.com", "1://u:s3cretpw@h"],
)
def test_url_credentials_are_redacted_whatever_precedes_the_scheme(text: str) -> None:
    counts: Counter[str] = Counter()
    clean = redact_for_storage(text, counts)
    assert "[REDACTED:url_credentials]@" in clean and counts["url_credentials"] == 1
    assert not any(secret in clean for secret in ("hunter2", "gh0stT0ken", "s3cretpw"))


def test_an_email_is_hidden_from_a_model_after_punctuation_too() -> None:
    assert "oncall" not in redact("owners: -.oncall@example.com,ops@example.org")
    assert "ops@" not in redact("owners: -.oncall@example.com,ops@example.org")
