"""Lambda entry point of the execute agent."""

from controlroom.coldstart import collector_paused

with collector_paused():
    from controlroom.agents.execute import EXECUTE
    from controlroom.runtime import logger, metrics, run_agent, tracer


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    return run_agent(EXECUTE, event, context)
