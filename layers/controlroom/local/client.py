"""Talk to a running local engine over its HTTP endpoint: fire events, follow executions, decide."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from controlroom.contracts import ApprovalRecord, DecisionRecord, IncidentStatus
from controlroom.contracts.approval import ApprovalBrief
from controlroom.errors import ApprovalNotFound, IncidentNotFound
from controlroom.local.paths import state_dir
from controlroom.store import AuditVerification, DynamoAuditLog, DynamoCheckpointStore, IncidentItem
from controlroom.store.audit_key import KmsChainKey


class EngineNotRunning(RuntimeError):
    """No local engine answers: `controlroom up` is not running in this checkout."""


@dataclass
class ExecutionView:
    arn: str
    status: str
    terminal_state: str | None
    output: dict[str, Any] | None
    error: str | None
    cause: str | None


class EngineClient:
    """A client for the local engine: the same calls whether it runs in this process or another."""

    def __init__(
        self, endpoint: str, outputs: dict[str, str], gateway_url: str = "", inbox_token: str = ""
    ) -> None:
        self.endpoint, self.outputs, self.gateway_url = endpoint, outputs, gateway_url
        self._clients: dict[str, Any] = {}
        self.inbox_token = inbox_token
        self._session = boto3.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",
            aws_session_token="local",
            region_name="us-east-1",
        )
        dynamodb = self._session.resource("dynamodb", endpoint_url=endpoint)
        self.checkpoint = DynamoCheckpointStore(dynamodb.Table(outputs["CheckpointTableName"]))
        self.audit = DynamoAuditLog(
            dynamodb.Table(outputs["AuditTableName"]),
            KmsChainKey(self._session.client("kms", endpoint_url=endpoint), outputs.get("AuditKeyArn", "")),
        )

    @classmethod
    def from_state_file(cls, path: Path | None = None) -> EngineClient:
        path = path or state_dir() / "local.json"
        if not path.is_file():
            raise EngineNotRunning(
                "no local engine is running in this checkout: start one with `controlroom up`"
            )
        state = json.loads(path.read_text())
        client = cls(
            state["endpoint"], state["outputs"], state.get("gateway_url", ""), state.get("inbox_token", "")
        )
        try:
            client.sfn.list_state_machines()
        except Exception as exc:
            raise EngineNotRunning(
                f"the local engine at {state['endpoint']} does not answer ({exc.__class__.__name__});"
                " start one with `controlroom up`"
            ) from exc
        return client

    def inbox(self) -> list[dict[str, Any]]:
        """The approval emails the engine sent, read from its gateway with the state file's token."""
        import urllib.error
        import urllib.request

        from controlroom.local.engine import INBOX_PATH

        request = urllib.request.Request(
            self.gateway_url.rstrip("/") + INBOX_PATH, headers={"Authorization": f"Bearer {self.inbox_token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                emails: list[dict[str, Any]] = json.loads(response.read())
        except urllib.error.HTTPError:
            raise  # the gateway answered: a refusal, not an engine that is down
        except urllib.error.URLError as exc:
            raise EngineNotRunning(
                f"the local engine's gateway at {self.gateway_url} does not answer ({exc.reason});"
                " start one with `controlroom up`"
            ) from exc
        return emails

    def aws(self, service: str) -> Any:
        # One client per service: creating one reads os.environ, which in-process handlers rewrite as they run.
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint)
        return self._clients[service]

    @property
    def sfn(self) -> Any:
        return self.aws("stepfunctions")

    @property
    def state_machine_arn(self) -> str:
        return self.outputs["StateMachineArn"]

    # events and executions ---------------------------------------------------------------------
    def executions(self) -> list[str]:
        pages = self.sfn.get_paginator("list_executions").paginate(stateMachineArn=self.state_machine_arn)
        return [e["executionArn"] for page in pages for e in page["executions"]]

    def fire(self, event: dict[str, Any]) -> list[str]:
        """Put the event on the default bus as AWS would deliver it; return the executions it started."""
        before = set(self.executions())
        entry: dict[str, Any] = {
            "Source": str(event.get("source", "")),
            "DetailType": str(event.get("detail-type", "")),
            "Detail": json.dumps(event.get("detail", {})),
            "Resources": event.get("resources", []),
        }
        if not isinstance(entry["Resources"], list) or not all(
            isinstance(r, str) for r in entry["Resources"]
        ):
            entry["Resources"] = []
        response = self.aws("events").put_events(Entries=[entry])
        failed = [e for e in response["Entries"] if "ErrorCode" in e]
        if failed:
            raise ValueError(
                f"EventBridge refused the event: {failed[0]['ErrorCode']}: {failed[0].get('ErrorMessage', '')}"
            )
        return [arn for arn in self.executions() if arn not in before]

    def start(self, event: dict[str, Any], name: str | None = None) -> str:
        """Start an execution directly with ``event`` as input (what the EventBridge target does)."""
        kwargs = {"stateMachineArn": self.state_machine_arn, "input": json.dumps(event)}
        if name:
            kwargs["name"] = name
        return str(self.sfn.start_execution(**kwargs)["executionArn"])

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        pages = self.sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
        return [event for page in pages for event in page["events"]]

    def describe(self, execution_arn: str) -> ExecutionView:
        description = self.sfn.describe_execution(executionArn=execution_arn)
        terminal = None
        if description["status"] != "RUNNING":
            entered = [
                e
                for e in self.history(execution_arn)
                if e["type"] in ("SucceedStateEntered", "FailStateEntered")
            ]
            terminal = entered[-1]["stateEnteredEventDetails"]["name"] if entered else None
        output = json.loads(description["output"]) if description.get("output") else None
        return ExecutionView(
            execution_arn,
            description["status"],
            terminal,
            output,
            description.get("error"),
            description.get("cause"),
        )

    def wait(self, execution_arn: str, timeout: float = 120.0, poll: float = 0.1) -> ExecutionView:
        """Poll until the execution leaves RUNNING; TimeoutError names the state it is stuck in."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = self.describe(execution_arn)
            if view.status != "RUNNING":
                return view
            time.sleep(poll)
        raise TimeoutError(
            f"{execution_arn} still RUNNING after {timeout:.0f}s (in state {self.current_state(execution_arn)})"
        )

    def current_state(self, execution_arn: str) -> str | None:
        entered = [e for e in self.history(execution_arn) if e["type"].endswith("StateEntered")]
        return entered[-1]["stateEnteredEventDetails"]["name"] if entered else None

    def incident_id(self, execution_arn: str, timeout: float = 30.0) -> str | None:
        """The incident an execution opened (or folded into): from its input when Intake admitted it (the
        alarm rule's path), else from the Intake state's output."""
        started = json.loads(self.sfn.describe_execution(executionArn=execution_arn).get("input") or "null")
        if isinstance(started, dict) and isinstance(started.get("admission"), dict):
            return ((started.get("intake") or {}).get("incident") or {}).get("incident_id")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.history(execution_arn):
                details = event.get("stateExitedEventDetails")
                if event["type"] == "TaskStateExited" and details and details["name"] == "Intake":
                    intake = json.loads(details["output"]).get("intake", {})
                    return (intake.get("incident") or {}).get("incident_id") or intake.get("duplicate_of")
            if self.describe(execution_arn).status != "RUNNING":
                return None
            time.sleep(0.1)
        return None

    # approvals ---------------------------------------------------------------------------------
    def pending_approvals(self) -> list[ApprovalRecord]:
        return self.checkpoint.pending_approvals()

    def wait_for_approval(
        self, incident_id: str, execution_arn: str | None = None, timeout: float = 60.0
    ) -> ApprovalRecord:
        """The incident's pending approval; fails fast if the execution ends without asking."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for approval in self.pending_approvals():
                if approval.incident_id == incident_id:
                    return approval
            if execution_arn and (view := self.describe(execution_arn)).status != "RUNNING":
                raise RuntimeError(
                    f"{incident_id}: the flow ended at {view.terminal_state} ({view.error}) "
                    "without requesting approval"
                )
            time.sleep(0.1)
        raise TimeoutError(f"no pending approval for {incident_id} after {timeout:.0f}s")

    def decide(self, approval_id: str, verdict: str, approver: str, comment: str = "") -> Any:
        """Vote on an approval as a trusted local operator (the CLI); returns the DecisionOutcome."""
        from controlroom.approval.decide import decide

        record = self.checkpoint.get_approval(approval_id)
        return decide(
            self.checkpoint,
            self.audit,
            self.sfn,
            approval_id,
            approver,
            verdict,
            comment,
            record.plan_digest,
            enforce_approvers=False,
        )

    def wait_for_links(self, approval_id: str, timeout: float = 15.0) -> list[str]:
        """The signed links emailed for an approval, once RequestApproval has sent them.

        RequestApproval stores the approval before it emails the approvers, so a pending approval can be
        seen a moment before its email. Reads the in-process inbox: the engine runs in this process.
        """
        from controlroom.approval.inbox import approval_links

        deadline = time.monotonic() + timeout
        while True:
            links = approval_links(None, approval_id)
            if links or time.monotonic() >= deadline:
                return links
            time.sleep(0.1)

    def approval_brief(self, approval_id: str) -> ApprovalBrief | None:
        """What the approver is shown; None for an approval stored without one."""
        try:
            return self.checkpoint.approval_brief(approval_id)
        except ApprovalNotFound:
            return None

    # incidents, timeline and audit -------------------------------------------------------------
    def incident(self, incident_id: str) -> IncidentItem:
        return self.checkpoint.get_incident(incident_id)

    def incidents(self, status: IncidentStatus | None = None) -> list[IncidentItem]:
        """Every incident in the engine's checkpoint table (``status`` only, if given), newest first."""
        from controlroom.autonomy.history import incident_ids

        items = []
        for incident_id in incident_ids(self.checkpoint._table):
            try:
                item = self.checkpoint.get_incident(incident_id)
            except IncidentNotFound:
                continue  # expired (TTL) between the scan and the read
            if status is None or item.status is status:
                items.append(item)
        return sorted(items, key=lambda item: item.incident.opened_at, reverse=True)

    def timeline(self, incident_id: str) -> list[DecisionRecord]:
        return sorted(self.checkpoint.steps(incident_id), key=lambda record: record.step)

    def verify_audit(self, incident_id: str) -> AuditVerification:
        return self.audit.verify(incident_id)
