"""The Diagnose agent: ranked hypotheses about the cause, each citing the evidence behind it."""

from __future__ import annotations

from datetime import timedelta

from controlroom.agents.diagnose_graph import graph_hypotheses, ranked_candidates
from controlroom.contracts import ChangeRecord, Diagnosis, EvidenceBundle, Hypothesis, IncidentRef
from controlroom.contracts.flow.diagnose import DiagnoseInput
from controlroom.llm import diagnose_with_model, with_notes
from controlroom.runtime import AgentContext, AgentSpec
from controlroom.settings import settings as load_settings

RECENT_CHANGE_CONFIDENCE = 0.85
RECENT_CHANGE_WITHOUT_METRICS_CONFIDENCE = 0.75
DEPLOYMENT_IN_PROGRESS_CONFIDENCE = 0.8
SATURATION_CONFIDENCE = 0.4
UNKNOWN_CONFIDENCE = 0.3
# CodeDeploy statuses of a deployment that is still shifting traffic or waiting to.
ACTIVE_DEPLOYMENT_STATUSES = frozenset({"Created", "Queued", "InProgress", "Baking", "Ready"})
_SATURATION_WORDS = ("cpu", "memory", "throttle")
_MAX_HYPOTHESES = 5


def _metric_refs(evidence: EvidenceBundle) -> list[str]:
    return [series.ref for series in evidence.metrics if series.values]


def _log_refs(evidence: EvidenceBundle) -> list[str]:
    return [sample.ref for sample in evidence.logs[:5]]


def _in_change_window(change: ChangeRecord, incident: IncidentRef, window_minutes: int) -> bool:
    fired_at = incident.alarm.fired_at
    return fired_at - timedelta(minutes=window_minutes) <= change.changed_at <= fired_at


def _change_hypotheses(
    incident: IncidentRef, evidence: EvidenceBundle, window_minutes: int
) -> list[Hypothesis]:
    """Rule 1: a change to the alarm's resource shortly before it fired; an active deployment."""
    metric_refs, log_refs = _metric_refs(evidence), _log_refs(evidence)
    confidence = RECENT_CHANGE_CONFIDENCE if metric_refs else RECENT_CHANGE_WITHOUT_METRICS_CONFIDENCE
    found: list[Hypothesis] = []
    for change in evidence.changes:
        if change.resource_name != incident.resource.name:
            continue
        refs = [change.ref, *metric_refs, *log_refs]
        if change.kind == "codedeploy_deployment" and change.status in ACTIVE_DEPLOYMENT_STATUSES:
            found.append(
                Hypothesis(
                    cause="deployment_in_progress",
                    confidence=DEPLOYMENT_IN_PROGRESS_CONFIDENCE,
                    evidence_refs=refs,
                    change_ref=change.ref,
                    summary=f"CodeDeploy deployment {change.current} is {change.status} while the alarm fired."[
                        :500
                    ],
                )
            )
        elif _in_change_window(change, incident, window_minutes):
            found.append(
                Hypothesis(
                    cause="recent_change",
                    confidence=confidence,
                    evidence_refs=refs,
                    change_ref=change.ref,
                    summary=(
                        f"{incident.alarm.alarm_name} fired {_minutes_after(change, incident)} min after a change: "
                        f"{change.summary}"
                    )[:500],
                )
            )
    return found


def _minutes_after(change: ChangeRecord, incident: IncidentRef) -> int:
    return int((incident.alarm.fired_at - change.changed_at).total_seconds() // 60)


def _residual_hypothesis(incident: IncidentRef, evidence: EvidenceBundle) -> Hypothesis:
    """No change explains it: saturation if the metric name says so, otherwise unknown."""
    metric_name = (incident.alarm.metric_name or "").lower()
    refs = [*_metric_refs(evidence), *_log_refs(evidence)]
    if any(word in metric_name for word in _SATURATION_WORDS):
        return Hypothesis(
            cause="resource_saturation",
            confidence=SATURATION_CONFIDENCE,
            evidence_refs=refs,
            summary=f"{incident.alarm.metric_name} suggests the resource is saturated; no recent "
            f"change to {incident.resource.name} was found.",
        )
    return Hypothesis(
        cause="unknown",
        confidence=UNKNOWN_CONFIDENCE,
        evidence_refs=refs,
        summary=f"No recent change to {incident.resource.name} explains {incident.alarm.alarm_name}; "
        "a human should look.",
    )


def fallback_diagnosis(request: DiagnoseInput, change_window_minutes: int | None = None) -> Diagnosis:
    """The deterministic rules, ranked by confidence (highest first).

    Parameters
    ----------
    request
        The incident and its evidence bundle.
    change_window_minutes
        How long before the alarm a change still counts as its likely cause; defaults to the
        CHANGE_WINDOW_MINUTES setting.

    Returns
    -------
    Diagnosis
        ``produced_by="fallback"``, with the ranked service-graph candidates when Evidence found a graph
        (one hypothesis per top candidate, each naming the resource it blames); "recent_change" /
        "deployment_in_progress" when a change to the alarmed resource explains the alarm, otherwise
        "resource_saturation" or "unknown".
    """
    incident = request.incident
    if change_window_minutes is None:
        change_window_minutes = load_settings().CHANGE_WINDOW_MINUTES
    candidates = ranked_candidates(incident, request.evidence)
    # Graph hypotheses first: on equal confidence the node the ranking blames beats the alarmed one.
    hypotheses = [
        *graph_hypotheses(incident, request.evidence, candidates),
        *_change_hypotheses(incident, request.evidence, change_window_minutes),
    ]
    if not hypotheses:
        hypotheses = [_residual_hypothesis(incident, request.evidence)]
    ranked = sorted(hypotheses, key=lambda hypothesis: hypothesis.confidence, reverse=True)
    return Diagnosis(hypotheses=ranked[:_MAX_HYPOTHESES], produced_by="fallback", candidates=candidates[:20])


def diagnose(request: DiagnoseInput, ctx: AgentContext) -> Diagnosis:
    """The Diagnose agent's logic: the model when configured and healthy, these rules otherwise."""
    diagnosis = diagnose_with_model(
        request, ctx, lambda req: fallback_diagnosis(req, ctx.settings.CHANGE_WINDOW_MINUTES)
    )
    ctx.summary = with_notes(ctx, summarise_diagnosis(diagnosis))
    return diagnosis


def summarise_diagnosis(diagnosis: Diagnosis) -> str:
    """E.g. "recent_change (0.85), blames lambda_function checkout-api" (the timeline's line)."""
    top = diagnosis.top
    blamed = f", blames {top.blamed.kind} {top.blamed.name}" if top.blamed is not None else ""
    return f"{top.cause} ({top.confidence:.2f}){blamed}"


DIAGNOSE: AgentSpec[DiagnoseInput, Diagnosis] = AgentSpec(
    name="diagnose",
    input_model=DiagnoseInput,
    output_model=Diagnosis,
    logic=diagnose,
    summarise=summarise_diagnosis,
    confidence_of=lambda diagnosis: diagnosis.confidence,
)
