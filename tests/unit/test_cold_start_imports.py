"""Handlers load as Lambda loads them without the X-Ray SDK or anthropic; the tracer comes at the first traced call."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.lambda_import import HANDLERS, run_as_lambda

HEAVY = ("aws_xray_sdk", "anthropic")
_IMPORT = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
watched = sys.argv[2].split(",")
print(json.dumps(sorted({w for w in watched for name in sys.modules if name == w or name.startswith(w + ".")})))
"""
# Heavy modules only some paths or agents need, and the handlers that may load them at init: Powertools
# idempotency (only a real change in Execute needs it), Cedar (the two agents that evaluate policy on every
# call), the candidate ranking (Diagnose's alone), the audit chain
# verifier (the CLI's, never a writer's), the approval items (the agents that request, decide or deliver
# approvals) and the alarm's lock (Intake's).
PATH_ONLY = {
    "aws_lambda_powertools.utilities.idempotency": set(),
    "cedarpy": {"policy", "deploy_policy"},
    "controlroom.diagnosis": {"diagnose"},
    "controlroom.store.audit_verify": set(),
    "controlroom.store.approvals": {"approval_callback", "deploy_approval", "request_approval"},
    "controlroom.store.incident_lock": {"intake"},
}
# A handler under tracing Active, invoked once: which heavy modules are loaded before and after, and
# the annotations on the segment the handler runs in.
_TRACED_CALL = """
import json, sys
from controlroom.runtime import tracer
loaded_at_import = "aws_xray_sdk" in sys.modules

@tracer.capture_lambda_handler
def handler(event, context):
    tracer.put_annotation(key="incident_id", value=event["incident_id"])
    from aws_xray_sdk.core import xray_recorder
    return dict(xray_recorder.current_subsegment().annotations)

class Context:
    function_name = "controlroom-test"
    aws_request_id = "req-1"

annotations = handler({"incident_id": "inc-1"}, Context())
print(json.dumps({"at_import": loaded_at_import, "annotations": annotations, "disabled": tracer.disabled}))
"""


@pytest.mark.parametrize("handler", HANDLERS, ids=[path.parent.name for path in HANDLERS])
def test_a_handler_loads_without_the_xray_sdk_or_anthropic(handler: Path, tmp_path: Path) -> None:
    # When Lambda imports the handler module (init phase), tracing Active
    loaded = run_as_lambda(_IMPORT, [str(handler), ",".join(HEAVY)], tmp_path)
    # Then neither the X-Ray SDK nor the model SDK was imported
    assert loaded == []


@pytest.mark.parametrize("handler", HANDLERS, ids=[path.parent.name for path in HANDLERS])
def test_a_handler_loads_no_module_only_some_paths_need(handler: Path, tmp_path: Path) -> None:
    watched = [name for name, loaders in PATH_ONLY.items() if handler.parent.name not in loaders]
    # When Lambda imports the handler module (init phase), tracing Active
    loaded = run_as_lambda(_IMPORT, [str(handler), ",".join(watched)], tmp_path)
    # Then none of them was imported
    assert loaded == []


def test_with_tracing_active_the_first_call_is_traced_and_annotated(tmp_path: Path) -> None:
    # Given a function with tracing Active and an X-Ray trace header from Lambda; when the handler is
    # imported and then invoked (segments go out over UDP to port 9; nothing needs to listen)
    outcome = run_as_lambda(
        _TRACED_CALL,
        [],
        tmp_path,
        _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:9",
    )
    # Then the SDK was not loaded at import, and the call ran in a handler subsegment carrying the annotation
    assert outcome["at_import"] is False
    assert outcome["disabled"] is False
    assert outcome["annotations"]["incident_id"] == "inc-1"


# Every pydantic model of the stores, as a fresh process sees it after import: a schema built at import is
# cold-start CPU a handler pays whether or not it ever validates one.
_DEFERRED = """
import importlib, json, sys
found = {}
for path in sys.argv[1:]:
    module_name, name = path.rsplit(".", 1)
    found[path] = getattr(importlib.import_module(module_name), name).__pydantic_complete__
print(json.dumps(found))
"""
STORE_MODELS = [
    "controlroom.store.audit_record.AuditHead",
    "controlroom.store.audit_record.AuditRecord",
    "controlroom.store.audit_verify.AuditVerification",
    "controlroom.store.checkpoint.IncidentItem",
    "controlroom.store.incident_lock.OpenResult",
    "controlroom.store.incident_lock.DuplicateCount",
]


def test_the_store_models_build_no_schema_at_import(tmp_path: Path) -> None:
    # When a fresh process imports every store model
    built = run_as_lambda(_DEFERRED, STORE_MODELS, tmp_path)
    # Then none has built its schema yet (defer_build): it is built on first use, by the code that uses it
    assert built == dict.fromkeys(STORE_MODELS, False)


def test_a_verifier_still_loads_the_deferred_verdict_through_the_store_package(tmp_path: Path) -> None:
    # When a fresh process asks the store package for the verifier's verdict model (as the CLI does)
    code = (
        "from controlroom.store import AuditVerification\n"
        "from controlroom.store.audit import verify_chain\n"
        "v = AuditVerification(chain_id='c', ok=False, records=0)\n"
        "import json; print(json.dumps([v.status, verify_chain.__module__]))"
    )
    outcome = run_as_lambda(code, [], tmp_path)
    # Then the lazy exports resolve to the verifier module and the model validates on first use
    assert outcome == ["broken", "controlroom.store.audit_verify"]
