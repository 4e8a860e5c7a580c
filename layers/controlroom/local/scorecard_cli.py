"""`controlroom scorecard` (local engine or a deployed environment) and `controlroom answer`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3

from controlroom.autonomy.answers import ANSWERS, record_answer
from controlroom.autonomy.history import incident_history, incident_ids
from controlroom.autonomy.publish import publish
from controlroom.autonomy.scorecard import PromotionCriteria, Scorecard, scorecard
from controlroom.contracts import utcnow
from controlroom.local.cli_output import EXIT_OK, add_command, emit_json
from controlroom.local.client import EngineClient
from controlroom.local.paths import repo_root
from controlroom.store import DynamoAuditLog, DynamoCheckpointStore
from controlroom.store.audit_key import KmsChainKey

# How long after the alarm a human's change on the incident's resources counts as their answer to it.
HUMAN_WINDOW = timedelta(hours=4)


def load_criteria(path: str | None) -> PromotionCriteria:
    """--criteria FILE, else cdk.json's context.promotion_criteria, else the defaults (30 days, < 5 %)."""
    if path:
        return PromotionCriteria.model_validate_json(Path(path).read_text())
    cdk_json = repo_root() / "cdk.json"
    context = json.loads(cdk_json.read_text()).get("context", {}) if cdk_json.is_file() else {}
    return PromotionCriteria.model_validate(context.get("promotion_criteria", {}))


def _sources(env: str | None) -> tuple[str, Any, Any, Any, Any]:
    """(environment, checkpoint, audit, cloudtrail or None, cloudwatch) for the engine or an AWS env."""
    if env in (None, "local"):
        client = EngineClient.from_state_file()
        # moto implements no CloudTrail LookupEvents: locally the answers and approvals are the source.
        return "local", client.checkpoint, client.audit, None, client.aws("cloudwatch")
    session = boto3.Session()
    dynamodb = session.resource("dynamodb")
    checkpoint = DynamoCheckpointStore(dynamodb.Table(f"controlroom-{env}-checkpoint"))
    table = f"controlroom-{env}-audit"
    # The audit HMAC key's alias is the table's name (as the CDK app names it); the scorecard only reads.
    audit = DynamoAuditLog(dynamodb.Table(table), KmsChainKey(session.client("kms"), f"alias/{table}"))
    return env, checkpoint, audit, session.client("cloudtrail"), session.client("cloudwatch")


def build(env: str | None, days: float, criteria: PromotionCriteria) -> tuple[str, Scorecard, list[str]]:
    """Collect every incident of the last ``days`` days and compute the scorecard."""
    environment, checkpoint, audit, cloudtrail, cloudwatch = _sources(env)
    until = utcnow()
    since = until - timedelta(days=days)
    histories, notes = [], []
    for incident_id in incident_ids(checkpoint._table):
        history, problems = incident_history(
            incident_id,
            checkpoint,
            audit,
            cloudtrail=cloudtrail,
            cloudwatch=cloudwatch,
            window=HUMAN_WINDOW,
            own_prefix=f"controlroom-{environment}-",
        )
        histories.append(history)
        notes += problems
    if cloudtrail is None:
        notes.append(
            "CloudTrail is not read locally (moto has no LookupEvents): human actions are answers and approvals"
        )
    return environment, scorecard(histories, criteria, since=since, until=until), notes


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}s"


def render(card: Scorecard, notes: list[str]) -> str:
    """The scorecard as text: one line per action kind, then proposal and human action per incident."""
    lines = [f"scorecard {card.since:%Y-%m-%d} .. {card.until:%Y-%m-%d}: {card.incidents} incident(s)"]
    if not card.kinds:
        lines.append("  no proposals in this window: nothing to score")
    for row in card.kinds:
        lines.append(
            f"  {row.action_kind}: {row.incidents} incident(s), {row.proposals} proposal(s); agreed "
            f"{_pct(row.agreement_rate)}, overridden {_pct(row.override_rate)}, false positives "
            f"{_pct(row.false_positive_rate)}; alarm->proposal {_secs(row.median_seconds_to_proposal)}, "
            f"alarm->human {_secs(row.median_seconds_to_human_action)}; cost/incident "
            f"{'-' if row.cost_per_incident_usd is None else f'${row.cost_per_incident_usd:.4f}'}"
        )
        verdict = "MEETS the promotion criteria" if row.meets_criteria else "not yet: " + "; ".join(row.unmet)
        lines.append(f"    {verdict}")
    for incident in card.rows:
        lines.append(
            f"  {incident.incident_id} [{incident.mode}] proposed {incident.action_kind} | human: "
            f"{incident.human} => {incident.classification}"
        )
    lines += [f"  note: {note}" for note in notes]
    return "\n".join(lines)


def cmd_scorecard(args: argparse.Namespace) -> int:
    environment, card, notes = build(args.env, args.days, load_criteria(args.criteria))
    if args.json:
        emit_json({"environment": environment, **card.model_dump(mode="json"), "notes": notes})
    else:
        print(render(card, notes))
    if args.publish:
        cloudwatch = _sources(args.env)[4]
        # Under --json stdout holds the document only: the confirmation goes to stderr.
        print(
            f"published {publish(cloudwatch, card, environment)} metric(s)",
            file=sys.stderr if args.json else sys.stdout,
        )
    return EXIT_OK


def cmd_answer(args: argparse.Namespace) -> int:
    client = EngineClient.from_state_file()
    client.incident(args.incident_id)  # IncidentNotFound names a wrong id
    record_answer(client.audit, args.incident_id, f"cli:{getpass.getuser()}", args.answer, "cli")
    print(f"{args.incident_id}: recorded {ANSWERS[args.answer]!r}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``scorecard`` and ``answer`` to the ``controlroom`` parser."""
    card = add_command(
        sub,
        "scorecard",
        "proposals against what humans did, by action kind",
        [
            "controlroom scorecard",
            "controlroom scorecard --days 7 --json | jq '.kinds[] | {action_kind, meets_criteria}'",
            "controlroom scorecard --env prod --publish",
        ],
    )
    card.add_argument("--env", help="a deployed environment (AWS credentials); default: the local engine")
    card.add_argument("--days", type=float, default=30.0, help="how many days back (default 30)")
    card.add_argument("--json", action="store_true", help="print one JSON document on stdout instead of text")
    card.add_argument("--criteria", help="promotion criteria JSON (default: cdk.json promotion_criteria)")
    card.add_argument("--publish", action="store_true", help="also put the figures as CloudWatch metrics")
    card.set_defaults(func=cmd_scorecard)
    answer = add_command(
        sub,
        "answer",
        "record what you did about an incident (for the scorecard)",
        [f"controlroom answer inc-3f2a9c0d11e84b7a {next(iter(ANSWERS))}"],
        "Exit 4 for an unknown incident.",
    )
    answer.add_argument("incident_id", help="the incident (inc-...)")
    answer.add_argument("answer", choices=list(ANSWERS), help="what you did: " + ", ".join(ANSWERS))
    answer.set_defaults(func=cmd_answer)
