"""A pure loader of the RCA dataset layout (PetShop style) into plain dataclasses; no AWS, no contracts.

Layout (see ``shared/datasets/petshop/README.md``)::

    DIR/<scenario>/graph.csv                 adjacency: row node calls column node (1 = an edge)
    DIR/<scenario>/noissue/metrics.csv       normal operation (optional)
    DIR/<scenario>/inventory.json            node kind/name, SSM parameter readers (optional)
    DIR/<scenario>/<split>/issue_N/metrics.csv, target.json, alarm.json, changes.json

``DIR`` may also be one scenario directory (it holds ``graph.csv``). Everything the files say is
kept as read: node ids are graph.csv's names, times are unix seconds, missing cells are ``None``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controlroom.errors import ControlroomError

SeriesKey = tuple[str, str, str]
"""(node, metric, statistic) as metrics.csv's three header rows name a column."""


class RcaDatasetError(ControlroomError, ValueError):
    """A directory does not follow the RCA dataset layout (names the file and what is wrong).

    Also a ValueError: it is bad input to `controlroom eval`, which exits 2 (usage) on it.
    """


@dataclass(frozen=True)
class MetricTable:
    """One metrics.csv: a timestamp per row, a column per (node, metric, statistic)."""

    timestamps: tuple[float, ...]
    columns: dict[SeriesKey, tuple[float | None, ...]]

    def series(self, node: str, metric: str, statistic: str) -> tuple[float | None, ...] | None:
        """The column for ``(node, metric, statistic)``, or None when the file has no such column."""
        return self.columns.get((node, metric, statistic))

    def nodes(self) -> list[str]:
        """Every node that has at least one column, in first-seen order."""
        return list(dict.fromkeys(key[0] for key in self.columns))


@dataclass(frozen=True)
class AlarmTarget:
    """The alarmed node and metric from target.json (``agg`` is the CloudWatch statistic)."""

    node: str
    metric: str
    agg: str
    timestamp: float


@dataclass(frozen=True)
class RcaScenario:
    """What every incident of one scenario shares: the graph, the inventory, normal operation."""

    name: str
    path: Path
    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    kinds: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    normal: MetricTable | None = None


@dataclass(frozen=True)
class RcaIncident:
    """One incident: its metrics, alarm target, ground truth (when given), alarm event, change feed."""

    scenario: RcaScenario
    split: str
    issue: str
    path: Path
    metrics: MetricTable
    target: AlarmTarget
    root_cause: str | None
    alarm_event: dict[str, Any] | None
    change_events: tuple[dict[str, Any], ...]

    @property
    def issue_id(self) -> str:
        """``<scenario>/<split>/<issue_N>``, the id ``controlroom eval rca --json`` reports."""
        return f"{self.scenario.name}/{self.split}/{self.issue}"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise RcaDatasetError(f"{path}: not JSON ({error})") from error


def _cell(text: str, path: Path) -> float | None:
    if text.strip() == "":
        return None
    try:
        value = float(text)
    except ValueError as error:
        raise RcaDatasetError(f"{path}: not a number: {text!r}") from error
    # NaN or inf in a metrics file is a gap, not a value a ranking should average in.
    return value if math.isfinite(value) else None


def _timestamp(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def load_graph(path: Path) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Read graph.csv: the header row names the callees, each row a caller; a cell of 1 is an edge."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or len(rows[0]) < 2:
        raise RcaDatasetError(f"{path}: no header row of node names")
    callees = [name.strip() for name in rows[0][1:]]
    nodes = dict.fromkeys(callees)
    edges: list[tuple[str, str]] = []
    for row in rows[1:]:
        if not row or not row[0].strip():
            continue
        caller = row[0].strip()
        nodes.setdefault(caller)
        if len(row) - 1 > len(callees):
            raise RcaDatasetError(f"{path}: row {caller!r} has more cells than the header")
        for callee, cell in zip(callees, row[1:], strict=False):
            if (_cell(cell, path) or 0.0) >= 0.5:
                edges.append((caller, callee))
    return tuple(nodes), tuple(edges)


def load_metrics(path: Path) -> MetricTable:
    """Read metrics.csv: three header rows (node, metric, statistic), a label row, then one row per time."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if len(rows) < 3:
        raise RcaDatasetError(f"{path}: fewer than the three header rows (node, metric, statistic)")
    header_nodes, header_metrics, header_stats = rows[0], rows[1], rows[2]
    if not len(header_nodes) == len(header_metrics) == len(header_stats):
        raise RcaDatasetError(f"{path}: the three header rows differ in length")
    timestamps: list[float] = []
    cells: list[list[float | None]] = [[] for _ in header_nodes[1:]]
    for row in rows[3:]:
        stamp = _timestamp(row[0])
        if stamp is None:  # the "unix_timestamp" label row, or a blank first cell
            continue
        timestamps.append(stamp)
        padded = row[1:] + [""] * max(0, len(cells) - len(row) + 1)
        for index, text in enumerate(padded[: len(cells)]):
            cells[index].append(_cell(text, path))
    columns: dict[SeriesKey, tuple[float | None, ...]] = {}
    for index, key in enumerate(zip(header_nodes[1:], header_metrics[1:], header_stats[1:], strict=True)):
        columns[(key[0].strip(), key[1].strip(), key[2].strip())] = tuple(cells[index])
    return MetricTable(timestamps=tuple(timestamps), columns=columns)


def load_scenario(path: Path) -> RcaScenario:
    """Read one scenario directory's shared files (graph.csv required, the rest optional)."""
    graph_file = path / "graph.csv"
    if not graph_file.is_file():
        raise RcaDatasetError(f"{path}: no graph.csv")
    nodes, edges = load_graph(graph_file)
    kinds: dict[str, str] = {}
    names: dict[str, str] = {}
    parameters: dict[str, tuple[str, ...]] = {}
    inventory_file = path / "inventory.json"
    if inventory_file.is_file():
        inventory = _read_json(inventory_file)
        for node_id, entry in (inventory.get("nodes") or {}).items():
            kinds[node_id] = str(entry.get("kind", "unknown"))
            names[node_id] = str(entry.get("name", node_id))
        for parameter, readers in (inventory.get("parameters") or {}).items():
            parameters[parameter] = tuple(readers)
    normal_file = path / "noissue" / "metrics.csv"
    normal = load_metrics(normal_file) if normal_file.is_file() else None
    return RcaScenario(path.name, path, nodes, edges, kinds, names, parameters, normal)


def _target(path: Path) -> tuple[AlarmTarget, str | None]:
    document = _read_json(path)
    target = document.get("target") if isinstance(document, dict) else None
    if not isinstance(target, dict) or not target.get("node") or not target.get("metric"):
        raise RcaDatasetError(f"{path}: no target with node and metric")
    alarm = AlarmTarget(
        node=str(target["node"]),
        metric=str(target["metric"]),
        agg=str(target.get("agg") or "Average"),
        timestamp=float(target.get("timestamp") or 0.0),
    )
    root_cause = (document.get("root_cause") or {}).get("node")
    return alarm, (str(root_cause) if root_cause else None)


def load_incident(scenario: RcaScenario, path: Path) -> RcaIncident:
    """Read one ``issue_N`` directory of ``scenario`` (metrics.csv and target.json required)."""
    for required in ("metrics.csv", "target.json"):
        if not (path / required).is_file():
            raise RcaDatasetError(f"{path}: no {required}")
    target, root_cause = _target(path / "target.json")
    alarm_file, changes_file = path / "alarm.json", path / "changes.json"
    alarm_event = _read_json(alarm_file) if alarm_file.is_file() else None
    changes = _read_json(changes_file) if changes_file.is_file() else {}
    events = tuple(changes.get("Events") or []) if isinstance(changes, dict) else ()
    return RcaIncident(
        scenario=scenario,
        split=path.parent.name,
        issue=path.name,
        path=path,
        metrics=load_metrics(path / "metrics.csv"),
        target=target,
        root_cause=root_cause,
        alarm_event=alarm_event,
        change_events=events,
    )


def _issue_sort_key(path: Path) -> tuple[str, int, str]:
    prefix, _, number = path.name.rpartition("_")
    return (prefix, int(number), "") if number.isdigit() else (path.name, -1, path.name)


def _scenario_dirs(root: Path) -> list[Path]:
    if (root / "graph.csv").is_file():
        return [root]
    return sorted(child for child in root.iterdir() if (child / "graph.csv").is_file())


def iter_incidents(root: Path | str) -> Iterator[RcaIncident]:
    """Every incident under ``root``, by scenario, split and issue number (a stable order).

    Raises
    ------
    RcaDatasetError
        ``root`` holds no scenario, or a file in it does not follow the layout.
    """
    root = Path(root)
    if not root.is_dir():
        raise RcaDatasetError(f"{root}: not a directory")
    scenarios = _scenario_dirs(root)
    if not scenarios:
        raise RcaDatasetError(f"{root}: no scenario directory (one holding graph.csv)")
    for scenario_dir in scenarios:
        scenario = load_scenario(scenario_dir)
        for split_dir in sorted(p for p in scenario_dir.iterdir() if p.is_dir() and p.name != "noissue"):
            issues = [p for p in split_dir.iterdir() if (p / "target.json").is_file()]
            for issue_dir in sorted(issues, key=_issue_sort_key):
                yield load_incident(scenario, issue_dir)


def load_dataset(root: Path | str) -> list[RcaIncident]:
    """All incidents under ``root`` as a list (see ``iter_incidents``)."""
    return list(iter_incidents(root))
