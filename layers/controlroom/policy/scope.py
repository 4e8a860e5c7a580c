"""Bind a plan to its incident: which resources an action may touch, and what each action touches.

A model (or a runbook) chooses the actions, so nothing in a plan may decide where it is allowed to
act. The allowed resources come from the incident (the alarmed resource) and the diagnosis (what
each hypothesis blames and the ranked graph candidates); Cedar is then told, per action, whether
its target is one of them (``target_in_scope``) and refuses it otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from controlroom.contracts import (
    IncidentRef,
    NotifyOnly,
    RollbackEcsService,
    RollbackLambdaAlias,
    RunSsmAutomation,
    StopCodeDeployDeployment,
)

if TYPE_CHECKING:
    # Annotations only: Execute binds its actions through this module and reads no diagnosis or evidence.
    from controlroom.contracts import Diagnosis, EvidenceBundle


@dataclass(frozen=True)
class ScopedResource:
    """A resource the incident names or the diagnosis blames; ``cluster``/``arn`` when known."""

    kind: str
    name: str
    cluster: str | None = None
    arn: str | None = None

    def matches(self, kind: str, name: str, cluster: str | None = None) -> bool:
        if self.kind != kind or self.name != name:
            return False
        return cluster is None or self.cluster is None or self.cluster == cluster


@dataclass(frozen=True)
class PlanScope:
    """What the plan of one incident may act on."""

    resources: tuple[ScopedResource, ...]
    deployments: frozenset[str] = field(default_factory=frozenset)

    def describe(self) -> str:
        return ", ".join(f"{r.kind}:{r.name}" for r in self.resources) or "nothing"


def plan_scope(incident: IncidentRef, diagnosis: Diagnosis, evidence: EvidenceBundle) -> PlanScope:
    """The incident's resource, every blamed resource and every ranked candidate.

    CodeDeploy deployments are in scope when Evidence found them among the incident's changes (a
    deployment id names no resource by itself).
    """
    resource = incident.resource
    found = [ScopedResource(resource.kind, resource.name, resource.cluster)]
    for hypothesis in diagnosis.hypotheses:
        if blamed := hypothesis.blamed:
            found.append(ScopedResource(blamed.kind, blamed.name, blamed.cluster, blamed.arn))
    found += [ScopedResource(c.kind, c.name, arn=c.arn) for c in diagnosis.candidates]
    deployments = frozenset(
        change.current
        for change in evidence.changes
        if change.kind == "codedeploy_deployment" and change.current
    )
    return PlanScope(tuple(dict.fromkeys(found)), deployments)


def action_resource(action: object, scope: PlanScope) -> ScopedResource | None:
    """The resource an action changes, as a scope entry would name it; None if it names none.

    An SSM Automation document acts on whatever its parameters name: it is bound to the first
    in-scope resource a parameter value names (by name or ARN), and to nothing otherwise.
    """
    if isinstance(action, RollbackLambdaAlias):
        return ScopedResource("lambda_function", action.function_name)
    if isinstance(action, RollbackEcsService):
        return ScopedResource("ecs_service", action.service, action.cluster)
    if isinstance(action, RunSsmAutomation):
        values = {value for values in action.parameters.values() for value in values}
        return next((r for r in scope.resources if r.name in values or (r.arn and r.arn in values)), None)
    return None


def in_scope(action: object, scope: PlanScope) -> bool:
    """Whether the action's target is one the incident names or the diagnosis blames."""
    if isinstance(action, NotifyOnly):
        return True  # changes nothing
    if isinstance(action, StopCodeDeployDeployment):
        return action.deployment_id in scope.deployments
    target = action_resource(action, scope)
    if target is None:
        return False
    return any(r.matches(target.kind, target.name, target.cluster) for r in scope.resources)


def out_of_scope(actions: Iterable[object], scope: PlanScope) -> list[str]:
    """Ids of the actions whose target is outside the scope (for messages)."""
    return [str(getattr(a, "action_id", "?")) for a in actions if not in_scope(a, scope)]
