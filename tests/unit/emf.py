"""Read what Powertools Metrics prints (CloudWatch EMF) in tests (no tests in this module)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from controlroom.metric_names import ENVIRONMENT_DIMENSION, NAMESPACE, SERVICE, SERVICE_DIMENSION
from controlroom.runtime.observability import metrics


@dataclass(frozen=True)
class Emitted:
    """One flushed EMF document: metric values by name, units by name, and the dimensions."""

    document: dict[str, Any]

    @property
    def _definition(self) -> dict[str, Any]:
        (definition,) = self.document["_aws"]["CloudWatchMetrics"]
        return dict(definition)

    def values(self, name: str) -> list[float]:
        """Every value emitted for ``name`` ([] when it was not emitted)."""
        value = self.document.get(name) if self.has(name) else None
        if value is None:
            return []
        return [float(v) for v in value] if isinstance(value, list) else [float(value)]

    def has(self, name: str) -> bool:
        return any(metric["Name"] == name for metric in self._definition["Metrics"])

    def unit(self, name: str) -> str:
        return next(str(m["Unit"]) for m in self._definition["Metrics"] if m["Name"] == name)

    @property
    def namespace(self) -> str:
        return str(self._definition["Namespace"])

    @property
    def dimensions(self) -> dict[str, str]:
        """Dimension name to value, for the (single) dimension set of the document."""
        (names,) = self._definition["Dimensions"]
        return {name: str(self.document[name]) for name in names}


def flush(capsys: pytest.CaptureFixture[str]) -> Emitted:
    """Flush the shared Metrics object and parse the one EMF line it printed to stdout."""
    capsys.readouterr()  # drop whatever was printed before
    metrics.flush_metrics(raise_on_empty_metrics=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(lines) == 1, f"expected one EMF document, got {len(lines)}"
    return Emitted(json.loads(lines[0]))


def assert_dimensions(emitted: Emitted, environment: str = "test") -> None:
    """The catalog's two dimensions, and nothing else: service and environment."""
    assert emitted.namespace == NAMESPACE
    assert emitted.dimensions == {SERVICE_DIMENSION: SERVICE, ENVIRONMENT_DIMENSION: environment}


def fresh() -> Iterator[None]:
    """For an autouse fixture: no metric left over from another test, before or after."""
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()
