"""The local engine's CreateStateMachine parses each definition once, and still refuses an invalid one."""

from __future__ import annotations

import json

import pytest
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from controlroom.local import patches

VALID = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
INVALID = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "NoSuchType"}}})


def test_a_definition_is_parsed_once_and_an_invalid_one_is_refused_every_time(monkeypatch):
    # Given moto's validation, patched (the original is restored after the test), and a count of parses
    monkeypatch.setattr(
        StepFunctionsParserBackend, "_validate_definition", StepFunctionsParserBackend._validate_definition
    )
    parsed: list[str] = []
    real = AmazonStateLanguageParser.parse

    def counting(definition: str):  # type: ignore[no-untyped-def]
        parsed.append(definition)
        return real(definition)

    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(counting))
    patches._patch_validate_once()
    # When the same valid definition is validated three times (three redeploys)
    for _ in range(3):
        StepFunctionsParserBackend._validate_definition(VALID)
    # Then it was parsed once
    assert parsed == [VALID]
    # And an invalid definition is refused each time it comes, never remembered
    for _ in range(2):
        with pytest.raises(Exception, match=r"InvalidDefinition|NoSuchType|Error"):
            StepFunctionsParserBackend._validate_definition(INVALID)
    assert parsed.count(INVALID) == 2
