"""Powertools Logger, Metrics (EMF) and Tracer shared by every agent."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

from controlroom.metric_names import ENVIRONMENT_DIMENSION, NAMESPACE, SERVICE

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

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
