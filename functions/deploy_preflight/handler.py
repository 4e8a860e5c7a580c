"""Lambda entry point of the deploy_preflight agent (deployment flow)."""

from controlroom.coldstart import collector_paused

with collector_paused():
    from controlroom.deploy.preflight import PREFLIGHT
    from controlroom.runtime import logger, metrics, run_agent, tracer


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    return run_agent(PREFLIGHT, event, context)
