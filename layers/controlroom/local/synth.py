"""Synthesize the CDK app through the pinned CDK CLI, reusing a cached synthesis when no input changed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from controlroom.local import progress, synth_cache
from controlroom.local.paths import repo_root

CACHE_DIR = Path("build") / "cdk.out.cache"


class SynthError(RuntimeError):
    """`cdk synth` failed or the CDK CLI is not installed."""


def run_cdk_synth(root: Path, env: str, out: Path, overrides: dict[str, Any]) -> None:
    """Run ``cdk synth -q -c env=<env> [-c override:k=v ...] -o <out>`` in the checkout ``root``."""
    cdk = root / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        raise SynthError("the CDK CLI is not installed: run `npm ci` (or `make setup`) in the repository")
    command = [str(cdk), "synth", "-q", "-c", f"env={env}", "-o", str(out)]
    for key, value in overrides.items():
        command += ["-c", f"override:{key}={value}"]
    environ = {
        **os.environ,
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    # The app runs with this interpreter, so the CLI finds the same installed packages.
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
    result = subprocess.run(command, cwd=root, env=environ, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SynthError(f"cdk synth failed (exit {result.returncode}):\n{result.stderr[-3000:]}")


def synth(
    env: str = "local",
    out_dir: Path | None = None,
    overrides: dict[str, Any] | None = None,
    quiet: bool = False,
    *,
    cache: bool | None = None,
) -> Path:
    """Synthesize the CDK app for ``env``; return the cdk.out directory.

    Parameters
    ----------
    env
        The cdk.json environment.
    out_dir
        Where the cdk.out goes. None: the cache entry itself (or ``build/cdk.out.<env>`` uncached).
    overrides
        ``override:<key>`` context values, e.g. ``{"approval_timeout_seconds": 5}``.
    quiet
        No progress lines.
    cache
        Reuse (and fill) ``build/cdk.out.cache``; None: yes unless ``CONTROLROOM_SYNTH_CACHE=0``.

    Raises
    ------
    SynthError
        The CDK CLI is missing or the synthesis failed.
    """
    root = repo_root()
    overrides = dict(overrides or {})
    label = f"synthesizing the CDK app (env={env}) with the pinned CDK CLI"
    if not (synth_cache.enabled_by_environment() if cache is None else cache):
        out = out_dir or root / "build" / f"cdk.out.{env}"
        with progress.step(label, enabled=not quiet):
            run_cdk_synth(root, env, out, overrides)
        return out

    store = synth_cache.SynthCache(root / CACHE_DIR)
    digest = synth_cache.input_digest(root, env, overrides)

    def build(directory: Path) -> None:
        with progress.step(label, enabled=not quiet):
            run_cdk_synth(root, env, directory, overrides)

    def on_wait(text: str) -> None:
        if not quiet:
            progress.say(f"  {text}")

    entry, hit = store.fetch(env, digest, build, on_wait=on_wait)
    if hit and not quiet:
        progress.say(
            f"  reusing the synthesized app in {entry.relative_to(root)} (no input changed; "
            f"--no-cache or {synth_cache.DISABLE_VARIABLE}=0 synthesizes again)"
        )
    if out_dir is None:
        return entry
    # A copy: the caller may change its cdk.out, and pruning may remove the entry later. Written over what
    # is there, never removing it first, as `cdk synth -o` does (out_dir may hold the caller's other files).
    shutil.copytree(entry, out_dir, symlinks=True, dirs_exist_ok=True)
    return out_dir
