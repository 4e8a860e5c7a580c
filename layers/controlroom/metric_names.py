"""The business metrics controlroom emits, shared by the agents (which emit them) and the CDK app
(whose dashboard and alarms read them).

Every metric is published as CloudWatch EMF by Powertools Metrics in the ``Controlroom`` namespace with
two dimensions, ``service=controlroom`` and ``environment=<env>`` (the ENVIRONMENT variable), so dev,
staging and prod in one account never mix. This module has no imports: the CDK app reads it too.
"""

from __future__ import annotations

NAMESPACE = "Controlroom"
SERVICE = "controlroom"
SERVICE_DIMENSION = "service"
ENVIRONMENT_DIMENSION = "environment"

# Incidents (Intake, Close, Escalate); counts.
INCIDENTS_OPENED = "IncidentsOpened"
INCIDENTS_DEDUPLICATED = "IncidentsDeduplicated"
INCIDENTS_RESOLVED = "IncidentsResolved"
ESCALATIONS = "Escalations"
# Escalations whose reason is approval_timeout (nobody decided in time); counts.
APPROVAL_TIMEOUTS = "ApprovalTimeouts"
# Policy quarantined the plan: the diagnosis confidence was below the environment's threshold; counts.
QUARANTINES = "Quarantines"

# The kill switch (controlroom.autonomy): Policy decided "halted", or Execute stopped before an action
# because the switch was on; counts. AutonomyHalted is a gauge (1 while on, 0 while off), emitted by
# the CLI/monitor when the switch is read or flipped.
AUTONOMY_HALTED_DECISIONS = "AutonomyHaltedDecisions"
AUTONOMY_HALTED_ACTIONS = "AutonomyHaltedActions"
AUTONOMY_HALTED = "AutonomyHalted"

# The shadow/advice scorecard (`controlroom scorecard --publish`), per action kind (dimension action_kind):
# rates in [0, 1], cost in USD, incidents counted, and 1/0 for whether the kind meets the promotion criteria.
SCORECARD_DIMENSION = "action_kind"
SCORECARD_INCIDENTS = "ScorecardIncidents"
SCORECARD_AGREEMENT_RATE = "ScorecardAgreementRate"
SCORECARD_OVERRIDE_RATE = "ScorecardOverrideRate"
SCORECARD_FALSE_POSITIVE_RATE = "ScorecardFalsePositiveRate"
SCORECARD_COST_PER_INCIDENT = "ScorecardCostPerIncidentUsd"
SCORECARD_MEETS_CRITERIA = "ScorecardMeetsCriteria"

# Approvals (RequestApproval, the approval callback).
APPROVALS_REQUESTED = "ApprovalsRequested"
APPROVALS_APPROVED = "ApprovalsApproved"
APPROVALS_REJECTED = "ApprovalsRejected"
# Gauge: approvals still waiting for a decision, emitted after each request and each decision.
APPROVALS_PENDING = "ApprovalsPending"

# Durations, in seconds.
# Alarm time (the alarm's state-change timestamp) to the approval request being sent.
TIME_TO_APPROVAL_REQUEST = "TimeToApprovalRequest"
# Approval request to the deciding vote (approve or reject).
TIME_TO_DECISION = "TimeToDecision"
# Alarm time to Verify seeing the workload recovered.
TIME_TO_RECOVERY = "TimeToRecovery"

# The model path (Diagnose, Plan).
MODEL_DECISIONS = "ModelDecisions"  # a decision the model produced (validated)
# The rules produced it instead: the model failed, was over budget or its breaker was open (a model
# that is switched off is not a fallback: nothing is counted).
MODEL_FALLBACKS = "ModelFallbacks"
MODEL_CALLS = "ModelCalls"
MODEL_TOKENS_IN = "ModelTokensIn"
MODEL_TOKENS_OUT = "ModelTokensOut"
MODEL_COST_USD = "ModelCostUsd"
MODEL_BREAKER_OPENED = "ModelBreakerOpened"  # the circuit breaker tripped open
TOKEN_BUDGET_EXHAUSTED = "TokenBudgetExhausted"  # an incident hit its token budget
# An incident's model calls crossed 80 % of its token budget (counted once per incident); ops alarm.
TOKEN_BUDGET_SOFT_LIMIT = "TokenBudgetSoftLimit"

# Every agent (the runtime).
AGENT_INVOCATIONS = "AgentInvocations"
AGENT_ERRORS = "AgentErrors"
AGENT_DURATION = "AgentDuration"  # milliseconds
CONTRACT_VIOLATIONS = "ContractViolations"

# Intake's admission path (the alarm rule invokes Intake; see controlroom.agents.admission); counts.
# A duplicate folded into an incident whose execution is no longer running (ended unclosed, or never
# started): the alarm would be silenced, so an ops alarm pages on any.
DUPLICATES_WITHOUT_EXECUTION = "DuplicatesWithoutExecution"
# An execution FAILED, TIMED_OUT or was ABORTED with its incident open: escalated and its lock released.
EXECUTIONS_RELEASED = "ExecutionsReleased"
