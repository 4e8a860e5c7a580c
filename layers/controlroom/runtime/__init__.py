"""The one runtime every agent runs in: contracts, budgets, decision records, logs and metrics."""

from controlroom.runtime.agent import AgentSpec, run_agent
from controlroom.runtime.context import AgentContext
from controlroom.runtime.observability import logger, metrics, tracer
from controlroom.runtime.stores import Stores, stores

__all__ = ["AgentContext", "AgentSpec", "Stores", "logger", "metrics", "run_agent", "stores", "tracer"]
