"""`controlroom up` as a process: SIGTERM stops it cleanly, its tables survive a restart on the same port,
and its inbox answers only with the state file's token."""

from __future__ import annotations

import json
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from controlroom.contracts import ApprovalRecord, ApprovalStatus, utcnow
from controlroom.local.client import EngineClient
from controlroom.local.engine import INBOX_PATH
from controlroom.local.server import free_port
from tests.unit.test_approval_support import INCIDENT_ID, incident

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A checkout of our own (its .controlroom/ is this test's), pointing at the real handlers."""
    for folder in ("functions", "stepfunctions"):
        (tmp_path / folder).symlink_to(REPO / folder)
    return tmp_path


class UpProcess:
    """One `controlroom up` in a child process, read line by line until it says it is ready."""

    def __init__(self, home: Path, port: int, cdk_out: Path) -> None:
        env = {**os.environ, "CONTROLROOM_HOME": str(home), "PYTHONPATH": str(REPO / "layers")}
        command = [sys.executable, "-m", "controlroom.local.cli", "up", "--port", str(port), "--no-world"]
        self.process = subprocess.Popen(
            [*command, "--cdk-out", str(cdk_out)],
            cwd=home,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        # A reader thread, because select() on a buffered text pipe misses lines already read ahead.
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, marker: str, timeout: float = 180.0) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if marker in line:
                return line
        raise AssertionError(f"`controlroom up` never printed {marker!r}:\n{''.join(self.lines)}")

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        self.wait_for("stopping")
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def _inbox(client: EngineClient, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    request = urllib.request.Request(client.gateway_url.rstrip("/") + INBOX_PATH, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            json.loads(response.read())
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _pending_approval() -> ApprovalRecord:
    now = utcnow()
    return ApprovalRecord(
        approval_id="apr-" + "a" * 32,
        incident_id=INCIDENT_ID,
        plan_digest="p" * 64,
        approvers=["alice@example.com"],
        created_at=now,
        expires_at=now + timedelta(minutes=10),
    )


def test_sigterm_restart_and_inbox_token(home: Path, cdk_out: Path) -> None:
    port = free_port()
    state_file = home / ".controlroom" / "local.json"
    first = UpProcess(home, port, cdk_out)
    try:
        first.wait_for("ready:")
        # The state file is the owner's only, and holds the inbox token
        assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
        token = json.loads(state_file.read_text())["inbox_token"]
        client = EngineClient.from_state_file(state_file)
        # The inbox answers only with that token
        assert (_inbox(client, None), _inbox(client, "guess"), _inbox(client, token)) == (401, 401, 200)
        # Given an open incident, its audit record and a pending approval
        client.checkpoint.open_incident(incident(), execution_arn=None)
        client.audit.append(INCIDENT_ID, "note", "test", {"what": "before the restart"})
        client.checkpoint.put_approval(_pending_approval(), "TOKEN-of-an-execution")
        # When it gets SIGTERM, Then it exits cleanly and removes the state file
        assert first.terminate() == 0
        assert not state_file.exists()
    finally:
        first.kill()
    # When it starts again on the same port at once
    second = UpProcess(home, port, cdk_out)
    try:
        restored = second.wait_for("restored")
        second.wait_for("ready:")
        client = EngineClient.from_state_file(state_file)
        assert client.endpoint.endswith(f":{port}")
        # Then the incident, its audit chain and the approval are back
        assert client.checkpoint.get_incident(INCIDENT_ID).incident.incident_id == INCIDENT_ID
        assert [r.payload for r in client.audit.records(INCIDENT_ID)] == [{"what": "before the restart"}]
        assert client.verify_audit(INCIDENT_ID).ok
        # And what depended on an execution that could not survive is settled, not left hanging:
        # the approval can no longer be decided, and the alarm is not silenced by a stale dedupe lock
        assert (
            client.checkpoint.get_approval(_pending_approval().approval_id).status is ApprovalStatus.EXPIRED
        )
        assert client.checkpoint.pending_approvals() == []
        assert "1 dedupe locks released, 1 pending approvals expired" in restored
        later = incident().model_copy(update={"incident_id": "inc-00000000000000b2"})
        assert client.checkpoint.open_incident(later, execution_arn=None).opened
        # And a new token was issued
        assert json.loads(state_file.read_text())["inbox_token"] != token
        assert second.terminate() == 0
    finally:
        second.kill()
