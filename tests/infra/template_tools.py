"""Helpers that read a synthesized CloudFormation template (plain JSON) for the infrastructure tests."""

from __future__ import annotations

import json
from typing import Any


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for one CloudFormation type."""
    return {key: value for key, value in template["Resources"].items() if value["Type"] == resource_type}


def resources_under(
    template: dict[str, Any], resource_type: str, construct: str
) -> dict[str, dict[str, Any]]:
    """Like resources_of, for one construct of the stack (logical ids start with its id, e.g. IncidentResponse)."""
    return {
        key: value
        for key, value in resources_of(template, resource_type).items()
        if key.startswith(construct)
    }


def logical_id(template: dict[str, Any], resource_type: str, name_property: str, name: str) -> str:
    """The logical id of the resource of ``resource_type`` whose ``name_property`` equals ``name``."""
    for key, resource in resources_of(template, resource_type).items():
        if resource["Properties"].get(name_property) == name:
            return key
    raise KeyError(f"no {resource_type} with {name_property}={name}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_by_role(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Role name (RoleName) -> every statement of every AWS::IAM::Policy attached to it."""
    names = {
        key: role["Properties"].get("RoleName", key)
        for key, role in resources_of(template, "AWS::IAM::Role").items()
    }
    result: dict[str, list[dict[str, Any]]] = {name: [] for name in names.values()}
    for policy in resources_of(template, "AWS::IAM::Policy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        for role in policy["Properties"]["Roles"]:
            result[names[role["Ref"]]].extend(statements)
    return result


def mentions(statement: dict[str, Any], logical: str) -> bool:
    """Whether a statement's resources refer to the resource with this logical id."""
    return f'"{logical}"' in json.dumps(statement.get("Resource", []))


def actions(statement: dict[str, Any]) -> set[str]:
    return set(as_list(statement["Action"]))


def rule_named(template: dict[str, Any], suffix: str) -> dict[str, Any]:
    """The one AWS::Events::Rule whose Name ends with ``suffix`` (e.g. "-alarm-state-change")."""
    (rule,) = [
        r
        for r in resources_of(template, "AWS::Events::Rule").values()
        if r["Properties"]["Name"].endswith(suffix)
    ]
    return rule


def agent_alias_id(template: dict[str, Any], function_name: str) -> str:
    """The logical id of the AWS::Lambda::Alias of the function named ``function_name``."""
    function_id = logical_id(template, "AWS::Lambda::Function", "FunctionName", function_name)
    (alias_id,) = [
        key
        for key, alias in resources_of(template, "AWS::Lambda::Alias").items()
        if alias["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    return alias_id


def rendered_join(value: Any) -> str:
    """An Fn::Join as text, references shown as <Ref> (for ARNs written out from pseudo parameters)."""
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(part if isinstance(part, str) else "<Ref>" for part in parts)
    return str(value)
