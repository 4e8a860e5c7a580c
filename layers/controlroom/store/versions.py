"""One rule for every stored item: read the current and the previous schema_version, refuse the rest by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controlroom.errors import SchemaVersionUnsupported


def check_version(item: Mapping[str, Any], current: int, what: str) -> int:
    """The item's schema_version, if this code reads it; SchemaVersionUnsupported otherwise.

    A rolling deploy runs old and new functions side by side: the new code must read what the old
    code wrote (``current - 1``), and old code must stop clearly, not misread, on what newer code wrote.

    Parameters
    ----------
    item
        The stored item (a DynamoDB item as the resource API returns it).
    current
        The version this code writes.
    what
        Names the item in the error (e.g. ``incident INCIDENT#inc-1/META``).

    Raises
    ------
    SchemaVersionUnsupported
        The version is newer than ``current`` (written by a newer release), or older than its predecessor.
    """
    version = int(item.get("schema_version", current))
    if version > current:
        raise SchemaVersionUnsupported(
            f"{what} has schema_version {version}, newer than this code reads ({current - 1} and {current}): "
            "it was written by a newer controlroom; finish the upgrade"
        )
    if version < current - 1:
        raise SchemaVersionUnsupported(
            f"{what} has schema_version {version}; this code reads only {current - 1} and {current}"
        )
    return version
