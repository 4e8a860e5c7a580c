"""The local engine's pieces: moto patches (version-guarded), the server, and the CLI's clear errors."""

from __future__ import annotations

import json
import socket

import boto3
import pytest

from controlroom.local import cli, patches
from controlroom.local.server import PortInUse, start_server


@pytest.fixture(scope="module")
def server():
    running = start_server(0)
    yield running
    running.stop()


def _client(server, service):
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=server.url,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


PASS_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
ROLE = "arn:aws:iam::123456789012:role/local"


def test_patches_refuse_another_moto_version(monkeypatch):
    monkeypatch.setattr(patches.moto, "__version__", "9.9.9")
    with pytest.raises(patches.UnsupportedMotoVersion, match=r"verified for moto 5\.2\.5"):
        patches.apply("http://127.0.0.1:1")


def test_unnamed_executions_are_distinct(server):
    # moto 5.2.5 names an unnamed execution "None" and returns the first one for the same input
    sfn = _client(server, "stepfunctions")
    machine = sfn.create_state_machine(name="unnamed", definition=PASS_MACHINE, roleArn=ROLE)[
        "stateMachineArn"
    ]
    first = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    second = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    assert first != second and not first.endswith(":None")


def test_cloudtrail_lookup_events_answers_an_empty_feed(server):
    # moto 5.2.5 has no LookupEvents (NotImplementedError, a 500 the client retries); locally it records none
    trail = _client(server, "cloudtrail")
    answer = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "lambda.amazonaws.com"}],
        MaxResults=50,
    )
    assert answer["Events"] == [] and "NextToken" not in answer


def test_eventbridge_rule_starts_the_state_machine(server):
    sfn, events = _client(server, "stepfunctions"), _client(server, "events")
    machine = sfn.create_state_machine(name="target", definition=PASS_MACHINE, roleArn=ROLE)[
        "stateMachineArn"
    ]
    events.put_rule(Name="alarms", EventPattern=json.dumps({"source": ["aws.cloudwatch"]}))
    events.put_targets(Rule="alarms", Targets=[{"Id": "flow", "Arn": machine, "RoleArn": ROLE}])
    events.put_events(Entries=[{"Source": "aws.cloudwatch", "DetailType": "x", "Detail": '{"a": 1}'}])
    events.put_events(Entries=[{"Source": "somewhere.else", "DetailType": "x", "Detail": '{"a": 1}'}])
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert len(executions) == 1, "only the matching event starts an execution"
    delivered = json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])
    assert delivered["source"] == "aws.cloudwatch" and delivered["detail"] == {"a": 1}
    assert isinstance(delivered["time"], str) and delivered["time"].endswith("Z")


def test_a_function_that_is_not_an_agent_gets_a_named_error(server):
    # Given a function without AGENT_NAME (not one of ours) invoked through the patched Lambda backend
    iam, lam = _client(server, "iam"), _client(server, "lambda")
    role = iam.create_role(RoleName="plain", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(e, c):\n    return 1\n")
    lam.create_function(
        FunctionName="plain",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    response = lam.invoke(FunctionName="plain", Payload=b"{}")
    assert response.get("FunctionError")
    assert json.loads(response["Payload"].read())["errorType"] == "LocalEngineError"


def test_port_in_use_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} .* in use"):
            start_server(port)


def test_fire_with_a_bad_event_file_names_the_problem(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    assert cli.main(["fire", str(bad)]) == cli.EXIT_USAGE
    assert "is not valid JSON" in capsys.readouterr().err
    assert cli.main(["fire", str(tmp_path / "missing.json")]) == cli.EXIT_USAGE
    assert "cannot read event file" in capsys.readouterr().err
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    assert cli.main(["fire", str(listed)]) == cli.EXIT_USAGE
    assert "one JSON object" in capsys.readouterr().err


def test_commands_without_a_running_engine_say_how_to_start_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("controlroom.local.client.state_dir", lambda: tmp_path)
    assert cli.main(["approvals"]) == cli.EXIT_NO_ENGINE
    assert "controlroom up" in capsys.readouterr().err


def _wait_all(sfn, arns):
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = [sfn.describe_execution(executionArn=arn) for arn in arns]
        if all(d["status"] != "RUNNING" for d in described):
            return described
        time.sleep(0.05)
    raise TimeoutError("executions still running")


@pytest.fixture
def parses(monkeypatch):
    """Every definition moto's ASL parser parses from now on."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    seen: list[str] = []
    real = AmazonStateLanguageParser.parse

    def counting(definition):
        seen.append(definition)
        return real(definition)

    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(counting))
    return seen


def test_a_definition_is_parsed_once_for_concurrent_executions(server, parses):
    # Given a state machine (a definition no other test uses) and five executions started at once
    sfn = _client(server, "stepfunctions")
    definition = json.dumps(
        {
            "StartAt": "Tag",
            "States": {
                "Tag": {"Type": "Pass", "Result": "parsed-once", "ResultPath": "$.tag", "Next": "Done"},
                "Done": {"Type": "Succeed"},
            },
        }
    )
    machine = sfn.create_state_machine(name="parse-once", definition=definition, roleArn=ROLE)[
        "stateMachineArn"
    ]
    parses.clear()  # creating the machine validates (parses) it; what executions parse is counted
    arns = [
        sfn.start_execution(stateMachineArn=machine, input=json.dumps({"n": n}))["executionArn"]
        for n in range(5)
    ]
    described = _wait_all(sfn, arns)
    # Then it was parsed once, and each execution still produced its own output from its own input
    assert parses.count(definition) == 1
    assert [json.loads(d["output"]) for d in described] == [{"n": n, "tag": "parsed-once"} for n in range(5)]


def test_a_definition_with_a_map_state_is_parsed_per_execution(server, parses):
    # Map iterations keep state on the parsed components: such a program is never shared
    sfn = _client(server, "stepfunctions")
    definition = json.dumps(
        {
            "StartAt": "Each",
            "States": {
                "Each": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "ItemProcessor": {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}},
                    "End": True,
                }
            },
        }
    )
    machine = sfn.create_state_machine(name="map-per-run", definition=definition, roleArn=ROLE)[
        "stateMachineArn"
    ]
    parses.clear()  # creating the machine validates (parses) it; what executions parse is counted
    arns = [
        sfn.start_execution(stateMachineArn=machine, input=json.dumps({"items": [n, n + 1]}))["executionArn"]
        for n in range(2)
    ]
    described = _wait_all(sfn, arns)
    assert parses.count(definition) >= len(arns)  # each execution parsed its own
    assert [json.loads(d["output"]) for d in described] == [[0, 1], [1, 2]]


def test_lambda_tasks_share_one_client_per_region(server):
    # moto's interpreter builds a boto3 client for every Lambda task; the engine shares one per region
    from concurrent.futures import ThreadPoolExecutor

    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    with ThreadPoolExecutor(max_workers=4) as pool:
        clients = list(pool.map(lambda _: lambda_eval_utils.boto_client_for("us-east-1", "lambda"), range(8)))
    assert all(client is clients[0] for client in clients)
    assert clients[0].meta.endpoint_url.endswith(f":{server.port}")
    assert lambda_eval_utils.boto_client_for("eu-west-1", "lambda") is not clients[0]


@pytest.mark.parametrize("depth", [100, 100_000])
def test_fire_with_deeply_nested_json_exits_2_with_a_message(tmp_path, capsys, depth):
    # Given an event file nested far deeper than any event (100 levels, and past Python's recursion limit)
    nested = tmp_path / "nested.json"
    nested.write_text('{"detail": ' + "[" * depth + "]" * depth + "}")
    # Then `fire` refuses it with exit 2 and says why, before touching any engine
    assert cli.main(["fire", str(nested)]) == cli.EXIT_USAGE
    assert "nested" in capsys.readouterr().err
