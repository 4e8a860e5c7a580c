"""The operations dashboard of one environment and the alarms that page on-call when controlroom itself misbehaves."""

from __future__ import annotations

import re
from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from controlroom import metric_names as m
from infra_cdk.components.autonomy_widgets import autonomy_widgets

# Every ops alarm name starts with this; the rule that turns alarms into incidents must never match it
# (an incident about controlroom failing would be handled by the thing that is failing).
OPS_ALARM_PREFIX_FORMAT = "{prefix}-ops-"
# Counts are graphed and alarmed per 5 minutes; state machine and dead-letter alarms per minute so on-call
# hears quickly; approval timeouts per hour, so the threshold reads "timeouts an hour"; rates and
# per-incident figures are hourly so that one incident does not swing them wildly.
DEFAULT_PERIOD = Duration.minutes(5)
PLATFORM_ALARM_PERIOD = Duration.minutes(1)
APPROVAL_TIMEOUT_PERIOD = Duration.hours(1)
RATE_PERIOD = Duration.hours(1)
QUEUE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")

INTRO = """# controlroom operations ({env})
What the incident-response agents did in **{env}**, and whether controlroom itself is healthy.

* **Incidents**: alarms turned into incidents and incidents closed as recovered; escalations, approval
  timeouts (nobody decided in time) and quarantines (diagnosis confidence below the threshold).
* **Speed**: seconds from the alarm to the approval request, from the request to the decision, and
  from the alarm to recovery (p50 and p90).
* **People and the model**: how often approvers reject a plan, how often the rules stood in for the
  model, tokens and cost, per incident too.
* **Platform**: Lambda errors and p90 duration per agent, state machine executions, dead-letter
  queue depth, and the `{ops_prefix}*` alarms. Each alarm's description says what to do.
"""


def ops_alarm_prefix(prefix: str) -> str:
    """The name prefix shared by every ops alarm of an environment.

    Parameters
    ----------
    prefix
        ``controlroom-<env>``.

    Returns
    -------
    str
        ``controlroom-<env>-ops-``.
    """
    return OPS_ALARM_PREFIX_FORMAT.format(prefix=prefix)


def ops_alarm_name(prefix: str, what: str) -> str:
    """The physical name of one ops alarm, e.g. ``controlroom-prod-ops-agent-errors``.

    Parameters
    ----------
    prefix
        ``controlroom-<env>``.
    what
        The alarm's short name (a key of ``Operations.alarms``).
    """
    return f"{ops_alarm_prefix(prefix)}{what}"


def business_metric(
    name: str, env_name: str, *, statistic: str, label: str | None = None, period: Duration = DEFAULT_PERIOD
) -> cloudwatch.Metric:
    """One metric of the catalog (``controlroom.metric_names``) for one environment.

    Parameters
    ----------
    name
        A metric name constant of the catalog.
    env_name
        The environment the agents run in (the ``environment`` dimension).
    statistic
        CloudWatch statistic, e.g. ``Sum``, ``Maximum`` or ``p90``.
    label
        Legend text on the dashboard; none for alarms, which then keep the plain MetricName form.
    period
        Aggregation period.
    """
    return cloudwatch.Metric(
        namespace=m.NAMESPACE,
        metric_name=name,
        dimensions_map={m.SERVICE_DIMENSION: m.SERVICE, m.ENVIRONMENT_DIMENSION: env_name},
        statistic=statistic,
        label=label,
        period=period,
    )


def guarded_ratio(numerator: str, denominator: str, *, scale: int = 1) -> str:
    """A metric math expression for ``scale * numerator / denominator`` that is 0 when the denominator is 0.

    Parameters
    ----------
    numerator, denominator
        Metric math over the ids of a MathExpression's ``using_metrics``; wrap ids in ``FILL(id, 0)`` so a
        period without data points counts as 0 instead of dropping the whole point.
    scale
        Multiplier, e.g. 100 for a percentage.
    """
    scaled = f"{scale} * ({numerator})" if scale != 1 else f"({numerator})"
    return f"IF(({denominator}) > 0, {scaled} / ({denominator}), 0)"


class Operations(Construct):
    """The ``<prefix>-operations`` dashboard and the ``<prefix>-ops-*`` alarms of one environment.

    Parameters
    ----------
    scope, construct_id
        Where the construct lives.
    prefix
        ``controlroom-<env>``; every physical name starts with it.
    env_name
        The environment name, the ``environment`` dimension of the business metrics.
    functions
        Agent name -> the function (in production, its live alias) whose Lambda metrics are shown.
    state_machine
        The incident-response state machine.
    queues
        Short name (lowercase letters, digits, hyphens) -> a dead-letter queue; each gets an alarm.
    topic
        The ops topic every alarm notifies.
    approval_timeout_alarm_threshold
        Approval timeouts in one hour that page on-call.

    Attributes
    ----------
    dashboard
        The CloudWatch dashboard.
    alarms
        Short name (``executions-failed``, ``dlq-<queue>``, ...) -> alarm.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        env_name: str,
        functions: Mapping[str, lambda_.IFunction],
        state_machine: sfn.IStateMachine,
        queues: Mapping[str, sqs.IQueue],
        topic: sns.ITopic,
        approval_timeout_alarm_threshold: int = 1,
    ) -> None:
        super().__init__(scope, construct_id)
        if approval_timeout_alarm_threshold < 1:
            raise ValueError(
                f"approval_timeout_alarm_threshold must be >= 1, not {approval_timeout_alarm_threshold}"
            )
        bad = [name for name in queues if not QUEUE_NAME.match(name)]
        if bad:
            raise ValueError(f"queue short names must match {QUEUE_NAME.pattern}: {', '.join(bad)}")
        self._prefix = prefix
        self._env_name = env_name
        self._topic = topic
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._platform_alarms(state_machine, queues)
        self._business_alarms(approval_timeout_alarm_threshold)
        self._alarm(
            "autonomy-halted",
            self._metric(m.AUTONOMY_HALTED, cloudwatch.Stats.MAXIMUM, period=PLATFORM_ALARM_PERIOD),
            1,
            "The kill switch is on: controlroom executes nothing and every incident escalates as halted. "
            "If that is intended, handle incidents by hand; to resume, run the put-parameter command in the "
            "README's operating section with state run.",
        )
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{prefix}-operations",
            default_interval=Duration.days(1),
        )
        intro = INTRO.format(env=env_name, ops_prefix=ops_alarm_prefix(prefix))
        self.dashboard.add_widgets(cloudwatch.TextWidget(markdown=intro, width=24, height=6))
        self.dashboard.add_widgets(*self._incident_widgets())
        self.dashboard.add_widgets(*self._speed_widgets())
        self.dashboard.add_widgets(*self._decision_widgets())
        self.dashboard.add_widgets(*self._model_widgets())
        self.dashboard.add_widgets(*autonomy_widgets(env_name, self._metric))
        self.dashboard.add_widgets(*self._agent_widgets(functions))
        self.dashboard.add_widgets(*self._platform_widgets(state_machine, queues))

    def _metric(
        self, name: str, statistic: str, label: str | None = None, period: Duration = DEFAULT_PERIOD
    ) -> cloudwatch.Metric:
        return business_metric(name, self._env_name, statistic=statistic, label=label, period=period)

    # Alarms

    def _alarm(self, what: str, metric: cloudwatch.IMetric, threshold: int, description: str) -> None:
        alarm = cloudwatch.Alarm(
            self,
            f"Alarm-{what}",
            alarm_name=ops_alarm_name(self._prefix, what),
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self._topic))
        self.alarms[what] = alarm

    def _platform_alarms(self, state_machine: sfn.IStateMachine, queues: Mapping[str, sqs.IQueue]) -> None:
        sum_, minute = cloudwatch.Stats.SUM, PLATFORM_ALARM_PERIOD
        self._alarm(
            "executions-failed",
            state_machine.metric_failed(period=minute, statistic=sum_),
            1,
            "An incident-response execution failed, so its incident has no owner. Open the failed execution "
            "in the Step Functions console, handle the incident by hand, then fix the failing state.",
        )
        self._alarm(
            "executions-timed-out",
            state_machine.metric_timed_out(period=minute, statistic=sum_),
            1,
            "An incident-response execution hit its overall timeout. Find it in the Step Functions console, "
            "take over its incident by hand and check which state stalled.",
        )
        for name, queue in queues.items():
            self._alarm(
                f"dlq-{name}",
                queue.metric_approximate_number_of_messages_visible(
                    period=PLATFORM_ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                ),
                1,
                f"The {name} dead-letter queue holds messages: work controlroom accepted was dropped. "
                "Read the messages, handle the alarms or tasks they describe by hand, fix the cause, "
                "then redrive or purge the queue.",
            )

    def _business_alarms(self, approval_timeout_threshold: int) -> None:
        self._alarm(
            "model-breaker-opened",
            self._metric(m.MODEL_BREAKER_OPENED, cloudwatch.Stats.SUM),
            1,
            "The model circuit breaker opened: Diagnose and Plan fall back to rules. Check the model "
            "provider's status and the agents' logs for the failing calls; the breaker closes by itself.",
        )
        self._alarm(
            "token-budget-exhausted",
            self._metric(m.TOKEN_BUDGET_EXHAUSTED, cloudwatch.Stats.SUM),
            1,
            "An incident used up its token budget and fell back to rules. Look at that incident's model "
            "calls (prompt size, retries) before raising the budget.",
        )
        self._alarm(
            "token-budget-soft-limit",
            self._metric(m.TOKEN_BUDGET_SOFT_LIMIT, cloudwatch.Stats.SUM),
            1,
            "An incident's model calls used 80 % of its token budget (the soft limit): the next calls get "
            "fewer output tokens and may fall back to rules. Look at that incident's prompt sizes and retries.",
        )
        self._alarm(
            "approval-timeouts",
            self._metric(m.APPROVAL_TIMEOUTS, cloudwatch.Stats.SUM, period=APPROVAL_TIMEOUT_PERIOD),
            approval_timeout_threshold,
            f"{approval_timeout_threshold} or more approvals in an hour expired with nobody deciding, so "
            "their incidents were escalated. Pick up the escalations and check that approvers receive the "
            "approval emails.",
        )
        self._alarm(
            "duplicates-without-execution",
            self._metric(m.DUPLICATES_WITHOUT_EXECUTION, cloudwatch.Stats.SUM),
            1,
            "An alarm event was folded into an open incident whose execution is no longer running, so the "
            "alarm is silenced until the lock's lease ends. Look up the incident in the checkpoint table "
            "(execution_state), handle the alarm by hand and check why its execution ended unclosed.",
        )
        self._alarm(
            "agent-errors",
            self._metric(m.AGENT_ERRORS, cloudwatch.Stats.SUM),
            1,
            "An agent raised an error in the last 5 minutes. Find it in the agents' logs (error_type) and "
            "check whether its execution recovered through retries or escalated.",
        )

    # Dashboard rows

    def _incident_widgets(self) -> list[cloudwatch.IWidget]:
        sum_ = cloudwatch.Stats.SUM
        return [
            cloudwatch.GraphWidget(
                title="Incidents opened and resolved",
                left=[
                    self._metric(m.INCIDENTS_OPENED, sum_, "opened"),
                    self._metric(m.INCIDENTS_RESOLVED, sum_, "resolved"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Escalations, approval timeouts, quarantines",
                left=[
                    self._metric(m.ESCALATIONS, sum_, "escalations"),
                    self._metric(m.APPROVAL_TIMEOUTS, sum_, "approval timeouts"),
                    self._metric(m.QUARANTINES, sum_, "quarantines"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Approvals pending",
                left=[self._metric(m.APPROVALS_PENDING, cloudwatch.Stats.MAXIMUM, "pending")],
                width=8,
            ),
        ]

    def _speed_widgets(self) -> list[cloudwatch.IWidget]:
        durations = (
            (m.TIME_TO_APPROVAL_REQUEST, "Alarm to approval request (s)"),
            (m.TIME_TO_DECISION, "Approval request to decision (s)"),
            (m.TIME_TO_RECOVERY, "Alarm to recovery (s)"),
        )
        return [
            cloudwatch.GraphWidget(
                title=title,
                left=[self._metric(name, cloudwatch.Stats.p(p), f"p{p}") for p in (50, 90)],
                width=8,
            )
            for name, title in durations
        ]

    def _decision_widgets(self) -> list[cloudwatch.IWidget]:
        sum_ = cloudwatch.Stats.SUM
        reject_rate = cloudwatch.MathExpression(
            expression=guarded_ratio("FILL(rejected, 0)", "FILL(approved, 0) + FILL(rejected, 0)", scale=100),
            using_metrics={
                "approved": self._metric(m.APPROVALS_APPROVED, sum_, "approved", RATE_PERIOD),
                "rejected": self._metric(m.APPROVALS_REJECTED, sum_, "rejected", RATE_PERIOD),
            },
            label="rejected / (approved + rejected) %",
            period=RATE_PERIOD,
        )
        fallback_rate = cloudwatch.MathExpression(
            expression=guarded_ratio(
                "FILL(fallbacks, 0)", "FILL(fallbacks, 0) + FILL(decisions, 0)", scale=100
            ),
            using_metrics={
                "fallbacks": self._metric(m.MODEL_FALLBACKS, sum_, "fallbacks", RATE_PERIOD),
                "decisions": self._metric(m.MODEL_DECISIONS, sum_, "model decisions", RATE_PERIOD),
            },
            label="fallbacks / (fallbacks + model decisions) %",
            period=RATE_PERIOD,
        )
        percent = cloudwatch.YAxisProps(min=0, max=100, label="%", show_units=False)
        return [
            cloudwatch.GraphWidget(
                title="Human reject rate (hourly)", left=[reject_rate], left_y_axis=percent, width=12
            ),
            cloudwatch.GraphWidget(
                title="Model fallback rate (hourly)", left=[fallback_rate], left_y_axis=percent, width=12
            ),
        ]

    def _model_widgets(self) -> list[cloudwatch.IWidget]:
        sum_ = cloudwatch.Stats.SUM
        tokens_in = self._metric(m.MODEL_TOKENS_IN, sum_, "tokens in", RATE_PERIOD)
        tokens_out = self._metric(m.MODEL_TOKENS_OUT, sum_, "tokens out", RATE_PERIOD)
        cost = self._metric(m.MODEL_COST_USD, sum_, "cost (USD)", RATE_PERIOD)
        opened = self._metric(m.INCIDENTS_OPENED, sum_, "incidents opened", RATE_PERIOD)
        cost_per_incident = cloudwatch.MathExpression(
            expression=guarded_ratio("FILL(cost, 0)", "FILL(opened, 0)"),
            using_metrics={"cost": cost, "opened": opened},
            label="cost per incident (USD)",
            period=RATE_PERIOD,
        )
        tokens_per_incident = cloudwatch.MathExpression(
            expression=guarded_ratio("FILL(tokensIn, 0) + FILL(tokensOut, 0)", "FILL(opened, 0)"),
            using_metrics={"tokensIn": tokens_in, "tokensOut": tokens_out, "opened": opened},
            label="tokens per incident",
            period=RATE_PERIOD,
        )
        return [
            cloudwatch.GraphWidget(
                title="Model tokens and cost (hourly)", left=[tokens_in, tokens_out], right=[cost], width=12
            ),
            cloudwatch.GraphWidget(
                title="Model cost and tokens per incident opened (hourly)",
                left=[cost_per_incident],
                right=[tokens_per_incident],
                width=12,
            ),
        ]

    def _agent_widgets(self, functions: Mapping[str, lambda_.IFunction]) -> list[cloudwatch.IWidget]:
        return [
            cloudwatch.GraphWidget(
                title="Lambda errors per agent",
                left=[
                    fn.metric_errors(statistic=cloudwatch.Stats.SUM, label=agent)
                    for agent, fn in functions.items()
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Lambda duration per agent (p90, ms)",
                left=[
                    fn.metric_duration(statistic=cloudwatch.Stats.p(90), label=agent)
                    for agent, fn in functions.items()
                ],
                width=12,
            ),
        ]

    def _platform_widgets(
        self, state_machine: sfn.IStateMachine, queues: Mapping[str, sqs.IQueue]
    ) -> list[cloudwatch.IWidget]:
        sum_ = cloudwatch.Stats.SUM
        return [
            cloudwatch.GraphWidget(
                title="State machine executions",
                left=[
                    state_machine.metric_started(statistic=sum_, label="started"),
                    state_machine.metric_succeeded(statistic=sum_, label="succeeded"),
                    state_machine.metric_failed(statistic=sum_, label="failed"),
                    state_machine.metric_timed_out(statistic=sum_, label="timed out"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queue depth",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        statistic=cloudwatch.Stats.MAXIMUM, label=name
                    )
                    for name, queue in queues.items()
                ],
                width=8,
            ),
            cloudwatch.AlarmStatusWidget(
                title="controlroom ops alarms", alarms=list(self.alarms.values()), width=8, height=6
            ),
        ]
