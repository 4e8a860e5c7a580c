"""cdk.json's feature flags reach every synth, with or without the CDK CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from infra_cdk.config import CDK_JSON


def _flags() -> dict[str, Any]:
    context = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]
    return {key: value for key, value in context.items() if key.startswith("@aws-cdk")}


def test_cdk_json_pins_the_recommended_flags_explicitly() -> None:
    # Given cdk.json, Then it sets feature flags (the CLI test checks none that aws-cdk-lib recommends is unset)
    flags = _flags()
    assert len(flags) > 50
    assert flags["@aws-cdk/aws-iam:minimizePolicies"] is True
    assert flags["@aws-cdk/core:enablePartitionLiterals"] is True


def test_an_in_process_synth_gets_the_flags_of_cdk_json(synth: Callable[..., Any]) -> None:
    # Given the app built in-process, as the tests and `python infra_cdk/app.py` build it (no CLI context)
    stack, template = synth("prod")
    # Then every flag of cdk.json is in the App's context, not only the environments
    context = stack.node.get_all_context()
    for key, value in _flags().items():
        assert context.get(key) == value, key
    # and it shows in the template: with a known region, ARNs carry the partition as a literal
    rendered = json.dumps(template.to_json())
    assert '"arn:aws:' in rendered
