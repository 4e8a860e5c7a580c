"""Named errors: each class name is the error name the ASL matches in Retry and Catch."""

from __future__ import annotations


class ControlroomError(Exception):
    """Base of every error controlroom raises on purpose.

    The Lambda runtime reports an exception's class name as ``errorType``; the state machine
    matches on it, so renaming a subclass is a breaking change to the ASL.
    """

    retryable = False


class ContractViolation(ControlroomError):
    """An agent's input or output does not match its versioned contract."""


class UnsupportedEvent(ControlroomError):
    """Intake received something that is not a CloudWatch alarm state change it understands."""


class EventTooLarge(ControlroomError):
    """The event is too close to (or over) the 256 KB payload limit to carry through the flow."""


class AlarmClockSkew(ControlroomError):
    """The alarm's timestamp is further from now than ALARM_MAX_CLOCK_SKEW_SECONDS (a replay or a bad clock)."""


class TransientDependencyError(ControlroomError):
    """A dependency failed in a way worth retrying (throttling, 5xx, timeouts)."""

    retryable = True


class TimeBudgetExceeded(ControlroomError):
    """The agent ran out of its time budget before it could finish."""


class HandoffLimitExceeded(ControlroomError):
    """The flow handed work between agents more often than allowed: a loop is suspected."""


class IncidentNotFound(ControlroomError):
    """No incident with that id exists in the checkpoint table."""


class ApprovalNotFound(ControlroomError):
    """No approval with that id exists."""


class DeploymentNotFound(ControlroomError):
    """No deployment with that id exists (no status item and no decision record)."""


class ApprovalAlreadyDecided(ControlroomError):
    """The approval was decided before (the first decision wins)."""


class ApprovalExpired(ControlroomError):
    """The approval expired before a decision arrived."""


class ApprovalRejected(ControlroomError):
    """A human rejected the plan: the flow ends Rejected, nothing is executed."""


class ActionNotAllowed(ControlroomError):
    """Execute was asked to run an action the policy decision did not allow."""


class ActionFailed(ControlroomError):
    """An action adapter could not complete its change."""


class IntentNotRecorded(ActionFailed):
    """Execute could not audit what it was about to change, so it changed nothing.

    A subclass of ActionFailed: the state machine escalates it like any other failed action.
    """


class AuditChainBroken(ControlroomError):
    """The audit chain of an incident does not verify."""


class AuditConflict(ControlroomError):
    """Another writer appended to the same audit chain first; retry the append."""

    retryable = True


class BudgetExhausted(ControlroomError):
    """The incident's token budget is spent: no further model calls."""


class ConfigurationError(ControlroomError):
    """The environment the code runs in is missing or has a bad setting."""


class ApprovalForbidden(ControlroomError):
    """The approval link's signature does not verify, or the approver is not on the approval's list."""


class ApprovalPlanMismatch(ControlroomError):
    """The plan the approver saw is not the plan waiting for approval (its digest differs)."""


class ApprovalNotWaiting(ControlroomError):
    """The execution is no longer waiting for this decision (task timed out, gone, or token invalid)."""


class SchemaVersionUnsupported(ControlroomError):
    """A stored item was written by a newer controlroom (its schema_version is above what this code reads)."""


class InvalidDeploymentRequest(ControlroomError):
    """A deployment request is not a valid ``controlroom.deployment.requested`` event or request."""


class DeploymentNotOptedIn(ControlroomError):
    """The function is neither tagged nor named for controlroom deployments: its alias is never moved."""


class ShiftNotVerified(ControlroomError):
    """After a traffic change the alias does not route as intended (read back from Lambda)."""

    retryable = True


class KillSwitchEngaged(ControlroomError):
    """The environment's kill switch says halt: nothing changes."""


class AutonomyHalted(ControlroomError):
    """The environment's kill switch is on: nothing executes, the incident escalates as ``halted``."""
