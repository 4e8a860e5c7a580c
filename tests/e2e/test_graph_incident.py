"""The alarm fires on the front end; the cause is downstream. Through the real ASL on the local engine.

The demo workload: ``storefront`` calls ``checkout-api`` and the ``carts`` table (the topology is
declared in cdk.json's local block). Evidence reads every node's metrics and the functions' versions,
Diagnose ranks the graph, Plan acts only on what the diagnosis blames.
"""

from __future__ import annotations

import urllib.request

import pytest

from controlroom.contracts import IncidentStatus
from controlroom.local.world import BAD_VERSION, DEMO_ALIAS, DEMO_FUNCTION, GOOD_VERSION

from .conftest import alarm_event, finished, fire_one

pytestmark = pytest.mark.e2e


def _output(client, incident_id: str, agent: str) -> dict:
    return next(r for r in client.timeline(incident_id) if r.agent == agent).output


def test_front_end_alarm_blames_and_rolls_back_the_downstream_bad_deploy(client):
    # Given storefront's error alarm, while checkout-api (which storefront calls) serves bad version 2
    execution_arn = fire_one(client, alarm_event("alarm_frontend_errors.json"))
    incident_id = client.incident_id(execution_arn)
    approval = client.wait_for_approval(incident_id, execution_arn, timeout=60)
    # Then the diagnosis blames the downstream function, not the alarmed front end
    diagnosis = _output(client, incident_id, "diagnose")
    assert diagnosis["candidates"][0]["node_id"] == DEMO_FUNCTION
    assert diagnosis["hypotheses"][0]["blamed"]["name"] == DEMO_FUNCTION
    assert diagnosis["hypotheses"][0]["cause"] == "recent_change"
    diagnose_line = next(r for r in client.timeline(incident_id) if r.agent == "diagnose").summary
    assert f"blames lambda_function {DEMO_FUNCTION}" in diagnose_line
    # And the plan rolls back checkout-api's alias, and the approval page names it
    [action] = _output(client, incident_id, "plan")["actions"]
    assert (action["type"], action["function_name"], action["target_version"]) == (
        "rollback_lambda_alias",
        DEMO_FUNCTION,
        GOOD_VERSION,
    )
    [link, *_] = client.wait_for_links(approval.approval_id)
    page = urllib.request.urlopen(link, timeout=10).read().decode()
    assert DEMO_FUNCTION in page and "storefront" in page
    # When the on-call approves, the downstream alias is rolled back and the front end recovers
    client.decide(approval.approval_id, "approve", "cli:test")
    view = finished(client, execution_arn)
    assert (view.status, view.terminal_state) == ("SUCCEEDED", "Resolved")
    assert (
        client.aws("lambda").get_alias(FunctionName=DEMO_FUNCTION, Name=DEMO_ALIAS)["FunctionVersion"]
        == GOOD_VERSION
    )
    assert client.incident(incident_id).status is IncidentStatus.RESOLVED
    assert client.verify_audit(incident_id).ok


@pytest.fixture
def table_load_client(session_engine):
    engine = session_engine.redeploy(seed_world=True, cause="table_load")
    assert engine.client is not None
    return engine.client


def test_load_on_the_table_blames_the_table_and_rolls_nothing_back(table_load_client):
    client = table_load_client
    lam = client.aws("lambda")
    versions_before = [
        v["Version"] for v in lam.list_versions_by_function(FunctionName=DEMO_FUNCTION)["Versions"]
    ]
    # Given storefront's error alarm while the carts table is slow under load, and nothing changed
    execution_arn = fire_one(client, alarm_event("alarm_frontend_errors.json"))
    incident_id = client.incident_id(execution_arn)
    view = finished(client, execution_arn, timeout=120)
    # Then the diagnosis blames the table, as load, and no change
    diagnosis = _output(client, incident_id, "diagnose")
    top = diagnosis["hypotheses"][0]
    assert top["blamed"]["name"] == "carts" and top["cause"] == "resource_saturation"
    assert top["change_ref"] is None
    # And the plan only notifies: no rollback of checkout-api (an unrelated function) or anything else
    actions = _output(client, incident_id, "plan")["actions"]
    assert [a["type"] for a in actions] == ["notify_only"]
    assert [
        v["Version"] for v in lam.list_versions_by_function(FunctionName=DEMO_FUNCTION)["Versions"]
    ] == versions_before
    assert lam.list_aliases(FunctionName=DEMO_FUNCTION)["Aliases"] == []
    assert view.status == "SUCCEEDED" and BAD_VERSION not in versions_before
