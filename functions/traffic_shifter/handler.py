"""Lambda entry point of the traffic_shifter agent (deployment flow)."""

from controlroom.coldstart import collector_paused

with collector_paused():
    from controlroom.deploy.shifter import TRAFFIC_SHIFTER
    from controlroom.runtime import logger, metrics, run_agent, tracer


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    return run_agent(TRAFFIC_SHIFTER, event, context)
