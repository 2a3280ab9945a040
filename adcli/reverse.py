"""Reverse mode: adjoints swept from the outputs back to the inputs.

One sweep gives uᵀJ for one cotangent u. It visits the nodes in one reverse
topological order, :func:`sweep_order` (level by level from the outputs, as a
textbook walks through backpropagation), whether or not it records, and every
adjoint is accumulated in exactly one place, :func:`_accumulate`, which is also
what records the steps ``--steps`` prints: the steps are the computation's own,
in its order, with the same in-place sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .evaluate import Values, partials, run_sweep, times
from .graph import Graph


@dataclass
class AdjointStep:
    target: int  # the node receiving the contribution (v̄1 in v̄1 += v̄2 · ∂v2/∂v1)
    source: int  # the node passing it back (v2); -1 for the seed
    arg: int  # position of target among source's arguments
    adjoint: Any  # v̄2
    partial: Any  # ∂v2/∂v1
    contribution: Any
    total: Any  # v̄1 after this step


def vjp(
    values: Values, cotangent: list[Any], record: bool = False, links: list[tuple[int, int]] | None = None
) -> tuple[list[Any], list[AdjointStep]]:
    """Adjoints of every node for the output cotangent ``cotangent`` (None = 0).
    ``links``, if given, receives (source, target) of every contribution passed."""

    def sweep(values, cotangent, record, careful):
        if links is not None:
            links.clear()  # a careful redo records them again
        return _sweep(values, cotangent, record, careful, links)

    return run_sweep(sweep, values, cotangent, record, values.graph.inputs)


def _sweep(values: Values, cotangent: list[Any], record: bool, careful: bool, links=None):
    g = values.graph
    adj: list[Any] = [None] * len(g.nodes)
    steps: list[AdjointStep] = []

    def _accumulate(target, source, k, a, p, c):
        old = adj[target]
        shown = c
        if old is None:
            adj[target] = c
        elif (
            c is not a
            and c is not p
            and isinstance(c, np.ndarray)
            and c.shape == np.shape(old)
            and c.dtype == np.float64
        ):
            if record:
                shown = c.copy()  # the step shows the contribution as it was before the sum
            adj[target] = np.add(c, old, out=c)  # c is a fresh product: sum into it, no new array
        else:
            adj[target] = old + c
        if record:
            steps.append(AdjointStep(target, source, k, a, p, shown, adj[target]))

    for o, u in zip(g.outputs, cotangent):
        if u is not None:
            _accumulate(o, -1, 0, u, None, u)
    is_const = [n.op.constant for n in g.nodes]
    for i in sweep_order(g):
        a = adj[i]
        node = g.nodes[i]
        if a is None or node.op.arity == 0 or (type(a) is np.float64 and a == 0):
            continue  # a zero adjoint passes nothing back (a branch where drops)
        ps = partials(values, i, [a])
        for k, j in enumerate(node.args):
            p = ps[k]
            if (isinstance(p, float) and p == 0.0) or is_const[j]:
                continue  # structurally zero (where's comparison), or a constant
            _accumulate(j, i, k, a, p, times(a, p, careful))
            if links is not None:
                links.append((i, j))
    return adj, steps


def input_adjoints(values: Values, adj: list[Any]) -> list[Any]:
    return [0.0 * values.vals[i] if adj[i] is None else adj[i] for i in values.graph.inputs]


def sweep_order(g: Graph) -> list[int]:
    """The reverse sweep's order, computed once per graph (it depends on the graph only)."""
    key = (len(g.nodes), tuple(g.outputs))
    cached = getattr(g, "_sweep_order", None)
    if cached is None or cached[0] != key:
        cached = (key, _textbook_order(g))
        g._sweep_order = cached  # type: ignore[attr-defined]
    return cached[1]


def _textbook_order(g: Graph) -> list[int]:
    """A reverse topological order that visits nodes level by level from the
    outputs (Kahn's algorithm with a FIFO queue), as a textbook walks through
    backpropagation: y, then y's arguments, then theirs. Any reverse
    topological order gives the same adjoints; this one reads best. Nodes no
    output depends on are left out, and do not hold back the nodes they use."""
    nodes = g.nodes
    # each node's arguments, each once (x·x consumes x once)
    uses = [
        a if len(a) < 2 or (len(a) == 2 and a[0] != a[1]) else tuple(dict.fromkeys(a)) for a in (n.args for n in nodes)
    ]
    reach = [False] * len(nodes)
    pending = [0] * len(nodes)  # consumers (that an output depends on) not yet visited
    for o in g.outputs:
        reach[o] = True
    for i in range(len(nodes) - 1, -1, -1):  # consumers come after their arguments
        if reach[i]:
            for a in uses[i]:
                reach[a] = True
                pending[a] += 1
    order = list(dict.fromkeys(o for o in g.outputs if pending[o] == 0))
    head = 0
    while head < len(order):
        for a in uses[order[head]]:
            pending[a] -= 1
            if pending[a] == 0:
                order.append(a)
        head += 1
    return order
