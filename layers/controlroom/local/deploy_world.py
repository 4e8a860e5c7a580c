"""The deployment demo's workload: a Lambda with a stable, a healthy and a regressing version, and the
traffic it serves, published as CloudWatch metrics per executed version (moto runs no workload code).

Each tick the simulator reads the alias' routing, splits the tick's requests by weight, and publishes
Invocations, Errors, Throttles and Duration samples with the dimensions Lambda uses for aliases
(FunctionName, Resource = function:alias, ExecutedVersion), from each version's profile.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controlroom.local.seeding import handler_zip, lambda_role
from controlroom.local.server import local_client

DEPLOY_FUNCTION = "orders-api"
DEPLOY_ALIAS = "live"
STABLE_VERSION, HEALTHY_VERSION, REGRESSING_VERSION = "1", "2", "3"
CANDIDATES = {"healthy": HEALTHY_VERSION, "regression": REGRESSING_VERSION}
OPT_IN_TAGS = {"controlroom:deployable": "true", "team": "orders"}
_DURATION_SAMPLES = 20


@dataclass(frozen=True)
class VersionProfile:
    """How one version behaves: its error rate, and its latency (median and how heavy the tail is)."""

    error_rate: float
    median_ms: float
    tail_factor: float
    throttle_rate: float = 0.0

    def durations(self, count: int) -> list[float]:
        """``count`` evenly spread quantiles of the version's latency distribution."""
        return [self.median_ms * (1 + ((i + 0.5) / count) ** 8 * self.tail_factor) for i in range(count)]


PROFILES = {
    STABLE_VERSION: VersionProfile(error_rate=0.005, median_ms=80, tail_factor=1.0),
    HEALTHY_VERSION: VersionProfile(error_rate=0.005, median_ms=78, tail_factor=1.0),
    REGRESSING_VERSION: VersionProfile(error_rate=0.2, median_ms=95, tail_factor=5.0),
}


@dataclass
class DeployWorkload:
    """The orders-api function, its versions and alias, and its simulated traffic."""

    endpoint: str
    requests_per_tick: int = 1000
    _carry: dict[str, float] = field(default_factory=dict)

    def seed(self) -> DeployWorkload:
        """Create orders-api with versions 1 (stable, on alias live), 2 (healthy) and 3 (regressing)."""
        iam, lam = local_client("iam", self.endpoint), local_client("lambda", self.endpoint)
        role = lambda_role(iam, DEPLOY_FUNCTION)
        lam.create_function(
            FunctionName=DEPLOY_FUNCTION,
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": handler_zip("def handler(e, c):\n    return {'orders': []}\n")},
            Environment={"Variables": {"LOG_LEVEL": "INFO", "DB_URL": "postgres://orders"}},
            Publish=True,
            Tags=OPT_IN_TAGS,
        )
        lam.update_function_code(
            FunctionName=DEPLOY_FUNCTION,
            ZipFile=handler_zip("def handler(e, c):\n    return {'orders': [], 'v': 2}\n"),
            Publish=True,
        )
        lam.update_function_code(
            FunctionName=DEPLOY_FUNCTION,
            ZipFile=handler_zip("def handler(e, c):\n    return e['order_id']\n"),
            Publish=True,
        )
        lam.create_alias(FunctionName=DEPLOY_FUNCTION, Name=DEPLOY_ALIAS, FunctionVersion=STABLE_VERSION)
        return self

    def tick(self, lam: Any, cloudwatch: Any) -> None:
        """Serve one tick of requests through the alias' routing and publish the metrics."""
        alias = lam.get_alias(FunctionName=DEPLOY_FUNCTION, Name=DEPLOY_ALIAS)
        weights = {
            k: float(v)
            for k, v in ((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}).items()
        }
        shares = {**weights, alias["FunctionVersion"]: 1.0 - sum(weights.values())}
        now = datetime.now(UTC)
        data: list[dict[str, Any]] = []
        for version, share in shares.items():
            requests = self._take(f"req:{version}", self.requests_per_tick * share)
            if requests <= 0:
                continue
            profile = PROFILES.get(version, PROFILES[STABLE_VERSION])
            errors = self._take(f"err:{version}", requests * profile.error_rate)
            throttles = self._take(f"thr:{version}", requests * profile.throttle_rate)
            dimensions = [
                {"Name": "FunctionName", "Value": DEPLOY_FUNCTION},
                {"Name": "Resource", "Value": f"{DEPLOY_FUNCTION}:{DEPLOY_ALIAS}"},
                {"Name": "ExecutedVersion", "Value": version},
            ]
            for name, value in (("Invocations", requests), ("Errors", errors), ("Throttles", throttles)):
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": dimensions,
                        "Timestamp": now,
                        "Value": float(value),
                        "Unit": "Count",
                    }
                )
            for duration in profile.durations(min(requests, _DURATION_SAMPLES)):
                data.append(
                    {
                        "MetricName": "Duration",
                        "Dimensions": dimensions,
                        "Timestamp": now,
                        "Value": duration,
                        "Unit": "Milliseconds",
                    }
                )
        if data:
            cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=data)

    def _take(self, key: str, expected: float) -> int:
        """Whole events this tick, carrying the fraction over, so rates hold exactly over many ticks."""
        total = self._carry.get(key, 0.0) + expected
        whole = int(total)
        self._carry[key] = total - whole
        return whole

    def run(self, stop: threading.Event, interval: float) -> None:
        lam, cloudwatch = local_client("lambda", self.endpoint), local_client("cloudwatch", self.endpoint)
        while not stop.wait(interval):
            try:
                self.tick(lam, cloudwatch)
            except Exception:
                continue
