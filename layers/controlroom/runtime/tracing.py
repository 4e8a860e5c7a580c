"""A Powertools Tracer that imports the X-Ray SDK only when a traced invocation needs it, never at import."""

from __future__ import annotations

import functools
import numbers
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

Handler = Callable[[Any, Any], Any]


def tracing_disabled() -> bool:
    """Whether Powertools would disable tracing here, by the same rules, without building a Tracer.

    Disabled when ``POWERTOOLS_TRACE_DISABLED`` is truthy, outside Lambda (no ``LAMBDA_TASK_ROOT``: the
    local engine, tests) and under SAM local or Chalice, where no X-Ray daemon listens.
    """
    if resolve_truthy_env_var_choice(env=os.getenv("POWERTOOLS_TRACE_DISABLED", "false")):
        return True
    if not os.getenv("LAMBDA_TASK_ROOT"):
        return True
    return bool(os.getenv("AWS_SAM_LOCAL") or os.getenv("AWS_CHALICE_CLI_MODE"))


class LazyTracer:
    """The subset of Powertools' Tracer our handlers use, built on first traced use.

    ``Tracer()`` imports the X-Ray SDK (with wrapt and asyncio) in its constructor, even when tracing is
    disabled: a third of a handler's cold import. Deferring it means a function with tracing off never
    pays, and one with tracing on pays at its first invocation instead of at every import.

    Parameters
    ----------
    service
        The service name of every segment (``POWERTOOLS_SERVICE_NAME`` wins, as in Powertools).
    """

    def __init__(self, service: str) -> None:
        self._service = service
        self._tracer: Tracer | None = None

    @property
    def disabled(self) -> bool:
        """True when no segment is recorded (checked per call: the local engine changes the environment)."""
        return tracing_disabled()

    def _active(self) -> Tracer | None:
        if self.disabled:
            return None
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer(service=self._service)
        return self._tracer

    def capture_lambda_handler(self, handler: Handler) -> Handler:
        """Like ``Tracer.capture_lambda_handler``; the real decorator is applied at the first traced call."""
        traced: dict[str, Handler] = {}

        @functools.wraps(handler)
        def wrapper(event: Any, context: Any) -> Any:
            tracer = self._active()
            if tracer is None:
                return handler(event, context)
            if "handler" not in traced:
                traced["handler"] = tracer.capture_lambda_handler(handler)
            return traced["handler"](event, context)

        return wrapper

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        """Annotate the current segment (searchable in X-Ray); a no-op when tracing is disabled."""
        tracer = self._active()
        if tracer is not None:
            tracer.put_annotation(key=key, value=value)
