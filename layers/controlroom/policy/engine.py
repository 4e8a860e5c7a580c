"""The Cedar policy engine: policies loaded from the *.cedar files once, one verdict per action."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from controlroom.lazy import defer_submodule

# cedarpy's package init imports its typed policy AST (cedarpy.pst: some 30 frozen dataclasses, ~12 ms of
# every cold start) that only policies_to_pst returns, which we never call.
defer_submodule("cedarpy", "pst")

import cedarpy  # noqa: E402

from controlroom.errors import ConfigurationError  # noqa: E402

POLICY_DIR = Path(__file__).parent
NAMESPACE = "Controlroom"
AUTO_EXECUTE = "auto_execute"
EXECUTE_WITH_APPROVAL = "execute_with_approval"
DEFAULT_DENY = "default-deny"

Effect = Literal["allow", "needs_approval", "deny"]


@dataclass(frozen=True)
class ActionQuery:
    """Everything Cedar is told about one action; nothing here comes from model text except the target."""

    environment: str
    autonomy_mode: str
    action_type: str
    risk: str
    target: str
    confidence: float
    tags: Mapping[str, str] = field(default_factory=dict)
    ssm_document: str = ""
    ssm_document_allowlist: Sequence[str] = ()
    # Deployments only (action_type "deploy"): a change freeze is on, and whether break-glass was asked.
    in_freeze: bool | None = None
    break_glass: bool | None = None
    # Both default to False so a caller that forgets them is refused, never waved through.
    target_in_scope: bool = False
    target_tags_read: bool = False


@dataclass(frozen=True)
class Verdict:
    effect: Effect
    reasons: list[str]


class PolicyEngine:
    """A parsed, schema-validated Cedar policy set that answers per-action questions.

    Parameters
    ----------
    sources
        Policy text by source name (a file name); each is parsed on its own so an error names its file.
    schema_text
        The Cedar schema in JSON form; policies and every request are validated against it.
    """

    def __init__(self, sources: Mapping[str, str], schema_text: str) -> None:
        if not sources:
            raise ConfigurationError("no Cedar policies found: refusing to run with an empty policy set")
        try:
            self._schema = cedarpy.Schema.from_json_str(schema_text)
        except ValueError as exc:
            raise ConfigurationError(f"Cedar schema does not parse: {exc}") from exc
        ids: list[str] = []
        for name, text in sources.items():
            ids.extend(_policy_ids(name, text))
        duplicates = sorted({policy_id for policy_id in ids if ids.count(policy_id) > 1})
        if duplicates:
            raise ConfigurationError(f"Cedar policy ids are not unique: {', '.join(duplicates)}")
        text = "\n".join(sources.values())
        validation = cedarpy.validate_policies(text, self._schema)
        if not validation.validation_passed:
            problems = "; ".join(str(error) for error in validation.errors[:5])
            raise ConfigurationError(f"Cedar policies do not match the schema: {problems}")
        self._policies = cedarpy.PolicySet.from_str(text)
        self.policy_ids = tuple(ids)

    def decide(self, query: ActionQuery) -> Verdict:
        """Ask auto_execute, then execute_with_approval; the first allowed answer decides.

        Parameters
        ----------
        query
            The action as Cedar sees it.

        Returns
        -------
        Verdict
            ``allow`` (runs on its own), ``needs_approval`` or ``deny``, with the ids of the
            policies that decided (forbids that blocked auto execution are kept as reasons too).
        """
        auto, approval = cedarpy.is_authorized_batch(
            [_request(query, AUTO_EXECUTE), _request(query, EXECUTE_WITH_APPROVAL)],
            self._policies,
            [_target_entity(query)],
            schema=self._schema,
        )
        for result in (auto, approval):
            if result.diagnostics.errors:
                raise ConfigurationError(
                    f"Cedar could not evaluate {query.action_type}: {'; '.join(result.diagnostics.errors)}"
                )
        if auto.allowed:
            return Verdict("allow", _ids(auto))
        if approval.allowed:
            return Verdict("needs_approval", [*_ids(approval), *_ids(auto)])
        return Verdict("deny", sorted({*_ids(auto), *_ids(approval)}) or [DEFAULT_DENY])


def _policy_ids(name: str, text: str) -> list[str]:
    try:
        parsed = json.loads(cedarpy.policies_to_json_str(text))
    except ValueError as exc:
        raise ConfigurationError(f"Cedar policy file {name} does not parse: {exc}") from exc
    if parsed.get("templates"):
        raise ConfigurationError(f"Cedar policy file {name} holds templates; only static policies are used")
    ids = []
    for position, policy in parsed.get("staticPolicies", {}).items():
        policy_id = policy.get("annotations", {}).get("id")
        if not policy_id:
            raise ConfigurationError(f"Cedar policy {position} in {name} has no @id annotation")
        ids.append(str(policy_id))
    return ids


def _ids(result: cedarpy.AuthzResult) -> list[str]:
    by_reason = result.diagnostics.id_annotations_by_reason
    return [by_reason.get(reason, reason) for reason in result.diagnostics.reasons]


def _request(query: ActionQuery, action: str) -> dict[str, Any]:
    return {
        "principal": {"type": f"{NAMESPACE}::Environment", "id": query.environment},
        "action": {"type": f"{NAMESPACE}::Action", "id": action},
        "resource": {"type": f"{NAMESPACE}::Target", "id": query.target},
        "context": {
            "autonomy_mode": query.autonomy_mode,
            "environment": query.environment,
            "action_type": query.action_type,
            "risk": query.risk,
            # Cedar has no floats: decimal() holds up to four fractional digits.
            "confidence": {"__extn": {"fn": "decimal", "arg": f"{query.confidence:.4f}"}},
            "ssm_document": query.ssm_document,
            "ssm_document_allowlist": sorted(query.ssm_document_allowlist),
            **({"in_freeze": query.in_freeze} if query.in_freeze is not None else {}),
            **({"break_glass": query.break_glass} if query.break_glass is not None else {}),
            "target_in_scope": query.target_in_scope,
            "target_tags_read": query.target_tags_read,
        },
    }


def _target_entity(query: ActionQuery) -> dict[str, Any]:
    return {
        "uid": {"type": f"{NAMESPACE}::Target", "id": query.target},
        "attrs": {},
        "parents": [],
        "tags": {str(key): str(value) for key, value in query.tags.items()},
    }


def load_engine(directory: Path = POLICY_DIR, extra_sources: Mapping[str, str] | None = None) -> PolicyEngine:
    """Read every *.cedar file and schema.json in ``directory`` into an engine; any error is loud.

    Parameters
    ----------
    directory
        Folder holding the policy files (the package folder by default).
    extra_sources
        More policy text by name (tests add a permissive policy to prove the forbids hold).

    Raises
    ------
    ConfigurationError
        A file does not parse, a policy lacks an @id, or the policies do not match the schema.
    """
    sources = {path.name: path.read_text(encoding="utf-8") for path in sorted(directory.glob("*.cedar"))}
    sources.update(extra_sources or {})
    schema_path = directory / "schema.json"
    if not schema_path.exists():
        schema_path = POLICY_DIR / "schema.json"
    return PolicyEngine(sources, schema_path.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def default_engine() -> PolicyEngine:
    """The engine over the packaged policies, built once per process (cold start)."""
    return load_engine()
