"""Powertools Logger, Metrics (EMF) and a lazily built Tracer shared by every agent."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

from controlroom.metric_names import ENVIRONMENT_DIMENSION, NAMESPACE, SERVICE
from controlroom.runtime.tracing import LazyTracer

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = LazyTracer(service=SERVICE)

# A Lambda function's environment never changes, so the cold-start value is right in AWS.
metrics.set_default_dimensions(**{ENVIRONMENT_DIMENSION: os.environ.get("ENVIRONMENT") or "local"})


def bind_environment(environment: str) -> None:
    """Make ``environment`` the ``environment`` dimension of every metric emitted from now on.

    The local engine (and the tests) run every agent in one process, each invocation with its own
    environment variables, so the runtime re-binds the dimension per invocation. Not a cold-start
    constant there; in Lambda this is a no-op after the first call.

    Parameters
    ----------
    environment
        The ENVIRONMENT setting of the invocation now running, e.g. ``dev``.
    """
    if metrics.default_dimensions.get(ENVIRONMENT_DIMENSION) == environment:
        return
    # Drop the old value first: Powertools warns when a dimension is overwritten in place.
    metrics.dimension_set.pop(ENVIRONMENT_DIMENSION, None)
    metrics.set_default_dimensions(**{ENVIRONMENT_DIMENSION: environment})


def annotate(**annotations: str | None) -> None:
    """Make each annotation a structured log key and, when tracing is active, an X-Ray annotation.

    The log keys keep the annotations searchable (CloudWatch Logs Insights) when the X-Ray SDK is not
    loaded. A ``None`` value is not annotated and drops a key left by an earlier invocation of this
    process. Never fails the agent: a trace is worth less than the decision.

    Parameters
    ----------
    annotations
        Annotation names and values, e.g. ``agent="policy"``.
    """
    known = {key: value for key, value in annotations.items() if value is not None}
    stale = [key for key, value in annotations.items() if value is None]
    if stale:
        logger.remove_keys(stale)
    logger.append_keys(**known)
    for key, value in known.items():
        try:
            tracer.put_annotation(key=key, value=value)
        except Exception as exc:  # no segment, SDK trouble
            logger.warning("trace annotation failed", annotation=key, error_type=type(exc).__name__)
