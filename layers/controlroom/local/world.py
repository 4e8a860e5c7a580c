"""The demo's simulated workload: a front end calling a Lambda service and a table, and what broke.

This is the part of the local account that stands in for a customer's system: ``storefront`` calls
``checkout-api`` and the ``carts`` table (``world_graph``). With ``cause="deploy"`` checkout-api's
alias serves a bad version and both functions error; with ``cause="table_load"`` the table slows
under load and nothing changed. A small simulator plays CloudWatch's role (moto does not evaluate
alarms): once checkout-api's alias points back at the good version, errors drop to zero and the
alarms return to OK.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from controlroom.local import world_graph
from controlroom.local.deploy_world import DeployWorkload
from controlroom.local.seeding import handler_zip, lambda_role
from controlroom.local.server import local_client

DEMO_FUNCTION = "checkout-api"
DEMO_ALIAS = "live"
DEMO_ALARM = "checkout-api-errors"
GOOD_VERSION, BAD_VERSION = "1", "2"
_DIMENSIONS = [
    {"Name": "FunctionName", "Value": DEMO_FUNCTION},
    {"Name": "Resource", "Value": f"{DEMO_FUNCTION}:{DEMO_ALIAS}"},
]


@dataclass
class World:
    endpoint: str
    protected: bool = False
    cause: str = "deploy"
    _stop: threading.Event | None = None
    # The deployment flow's workload (orders-api), seeded beside the incident demo's.
    deploy: DeployWorkload | None = None

    def seed(self) -> World:
        """Create the services, the table and the alarms; for ``deploy``, checkout-api's alias on the bad version."""
        if self.cause not in world_graph.CAUSES:
            raise ValueError(f"unknown demo cause {self.cause!r}: one of {', '.join(world_graph.CAUSES)}")
        iam, lam = local_client("iam", self.endpoint), local_client("lambda", self.endpoint)
        role = lambda_role(iam, DEMO_FUNCTION)
        tags = {"team": "payments", **({"controlroom:protected": "true"} if self.protected else {})}
        lam.create_function(
            FunctionName=DEMO_FUNCTION,
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": handler_zip("def handler(e, c):\n    return {'ok': True}\n")},
            Publish=True,
            Tags=tags,
        )
        world_graph.seed_frontend(
            self.endpoint, role, handler_zip("def handler(e, c):\n    return {'ok': True}\n")
        )
        world_graph.seed_graph_metrics(self.endpoint, self.cause)
        if self.cause == "deploy":  # for table_load, checkout-api stays on its one good version
            lam.update_function_code(
                FunctionName=DEMO_FUNCTION,
                ZipFile=handler_zip("def handler(e, c):\n    return e['currency']\n"),
                Publish=True,
            )
            lam.create_alias(FunctionName=DEMO_FUNCTION, Name=DEMO_ALIAS, FunctionVersion=BAD_VERSION)
            self._seed_logs()
            self._seed_metrics_and_alarm()
        self.deploy = DeployWorkload(self.endpoint).seed()
        return self

    def _seed_logs(self) -> None:
        logs = local_client("logs", self.endpoint)
        group = f"/aws/lambda/{DEMO_FUNCTION}"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="2026/11/21/[2]demo")
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        lines = [
            "START RequestId: 1f0c Version: 2",
            "[ERROR] KeyError: 'currency' Traceback (most recent call last): File \"/var/task/app.py\", line 2",
            "[ERROR] KeyError: 'currency' (request 2b91)",
            "END RequestId: 1f0c",
        ]
        logs.put_log_events(
            logGroupName=group,
            logStreamName="2026/11/21/[2]demo",
            logEvents=[
                {"timestamp": now_ms - 60_000 + i * 1000, "message": line} for i, line in enumerate(lines)
            ],
        )

    def _seed_metrics_and_alarm(self) -> None:
        cloudwatch = local_client("cloudwatch", self.endpoint)
        now = datetime.now(UTC)
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": "Errors",
                    "Dimensions": _DIMENSIONS,
                    "Timestamp": now - timedelta(minutes=minutes),
                    "Value": 0.0 if minutes > 4 else 12.0,
                    "Unit": "Count",
                }
                for minutes in range(10, 0, -1)
            ],
        )
        cloudwatch.put_metric_alarm(
            AlarmName=DEMO_ALARM,
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Dimensions=_DIMENSIONS,
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=5.0,
            ComparisonOperator="GreaterThanThreshold",
            AlarmDescription="checkout-api is throwing errors",
        )
        cloudwatch.set_alarm_state(
            AlarmName=DEMO_ALARM,
            StateValue="ALARM",
            StateReason="Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).",
        )

    def start_simulator(self, interval_seconds: float = 0.25) -> None:
        """Play the service and CloudWatch: healthy metrics and alarm OK once the alias is rolled back."""
        self._stop = threading.Event()
        threading.Thread(target=self._simulate, args=(self._stop, interval_seconds), daemon=True).start()
        if self.deploy is not None:
            threading.Thread(target=self.deploy.run, args=(self._stop, interval_seconds), daemon=True).start()

    def _simulate(self, stop: threading.Event, interval: float) -> None:
        lam, cloudwatch = local_client("lambda", self.endpoint), local_client("cloudwatch", self.endpoint)
        while not stop.wait(interval):
            try:
                version = lam.get_alias(FunctionName=DEMO_FUNCTION, Name=DEMO_ALIAS)["FunctionVersion"]
                if version == GOOD_VERSION:
                    cloudwatch.put_metric_data(
                        Namespace="AWS/Lambda",
                        MetricData=[
                            {
                                "MetricName": "Errors",
                                "Dimensions": _DIMENSIONS,
                                "Timestamp": datetime.now(UTC),
                                "Value": 0.0,
                                "Unit": "Count",
                            }
                        ],
                    )
                    cloudwatch.set_alarm_state(
                        AlarmName=DEMO_ALARM,
                        StateValue="OK",
                        StateReason="Errors back to 0 after the rollback (simulated).",
                    )
                    world_graph.frontend_recovered(self.endpoint)
            except Exception:
                continue

    def stop_simulator(self) -> None:
        if self._stop is not None:
            self._stop.set()


def restamp(event: dict[str, Any], moment: datetime | None = None) -> dict[str, Any]:
    """A copy of a sample alarm event with its times set to ``moment`` (now), so evidence windows line up."""
    moment = moment or datetime.now(UTC)
    stamped = json.loads(json.dumps(event))
    stamped["time"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    state = stamped.get("detail", {}).get("state")
    if isinstance(state, dict):
        # CloudWatch's own format, to the millisecond: a change made a moment before still counts as before.
        state["timestamp"] = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"
    return stamped


# Deeper than any AWS event; deeper JSON is refused before it reaches the bus (or a recursion limit).
MAX_EVENT_DEPTH = 64


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def load_event(path: Path) -> dict[str, Any]:
    """Read an event file; a clear error if it is missing or not a JSON object."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read event file {path}: {exc.strerror}") from exc
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError:
        raise ValueError(
            f"{path} is nested too deeply to be an event (over {MAX_EVENT_DEPTH} levels)"
        ) from None
    depth = _depth(event)
    if depth > MAX_EVENT_DEPTH:
        raise ValueError(f"{path} is nested {depth} levels deep; an event may nest {MAX_EVENT_DEPTH} at most")
    if not isinstance(event, dict):
        raise ValueError(
            f"{path} must hold one JSON object (an EventBridge event), found {type(event).__name__}"
        )
    return event
