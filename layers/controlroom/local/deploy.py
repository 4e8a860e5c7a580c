"""Deploy a synthesized CDK stack (cdk.out) into the local moto server.

moto's CloudFormation creates most of what the stack holds. The rest is bridged here, each
bridge small and named: assets are zipped and uploaded as the CDK CLI would; resource types moto
cannot create are created through their APIs (state machines, in the *executing* Step Functions
backend, with DefinitionSubstitutions resolved; Lambda aliases; secrets) or left out when they
have no local meaning (Function URLs are served by the local gateway; alarms on controlroom itself,
dashboards, subscriptions); and references to them are rewritten to the values they will have.
Versions are real: each Lambda version is published and each alias points at it, and the state
machine is published as version 1 with the environment's alias routing to it.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controlroom.local.server import local_client

ACCOUNT = "123456789012"
REGION = "us-east-1"

# Types with no local meaning: dropped, and any reference to them becomes a descriptive string.
DROPPED_TYPES = {
    "AWS::CDK::Metadata",
    "AWS::Lambda::Url",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::CompositeAlarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::ApiGateway::Stage",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Account",
    "AWS::Scheduler::Schedule",
    "AWS::SES::ConfigurationSet",
    "AWS::Lambda::Permission",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::SQS::QueuePolicy",
    "AWS::S3::BucketPolicy",
    "AWS::KMS::Alias",
    "AWS::Logs::ResourcePolicy",
}
# Types created through their API after the stack, in dependency order.
API_TYPES = (
    "AWS::SecretsManager::Secret",
    "AWS::SES::EmailIdentity",
    "AWS::Lambda::Version",
    "AWS::Lambda::Alias",
    "AWS::StepFunctions::StateMachine",
    "AWS::StepFunctions::StateMachineVersion",
    "AWS::StepFunctions::StateMachineAlias",
)
# A fresh local account publishes version 1 of the state machine (the engine resets moto on every deploy).
FIRST_VERSION = "1"


class DeployError(RuntimeError):
    """The synthesized stack could not be deployed locally; the message names the resource."""


@dataclass
class Deployment:
    stack_name: str
    outputs: dict[str, str]
    physical_ids: dict[str, str] = field(default_factory=dict)


def _zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def _publish_assets(cdk_out: Path, stack_name: str, s3: Any) -> None:
    manifest_path = cdk_out / f"{stack_name}.assets.json"
    if not manifest_path.is_file():
        return
    manifest = json.loads(manifest_path.read_text())
    created: set[str] = set()
    for asset in manifest.get("files", {}).values():
        source = cdk_out / asset["source"]["path"]
        body = _zip_directory(source) if source.is_dir() else source.read_bytes()
        for destination in asset["destinations"].values():
            bucket = (
                destination["bucketName"]
                .replace("${AWS::AccountId}", ACCOUNT)
                .replace("${AWS::Region}", REGION)
            )
            if bucket not in created:
                s3.create_bucket(Bucket=bucket)
                created.add(bucket)
            s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)


def _replace_refs(node: Any, values: dict[str, dict[str, str]]) -> Any:
    """Rewrite Ref / Fn::GetAtt to resources that moto will not create into literal strings."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in values:
            return values[node["Ref"]]["Ref"]
        if set(node) == {"Fn::GetAtt"}:
            logical, attribute = (
                node["Fn::GetAtt"]
                if isinstance(node["Fn::GetAtt"], list)
                else node["Fn::GetAtt"].split(".", 1)
            )
            if logical in values:
                return values[logical].get(attribute, values[logical]["Ref"])
        return {key: _replace_refs(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace_refs(item, values) for item in node]
    return node


def _literal(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise DeployError(
            f"{what} must be a literal string for the local engine, got {json.dumps(value)[:200]}"
        )
    return value


def _ref_target(node: Any, what: str) -> str:
    """The logical id a {"Ref": id} or {"Fn::GetAtt": [id, attribute]} points at."""
    if isinstance(node, dict) and "Ref" in node:
        return str(node["Ref"])
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        return str(node["Fn::GetAtt"][0])
    raise DeployError(f"{what} must reference a resource of the stack, got {json.dumps(node)[:200]}")


# Planned in this order: versions and aliases need their state machine's value first.
_PLANNING_ORDER = {"AWS::StepFunctions::StateMachineVersion": 1, "AWS::StepFunctions::StateMachineAlias": 2}


def _planned_values(resources: dict[str, Any], gateway_url: str) -> dict[str, dict[str, str]]:
    """The values references to bridged or dropped resources will resolve to."""
    values: dict[str, dict[str, str]] = {}
    ordered = sorted(resources.items(), key=lambda item: _PLANNING_ORDER.get(item[1]["Type"], 0))
    for logical_id, resource in ordered:
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::StepFunctions::StateMachine":
            name = _literal(props.get("StateMachineName", logical_id), f"{logical_id}.StateMachineName")
            arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
            values[logical_id] = {"Ref": arn, "Arn": arn, "Name": name}
        elif kind == "AWS::StepFunctions::StateMachineVersion":
            machine = _ref_target(props.get("StateMachineArn"), f"{logical_id}.StateMachineArn")
            arn = f"{values[machine]['Arn']}:{FIRST_VERSION}"
            values[logical_id] = {"Ref": arn, "Arn": arn}
        elif kind == "AWS::StepFunctions::StateMachineAlias":
            name = _literal(props.get("Name"), f"{logical_id}.Name")
            version = _ref_target(
                props["RoutingConfiguration"][0]["StateMachineVersionArn"],
                f"{logical_id}.RoutingConfiguration",
            )
            arn = values[version]["Arn"].rsplit(":", 1)[0] + f":{name}"
            values[logical_id] = {"Ref": arn, "Arn": arn}
        elif kind == "AWS::SES::EmailIdentity":
            identity = _literal(props.get("EmailIdentity"), f"{logical_id}.EmailIdentity")
            values[logical_id] = {"Ref": identity}
        elif kind == "AWS::Lambda::Url":
            values[logical_id] = {"Ref": gateway_url, "FunctionUrl": gateway_url.rstrip("/") + "/"}
        elif kind in DROPPED_TYPES:
            values[logical_id] = {
                "Ref": f"local-unsupported:{logical_id}",
                "Arn": f"arn:aws:local:::{logical_id}",
            }
    return values


def _resolver(resources: dict[str, Any], physical: dict[str, str], values: dict[str, dict[str, str]]) -> Any:
    """Resolve Ref / GetAtt / Join / Sub against what the stack created (for API-created resources)."""

    def arn_of(logical_id: str) -> str:
        kind, name = resources[logical_id]["Type"], physical[logical_id]
        if kind == "AWS::Lambda::Function":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT}:role/{name}"
        return name

    def resolve(node: Any) -> Any:
        if isinstance(node, str):
            return node
        if isinstance(node, dict) and "Ref" in node:
            ref = node["Ref"]
            if ref in values:
                return values[ref]["Ref"]
            if ref == "AWS::Region":
                return REGION
            if ref in ("AWS::AccountId",):
                return ACCOUNT
            if ref == "AWS::Partition":
                return "aws"
            return physical[ref]
        if isinstance(node, dict) and "Fn::GetAtt" in node:
            logical, attribute = node["Fn::GetAtt"]
            if logical in values:
                return values[logical].get(attribute, values[logical]["Ref"])
            return arn_of(logical) if attribute == "Arn" else physical[logical]
        if isinstance(node, dict) and "Fn::Join" in node:
            separator, parts = node["Fn::Join"]
            return separator.join(str(resolve(part)) for part in parts)
        if isinstance(node, dict) and "Fn::Sub" in node and isinstance(node["Fn::Sub"], str):
            text = node["Fn::Sub"]
            for pseudo, value in (
                ("AWS::Region", REGION),
                ("AWS::AccountId", ACCOUNT),
                ("AWS::Partition", "aws"),
                ("AWS::URLSuffix", "amazonaws.com"),
            ):
                text = text.replace("${" + pseudo + "}", value)
            return text
        raise DeployError(f"cannot resolve {json.dumps(node)[:200]} locally")

    return resolve


def _reshape_for_moto(resource: dict[str, Any]) -> None:
    """Three properties moto 5.2.5's CloudFormation hands to its API-shaped models unchanged."""
    props = resource.get("Properties", {})
    if resource["Type"] == "AWS::KMS::Key" and "Tags" in props:
        # CloudFormation tags are {Key, Value}; moto's KMS tagger reads TagKey/TagValue.
        props["Tags"] = [{"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in props["Tags"]]
    if resource["Type"] == "AWS::SSM::Parameter" and isinstance(props.get("Tags"), dict):
        # A parameter's CloudFormation tags are a map; moto's put_parameter wants [{Key, Value}].
        props["Tags"] = [{"Key": key, "Value": value} for key, value in props["Tags"].items()]
    if resource["Type"] == "AWS::DynamoDB::Table" and "SSESpecification" in props:
        # CloudFormation says SSEEnabled; moto's table model reads the API's Enabled (and would drop the key).
        sse = props["SSESpecification"]
        props["SSESpecification"] = {
            "Enabled": sse.get("SSEEnabled", False),
            **{key: value for key, value in sse.items() if key in ("SSEType", "KMSMasterKeyId")},
        }


def _is_non_symmetric_key(resource: dict[str, Any]) -> bool:
    props = resource.get("Properties", {})
    return (
        resource["Type"] == "AWS::KMS::Key"
        and props.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT"
    )


def _create_key(props: dict[str, Any], endpoint: str) -> dict[str, str]:
    """moto 5.2.5's CloudFormation makes every AWS::KMS::Key symmetric; the audit HMAC key is made by API."""
    metadata = local_client("kms", endpoint).create_key(
        KeySpec=props["KeySpec"],
        KeyUsage=props.get("KeyUsage", "ENCRYPT_DECRYPT"),
        Description=str(props.get("Description", "")),
    )["KeyMetadata"]
    return {"Ref": metadata["KeyId"], "Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}


def _prepare(
    template: dict[str, Any], endpoint: str, gateway_url: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, str]]]:
    template = json.loads(json.dumps(template))
    template.pop("Rules", None)
    template.get("Parameters", {}).pop("BootstrapVersion", None)
    resources: dict[str, Any] = template["Resources"]
    values = _planned_values(resources, gateway_url)
    secrets = local_client("secretsmanager", endpoint)
    created_by_api: set[str] = set()
    for logical_id, resource in resources.items():
        if _is_non_symmetric_key(resource):
            values[logical_id] = _create_key(resource.get("Properties", {}), endpoint)
            created_by_api.add(logical_id)
        elif resource["Type"] == "AWS::SecretsManager::Secret":
            props = resource.get("Properties", {})
            name = props.get("Name", f"controlroom-local-{logical_id}")
            arn = secrets.create_secret(Name=name, SecretString=os.urandom(32).hex())["ARN"]
            values[logical_id] = {"Ref": arn, "Arn": arn}
        elif resource["Type"] == "AWS::Lambda::Alias":
            props = resource["Properties"]
            function = props["FunctionName"]
            function_logical = function.get("Ref") if isinstance(function, dict) else None
            name = resources[function_logical]["Properties"]["FunctionName"] if function_logical else function
            arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{_literal(name, logical_id)}:{props['Name']}"
            values[logical_id] = {"Ref": arn, "AliasArn": arn, "Arn": arn}
    removed = {
        lid for lid, r in resources.items() if r["Type"] in DROPPED_TYPES or r["Type"] in API_TYPES
    } | created_by_api
    bridged = {lid: resources[lid] for lid in removed if resources[lid]["Type"] in API_TYPES}
    kept = {lid: r for lid, r in resources.items() if lid not in removed}
    for resource in kept.values():
        depends = resource.get("DependsOn")
        if isinstance(depends, list):
            resource["DependsOn"] = [d for d in depends if d not in removed]
        elif isinstance(depends, str) and depends in removed:
            resource.pop("DependsOn")
    for resource in kept.values():
        _reshape_for_moto(resource)
    template["Resources"] = _replace_refs(kept, values)
    if "Outputs" in template:
        template["Outputs"] = _replace_refs(template["Outputs"], values)
    return template, bridged, values


def _create_bridged(
    bridged: dict[str, Any],
    all_resources: dict[str, Any],
    physical: dict[str, str],
    values: dict[str, dict[str, str]],
    endpoint: str,
) -> None:
    resolve = _resolver(all_resources, physical, values)
    by_type = sorted(bridged.items(), key=lambda item: API_TYPES.index(item[1]["Type"]))
    for logical_id, resource in by_type:
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::SES::EmailIdentity":
            # moto's SES refuses to send from unverified identities, as SES does.
            identity = str(resolve(props["EmailIdentity"]))
            ses = local_client("ses", endpoint)
            if "@" in identity:
                ses.verify_email_identity(EmailAddress=identity)
            else:
                ses.verify_domain_identity(Domain=identity)
            values.setdefault(logical_id, {"Ref": identity})
        elif resource["Type"] == "AWS::Lambda::Version":
            published = local_client("lambda", endpoint).publish_version(
                FunctionName=resolve(props["FunctionName"]), Description=props.get("Description", "")
            )
            arn = published["FunctionArn"]
            values[logical_id] = {"Ref": arn, "Version": published["Version"], "FunctionArn": arn}
        elif resource["Type"] == "AWS::Lambda::Alias":
            local_client("lambda", endpoint).create_alias(
                FunctionName=resolve(props["FunctionName"]),
                Name=props["Name"],
                FunctionVersion=str(resolve(props.get("FunctionVersion", "$LATEST"))),
            )
        elif resource["Type"] == "AWS::StepFunctions::StateMachine":
            _create_state_machine(logical_id, props, all_resources, values, resolve, endpoint)
        elif resource["Type"] == "AWS::StepFunctions::StateMachineVersion":
            pass  # published with its state machine (create_state_machine(publish=True))
        elif resource["Type"] == "AWS::StepFunctions::StateMachineAlias":
            local_client("stepfunctions", endpoint).create_state_machine_alias(
                name=props["Name"],
                description=props.get("Description", ""),
                routingConfiguration=[
                    {
                        "stateMachineVersionArn": str(resolve(route["StateMachineVersionArn"])),
                        "weight": route["Weight"],
                    }
                    for route in props["RoutingConfiguration"]
                ],
            )
        physical[logical_id] = values[logical_id]["Ref"]


def _create_state_machine(
    logical_id: str,
    props: dict[str, Any],
    all_resources: dict[str, Any],
    values: dict[str, dict[str, str]],
    resolve: Any,
    endpoint: str,
) -> None:
    definition = resolve(props["DefinitionString"])
    for name, value in props.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + name + "}", str(resolve(value)))
    if "${" in definition:
        raise DeployError(f"{logical_id}: unresolved substitution left in the definition")
    versions = [
        version_id
        for version_id, resource in all_resources.items()
        if resource["Type"] == "AWS::StepFunctions::StateMachineVersion"
        and _ref_target(resource["Properties"]["StateMachineArn"], version_id) == logical_id
    ]
    created = local_client("stepfunctions", endpoint).create_state_machine(
        name=values[logical_id]["Name"],
        definition=definition,
        roleArn=resolve(props["RoleArn"]),
        type=props.get("StateMachineType", "STANDARD"),
        publish=bool(versions),
    )
    for version_id in versions:
        if created.get("stateMachineVersionArn") != values[version_id]["Arn"]:
            raise DeployError(
                f"{version_id}: published {created.get('stateMachineVersionArn')}, "
                f"expected {values[version_id]['Arn']} (deploy into a fresh local account)"
            )


def deploy(
    cdk_out: Path, stack_name: str, endpoint: str, gateway_url: str = "http://127.0.0.1"
) -> Deployment:
    """Deploy ``stack_name`` from ``cdk_out`` into the moto server at ``endpoint``."""
    template_path = cdk_out / f"{stack_name}.template.json"
    if not template_path.is_file():
        raise DeployError(f"no template {template_path}: synthesize first (make synth-local)")
    original = json.loads(template_path.read_text())
    template, bridged, values = _prepare(original, endpoint, gateway_url)
    _publish_assets(cdk_out, stack_name, local_client("s3", endpoint))
    cloudformation = local_client("cloudformation", endpoint)
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        failed = [
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
            for e in events
            if "FAILED" in e.get("ResourceStatus", "")
        ]
        raise DeployError(
            f"stack {stack_name} is {stack['StackStatus']}: {'; '.join(failed) or 'no reason given'}"
        )
    physical = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    }
    _create_bridged(bridged, original["Resources"], physical, values, endpoint)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return Deployment(stack_name=stack_name, outputs=outputs, physical_ids=physical)
