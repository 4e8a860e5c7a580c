"""Lazy imports: our packages' exports (PEP 562), and a dependency's submodule that we never use."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import threading
import types
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any


def lazy_exports(
    package: str, submodule_of: Mapping[str, str], namespace: MutableMapping[str, Any], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a module: each name imports its submodule of ``package`` once.

    Parameters
    ----------
    package
        The package the submodules are in: the module's own ``__name__`` when it is that package, its
        parent package when it is a module that re-exports a sibling's names.
    submodule_of
        Public name -> the submodule (relative to ``package``) that defines it.
    namespace
        The module's ``globals()``: a name, once imported, is cached there, so later lookups are direct.
    public
        The module's ``__all__``.
    """
    module = namespace.get("__name__", package)

    def __getattr__(name: str) -> Any:
        submodule = submodule_of.get(name)
        if submodule is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{submodule}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *public})

    return __getattr__, __dir__


_loading = threading.RLock()
_running: set[str] = set()


class _Deferred(types.ModuleType):
    """A module whose code has not run yet: the first lookup of a name it defines runs it, once.

    Unlike ``importlib.util.LazyLoader``, the import machinery's own lookups (``__spec__``, ``__name__``)
    find the real dunders and do not trigger the load, so the package that imports it stays cheap.
    Other threads wait for the run to finish; it becomes a plain module only once its code has run.
    """

    def __getattr__(self, name: str) -> Any:
        with _loading:
            if type(self) is _Deferred:
                spec = self.__spec__
                assert spec is not None and spec.loader is not None
                if spec.name in _running:  # looked up by its own code while it runs: a real miss
                    raise AttributeError(f"module {spec.name!r} has no attribute {name!r}")
                _running.add(spec.name)
                try:
                    spec.loader.exec_module(self)
                except BaseException:
                    sys.modules.pop(spec.name, None)
                    raise
                finally:
                    _running.discard(spec.name)
                self.__class__ = types.ModuleType  # type: ignore[assignment]
        return getattr(self, name)


def defer_submodule(package: str, submodule: str) -> bool:
    """Register ``package.submodule`` so that its code runs on its first use, not when ``package`` imports it.

    For a dependency whose package ``__init__`` imports, for everyone, a submodule only some callers use
    (each cold start pays for it). Call it before the package is first imported; it does nothing (and
    returns False) when the package is already imported or has no such submodule, so the package then
    behaves exactly as without it.
    """
    name = f"{package}.{submodule}"
    if package in sys.modules or name in sys.modules:
        return False
    parent = importlib.util.find_spec(package)  # a top-level spec: finds the package without running it
    if parent is None or not parent.submodule_search_locations:
        return False
    spec = importlib.machinery.PathFinder.find_spec(name, list(parent.submodule_search_locations))
    if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
        return False
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _Deferred
    sys.modules[name] = module
    return True
