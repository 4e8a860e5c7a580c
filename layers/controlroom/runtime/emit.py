"""The business metrics of ``controlroom.metric_names``, emitted so that a metrics failure never breaks an agent."""

from __future__ import annotations

from collections.abc import Callable, Sized
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit

from controlroom.metric_names import APPROVALS_PENDING
from controlroom.runtime.observability import logger, metrics


def count(name: str, value: float = 1) -> None:
    """Add ``value`` to the count metric ``name`` (a catalog constant).

    Parameters
    ----------
    name
        A name from ``controlroom.metric_names``.
    value
        How many to count; 1 by default.
    """
    _safely(name, lambda: metrics.add_metric(name=name, unit=MetricUnit.Count, value=value))


def seconds_between(name: str, start: datetime, end: datetime) -> None:
    """Emit the duration metric ``name``: seconds from ``start`` to ``end``.

    A negative duration (clock skew, or a timestamp from the future in the alarm) is logged and not
    emitted: a zero would drag the percentiles down and hide the problem.

    Parameters
    ----------
    name
        A duration name from ``controlroom.metric_names``, e.g. ``TIME_TO_DECISION``.
    start, end
        Timezone-aware moments.
    """

    def add() -> None:
        elapsed = (end - start).total_seconds()
        if elapsed < 0:
            logger.warning("negative duration not emitted", metric=name, seconds=elapsed)
            return
        metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=elapsed)

    _safely(name, add)


def pending_approvals(pending: Callable[[], Sized]) -> None:
    """Emit the ApprovalsPending gauge: how many approvals ``pending()`` returns now.

    Parameters
    ----------
    pending
        Usually ``checkpoint.pending_approvals`` (one query of the pending-approvals index).
    """
    _safely(
        APPROVALS_PENDING,
        lambda: metrics.add_metric(name=APPROVALS_PENDING, unit=MetricUnit.Count, value=len(pending())),
    )


def _safely(name: str, emit: Callable[[], None]) -> None:
    # A metric is worth less than the decision it describes: log the failure and carry on.
    try:
        emit()
    except Exception as exc:
        logger.warning("metric not emitted", metric=name, error_type=type(exc).__name__, error=str(exc)[:300])
