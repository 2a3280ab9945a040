"""The computation graph: hash-consed nodes kept in topological order.

A node is interned on ``(op, argument ids, parameter)``, so an identical
subexpression is one node and its adjoint visibly receives every
contribution. Nodes are only ever appended after their arguments, so the
node list is already a topological order: evaluation is ``for n in nodes``,
the reverse sweep one reverse topological order
(:func:`adcli.reverse.sweep_order`), and nothing recurses.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import re
from typing import Any

import numpy as np

from .errors import DOMAIN, AdcliError
from .ops import OPS, Op


class Node:
    __slots__ = ("args", "label", "name", "op", "origin", "param", "span", "xextra")

    def __init__(self, op: Op, args: tuple[int, ...], param: Any, span: tuple[int, int]):
        self.op = op
        self.args = args
        self.param = param
        self.span = span  # [start, end) of its first occurrence in the source
        self.name: str | None = None  # display name: input name, step name or v<k>
        self.label: str | None = None  # how a constant is written
        # (source, label) when the span is in another text than the graph's: a REPL
        # definition spliced into the line that uses it
        self.origin: tuple[str, str] | None = None
        # what evaluation passes after the arguments: the parameter, if the op takes one
        self.xextra: tuple = (param,) if op.param and not op.variable else ()

    @property
    def is_leaf(self) -> bool:
        return self.op.arity == 0

    @property
    def is_input(self) -> bool:
        return self.op.variable

    def extra(self) -> tuple:
        return self.xextra


class Graph:
    def __init__(self, source: str):
        self.source = source
        self.nodes: list[Node] = []
        self.index: dict[tuple, int] = {}
        self.inputs: list[int] = []  # input nodes, in order of first appearance
        self.outputs: list[int] = []
        self.output_spans: list[tuple[int, int]] = []
        self.output_labels: list[str] | None = None  # several outputs, each a named step
        self.display: str | None = None  # the expression as written, when source holds more (a REPL line)
        self.has_where = False

    # -- building -------------------------------------------------------------

    def _intern(self, op: Op, args: tuple[int, ...], param: Any, span) -> int:
        key = (op.name, args, param)
        i = self.index.get(key)
        if i is None:
            i = len(self.nodes)
            self.nodes.append(Node(op, args, param, span))
            self.index[key] = i
        return i

    def input(self, name: str, span: tuple[int, int]) -> int:
        i = self.index.get(("input", (), name))
        if i is None:
            i = self._intern(OPS["input"], (), name, span)
            self.nodes[i].name = name
            self.inputs.append(i)
        return i

    def const(self, value: float, label: str, span: tuple[int, int]) -> int:
        value = float(value)
        if value == 0.0:
            value = 0.0  # -0.0 and 0.0 are one constant
        i = self._intern(OPS["const"], (), value, span)
        node = self.nodes[i]
        if node.label is None:
            node.label = label
        return i

    def is_const(self, i: int) -> bool:
        return self.nodes[i].op.constant

    def has_input(self, name: str) -> bool:
        """Whether ``name`` is already an input of this graph."""
        return ("input", (), name) in self.index

    def apply(self, opname: str, args: tuple[int, ...], span: tuple[int, int], param: Any = None) -> int:
        """Add ``opname(args)``; arguments that are all constants are folded now."""
        op = OPS[opname]
        if op.const_last is not None and self.nodes[args[-1]].op.constant:
            op, args, param = OPS[op.const_last], args[:-1], self.nodes[args[-1]].param
        if op.selects:
            self.has_where = True
        if args and all(self.nodes[a].op.constant for a in args):
            vals = [self.nodes[a].param for a in args]
            extra = (param,) if op.param else ()
            check_domain(op, vals, extra, self, span, None)
            with np.errstate(all="ignore"):
                value = float(op.ev(*vals, *extra))
            if np.isfinite(value):
                return self.const(value, f"{value:.6g}", span)
            # exp(1000) overflows as exp(x) at x=1000 does (the README's overflow
            # rule): left unfolded, evaluation gives inf and a located warning
        return self._intern(op, args, param, span)

    def fold(self, opname: str, args: list[int], span: tuple[int, int]) -> int:
        """``op(a1, ..., an)`` for a binary ``op`` as a balanced tree of ``op``
        nodes: n - 1 nodes, depth log2(n), built level by level (no recursion)."""
        level = list(args)
        while len(level) > 1:
            nxt = [self.apply(opname, (level[k], level[k + 1]), span) for k in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        return level[0]

    # -- finishing ------------------------------------------------------------

    def finalize(self, outputs: list[int], spans: list[tuple[int, int]]) -> None:
        """Drop nodes no output needs (inputs stay) and name the rest v1, v2..."""
        n = len(self.nodes)
        keep = [False] * n
        for o in outputs:
            keep[o] = True
        for i in range(n - 1, -1, -1):
            if keep[i]:
                for a in self.nodes[i].args:
                    keep[a] = True
        for i in self.inputs:
            keep[i] = True
        new_id = [-1] * n
        nodes: list[Node] = []
        for i, node in enumerate(self.nodes):
            if keep[i]:
                new_id[i] = len(nodes)
                node.args = tuple(new_id[a] for a in node.args)
                nodes.append(node)
        self.nodes = nodes
        self.index = {}
        self.inputs = [new_id[i] for i in self.inputs]
        self.outputs = [new_id[o] for o in outputs]
        self.output_spans = spans
        k = 0
        for node in nodes:
            if node.op.constant:
                continue
            if node.name is None:
                k += 1
                node.name = f"v{k}"

    def in_order(self, names: list[str]) -> Graph:
        """This graph with its inputs in the user's order (SPEC 1): the inputs
        named in ``names`` first, as listed there, then the others in order of
        first appearance. The nodes are shared; this graph is not changed."""
        at = {self.nodes[i].name: i for i in self.inputs}
        first = [at[n] for n in dict.fromkeys(names) if n in at]
        if first == self.inputs[: len(first)]:
            return self
        taken = set(first)
        view = copy.copy(self)
        view.inputs = first + [i for i in self.inputs if i not in taken]
        return view

    # -- reading --------------------------------------------------------------

    @property
    def expression(self) -> str:
        """The expression's text, for titles and legends."""
        return self.source if self.display is None else self.display

    @property
    def input_names(self) -> list[str]:
        return [self.nodes[i].name for i in self.inputs]  # type: ignore[misc]

    def ref(self, i: int) -> str:
        """How node ``i`` is written inside another node's definition."""
        node = self.nodes[i]
        if node.op.constant:
            text = node.label or f"{node.param:.6g}"
            return f"({text})" if text.startswith("-") else text
        return node.name or f"#{i}"

    def definition(self, i: int) -> str:
        """``x1 - x2`` for the node ``v1 = x1 - x2``."""
        node = self.nodes[i]
        return format_template(node.op.show, [self.ref(a) for a in node.args], node, self)

    def snippet(self, i: int) -> str:
        source, (s, e), _ = self.locate(i)
        return source[s:e]

    def locate(self, i: int) -> tuple[str, tuple[int, int], str | None]:
        """The text node ``i`` was written in, its span there, and that text's label."""
        node = self.nodes[i]
        if node.origin is not None:
            return node.origin[0], node.span, node.origin[1]
        return self.source, node.span, None

    def rows(self) -> list[int]:
        """Nodes shown in traces: everything but constants."""
        return [i for i, n in enumerate(self.nodes) if not n.op.constant]


def format_template(template: str, args: list[str], node: Node, graph: Graph) -> str:
    c = node.param
    cs = f"{c:.6g}" if isinstance(c, float) else str(c)
    if isinstance(c, float) and c < 0:
        cs = f"({cs})"
    return template.format(*args, c=cs, ans=node.name or "")


def fmt_value(v: Any, digits: int = 6) -> str:
    v = float(v)
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    s = f"{v:.{digits}g}"
    return "0" if s == "-0" else s


@contextlib.contextmanager
def collector_paused():
    """The cyclic collector off while a graph, or an explanation of one, is built:
    millions of objects with no cycles, freed (by reference counting) as they go,
    so no collection is missed. The collector's passes over them cost ~8% of a
    10^5-deep parse and a seventh of a 10^5-row trace."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


_COMPONENT = re.compile(r"(.+)\[(\d+)\]\Z")
POINT_KEEP = 10  # values of a vector written out in a message, and inputs (a long vector is one)


def point_words(pairs: list[tuple[str, float]], digits: int = 6, focus: str | None = None) -> str:
    """``x=1, y=2`` for a message: a vector's components ``x[1]=1, x[2]=2`` one by
    one up to ten, a longer vector as one shortened list (``x=[0.27, ..., -0.36]
    (2,000 values)``, nine values and the last), and at most ten inputs. ``focus``
    (the input a message is about) comes first, with its value, when the
    shortening would hide it."""
    parts: list[tuple[str, list[str]]] = []  # (text, the input names it shows)
    k = 0
    while k < len(pairs):
        name, v = pairs[k]
        m = _COMPONENT.match(name)
        if m is None:
            parts.append((f"{name}={fmt_value(v, digits)}", [name]))
            k += 1
            continue
        base, run = m.group(1), []
        while k < len(pairs) and (c := _COMPONENT.match(pairs[k][0])) is not None and c.group(1) == base:
            run.append(pairs[k])
            k += 1
        if len(run) <= POINT_KEEP:  # a short vector component by component, as always
            parts.extend((f"{n}={fmt_value(v, digits)}", [n]) for n, v in run)
            continue
        run_shown = run[: POINT_KEEP - 1] + run[-1:]
        vals = [fmt_value(v, digits) for _, v in run_shown]
        text = f"{base}=[{', '.join(vals[:-1])}, …, {vals[-1]}] ({len(run):,} values)"
        parts.append((text, [n for n, _ in run_shown]))
    if len(parts) > POINT_KEEP:
        parts = [*parts[: POINT_KEEP - 1], (f"… ({len(parts):,} inputs)", [])]
    text = ", ".join(t for t, _ in parts)
    if focus is not None and all(focus not in names for _, names in parts):
        value = dict(pairs).get(focus)
        if value is not None:
            text = f"{focus}={fmt_value(value, digits)} of {text}"
    return text


def check_domain(op: Op, vals, extra, graph: Graph, span, where_at: str | None):
    """Raise a located domain error if ``op`` is undefined at these values."""
    if op.dom is None:
        return
    bad = op.dom[0](*vals, *extra)
    if np.any(bad):
        raise domain_error(op, vals, bad, graph, span, where_at)


def domain_error(op: Op, vals, bad, graph: Graph, span, where_at: str | None) -> AdcliError:
    idx = np.flatnonzero(np.broadcast_to(bad, np.broadcast(*vals).shape or (1,)))[0] if np.ndim(bad) else None
    shown = []
    for v in vals:
        a = np.asarray(v)
        shown.append(fmt_value(a.flat[idx] if (idx is not None and a.ndim) else a.flat[0]))
    msg = op.dom[1].format(*shown)  # type: ignore[index]
    snippet = graph.source[span[0] : span[1]]
    text = f"{snippet}: {msg}"
    if where_at:
        text += f" at {where_at}"
    return AdcliError(DOMAIN, text, graph.source, span, extra={"point_index": int(idx) if idx is not None else None})
