"""Passing blame along explanations: a node that explains another outranks it, and a Lambda's
other layers follow the function they are a layer of."""

from __future__ import annotations

from collections.abc import Callable, Mapping

# The node at the end of a chain of explanations scores at least this share of the relevance of
# every node it explains (more than the explained node keeps, so it ranks above them), times the
# share of that node's shift it carries in the same metric and r squared of the two (``share``
# in ``inherited``): the shift it accounts for is evidence
# for it even when its own series barely stands out against its noise, but a callee that echoes
# a third of its caller's delay has not shown it caused the rest.
INHERIT = 0.5
# A layer of a resource (the Lambda's service front, its code's segment) explained by that
# resource ranks right after it: they are one deployable thing seen three ways.
LAYER_FOLLOW = 0.9


def terminal(node_id: str, explained_by: Mapping[str, str | None]) -> str | None:
    """Where the chain of explanations from ``node_id`` ends; None when it has none or loops."""
    current = explained_by.get(node_id)
    seen = {node_id}
    while current is not None:
        if current in seen:
            return None
        seen.add(current)
        following = explained_by.get(current)
        if following is None:
            return current
        current = following
    return None


def inherited(
    relevance: Mapping[str, float],
    explained_by: Mapping[str, str | None],
    share: Callable[[str, str], float],
) -> dict[str, float]:
    """Each node's relevance, raised to ``INHERIT`` times that of any node whose chain ends at it.

    ``share(end, node)`` is how much of ``node``'s anomaly ``end`` accounts for (0 to 1).
    """
    result = dict(relevance)
    for node_id in sorted(relevance):
        end = terminal(node_id, explained_by)
        if end is not None and end in result:
            lifted = INHERIT * relevance[node_id] * max(0.0, min(1.0, share(end, node_id)))
            result[end] = max(result[end], lifted)
    return result


def follow_layers(
    scores: Mapping[str, float],
    explained_by: Mapping[str, str | None],
    is_layer: Callable[[str, str], bool],
) -> dict[str, float]:
    """Scores where a layer explained by its own resource sits just below that resource."""
    result = dict(scores)
    for node_id in sorted(scores):
        twin = explained_by.get(node_id)
        if twin is not None and twin in scores and is_layer(node_id, twin):
            result[node_id] = max(scores[node_id], LAYER_FOLLOW * scores[twin])
    return result
