"""Lambda entry point of the approval callback: a web endpoint (Powertools REST resolver), not an agent.

The same function runs the scheduled delivery sweep: the rule's constant input names the task.
"""

from controlroom.coldstart import collector_paused

with collector_paused():
    from aws_lambda_powertools.logging import correlation_paths

    from controlroom.approval.app import app, sweep_outbox
    from controlroom.approval.sweep_event import is_sweep_event
    from controlroom.runtime import logger, metrics, tracer


@logger.inject_lambda_context(log_event=False, correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    if is_sweep_event(event):
        return sweep_outbox()
    return app.resolve(event, context)
