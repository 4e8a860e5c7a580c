"""The RCA dataset loader reads the published layout as written, and names what is malformed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controlroom.local.rca_dataset import RcaDatasetError, load_dataset

GRAPH = ",front,back,db\nfront,0,1,0\nback,0,0,1\ndb,0,0,0\n"
METRICS = (
    "microservice,front,front,back,db\n"
    "metric,latency,availability,latency,latency\n"
    "statistic,Average,Average,Average,Average\n"
    "unix_timestamp,,,,\n"
    "100.0,0.1,100.0,0.05,\n"
    "400.0,0.9,95.0,0.7,0.01\n"
)


def _scenario(root: Path, name: str, *, with_normal: bool, with_truth: bool) -> Path:
    scenario = root / name
    issue = scenario / "test" / "issue_10"
    issue.mkdir(parents=True)
    (scenario / "test" / "issue_2").mkdir()
    (scenario / "graph.csv").write_text(GRAPH)
    inventory = {
        "nodes": {"front": {"kind": "eks_service", "name": "Front"}},
        "parameters": {"/p/*": ["front", "back"]},
    }
    (scenario / "inventory.json").write_text(json.dumps(inventory))
    if with_normal:
        (scenario / "noissue").mkdir()
        (scenario / "noissue" / "metrics.csv").write_text(METRICS)
    for directory in (issue, scenario / "test" / "issue_2"):
        (directory / "metrics.csv").write_text(METRICS)
        target: dict[str, object] = {
            "target": {"node": "front", "metric": "latency", "agg": "Average", "timestamp": 400}
        }
        if with_truth:
            target["root_cause"] = {"node": "db", "metric": None}
        (directory / "target.json").write_text(json.dumps(target))
    (issue / "changes.json").write_text(json.dumps({"Events": [{"EventName": "PutParameter"}]}))
    return scenario


def test_loads_graph_metrics_target_and_changes_in_a_stable_order(tmp_path: Path) -> None:
    # Given two scenarios, one with normal operation and ground truth, one with the alarm only
    _scenario(tmp_path, "b_alarm_only", with_normal=False, with_truth=False)
    _scenario(tmp_path, "a_full", with_normal=True, with_truth=True)

    # When the directory is loaded
    incidents = load_dataset(tmp_path)

    # Then incidents come by scenario, split and issue number (issue_2 before issue_10)
    assert [i.issue_id for i in incidents] == [
        "a_full/test/issue_2",
        "a_full/test/issue_10",
        "b_alarm_only/test/issue_2",
        "b_alarm_only/test/issue_10",
    ]
    full, alarm_only = incidents[1], incidents[3]
    assert full.scenario.edges == (("front", "back"), ("back", "db"))
    assert full.scenario.kinds == {"front": "eks_service"}
    assert full.scenario.parameters == {"/p/*": ("front", "back")}
    assert full.metrics.timestamps == (100.0, 400.0)
    assert full.metrics.series("db", "latency", "Average") == (None, 0.01)
    assert full.metrics.series("front", "availability", "Average") == (100.0, 95.0)
    assert full.scenario.normal is not None and full.scenario.normal.nodes() == ["front", "back", "db"]
    assert full.root_cause == "db" and full.target.metric == "latency" and full.target.timestamp == 400.0
    assert len(full.change_events) == 1 and incidents[0].change_events == ()
    assert alarm_only.root_cause is None and alarm_only.scenario.normal is None


def test_a_single_scenario_directory_loads_too(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, "only", with_normal=False, with_truth=True)
    assert [i.issue for i in load_dataset(scenario)] == ["issue_2", "issue_10"]


@pytest.mark.parametrize(
    ("broken_file", "content", "message"),
    [
        ("test/issue_2/target.json", "{not json", "not JSON"),
        ("test/issue_2/target.json", '{"root_cause": {"node": "db"}}', "no target"),
        ("test/issue_2/metrics.csv", METRICS.replace("0.05", "fast"), "not a number"),
        ("test/issue_2/metrics.csv", "microservice,front\nmetric,latency\n", "three header rows"),
    ],
)
def test_a_malformed_file_is_a_named_error_naming_the_file(
    tmp_path: Path, broken_file: str, content: str, message: str
) -> None:
    scenario = _scenario(tmp_path, "s", with_normal=False, with_truth=True)
    (scenario / broken_file).write_text(content)
    with pytest.raises(RcaDatasetError, match=message) as raised:
        load_dataset(tmp_path)
    assert broken_file.split("/")[-1] in str(raised.value)


def test_a_directory_without_scenarios_is_a_named_error(tmp_path: Path) -> None:
    with pytest.raises(RcaDatasetError, match="no scenario"):
        load_dataset(tmp_path)
