"""A handler's cold import builds only the contracts it reads, and builds none of their validators."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.lambda_import import HANDLERS, REPO, run_as_lambda

# Import every handler as Lambda does (one interpreter), then list each controlroom model class, whether it
# asked for defer_build and whether its validator was built by the import anyway.
_EVERY_MODEL = """
import __future__, importlib.util, json, sys
from pydantic import BaseModel
for index, path in enumerate(sys.argv[1:]):
    spec = importlib.util.spec_from_file_location(f"handler_{index}", path)
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
seen, stack = {}, [BaseModel]
while stack:
    for cls in stack.pop().__subclasses__():
        stack.append(cls)
        if cls.__module__.startswith("controlroom"):
            seen[f"{cls.__module__}.{cls.__qualname__}"] = {
                "defer_build": cls.model_config.get("defer_build") is True,
                "built": bool(cls.__pydantic_complete__),
                # from __future__ import annotations binds the feature in the module: every field's
                # annotation is then a string that pydantic compiles and evaluates, twice the class's cost.
                "postponed": getattr(sys.modules[cls.__module__], "annotations", None) is __future__.annotations,
            }
print(json.dumps(seen))
"""
_LOADED = """
import importlib.util, json, sys
from pydantic import BaseModel
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
classes, stack = [], [BaseModel]
while stack:
    for cls in stack.pop().__subclasses__():
        stack.append(cls)
        classes.append(cls.__name__)
modules = sorted(name for name in sys.modules if name.startswith("controlroom.contracts"))
print(json.dumps({"modules": modules, "classes": sorted(classes)}))
"""
NOT_YET_FIXED: set[str] = set()  # models that may break a rule; an entry that no longer does fails the test
# What a handler must not load: contract modules that define models its input and output never reference.
NOT_NEEDED = {
    "diagnose": {
        "approval",
        "execution",
        "plan",
        "actions",
        "policy",
        "alarm",
        "deployment",
        "flow.plan",
        "flow.execute",
    },
    "evidence": {
        "approval",
        "diagnosis",
        "plan",
        "actions",
        "execution",
        "policy",
        "alarm",
        "deployment",
        "flow.diagnose",
    },
    "verify": {
        "approval",
        "evidence",
        "graph",
        "diagnosis",
        "plan",
        "actions",
        "policy",
        "alarm",
        "deployment",
    },
    "intake": {
        "approval",
        "evidence",
        "graph",
        "diagnosis",
        "plan",
        "actions",
        "execution",
        "policy",
        "deployment",
    },
    "plan": {"approval", "execution", "policy", "alarm", "deployment", "flow.policy", "flow.execute"},
    "close": {"approval", "evidence", "graph", "diagnosis", "alarm", "deployment", "flow.escalate"},
    "execute": {"evidence", "graph", "diagnosis", "alarm", "deployment", "flow.policy"},
    "deploy_approval": {"evidence", "graph", "diagnosis", "plan", "actions", "execution", "policy", "flow"},
    "deploy_preflight": {
        "approval",
        "evidence",
        "graph",
        "diagnosis",
        "plan",
        "actions",
        "execution",
        "policy",
        "flow",
    },
}

# The deployment flow's stages read the earlier stages' outputs, never the later ones'.
NOT_BUILT = {
    "deploy_preflight": {"DeployPolicyDecision", "ShiftResult", "GuardVerdict", "DeployCloseInput"},
    "deploy_policy": {"ShiftResult", "GuardVerdict", "DeployCloseResult", "DeploymentRequestedEvent"},
    "deploy_approval": {"ShiftResult", "GuardVerdict", "DeployCloseResult", "DeploymentRequestedEvent"},
    "traffic_shifter": {"GuardVerdict", "VersionStats", "DeployCloseInput", "DeploymentRequest"},
}


def test_every_model_a_handler_loads_is_cheap_to_define(tmp_path: Path) -> None:
    # When every handler is imported (init phase), in one interpreter
    models = run_as_lambda(_EVERY_MODEL, [str(path) for path in HANDLERS], tmp_path)
    assert isinstance(models, dict) and len(models) > 50
    # Then every controlroom model class asked for defer_build, no import built its validator anyway,
    # and none is defined under postponed annotations
    costly = sorted(
        name
        for name, model in models.items()
        if not model["defer_build"] or model["built"] or model["postponed"]
    )
    assert [name for name in costly if name not in NOT_YET_FIXED] == []
    # And every exception still breaks a rule (a stale entry would hide a regression)
    assert sorted(NOT_YET_FIXED - set(costly)) == []


@pytest.mark.parametrize("agent", sorted(NOT_NEEDED))
def test_a_handler_loads_only_the_contract_modules_its_models_need(agent: str, tmp_path: Path) -> None:
    # When Lambda imports the agent's handler module
    loaded = run_as_lambda(_LOADED, [str(REPO / "functions" / agent / "handler.py")], tmp_path)
    assert isinstance(loaded, dict) and "controlroom.contracts.base" in loaded["modules"]
    # Then none of the contract modules its input and output do not reference was imported
    unneeded = {f"controlroom.contracts.{name}" for name in NOT_NEEDED[agent]}
    assert sorted(unneeded & set(loaded["modules"])) == []


@pytest.mark.parametrize("agent", sorted(NOT_BUILT))
def test_a_deployment_agent_defines_only_its_stages_contracts(agent: str, tmp_path: Path) -> None:
    # When Lambda imports the deployment agent's handler module
    loaded = run_as_lambda(_LOADED, [str(REPO / "functions" / agent / "handler.py")], tmp_path)
    assert isinstance(loaded, dict) and "DeploymentRef" in loaded["classes"]
    # Then the contracts of the later stages, which its input does not name, were never defined
    assert sorted(NOT_BUILT[agent] & set(loaded["classes"])) == []
