"""Change corroboration: does a change on a node precede that node's anomaly, and by how long."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from controlroom.contracts.graph import GraphChange

# A change this close before the anomaly's onset counts in full; older ones fade by half per
# HALF_LIFE (a deploy or a parameter flip bites within minutes, not hours).
FULL_CREDIT = timedelta(minutes=15)
HALF_LIFE = timedelta(minutes=30)


@dataclass(frozen=True)
class ChangeCredit:
    """The best change behind one node: its weight in [0, 1] and how it was judged."""

    value: float
    change: GraphChange | None
    share: int
    lead: timedelta | None


NO_CREDIT = ChangeCredit(0.0, None, 0, None)


def credit(
    node_id: str,
    changes: Sequence[GraphChange],
    onset: datetime | None,
    *,
    tolerance: timedelta,
) -> ChangeCredit:
    """The strongest change on ``node_id`` that precedes its anomaly.

    Parameters
    ----------
    node_id
        The node scored.
    changes
        The attributed change feed; a change naming k nodes gives each 1/k of its weight, so that
        an ambiguous change never decides on its own (the metrics do).
    onset
        When the node's anomaly began, or None when unknown (then a change counts at half weight).
    tolerance
        How far after the onset a change may still count (the metrics' period: a change inside
        the first anomalous period can have caused it).

    Returns
    -------
    ChangeCredit
        ``NO_CREDIT`` when no change on the node precedes its anomaly.
    """
    best = NO_CREDIT
    for change in sorted(changes, key=lambda item: (item.changed_at, item.ref)):
        if node_id not in change.node_ids:
            continue
        share = len(set(change.node_ids))
        if onset is None:
            value, lead = 0.5 / share, None
        else:
            lead = onset - change.changed_at
            if lead < -tolerance:
                continue  # after the anomaly began: a reaction, not a cause
            excess = max(timedelta(0), lead - FULL_CREDIT)
            value = 0.5 ** (excess / HALF_LIFE) / share
        if value > best.value:
            best = ChangeCredit(value, change, share, lead)
    return best
