"""Forward mode: tangents (dual numbers) pushed from the inputs to the outputs.

One sweep gives J·v for one direction v. Each node's tangent is
``v̇ = Σ ∂v/∂a · ȧ`` over its arguments, with the local partials from the
registry; the terms are recorded when asked, so ``--steps`` shows the very
numbers that were summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .evaluate import Values, partials, run_sweep, times


@dataclass
class TangentStep:
    node: int
    terms: list[tuple[int, int, Any, Any]]  # (argument position, argument node, ∂v/∂a, ȧ)
    total: Any


def jvp(values: Values, direction: list[Any], record: bool = False) -> tuple[list[Any], list[TangentStep]]:
    """Tangents of every node for the input direction ``direction`` (None = 0)."""
    return run_sweep(_sweep, values, direction, record, values.graph.outputs)


def _sweep(values: Values, direction: list[Any], record: bool, careful: bool):
    g = values.graph
    tan: list[Any] = [None] * len(g.nodes)
    for i, d in zip(g.inputs, direction):
        tan[i] = d
    steps: list[TangentStep] = []
    for i, node in enumerate(g.nodes):
        if node.op.arity == 0:
            continue
        through = [tan[a] for a in node.args if tan[a] is not None]
        if not through:
            continue
        ps = partials(values, i, through)
        total = None
        terms = []
        for k, a in enumerate(node.args):
            t = tan[a]
            if t is None:
                continue
            p = ps[k]
            c = times(t, p, careful)
            total = c if total is None else total + c
            if record:
                terms.append((k, a, p, t))
        tan[i] = total
        if record:
            steps.append(TangentStep(i, terms, total))
    return tan, steps


def output_tangents(values: Values, tan: list[Any]) -> list[Any]:
    return [0.0 * values.vals[o] if tan[o] is None else tan[o] for o in values.graph.outputs]
