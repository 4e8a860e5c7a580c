"""The kill-switch monitor against moto: the gauge the ops alarm reads, and the audit of a CloudTrail flip."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlroom import autonomy
from controlroom.metric_names import AUTONOMY_HALTED
from controlroom.runtime import stores
from tests.unit import emf

HANDLER = Path(__file__).resolve().parents[2] / "functions" / "autonomy_monitor" / "handler.py"
SWITCH = "/controlroom/test/autonomy"


@pytest.fixture(autouse=True)
def _fresh_metrics() -> Iterator[None]:
    yield from emf.fresh()


@pytest.fixture
def monitor(aws, monkeypatch):
    monkeypatch.setenv("AUTONOMY_PARAMETER", SWITCH)
    autonomy.clear_cache()
    spec = importlib.util.spec_from_file_location("controlroom_test_monitor_handler", HANDLER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module.handler
    autonomy.clear_cache()


def _put(aws, value: str) -> None:
    aws.client("ssm").put_parameter(Name=SWITCH, Type="String", Value=value, Overwrite=True)


@pytest.mark.parametrize(("value", "gauge"), [('{"state": "halt"}', 1.0), ('{"state": "run"}', 0.0)])
def test_the_gauge_says_whether_the_switch_is_on(aws, monitor, lambda_context, capsys, value, gauge):
    _put(aws, value)
    capsys.readouterr()
    result = monitor({"source": "aws.events", "detail-type": "Scheduled Event"}, lambda_context)
    # The handler flushes its metrics (log_metrics): read the EMF document it printed
    (line,) = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    emitted = emf.Emitted(json.loads(line))
    assert result["halted"] is (gauge == 1.0)
    assert emitted.values(AUTONOMY_HALTED) == [gauge]
    emf.assert_dimensions(emitted, "test")


def test_a_flip_seen_by_cloudtrail_is_audited_with_the_principal(aws, monitor, lambda_context):
    _put(aws, json.dumps({"state": "halt", "changed_by": "someone claims"}))
    event = {
        "source": "aws.ssm",
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {
            "eventSource": "ssm.amazonaws.com",
            "eventName": "PutParameter",
            "eventID": "e-1",
            "userIdentity": {"arn": "arn:aws:sts::123456789012:assumed-role/oncall/alice"},
            "requestParameters": {"name": SWITCH},
        },
    }
    result = monitor(event, lambda_context)
    assert result["audited_by"] == "arn:aws:sts::123456789012:assumed-role/oncall/alice"
    (record,) = stores().audit.records("autonomy-test")
    assert record.actor == "arn:aws:sts::123456789012:assumed-role/oncall/alice"
    assert record.payload["after"]["halted"] is True and record.payload["event_id"] == "e-1"
    assert stores().audit.verify("autonomy-test").ok
