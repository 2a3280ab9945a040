"""``adcli diff``: each partial derivative as a formula you can read and paste.

The expression is translated into symbols (:mod:`adcli.symbolic`) and swept
in reverse there, so every gradient component is a node of one shared DAG;
second partials sweep each component again. What the formulas share becomes
a named step. This module returns data; :mod:`adcli.render` formats it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import USAGE, AdcliError
from .formula import Printer, count_ops, plan_steps, style
from .graph import Graph
from .symbolic import Problem, SymGraph, from_graph, gradient

FORMATS = ("text", "latex", "python")


@dataclass
class Partial:
    output: str  # f, or f1, f2... for several outputs
    wrt: tuple[str, ...]  # ("x",) or ("x", "y") for ∂²f/∂x∂y
    node: int  # its node in the symbolic graph


@dataclass
class DiffResult:
    graph: Graph
    problem: Problem
    inputs: list[str]
    wrt: list[str]
    order: int
    partials: list[Partial]
    steps: dict[int, str]  # node -> step name, in topological order

    @property
    def sg(self) -> SymGraph:
        return self.problem.sg

    def printer(self, st: str) -> Printer:
        return Printer(self.sg, style(st), self.steps)

    def operations(self) -> int:
        """Operations written out: every step and every partial, each node once."""
        return count_ops(self.sg, [p.node for p in self.partials])


def run_diff(graph: Graph, wrt: str | None = None, order: int = 1) -> DiffResult:
    from .core import resolve_wrt
    from .explain import output_names

    if order not in (1, 2):
        raise AdcliError(USAGE, f"--order {order}: adcli diff gives first (1) or second (2) partials")
    positions = resolve_wrt(graph, wrt)
    names = graph.input_names
    wrt_names = [names[k] for k in positions]
    problem = from_graph(graph)
    wrt_syms = [problem.inputs[k] for k in positions]
    partials: list[Partial] = []
    for label, out in zip(output_names(graph), problem.outputs):
        first = gradient(out, wrt_syms)
        if order == 1:
            partials += [Partial(label, (w,), d.i) for w, d in zip(wrt_names, first)]
            continue
        for a, (wa, d) in enumerate(zip(wrt_names, first)):
            second = gradient(d, wrt_syms[a:])
            partials += [Partial(label, (wa, wb), h.i) for wb, h in zip(wrt_names[a:], second)]
    taken = set(names) | {p.output for p in partials}
    steps = plan_steps(problem.sg, [p.node for p in partials], problem.names, taken)
    return DiffResult(graph, problem, names, wrt_names, order, partials, steps)
