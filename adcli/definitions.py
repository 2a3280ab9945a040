"""REPL definitions composed as graphs, not as text.

Each definition ``f = BODY`` is parsed once into an unfinalized graph whose
nodes keep their ids and carry names only for inputs and for definitions it
uses. A line that mentions ``f`` gets ``f``'s nodes spliced into its own graph
(hash-consed, so shared subexpressions stay one node) before its text is
parsed, and ``f`` names the node in traces, exactly as the named step
``f = BODY`` of a program would. ``f(1, 2)`` splices ``f`` with its inputs
replaced by the arguments. The cost of a line is the size of what it uses,
not the number of definitions before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import NAME, PARSE, AdcliError
from .graph import Graph
from .parse import parse


@dataclass
class Definition:
    name: str
    params: tuple[str, ...] | None  # the declared input order, or None
    body: str
    line: str  # the line it was typed on; spans of its nodes point into it
    body_start: int  # where the body starts in line
    label: str  # how errors name that line ("input", "stdin, line 3")
    param_spans: tuple[tuple[int, int], ...] = ()  # where the declared inputs are in line
    refs: frozenset[str] = frozenset()  # every name the body mentions
    used: frozenset[str] = frozenset()  # those it uses as values (not only calls)
    graph: Graph | None = None  # None: stale, rebuilt when next used
    output: int = -1  # the node of graph that is f
    inputs: tuple[str, ...] = ()
    live: list[bool] | None = None  # the nodes f needs (a reduction's template is left behind)

    def origin_label(self) -> str:
        return f"definition of {self.name}" + ("" if self.label == "input" else f", {self.label}")

    def text(self) -> str:
        head = f"{self.name}({', '.join(self.params)})" if self.params is not None else self.name
        return f"{head} = {self.body}"


def splice(target: Graph, d: Definition, inputs: dict[str, int] | None = None) -> int:
    """Copy ``d``'s nodes into ``target`` (inputs replaced by ``inputs``, when given);
    the node that is ``d`` in ``target``. A call (``inputs`` given) names no node."""
    g = d.graph
    assert g is not None and d.live is not None
    ids: list[int] = []
    for node, live in zip(g.nodes, d.live):
        if not live:
            ids.append(-1)
            continue
        if node.is_input:
            j = inputs[node.param] if inputs is not None else target.input(node.param, node.span)
        elif node.op.constant:
            j = target.const(node.param, node.label or f"{node.param:.6g}", node.span)
        else:
            j = target.apply(node.op.name, tuple(ids[a] for a in node.args), node.span, node.param)
        new = target.nodes[j]
        if new.origin is None and new.span is node.span:
            new.origin = node.origin or (d.line, d.origin_label())
        if inputs is None and node.name is not None and new.name is None and not new.is_leaf:
            new.name = node.name
        ids.append(j)
    return ids[d.output]


@dataclass
class Scope:
    """The definitions a text may use: parse's hook into a session (see parse.Scope)."""

    defs: dict[str, Definition]
    order: dict[str, int]  # definition order, for a stable node order
    wanted: Iterable[str] = ()  # the definitions the text mentions
    params: tuple[str, ...] = ()  # inputs to create first (a declared order)
    param_spans: tuple[tuple[int, int], ...] = ()
    functions: dict[str, Definition] = field(default_factory=dict)
    env: Any = None  # vector lengths and constants (vectors.Env) the texts are read with

    def __post_init__(self) -> None:
        self.functions = self.defs

    def enter(self, g: Graph) -> dict[str, int]:
        for p, span in zip(self.params, self.param_spans):
            g.input(p, span)
        steps: dict[str, int] = {}
        for name in sorted(set(self.wanted) & self.defs.keys(), key=self.order.__getitem__):
            d = self.defs[name]
            fresh(d, self.defs, self.order)
            steps[name] = splice(g, d)
        return steps

    def call(self, g: Graph, name: str, args: list[int], span: tuple[int, int]) -> int:
        d = self.defs[name]
        fresh(d, self.defs, self.order)
        if len(args) != len(d.inputs):
            want = f"{len(d.inputs)} argument{'s' if len(d.inputs) != 1 else ''}"
            raise AdcliError(
                PARSE,
                f"{name} takes {want} ({', '.join(d.inputs) or 'none'}), got {len(args)}",
                g.source,
                span,
                hint=f"write {name}({', '.join(d.inputs)})" if d.inputs else f"write {name} without parentheses",
            )
        try:
            return splice(g, d, dict(zip(d.inputs, args)))
        except AdcliError as exc:  # a domain error of a call with constant arguments: at the call
            if exc.source != g.source:
                exc.source, exc.span, exc.label = g.source, span, None
                exc.message = f"{name}(...): {exc.message}"
            raise


def build(d: Definition, defs: dict[str, Definition], order: dict[str, int], env: Any = None) -> None:
    """Parse ``d``'s body into its graph, splicing the definitions it uses."""
    scope = Scope(defs, order, wanted=d.used - {d.name}, params=d.params or (), param_spans=d.param_spans, env=env)
    padded = " " * d.body_start + d.body  # spans land on the line as typed
    try:
        g = parse(padded, label=d.label, scope=scope, finalize=False, env=env)
    except AdcliError as exc:
        if exc.source == padded:
            exc.source = d.line
        raise
    g.source = d.line
    body_span = (d.body_start, d.body_start + len(d.body))
    if len(g.outputs) != 1:  # a list [... for i=A..B] is several outputs
        raise AdcliError(
            PARSE,
            f"a definition is a single expression, but this one has {len(g.outputs)} outputs",
            d.line,
            body_span,
            hint="use the list in a command (jacobian [...]), or make its data a constant: const t = [...]",
            label=d.label,
        )
    if g.has_input(d.name):
        via = [n for n in d.refs if n in defs and n != d.name and _uses_input(defs[n], d.name)]
        raise AdcliError(
            NAME,
            f"{d.name} would depend on itself through {via[0]}" if via else f"{d.name} refers to itself",
            d.line,
            body_span,
            hint="a definition may use earlier ones, but not the other way round as well",
            label=d.label,
        )
    inputs = tuple(g.input_names)
    if d.params is not None:
        extra = [n for n in inputs if n not in d.params]
        if extra:
            first = g.nodes[g.inputs[inputs.index(extra[0])]]
            raise AdcliError(
                NAME,
                f"{extra[0]} is not among the inputs of {d.name}({', '.join(d.params)})",
                d.line,
                body_span if first.origin else first.span,
                hint=f"add it: {d.name}({', '.join(d.params + (extra[0],))}) = ...",
                label=d.label,
            )
        inputs = d.params
    d.graph, d.output, d.inputs = g, g.outputs[0], inputs
    d.live = _needed(g, d.output)
    node = g.nodes[d.output]
    if node.name is None and not node.is_leaf:
        node.name = d.name


def _needed(g: Graph, output: int) -> list[bool]:
    """The nodes ``output`` depends on, and the inputs (one backward pass, no recursion)."""
    keep = [False] * len(g.nodes)
    keep[output] = True
    for i in range(output, -1, -1):
        if keep[i]:
            for a in g.nodes[i].args:
                keep[a] = True
    for i in g.inputs:
        keep[i] = True
    return keep


def _uses_input(d: Definition, name: str) -> bool:
    return d.graph is not None and d.graph.has_input(name)


def fresh(d: Definition, defs: dict[str, Definition], order: dict[str, int]) -> None:
    if d.graph is None:  # pragma: no cover - refresh() runs first; parsing is not reentrant
        raise AssertionError(f"definition {d.name} used before it was rebuilt")


def refresh(names: Iterable[str], defs: dict[str, Definition], order: dict[str, int], env: Any = None) -> None:
    """Rebuild the stale definitions among ``names`` and what they use, each after
    its own dependencies (before a parse begins: the parser is not reentrant)."""
    stack = [(n, False) for n in names if n in defs]
    done: set[str] = set()
    while stack:
        n, ready = stack.pop()
        d = defs[n]
        if n in done or (d.graph is not None and not ready):
            continue
        if ready:
            done.add(n)
            if d.graph is None:
                build(d, defs, order, env)
            continue
        stack.append((n, True))
        stack.extend((r, False) for r in d.refs if r in defs and r != n and r not in done)
