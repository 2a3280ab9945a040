"""Reverse mode: adjoints swept from the outputs back to the inputs.

One sweep gives uᵀJ for one cotangent u. The node list is already in
topological order, so the sweep is ``for i in reversed(nodes)``, and every
adjoint is accumulated in exactly one place, :func:`_accumulate`, which is
also what records the steps ``--steps`` prints.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from .evaluate import Values, partials, run_sweep, times


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
        if old is None:
            adj[target] = c
        elif (
            not record
            and c is not a
            and c is not p
            and isinstance(c, np.ndarray)
            and c.shape == np.shape(old)
            and c.dtype == np.float64
        ):
            adj[target] = np.add(c, old, out=c)  # c is a fresh product: sum into it, no new array
        else:
            adj[target] = old + c
        if record:
            steps.append(AdjointStep(target, source, k, a, p, c, adj[target]))

    for o, u in zip(g.outputs, cotangent):
        if u is not None:
            _accumulate(o, -1, 0, u, None, u)
    is_const = [n.op.constant for n in g.nodes]
    order = textbook_order(values) if record else range(len(g.nodes) - 1, -1, -1)
    for i in order:
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


def textbook_order(values: Values) -> list[int]:
    """A reverse topological order that visits nodes level by level from the
    outputs (Kahn's algorithm with a FIFO queue), as a textbook walks through
    backpropagation: y, then y's arguments, then theirs. Any reverse
    topological order gives the same adjoints; this one reads best."""
    g = values.graph
    pending = [0] * len(g.nodes)  # consumers not yet processed
    for node in g.nodes:
        for a in set(node.args):
            pending[a] += 1
    queue = deque(o for k, o in enumerate(g.outputs) if o not in g.outputs[:k] and pending[o] == 0)
    order: list[int] = []
    while queue:
        i = queue.popleft()
        order.append(i)
        for a in dict.fromkeys(g.nodes[i].args):
            pending[a] -= 1
            if pending[a] == 0:
                queue.append(a)
    return order
