"""schemas/ is generated from the contracts: drift fails the build."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from controlroom.contracts.export import drift, render_schemas

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def test_checked_in_schemas_match_the_contracts():
    assert drift(SCHEMA_DIR) == []


def test_drift_is_detected(tmp_path):
    # Given the generated schemas with one edited by hand
    for name, text in render_schemas().items():
        (tmp_path / name).write_text(text)
    (tmp_path / "plan.schema.json").write_text("{}")
    # Then the check names it
    assert drift(tmp_path) == ["plan.schema.json: stale"]


def test_sample_alarm_events_validate_against_the_published_schema():
    schema = json.loads((SCHEMA_DIR / "alarm_state_change_event.schema.json").read_text())
    samples = sorted((SCHEMA_DIR.parent / "events").glob("alarm_*.json"))
    assert samples, "the sample events are part of the contract's documentation"
    for sample in samples:
        jsonschema.validate(json.loads(sample.read_text()), schema)
