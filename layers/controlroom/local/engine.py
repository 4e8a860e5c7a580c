"""The local engine: synthesize, start moto with our patches, deploy the stack, drive incidents."""

from __future__ import annotations

import hmac
import json
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controlroom.local import deploy as deployer
from controlroom.local import progress, snapshot
from controlroom.local.client import EngineClient
from controlroom.local.paths import repo_root, state_dir
from controlroom.local.server import MotoServer, free_port, start_server
from controlroom.local.synth import SynthError, synth
from controlroom.local.world import World

__all__ = ["INBOX_PATH", "LocalEngine", "SynthError", "cdk_available", "stack_name", "synth"]

# The local inbox, served beside the approval pages so `controlroom inbox` works from another process
# (moto's /moto-api/data.json fails on some of the stack's resources).
INBOX_PATH = "/_local/inbox"
STATE_FILE = "local.json"


def _inbox_response(event: dict[str, Any], token: str) -> dict[str, Any]:
    """The sent approval emails, only for a caller holding the token from the state file.

    The emails carry signed approval links: anyone else on this machine who can reach the port
    (another user, a browser page's fetch) must not read them.
    """
    from dataclasses import asdict

    from controlroom.approval.inbox import sent_approval_emails

    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    presented = headers.get("authorization", "").removeprefix("Bearer ")
    if not token or not hmac.compare_digest(presented.encode(), token.encode()):
        return {
            "statusCode": 401,
            "headers": {"content-type": "text/plain", "www-authenticate": "Bearer"},
            "body": "the local inbox needs the token from .controlroom/local.json",
        }
    body = json.dumps([asdict(email) for email in sent_approval_emails()])
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": body}


def stack_name(env: str) -> str:
    return f"controlroom-{env}"


@dataclass
class LocalEngine:
    """One moto server with the stack deployed into it, the approval gateway, and the demo world."""

    env: str = "local"
    port: int = 0
    cdk_out: Path | None = None
    server: MotoServer | None = None
    gateway: Any = None
    client: EngineClient | None = None
    world: World | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    inbox_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # `controlroom up` keeps its tables across restarts (see controlroom.local.snapshot); tests do not.
    persist: bool = False
    restored: Any = None
    # EventBridge Scheduler is not deployed locally: the engine runs the approval delivery sweep itself.
    sweep_interval_seconds: float = 60.0
    # `demo` and `up` narrate their slow steps (controlroom.local.progress) and may bypass the synth cache.
    narrate: bool = False
    synth_cache: bool | None = None
    _sweeper_stop: threading.Event = field(default_factory=threading.Event)
    _sweeper: threading.Thread | None = None
    _gateway_url: str = "http://127.0.0.1:0"

    def start(
        self, *, seed_world: bool = True, protected: bool = False, cause: str = "deploy"
    ) -> LocalEngine:
        """Start the server, serve approvals, deploy the synthesized stack and (optionally) the demo world."""
        if self.cdk_out is None:
            self.cdk_out = synth(self.env, quiet=not self.narrate, cache=self.synth_cache)
        port = self.port or free_port()
        with progress.step(f"starting local AWS (moto) on 127.0.0.1:{port}", enabled=self.narrate):
            self.server = start_server(port)
        log_dir = state_dir() / "logs"
        log_dir.mkdir(exist_ok=True)
        os.environ["CONTROLROOM_LOG_DIR"] = str(log_dir)
        self._gateway_url = self._start_gateway()
        self._deploy(seed_world=seed_world, protected=protected, cause=cause)
        if self.persist:
            self.restored = snapshot.restore(
                self._dynamodb(), self.outputs, state_dir() / snapshot.SNAPSHOT_FILE
            )
        self._sweeper_stop.clear()
        self._sweeper = threading.Thread(target=self._sweep_forever, name="controlroom-sweeper", daemon=True)
        self._sweeper.start()
        return self

    def sweep_approvals(self) -> dict[str, Any]:
        """Run the approval delivery sweep once, as the deployed schedule does every minute."""
        from controlroom.approval.sweep_event import sweep_event
        from controlroom.local import executor
        from controlroom.local.patches import handler_environment

        function = self._callback_function(f"{stack_name(self.env)}-approval-callback")
        payload, errored, _ = executor.invoke(
            "approval_callback",
            sweep_event(),
            function_name=function.function_name,
            environment=handler_environment(function),
            version=str(function.version),
        )
        result: dict[str, Any] = json.loads(payload)
        if errored:
            raise RuntimeError(f"the approval delivery sweep failed: {result.get('errorType')}")
        return result

    def _sweep_forever(self) -> None:
        while not self._sweeper_stop.wait(self.sweep_interval_seconds):
            try:
                self.sweep_approvals()
            except Exception as exc:  # a failed sweep is retried on the next tick, like the schedule
                print(
                    f"  approval delivery sweep failed ({type(exc).__name__}); retried next tick", flush=True
                )

    def _dynamodb(self) -> Any:
        assert self.client is not None
        return self.client.aws("dynamodb")

    def _deploy(self, *, seed_world: bool, protected: bool, cause: str = "deploy") -> LocalEngine:
        assert self.server is not None and self.cdk_out is not None
        name = stack_name(self.env)
        with progress.step(f"deploying {name} into moto", enabled=self.narrate):
            deployment = deployer.deploy(self.cdk_out, name, self.server.url, self._gateway_url)
        self.outputs = deployment.outputs
        self.client = EngineClient(self.server.url, self.outputs, self._gateway_url, self.inbox_token)
        if seed_world:
            with progress.step(
                "seeding the demo workload (functions, table, alarms, traffic)", enabled=self.narrate
            ):
                self.world = World(self.server.url, protected=protected, cause=cause).seed()
                self.world.start_simulator()
        return self

    def redeploy(
        self,
        *,
        seed_world: bool = True,
        protected: bool = False,
        cdk_out: Path | None = None,
        cause: str = "deploy",
    ) -> LocalEngine:
        """Start over on a clean account: reset every moto backend, deploy again, seed the world again.

        ``cdk_out`` deploys another synthesis (e.g. with overridden timeouts) from then on.
        """
        assert self.server is not None, "start() the engine first"
        if cdk_out is not None:
            self.cdk_out = cdk_out
        if self.world:
            self.world.stop_simulator()
            self.world = None
        self.server.reset()
        # A clean account has a fresh kill switch: no reading cached from the previous one may outlive it.
        from controlroom.autonomy import clear_cache

        clear_cache()
        return self._deploy(seed_world=seed_world, protected=protected, cause=cause)

    def _start_gateway(self) -> str:
        try:
            from controlroom.local.gateway import LocalGateway
        except ImportError:
            return "http://127.0.0.1:0"
        from controlroom.local import executor

        def approval_handler(event: dict[str, Any], context: Any) -> Any:
            if event.get("path") == INBOX_PATH:
                return _inbox_response(event, self.inbox_token)
            function = self._callback_function(f"{stack_name(self.env)}-approval-callback")
            payload, errored, _ = executor.invoke(
                "approval_callback",
                event,
                function_name=function.function_name,
                environment=handler_environment(function),
                version=str(function.version),
            )
            if errored:
                # What a Function URL answers when the function itself crashes.
                return {
                    "statusCode": 502,
                    "headers": {"content-type": "text/plain"},
                    "body": "the approval callback failed; see .controlroom/logs",
                }
            return json.loads(payload)

        from controlroom.local.patches import EngineEndpoint, handler_environment

        self.gateway = LocalGateway(approval_handler, host="127.0.0.1", port=0)
        url = str(self.gateway.start())
        EngineEndpoint.approval_base_url = url.rstrip("/")
        return url

    def _callback_function(self, function_name: str) -> Any:
        """The callback version the environment's alias points at (what API Gateway invokes in AWS)."""
        from moto.awslambda.models import lambda_backends

        return lambda_backends[deployer.ACCOUNT][deployer.REGION].get_function(
            function_name, qualifier=self.env
        )

    def write_state_file(self) -> Path:
        """Tell other `controlroom` commands where this engine listens."""
        assert self.client is not None
        path = state_dir() / STATE_FILE
        state = {
            "endpoint": self.client.endpoint,
            "outputs": self.outputs,
            "gateway_url": self.client.gateway_url,
            "inbox_token": self.inbox_token,
            "pid": os.getpid(),
            "started_at": time.time(),
        }
        # Owner-only: the file holds the inbox token. Written to a new file, then moved into place.
        temporary = path.with_suffix(".tmp")
        temporary.unlink(missing_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(state, handle, indent=2)
        temporary.replace(path)
        return path

    def stop(self) -> None:
        self._sweeper_stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=30)
            self._sweeper = None
        if self.world:
            self.world.stop_simulator()
        if self.gateway:
            self.gateway.stop()
        if self.persist and self.server and self.client:
            snapshot.save(self._dynamodb(), self.outputs, state_dir() / snapshot.SNAPSHOT_FILE)
        if self.server:
            self.server.stop()
        path = state_dir() / STATE_FILE
        if path.exists() and json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()

    def __enter__(self) -> LocalEngine:
        return self.start() if self.server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def cdk_available() -> bool:
    return (repo_root() / "node_modules" / ".bin" / "cdk").exists() and shutil.which("node") is not None
