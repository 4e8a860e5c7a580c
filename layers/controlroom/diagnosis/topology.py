"""Walking the service graph: who is reachable from the alarmed node, over which anomalous paths."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from controlroom.contracts.graph import ServiceGraph

# Caller-side views of another node (X-Ray's remote and client nodes): they carry the latency and
# errors of whatever answers behind them, so they are symptoms unless nothing real explains them.
VIEW_KINDS = frozenset({"remote", "client"})
# Kinds that are a deployable resource a rollback acts on (beside the same name's other layers:
# a Lambda's service front and its code's own segment).
RESOURCE_KINDS = frozenset(
    {"lambda_function", "ecs_service", "ecs_task", "dynamodb_table", "sqs_queue", "rds_database"}
)


@dataclass(frozen=True)
class Topology:
    """Adjacency of a service graph, both ways, with every list sorted for determinism."""

    root: str
    kinds: dict[str, str]
    callees: dict[str, tuple[str, ...]]
    callers: dict[str, tuple[str, ...]]

    def is_resource(self, node_id: str) -> bool:
        """True for a deployable resource kind (a Lambda function, an ECS service, a table, ...)."""
        return self.kinds.get(node_id, "") in RESOURCE_KINDS

    def is_view(self, node_id: str) -> bool:
        """True for a remote or client node (a caller-side view of another node)."""
        return self.kinds.get(node_id, "") in VIEW_KINDS


def topology(graph: ServiceGraph) -> Topology:
    """Build both adjacency maps of ``graph`` (self-edges ignored, duplicates merged)."""
    callees: dict[str, set[str]] = defaultdict(set)
    callers: dict[str, set[str]] = defaultdict(set)
    for edge in graph.edges:
        if edge.caller != edge.callee:
            callees[edge.caller].add(edge.callee)
            callers[edge.callee].add(edge.caller)
    return Topology(
        root=graph.root,
        kinds={node.node_id: node.kind for node in graph.nodes},
        callees={node: tuple(sorted(targets)) for node, targets in callees.items()},
        callers={node: tuple(sorted(sources)) for node, sources in callers.items()},
    )


def reachable(topo: Topology, start: str, through: Callable[[str], bool] | None = None) -> dict[str, int]:
    """Nodes reachable from ``start`` over caller->callee edges, with their hop count.

    Parameters
    ----------
    topo
        The graph.
    start
        Where to begin (always included, at 0 hops).
    through
        When given, only nodes for which it is true are walked on from (they and their callees are
        still reported): the anomalous paths from the alarmed node. Cycles are visited once.
    """
    hops = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node != start and through is not None and not through(node):
            continue
        for callee in topo.callees.get(node, ()):
            if callee not in hops:
                hops[callee] = hops[node] + 1
                queue.append(callee)
    return hops


def ancestors(topo: Topology, node_id: str) -> set[str]:
    """Every node that reaches ``node_id`` (its callers, their callers, ...), cycles included once."""
    seen: set[str] = set()
    queue = deque(topo.callers.get(node_id, ()))
    while queue:
        caller = queue.popleft()
        if caller not in seen:
            seen.add(caller)
            queue.extend(topo.callers.get(caller, ()))
    return seen


def effective_callees(topo: Topology, node_id: str, has_data: Callable[[str], bool]) -> list[str]:
    """The callees of ``node_id``, looking through callees with no data to the nodes behind them."""
    found: list[str] = []
    seen = {node_id}
    queue = deque(topo.callees.get(node_id, ()))
    while queue:
        callee = queue.popleft()
        if callee in seen:
            continue
        seen.add(callee)
        if has_data(callee):
            found.append(callee)
        else:
            queue.extend(topo.callees.get(callee, ()))
    return sorted(found)


def sorted_ids(node_ids: Iterable[str]) -> list[str]:
    """Node ids in their one stable order."""
    return sorted(set(node_ids))
