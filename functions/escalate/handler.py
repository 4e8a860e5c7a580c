"""Lambda entry point of the escalate agent."""

from controlroom.coldstart import collector_paused

with collector_paused():
    from controlroom.agents.escalate import ESCALATE
    from controlroom.runtime import logger, metrics, run_agent, tracer


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    return run_agent(ESCALATE, event, context)
