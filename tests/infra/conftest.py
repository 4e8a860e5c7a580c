"""Fixtures of the infrastructure tests: one synthesized template per environment, shared by the session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra_cdk.components.permissions import AGENTS
from infra_cdk.config import ROOT

STUB_HANDLER = '"""Test stand-in: the real handler is not written yet."""\n\n\ndef handler(event, context):\n    return event\n'


def make_functions_dir(target: Path) -> Path:
    """A functions/ folder for synth: the real handlers where they exist, stand-ins for the missing ones."""
    for agent in AGENTS:
        folder = target / agent
        real = ROOT / "functions" / agent / "handler.py"
        folder.mkdir(parents=True, exist_ok=True)
        if real.is_file():
            shutil.copyfile(real, folder / "handler.py")
        else:
            (folder / "handler.py").write_text(STUB_HANDLER)
    return target


@pytest.fixture(scope="session")
def functions_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_functions_dir(tmp_path_factory.mktemp("functions"))


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory, functions_dir: Path) -> Callable[..., Any]:
    """Synthesize one environment (cached per context) and return (stack, Template)."""
    from aws_cdk.assertions import Template
    from infra_cdk.app import build_app

    cache: dict[tuple[tuple[str, str], ...], Any] = {}

    def _synth(env: str, **overrides: str) -> Any:
        # Tests never download wheels: every environment is synthesized with the source-only layer.
        context = {
            "env": env,
            "override:layer_mode": "source-only",
            **{f"override:{key}": value for key, value in overrides.items()},
        }
        key = tuple(sorted(context.items()))
        if key not in cache:
            outdir = tmp_path_factory.mktemp(f"cdk-{env}")
            _, stack = build_app(context, outdir=str(outdir), functions_dir=functions_dir)
            cache[key] = (stack, Template.from_stack(stack))
        return cache[key]

    return _synth


@pytest.fixture(scope="session")
def local(synth: Callable[..., Any]) -> Any:
    """(stack, Template) of the local environment."""
    return synth("local")


@pytest.fixture(scope="session")
def local_template(local: Any) -> Any:
    return local[1]


@pytest.fixture(scope="session")
def local_json(local_template: Any) -> dict[str, Any]:
    return dict(local_template.to_json())


@pytest.fixture(scope="session")
def prod(synth: Callable[..., Any]) -> Any:
    """(stack, Template) of the prod environment (source-only layer)."""
    return synth("prod")
