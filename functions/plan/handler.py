"""Lambda entry point of the plan agent."""

from controlroom.coldstart import collector_paused

with collector_paused():
    from controlroom.agents.plan import PLAN
    from controlroom.runtime import logger, metrics, run_agent, tracer


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    return run_agent(PLAN, event, context)
