"""Compare two Lambda version configurations: what a deployment would change (never environment values)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controlroom.contracts.deployment import FieldChange, ManifestDiff

# Configuration fields an approver must see when they change, with how to read them from GetFunctionConfiguration.
_FIELDS: dict[str, Any] = {
    "code_sha256": lambda c: c.get("CodeSha256", ""),
    "runtime": lambda c: c.get("Runtime", ""),
    "handler": lambda c: c.get("Handler", ""),
    "memory_mb": lambda c: str(c.get("MemorySize", "")),
    "timeout_s": lambda c: str(c.get("Timeout", "")),
    "architecture": lambda c: ",".join(c.get("Architectures") or ["x86_64"]),
    "layers": lambda c: ",".join(sorted(layer.get("Arn", "") for layer in c.get("Layers") or [])),
    "role": lambda c: c.get("Role", ""),
}


def _environment(configuration: Mapping[str, Any]) -> dict[str, str]:
    return dict((configuration.get("Environment") or {}).get("Variables") or {})


def manifest_diff(stable: Mapping[str, Any], candidate: Mapping[str, Any]) -> ManifestDiff:
    """The differences between the stable and the candidate version's configuration.

    Parameters
    ----------
    stable, candidate
        ``lambda:GetFunctionConfiguration`` responses for the alias' current version and the candidate.

    Returns
    -------
    ManifestDiff
        Changed fields with both values, and environment variable *keys* added, removed or changed;
        values are compared but never copied, so a secret in an environment variable stays out of records.
    """
    changes = [
        FieldChange(field=name, stable=str(read(stable)), candidate=str(read(candidate)))
        for name, read in _FIELDS.items()
        if read(stable) != read(candidate)
    ]
    before, after = _environment(stable), _environment(candidate)
    return ManifestDiff(
        changes=changes,
        env_keys_added=sorted(after.keys() - before.keys()),
        env_keys_removed=sorted(before.keys() - after.keys()),
        env_keys_changed=sorted(key for key in before.keys() & after.keys() if before[key] != after[key]),
    )
