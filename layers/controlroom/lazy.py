"""Lazy package exports (PEP 562): a package names what it offers, and imports a submodule on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any


def lazy_exports(
    package: str, submodule_of: Mapping[str, str], namespace: MutableMapping[str, Any], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: each name imports its submodule once.

    Parameters
    ----------
    package
        The package's ``__name__``.
    submodule_of
        Public name -> the submodule (relative to the package) that defines it.
    namespace
        The package's ``globals()``: a name, once imported, is cached there, so later lookups are direct.
    public
        The package's ``__all__``.
    """

    def __getattr__(name: str) -> Any:
        submodule = submodule_of.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{submodule}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *public})

    return __getattr__, __dir__
