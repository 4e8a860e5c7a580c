"""Lambda entry point of the intake agent: the flow's task, the alarm rule, and execution status changes."""

from controlroom.coldstart import collector_paused

with collector_paused():
    from controlroom.agents.admission import handle
    from controlroom.runtime import logger, metrics, tracer


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    return handle(event, context)
