"""Run our Lambda handlers in-process, as moto's Lambda backend would run them in a container."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from controlroom.local.paths import repo_root

# Invocations run concurrently, each in its caller's thread (moto's interpreter, the gateway) with its
# function's own environment, as Lambda runs each in its own sandbox. Only importing a handler is locked.
_LOAD_LOCK = threading.Lock()
_MODULES: dict[str, ModuleType] = {}
_local = threading.local()


class _ThreadEnviron(MutableMapping[str, str]):
    """os.environ as each invocation sees it: its function's variables, without touching other threads'.

    Reads and writes inside an invocation go to that thread's copy; every other thread sees the
    process environment. Code that bound ``os.environ`` before installation, and threads a handler
    starts itself, see the process environment (our handlers start none).
    """

    def __init__(self, process: MutableMapping[str, str]) -> None:
        self._process = process

    def _current(self) -> MutableMapping[str, str]:
        overlay = getattr(_local, "environ", None)
        return self._process if overlay is None else overlay

    def __getitem__(self, key: str) -> str:
        return self._current()[key]

    def __setitem__(self, key: str, value: str) -> None:
        self._current()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._current()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._current()))

    def __len__(self) -> int:
        return len(self._current())

    def copy(self) -> dict[str, str]:
        return dict(self._current())

    def __repr__(self) -> str:
        return f"_ThreadEnviron({dict(self._current())!r})"


_POWERTOOLS_LOCK = threading.RLock()
_powertools_guarded = False


def _guard_powertools() -> None:
    """Make Powertools' process-wide metric set and logger keys safe to share between invocation threads.

    One Lambda sandbox runs one invocation, so Powertools keeps them in shared dicts; here concurrent
    invocations would iterate one while another inserts ("dictionary changed size during iteration").
    Each mutation and each read is made atomic with one lock (local engine only).
    """
    global _powertools_guarded
    if _powertools_guarded:
        return
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    guarded = {
        AmazonCloudWatchEMFProvider: (
            "add_metric",
            "add_dimension",
            "add_metadata",
            "serialize_metric_set",
            "clear_metrics",
            "flush_metrics",
            "set_default_dimensions",
        ),
        LambdaPowertoolsFormatter: (
            "format",
            "append_keys",
            "remove_keys",
            "clear_state",
            "get_current_keys",
        ),
    }
    for cls, names in guarded.items():
        for name in names:
            original = getattr(cls, name)

            def locked(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                with _POWERTOOLS_LOCK:
                    return _original(*args, **kwargs)

            setattr(cls, name, locked)
    _powertools_guarded = True


def _install_environ() -> None:
    if not isinstance(os.environ, _ThreadEnviron):
        # os.getenv reads the module global, so it follows the replacement too.
        os.environ = _ThreadEnviron(os.environ)  # type: ignore[assignment]  # noqa: B003


class _ThreadAwareStdout(io.TextIOBase):
    """Sends what handlers print (EMF metrics, JSON logs) to the invocation log, the rest to the terminal."""

    def __init__(self, terminal: Any) -> None:
        self._terminal = terminal

    def write(self, text: str) -> int:
        sink = getattr(_local, "sink", None)
        return (sink or self._terminal).write(text)

    def flush(self) -> None:
        (getattr(_local, "sink", None) or self._terminal).flush()


def _install_stdout() -> None:
    # Checked on every invocation, not once: whoever replaced sys.stdout since (pytest's capture,
    # contextlib.redirect_stdout around a CLI command) would otherwise receive the handlers' EMF and logs.
    if not isinstance(sys.stdout, _ThreadAwareStdout):
        sys.stdout = _ThreadAwareStdout(sys.stdout)


@dataclass
class InvocationLog:
    """Every in-process invocation, kept for benchmarks and tests."""

    agent: str
    function_name: str
    errored: bool
    duration_ms: float


INVOCATIONS: list[InvocationLog] = []


class FakeContext:
    """A Lambda context with the attributes Powertools and the runtime read."""

    def __init__(
        self, function_name: str, version: str, timeout_seconds: int, region: str, account: str
    ) -> None:
        import time

        self.function_name = function_name
        self.function_version = version
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        import time

        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(agent: str) -> Callable[[dict[str, Any], Any], Any]:
    """Import functions/<agent>/handler.py (once) and return its ``handler``."""
    with _LOAD_LOCK:
        return _load(agent)


def _load(agent: str) -> Callable[[dict[str, Any], Any], Any]:
    if agent not in _MODULES:
        path: Path = repo_root() / "functions" / agent / "handler.py"
        if not path.is_file():
            raise FileNotFoundError(f"no handler for agent {agent!r} at {path}")
        spec = importlib.util.spec_from_file_location(f"controlroom_function_{agent}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _MODULES[agent] = module
    return _MODULES[agent].handler  # type: ignore[no-any-return]


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """This thread sees the process environment plus ``variables`` until the block ends."""
    _install_environ()
    _guard_powertools()
    previous = getattr(_local, "environ", None)
    base = dict(previous) if previous is not None else dict(os.environ.items())
    _local.environ = {**base, **variables}
    try:
        yield
    finally:
        _local.environ = previous


def invoke(
    agent: str,
    event: Any,
    *,
    function_name: str,
    environment: dict[str, str],
    version: str = "$LATEST",
    timeout_seconds: int = 60,
    region: str = "us-east-1",
    account: str = "123456789012",
) -> tuple[str, bool, str]:
    """Invoke one agent's handler; return (payload JSON, errored, logs) like moto's _invoke_lambda.

    An exception becomes ``{"errorType": <class name>, "errorMessage": ...}`` with errored=True, which is
    what Lambda returns and what lets the ASL's Retry and Catch match our named errors.

    Invocations do not wait for each other: each runs in the calling thread with its own environment,
    so a storm's invocations never time out in a queue, and a handler may invoke another synchronously.
    Powertools' logger keys and metric set are process-wide (each Lambda sandbox has its own): their
    updates are made atomic, but concurrent invocations' log keys and EMF batches can interleave in the
    local logs.
    """
    import time

    _install_stdout()
    logs = io.StringIO()
    started = time.perf_counter()
    with _environment(environment):
        _local.sink = logs
        try:
            handler = load_handler(agent)
            result = handler(event, FakeContext(function_name, version, timeout_seconds, region, account))
            payload, errored = json.dumps(result), False
        except Exception as exc:
            traceback.print_exc(file=logs)
            payload = json.dumps(
                {
                    "errorType": type(exc).__name__,
                    "errorMessage": str(exc)[:4000],
                    "trace": traceback.format_exception_only(type(exc), exc),
                }
            )
            errored = True
        finally:
            _local.sink = None
    INVOCATIONS.append(InvocationLog(agent, function_name, errored, (time.perf_counter() - started) * 1000))
    _append_log(function_name, logs.getvalue())
    return payload, errored, logs.getvalue()


def _append_log(function_name: str, text: str) -> None:
    directory = os.environ.get("CONTROLROOM_LOG_DIR")
    if directory and text:
        with open(Path(directory) / f"{function_name}.log", "a", encoding="utf-8") as handle:
            handle.write(text)
