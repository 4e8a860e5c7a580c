"""Lambda entry point of the kill-switch monitor: the AutonomyHalted gauge and the audit of each flip."""

from controlroom.coldstart import collector_paused

with collector_paused():
    from controlroom.autonomy.monitor import handle
    from controlroom.runtime import logger, metrics, tracer


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    return handle(event)
