"""The one rule tying an incident's time budget to its execution's backstop timeout.

Agents stop at the incident's deadline (``opened_at + INCIDENT_TIME_BUDGET_SECONDS``); the state
machine's ``TimeoutSeconds`` is the backstop past which Step Functions stops the execution. The
backstop must leave room for the approval wait (a ``waitForTaskToken`` state can wait its whole
``ApprovalTimeoutSeconds``) and for Escalate to run after the agents stopped. The CDK app renders it into
the ASL and Intake uses it for the dedupe lock's lease, so the two can never disagree.
"""

from __future__ import annotations

# Time Escalate (and Close) get after the agents' deadline, and the lock's margin past the backstop.
ESCALATION_MARGIN_SECONDS = 300


def execution_timeout_seconds(incident_time_budget_seconds: int, approval_timeout_seconds: int) -> int:
    """The execution's backstop: incident budget + approval wait + the escalation margin.

    Parameters
    ----------
    incident_time_budget_seconds
        How long agents may work on an incident.
    approval_timeout_seconds
        How long RequestApproval waits for a decision.

    Returns
    -------
    int
        Seconds, for the ASL's ``TimeoutSeconds`` (and the lease of the incident's dedupe lock).
    """
    if incident_time_budget_seconds < 1 or approval_timeout_seconds < 0:
        raise ValueError("the incident budget must be positive and the approval timeout non-negative")
    return incident_time_budget_seconds + approval_timeout_seconds + ESCALATION_MARGIN_SECONDS


def lock_lease_seconds(incident_time_budget_seconds: int, approval_timeout_seconds: int) -> int:
    """How long a started incident's dedupe lock holds without its execution releasing it.

    The backstop plus the margin: by then Step Functions has stopped the execution, so a lock still
    held belongs to an execution that ended without releasing it (a lost status-change event).
    """
    return (
        execution_timeout_seconds(incident_time_budget_seconds, approval_timeout_seconds)
        + ESCALATION_MARGIN_SECONDS
    )
