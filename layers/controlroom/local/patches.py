"""Small, version-guarded patches that bridge moto 5.2.5's gaps for the local engine.

Each patch is listed in LOCAL_AWS_NOTES.md terms and covered by tests/integration/test_local_patches.py:
- Lambda: run our handlers in-process instead of in Docker (``LambdaFunction._invoke_lambda``).
- Step Functions: an unnamed StartExecution gets a fresh name, as in AWS (moto names it ``None``); an
  alias ARN starts the version the alias routes to (moto's StartExecution knows versions, not aliases).
- EventBridge: rules deliver to Step Functions targets (moto raises NotImplementedError) and to Lambda
  targets (our in-process handlers; invoked in the caller's thread, with Lambda's two asynchronous
  retries of an errored invocation, so `fire` sees what the invocation started when it returns).
- Step Functions: moto emits no "Step Functions Execution Status Change" events; the local engine puts
  one on the default bus when an execution ends (a local stand-in for what AWS sends).
- CloudWatch: GetMetricData answers percentile statistics (``p99``) from raw datapoints (moto: none).
- Step Functions: a definition is parsed once, not once per execution (an ANTLR parse of our flow costs
  about a second of CPU and 1.3 MiB that stays alive while the execution runs: a storm of 1000 events
  would parse it 1000 times and hold a copy in each of them).
- Step Functions: the interpreter shares one boto3 client per service and region across tasks, instead of
  building one per task (about 1 MiB each, alive while the task waits its turn: 1.8 GiB in a storm).
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import moto

from controlroom.local import executor

SUPPORTED_MOTO = "5.2.5"
_applied = False
_lock = threading.Lock()


class UnsupportedMotoVersion(RuntimeError):
    """The patches were verified against one moto version; another may change what they replace."""


class EngineEndpoint:
    """Where the moto server listens; handlers get it as AWS_ENDPOINT_URL."""

    url = "http://127.0.0.1:4599"
    # The local gateway that serves the approval page (API Gateway stages are not served by moto).
    approval_base_url = ""
    # Per-agent environment overrides for local runs (e.g. the scripted model for Diagnose and Plan).
    agent_environment: dict[str, dict[str, str]] = {}


def handler_environment(function: Any) -> dict[str, str]:
    """The environment a function's handler sees: its variables, fake credentials, the local endpoint."""
    env = {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_REGION": function.region,
        "AWS_DEFAULT_REGION": function.region,
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(function.version),  # moto keeps published versions as ints
        "AWS_ENDPOINT_URL": EngineEndpoint.url,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    env.update({key: str(value) for key, value in function.environment_vars.items()})
    if "APPROVAL_BASE_URL" in env and EngineEndpoint.approval_base_url:
        env["APPROVAL_BASE_URL"] = EngineEndpoint.approval_base_url
    env.update(EngineEndpoint.agent_environment.get(env.get("AGENT_NAME", ""), {}))
    return env


def _invoke_in_process(self: Any, event: Any = None) -> tuple[str, bool, str]:
    agent = self.environment_vars.get("AGENT_NAME")
    if not agent:
        payload = {
            "errorType": "LocalEngineError",
            "errorMessage": f"{self.function_name} has no AGENT_NAME: the local engine runs only controlroom agents",
        }
        return json.dumps(payload), True, ""
    if isinstance(event, str | bytes):
        event = json.loads(event or "{}")
    return executor.invoke(
        agent,
        event,
        function_name=self.function_name,
        environment=handler_environment(self),
        version=str(self.version),
        timeout_seconds=int(self.timeout or 60),
        region=self.region,
        account=self.account_id,
    )


def _patch_lambda() -> None:
    from moto.awslambda.models import LambdaFunction

    LambdaFunction._invoke_lambda = _invoke_in_process  # type: ignore[method-assign]


class UnsupportedLocally(RuntimeError):
    """The local engine cannot run this the way AWS would; the message says what to do instead."""


def _executable(backend: Any, state_machine_arn: str) -> str:
    """The state machine ARN moto's interpreter can run for a (possibly qualified) ARN.

    An alias picks a version by its routing weights, as AWS does. moto's interpreter runs only
    unqualified state machines, so a version runs as its state machine when their definitions are
    the same (always so after a local deploy); otherwise this refuses rather than run other code.
    """
    if state_machine_arn.count(":") != 7:
        return state_machine_arn
    unqualified, qualifier = state_machine_arn.rsplit(":", 1)
    version_arn = state_machine_arn
    if not qualifier.isdigit():
        routes = backend.describe_state_machine_alias(state_machine_arn).routing_configuration
        weights = [int(route["weight"]) for route in routes]
        version_arn = str(random.choices(routes, weights=weights)[0]["stateMachineVersionArn"])
    version = backend.describe_state_machine(version_arn)
    if version.definition != backend.describe_state_machine(unqualified).definition:
        raise UnsupportedLocally(
            f"{version_arn} differs from the state machine's current definition; the local engine runs "
            "only the latest revision (redeploy instead of updating in place)"
        )
    return unqualified


def _patch_start_execution() -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: Any = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        return original(
            self,
            _executable(self, state_machine_arn),
            name or str(uuid.uuid4()),
            execution_input,
            trace_header,
        )

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]


def _as_delivered(event: dict[str, Any]) -> dict[str, Any]:
    # EventBridge delivers `time` as ISO 8601; moto keeps the epoch number it was given.
    delivered = {key: value for key, value in event.items() if key != "ingestion-time"}
    if isinstance(delivered.get("time"), int | float):
        delivered["time"] = datetime.fromtimestamp(delivered["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return delivered


# Lambda retries an errored asynchronous invocation twice (what EventBridge's Lambda targets use).
ASYNC_RETRIES = 2


def _invoke_lambda_target(arn: str, event: dict[str, Any]) -> None:
    from moto.awslambda.models import lambda_backends
    from moto.utilities.arns import parse_arn

    parsed = parse_arn(arn)
    name, _, qualifier = parsed.resource_id.partition(":")
    function = lambda_backends[parsed.account][parsed.region].get_function(name, qualifier or None)
    for _attempt in range(1 + ASYNC_RETRIES):
        _payload, errored, _logs = _invoke_in_process(function, event)
        if not errored:
            return


def _patch_eventbridge_to_stepfunctions() -> None:
    from moto.events.models import Rule
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends
    from moto.utilities.arns import parse_arn

    original = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
        # A schedule rule has no pattern, which moto matches against every event; in AWS it gets none.
        if getattr(self, "scheduled_expression", None) and not self.event_pattern.get_pattern():
            return
        if not self.event_pattern.matches_event(original_event):
            return
        to_states = [t for t in self.targets if parse_arn(t["Arn"]).service == "states"]
        for target in to_states:
            arn = parse_arn(target["Arn"])
            backend = stepfunctions_parser_backends[arn.account][arn.region]
            backend.start_execution(
                target["Arn"], str(uuid.uuid4()), json.dumps(_as_delivered(original_event))
            )
        to_lambda = [t for t in self.targets if parse_arn(t["Arn"]).service == "lambda"]
        for target in to_lambda:
            _invoke_lambda_target(target["Arn"], _as_delivered(original_event))
        others = [t for t in self.targets if t not in to_states and t not in to_lambda]
        if others:
            with _lock:
                saved, self.targets = self.targets, others
                try:
                    original(self, original_event, transform_input)  # type: ignore[arg-type]
                finally:
                    self.targets = saved

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign, assignment]


def percentile(values: list[float], stat: str) -> float | None:
    """``pNN`` (e.g. ``p99``, ``p99.9``) of raw values, nearest-rank, as CloudWatch reports it."""
    if not values:
        return None
    rank = float(stat[1:]) / 100
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, int(-(-rank * len(ordered) // 1)) - 1))
    return ordered[index]


def _patch_cloudwatch_percentiles() -> None:
    from moto.cloudwatch.models import Statistics

    original = Statistics.get_statistics_for_type

    def get_statistics_for_type(self: Any, stat: str) -> Any:
        if len(stat) > 1 and stat[0] == "p" and stat[1:].replace(".", "", 1).isdigit():
            return percentile(list(self.metric_single_values_list), stat)
        return original(self, stat)

    Statistics.get_statistics_for_type = get_statistics_for_type  # type: ignore[method-assign]


# Map and Parallel components keep per-run iteration state; every other component is immutable once
# parsed (evaluation state lives in the execution's Environment), so one program serves every execution.
_STATEFUL_STATE_TYPES = frozenset({"Map", "Parallel"})
_MAX_PROGRAMS = 32


def shareable(definition: str) -> bool:
    """Whether one parsed program of ``definition`` may serve concurrent executions (no Map, no Parallel)."""
    try:
        document = json.loads(definition)
    except ValueError:
        return False
    pending: list[Any] = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if node.get("Type") in _STATEFUL_STATE_TYPES:
                return False
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return True


def _patch_parse_once() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original = ExecutionWorker._get_evaluation_entrypoint
    programs: dict[str, Any] = {}
    # Held while parsing: a storm starts its executions at once, and each must not parse it again.
    parsing = threading.Lock()

    def entrypoint(self: Any) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        if not (isinstance(definition, str) and shareable(definition)):
            return original(self)
        with parsing:
            if definition not in programs:
                if len(programs) >= _MAX_PROGRAMS:  # redeploys create new definitions; keep the newest
                    programs.pop(next(iter(programs)))
                programs[definition] = AmazonStateLanguageParser.parse(definition)[0]
            return programs[definition]

    ExecutionWorker._get_evaluation_entrypoint = entrypoint  # type: ignore[method-assign]


def _patch_validate_once() -> None:
    """CreateStateMachine validates by parsing (ANTLR, ~0.4 s for our flows): once per definition text.

    Only a definition that parsed is remembered, so an invalid one is refused every time, as by moto.
    """
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend._validate_definition
    valid: dict[str, None] = {}  # insertion-ordered, bounded like the programs
    guard = threading.Lock()

    def validate(definition: str) -> None:
        with guard:
            if definition in valid:
                return
        original(definition)
        with guard:
            if len(valid) >= _MAX_PROGRAMS:
                valid.pop(next(iter(valid)))
            valid[definition] = None

    StepFunctionsParserBackend._validate_definition = staticmethod(validate)  # type: ignore[method-assign,assignment]


def _patch_shared_task_clients() -> None:
    import sys

    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for
    clients: dict[tuple[str, str, bool, str], Any] = {}
    creating = threading.Lock()  # tasks of a storm ask at once; build each client once

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto ignores state_credentials (every client signs as "ak"/"sk"), so one client serves every task.
        key = (region, service, botocore_stubber.enabled, moto_server_port())
        with creating:
            if key not in clients:
                clients[key] = original(region, service)
            return clients[key]

    boto_client.boto_client_for = boto_client_for  # type: ignore[assignment]
    # Modules that imported the function by name before this patch keep their own reference.
    for name, module in list(sys.modules.items()):
        if (
            name.startswith("moto.stepfunctions.parser")
            and getattr(module, "boto_client_for", None) is original
        ):
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]


def _patch_cloudtrail_lookup() -> None:
    """moto 5.2.5 has no CloudTrail LookupEvents and records no management events: answer with none.

    Evidence's change feed then reads an empty feed locally (deploys are seen from Lambda versions)
    instead of failing through retries and a server traceback on every incident.
    """
    from moto.cloudtrail.responses import CloudTrailResponse

    def lookup_events(self: Any) -> str:
        return json.dumps({"Events": []})

    CloudTrailResponse.lookup_events = lookup_events  # type: ignore[attr-defined]


STATUS_CHANGE = "Step Functions Execution Status Change"


def _status_change(execution: Any) -> dict[str, Any]:
    def millis(moment: Any) -> int | None:
        return int(moment.timestamp() * 1000) if moment else None

    return {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine.arn,
        "name": execution.name,
        "status": execution.exec_status.value if execution.exec_status else "UNKNOWN",
        "startDate": millis(execution.start_date),
        "stopDate": millis(execution.stop_date),
        "input": getattr(execution, "execution_input", None),
        "output": None,
    }


def _patch_execution_status_events() -> None:
    from moto.events.models import events_backends
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    original = BaseExecutionWorkerCommunication.terminated

    def terminated(self: Any) -> None:
        original(self)
        execution = self.execution
        detail = _status_change(execution)
        try:
            events_backends[execution.account_id][execution.region_name].put_events(
                [
                    {
                        "Source": "aws.states",
                        "DetailType": STATUS_CHANGE,
                        "Detail": json.dumps(detail),
                        "Resources": [execution.exec_arn],
                    }
                ]
            )
        except Exception:  # a status event must never break the execution it reports on
            import logging

            logging.getLogger(__name__).exception(
                "could not emit the status change of %s", execution.exec_arn
            )

    BaseExecutionWorkerCommunication.terminated = terminated  # type: ignore[method-assign]


def apply(endpoint_url: str) -> None:
    """Apply every patch once (idempotent) and point handlers at ``endpoint_url``."""
    global _applied
    if moto.__version__ != SUPPORTED_MOTO:
        raise UnsupportedMotoVersion(
            f"the local engine's patches are verified for moto {SUPPORTED_MOTO}, found {moto.__version__}; "
            f"install the pinned version: pip install 'moto[server]=={SUPPORTED_MOTO}'"
        )
    EngineEndpoint.url = endpoint_url
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    with _lock:
        if _applied:
            return
        _patch_lambda()
        _patch_start_execution()
        _patch_eventbridge_to_stepfunctions()
        _patch_cloudwatch_percentiles()
        _patch_parse_once()
        _patch_validate_once()
        _patch_shared_task_clients()
        _patch_cloudtrail_lookup()
        _patch_execution_status_events()
        _applied = True
