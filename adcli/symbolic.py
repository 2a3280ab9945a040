"""The registry's derivative rules, interpreted on symbols.

Every rule in :mod:`adcli.ops` is written against a namespace ``xp``; here
``xp`` builds expression nodes instead of computing numbers, so
``op.d(SymNS, ans, *args)`` yields each local partial as a formula. Nodes live
in a :class:`SymGraph`: hash-consed like the computation graph (equal
subexpressions are one node, ``x*y`` and ``y*x`` too) and simplified as they
are built (constants folded; ``x*1``, ``x+0``, ``x^1``, ``0*x``, ``--x``,
``x - x`` gone). Nodes are appended after their arguments, so ids are a
topological order and nothing here recurses: the reverse sweep walks ids
downwards and the printer works from an explicit stack.

Comparisons build transient ``cmp`` nodes; ``xp.select(cmp, a, b)`` becomes the
registry's own ``where`` node, so a branch a rule takes is differentiated
again by the ``where`` rule (second derivatives).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .ops import CMP, OPS, Op

# op names of the leaves; "atom" is an opaque named leaf (a node of the
# computation graph shown by its name, or a constant shown as the user wrote it)
LEAVES = ("const", "input", "atom")


class Sym:
    """A handle on one node of a :class:`SymGraph`, with Python arithmetic."""

    __slots__ = ("g", "i")

    def __init__(self, g: SymGraph, i: int):
        self.g = g
        self.i = i

    @property
    def op(self) -> str:
        return self.g.ops[self.i]

    def const_value(self) -> float | None:
        return self.g.params[self.i] if self.g.ops[self.i] == "const" else None

    def __bool__(self) -> bool:
        raise TypeError("a symbolic value has no truth value: a rule branched on a value")

    def __hash__(self) -> int:
        return hash((id(self.g), self.i))

    def __repr__(self) -> str:
        return f"Sym({self.i}: {self.g.ops[self.i]})"

    def __add__(self, o):
        return SymNS.add(self, o)

    def __radd__(self, o):
        return SymNS.add(o, self)

    def __sub__(self, o):
        return SymNS.sub(self, o)

    def __rsub__(self, o):
        return SymNS.sub(o, self)

    def __mul__(self, o):
        return SymNS.mul(self, o)

    def __rmul__(self, o):
        return SymNS.mul(o, self)

    def __truediv__(self, o):
        return SymNS.div(self, o)

    def __rtruediv__(self, o):
        return SymNS.div(o, self)

    def __neg__(self):
        return SymNS.neg(self)

    def __pos__(self):
        return self

    def __pow__(self, o):
        if isinstance(o, (int, float)):
            return SymNS.powc(self, float(o))
        return SymNS.pow(self, o)

    def __lt__(self, o):
        return SymNS.cmp("<", self, o)

    def __le__(self, o):
        return SymNS.cmp("<=", self, o)

    def __gt__(self, o):
        return SymNS.cmp(">", self, o)

    def __ge__(self, o):
        return SymNS.cmp(">=", self, o)

    def __eq__(self, o):  # type: ignore[override]
        return SymNS.cmp("==", self, o)

    def __ne__(self, o):  # type: ignore[override]
        return SymNS.cmp("!=", self, o)


class SymGraph:
    """Hash-consed, simplified expression nodes: ``ops[i](args[i]; params[i])``."""

    def __init__(self) -> None:
        self.ops: list[str] = []
        self.args: list[tuple[int, ...]] = []
        self.params: list[Any] = []
        self.index: dict[tuple, int] = {}

    def __len__(self) -> int:
        return len(self.ops)

    def intern(self, op: str, args: tuple[int, ...], param: Any = None) -> Sym:
        key = (op, args, param)
        i = self.index.get(key)
        if i is None and op in ("add", "mul"):
            i = self.index.get((op, args[::-1], param))  # x*y and y*x are one node
        if i is None:
            i = len(self.ops)
            self.ops.append(op)
            self.args.append(args)
            self.params.append(param)
            self.index[key] = i
        return Sym(self, i)

    def const(self, v: float) -> Sym:
        v = float(v)
        return self.intern("const", (), 0.0 if v == 0 else v)

    def input(self, name: str) -> Sym:
        return self.intern("input", (), name)

    def atom(self, name: str) -> Sym:
        return self.intern("atom", (), name)

    def sym(self, i: int) -> Sym:
        return Sym(self, i)


# -- building with simplification ----------------------------------------------------


def _graph_of(args) -> SymGraph | None:
    for a in args:
        if isinstance(a, Sym):
            return a.g
    return None


def _is(s: Sym, v: float) -> bool:
    c = s.const_value()
    return c is not None and c == v


def _fold(op: Op, vals: list[float], param: Any) -> float | None:
    extra = (param,) if op.param else ()
    with np.errstate(all="ignore"):
        v = float(op.ev(*vals, *extra))
    return v if math.isfinite(v) else None


def apply(name: str, *a: Any) -> Any:
    """``name(args[, param])`` as a simplified node (or a number if nothing is symbolic)."""
    op = OPS[name]
    n = op.arity
    raw, param = a[:n], (a[n] if op.param else None)
    g = _graph_of(raw)
    if g is None:  # plain numbers: the primitive itself
        return op.ev(*raw, *((param,) if op.param else ()))
    args = [x if isinstance(x, Sym) else g.const(x) for x in raw]
    consts = [x.const_value() for x in args]
    if all(c is not None for c in consts):
        v = _fold(op, consts, param)  # type: ignore[arg-type]
        if v is not None:
            return g.const(v)
    rule = _SIMPLIFY.get(name)
    if rule is not None:
        out = rule(g, *args, *((param,) if op.param else ()))
        if out is not None:
            return out
    return g.intern(name, tuple(x.i for x in args), param)


def _neg_of(s: Sym) -> Sym | None:
    """``c`` if ``s`` is ``-c`` (a negation or a negative constant)."""
    if s.op == "neg":
        return s.g.sym(s.g.args[s.i][0])
    c = s.const_value()
    if c is not None and c < 0:
        return s.g.const(-c)
    return None


def _add(g, a, b):
    if _is(a, 0):
        return b
    if _is(b, 0):
        return a
    if a.i == b.i:
        return apply("mul", 2.0, a)
    nb = _neg_of(b)
    if nb is not None:
        return apply("sub", a, nb)
    na = _neg_of(a)
    if na is not None:
        return apply("sub", b, na)
    return None


def _sub(g, a, b):
    if _is(b, 0):
        return a
    if _is(a, 0):
        return apply("neg", b)
    if a.i == b.i:
        return g.const(0.0)
    nb = _neg_of(b)
    if nb is not None:
        return apply("add", a, nb)
    return None


def _select01(s: Sym):
    """``(lhs, rhs, p, q, c)`` if ``s`` is ``where(lhs c rhs, p, q)`` with constant p, q."""
    if s.op != "where":
        return None
    lhs, rhs, p, q = s.g.args[s.i]
    pv, qv = s.g.sym(p).const_value(), s.g.sym(q).const_value()
    if pv is None or qv is None:
        return None
    return lhs, rhs, pv, qv, s.g.params[s.i]


def _mul(g, a, b):
    if _is(a, 0) or _is(b, 0):
        return g.const(0.0)
    if _is(a, 1):
        return b
    if _is(b, 1):
        return a
    if _is(a, -1):
        return apply("neg", b)
    if _is(b, -1):
        return apply("neg", a)
    if a.op == "neg":
        return apply("neg", apply("mul", g.sym(g.args[a.i][0]), b))
    if b.op == "neg":
        return apply("neg", apply("mul", a, g.sym(g.args[b.i][0])))
    if a.i == b.i:
        return apply("powc", a, 2.0)
    for x, y in ((a, b), (b, a)):  # a factor where(c, 1, 0) selects: where(c, y, 0)
        s = _select01(x)
        if s is not None:
            lhs, rhs, p, q, c = s
            return apply("where", g.sym(lhs), g.sym(rhs), apply("mul", y, p), apply("mul", y, q), c)
    ca, cb = a.const_value(), b.const_value()
    if cb is not None and ca is None:
        return apply("mul", b, a)  # constants first: 2*x
    if ca is None:  # (2*u)*v = 2*(u*v), u*(2*v) = 2*(u*v): constants gather in front
        for x, y, left in ((a, b, True), (b, a, False)):
            if x.op == "mul" and g.sym(g.args[x.i][0]).const_value() is not None:
                c, rest = (g.sym(k) for k in g.args[x.i])
                return apply("mul", c, apply("mul", rest, y) if left else apply("mul", y, rest))
    if ca is not None and b.op == "mul":
        b0, b1 = (g.sym(k) for k in g.args[b.i])
        if b0.const_value() is not None:
            return apply("mul", apply("mul", a, b0), b1)
    if ca is not None and b.op == "div":
        b0, b1 = (g.sym(k) for k in g.args[b.i])
        if b0.const_value() is not None:
            return apply("div", apply("mul", a, b0), b1)
    for x, y in ((a, b), (b, a)):  # y * (1/d) = y/d
        if x.op == "div" and _is(g.sym(g.args[x.i][0]), 1):
            return apply("div", y, g.sym(g.args[x.i][1]))
    return None


def _div(g, a, b):
    if _is(b, 1):
        return a
    if _is(a, 0):
        return g.const(0.0)
    if _is(b, -1):
        return apply("neg", a)
    if a.i == b.i:
        return g.const(1.0)
    if a.op == "neg":
        return apply("neg", apply("div", g.sym(g.args[a.i][0]), b))
    if b.op == "neg":
        return apply("neg", apply("div", a, g.sym(g.args[b.i][0])))
    return None


def _neg(g, a):
    if a.op == "neg":
        return g.sym(g.args[a.i][0])
    if a.op == "mul":  # -(-2*x) = 2*x, never "--2*x"
        c, rest = (g.sym(k) for k in g.args[a.i])
        cv = c.const_value()
        if cv is not None and cv < 0:
            return apply("mul", -cv, rest)
    if a.op == "sub":
        x, y = g.args[a.i]
        return apply("sub", g.sym(y), g.sym(x))
    return None


def _powc(g, a, c):
    if c == 1:
        return a
    if c == 0:
        return g.const(1.0)
    if a.op == "powc" and float(c).is_integer() and float(g.params[a.i]).is_integer():
        return apply("powc", g.sym(g.args[a.i][0]), float(c) * g.params[a.i])
    return None


def _pow(g, a, b):
    c = b.const_value()
    if c is not None:
        return apply("powc", a, c)
    return None


def _where(g, lhs, rhs, a, b, c):
    if a.i == b.i:
        return a
    lv, rv = lhs.const_value(), rhs.const_value()
    if lv is not None and rv is not None:
        return a if CMP[c](lv, rv) else b
    return None


_SIMPLIFY: dict[str, Callable[..., Any]] = {
    "add": _add,
    "sub": _sub,
    "mul": _mul,
    "div": _div,
    "neg": _neg,
    "powc": _powc,
    "pow": _pow,
    "where": _where,
}


class SymNS:
    """The ``xp`` namespace of the rules, building :class:`Sym` nodes."""

    @staticmethod
    def cmp(c: str, lhs: Any, rhs: Any) -> Any:
        g = _graph_of((lhs, rhs))
        if g is None:
            return CMP[c](lhs, rhs)
        lhs, rhs = (x if isinstance(x, Sym) else g.const(x) for x in (lhs, rhs))
        lv, rv = lhs.const_value(), rhs.const_value()
        if lv is not None and rv is not None:
            return g.const(1.0 if CMP[c](lv, rv) else 0.0)
        return g.intern("cmp", (lhs.i, rhs.i), c)

    @staticmethod
    def select(cond: Any, a: Any, b: Any) -> Any:
        if not isinstance(cond, Sym):
            return a if cond else b
        v = cond.const_value()
        if v is not None:
            return a if v else b
        if cond.op != "cmp":
            raise TypeError("select needs a comparison")
        lhs, rhs = (cond.g.sym(k) for k in cond.g.args[cond.i])
        return apply("where", lhs, rhs, a, b, cond.g.params[cond.i])


def _make(name: str):
    def build(*a):
        return apply(name, *a)

    build.__name__ = name
    return staticmethod(build)


for _name, _o in OPS.items():
    if _o.arity:
        setattr(SymNS, _name, _make(_name))


# -- derivatives ------------------------------------------------------------------


def local_partials(s: Sym) -> list[Sym]:
    """Each ∂s/∂(argument k) as a node: the registry's rule, run on symbols."""
    g = s.g
    op = OPS[s.op]
    args = [g.sym(k) for k in g.args[s.i]]
    extra = (g.params[s.i],) if op.param else ()
    assert op.d is not None, s.op
    ps = op.d(SymNS, s, *args, *extra)
    assert len(ps) == len(args), s.op
    return [p if isinstance(p, Sym) else g.const(p) for p in ps]


def gradient(out: Sym, wrt: list[Sym]) -> list[Sym]:
    """∂out/∂w for each w, by a reverse sweep over the symbolic nodes: the
    adjoints are nodes too, so what the components share is shared."""
    g = out.g
    adj: dict[int, Sym] = {out.i: g.const(1.0)}
    for i in range(out.i, -1, -1):
        a = adj.get(i)
        if a is None or g.ops[i] in LEAVES or g.ops[i] == "cmp" or _is(a, 0):
            continue
        node_args = g.args[i]
        for k, p in enumerate(local_partials(g.sym(i))):
            j = node_args[k]
            if _is(p, 0) or g.ops[j] == "const":
                continue
            c = apply("mul", a, p)
            old = adj.get(j)
            adj[j] = c if old is None else apply("add", old, c)
    return [adj.get(w.i, g.const(0.0)) for w in wrt]


@dataclass
class Problem:
    """An adcli graph translated into symbols: inputs and outputs as nodes."""

    sg: SymGraph
    inputs: list[Sym]
    outputs: list[Sym]
    names: dict[int, str]  # symbolic node -> the user's step name
    of: list[Sym]  # the symbolic node of each node of the computation graph


def from_graph(graph) -> Problem:
    """Translate a parsed :class:`~adcli.graph.Graph` node by node (topological)."""
    sg = SymGraph()
    of: list[Sym] = []
    for node in graph.nodes:
        name = node.op.name
        if name == "input":
            of.append(sg.input(node.name))
        elif name == "const":
            of.append(sg.const(node.param))
        else:
            args = [of[a] for a in node.args]
            extra = (node.param,) if node.op.param else ()
            s = apply(name, *args, *extra)
            of.append(s if isinstance(s, Sym) else sg.const(s))
    names: dict[int, str] = {}
    for node, s in zip(graph.nodes, of):
        if node.op.arity and node.name and not (node.name[0] == "v" and node.name[1:].isdigit()):
            names.setdefault(s.i, node.name)
    return Problem(sg, [of[i] for i in graph.inputs], [of[o] for o in graph.outputs], names, of)


def local_partial_of(graph, node_id: int, k: int, ans_as_call: bool = True) -> Sym:
    """∂v/∂(argument k) of node ``node_id`` in the names of the trace: its
    arguments and its own output are opaque atoms (v1, x1, the constant as
    written, exp(v1)), so the formula reads as the rule does."""
    node = graph.nodes[node_id]
    # a function's own value reads as its call, exp(x), as textbooks write it
    as_call = ans_as_call and node.op.show.startswith(node.op.name + "(")
    ans = graph.definition(node_id) if as_call else (node.name or "")
    return rule_partial(node.op, node.param, k, [graph.ref(a) for a in node.args], ans)


def rule_partial(op: Op, param: Any, k: int, args: list[str], ans: str) -> Sym:
    """∂/∂(argument k) of ``op``'s rule, its arguments and its value the atoms
    ``args`` and ``ans`` (what :func:`local_partial_of` reads off a node)."""
    sg = SymGraph()
    atoms = [sg.atom(a) for a in args]
    extra = (param,) if op.param else ()
    rule: Any = op.d
    p = rule(SymNS, sg.atom(ans), *atoms, *extra)[k]
    return p if isinstance(p, Sym) else sg.const(p)


def definition_of(graph, node_id: int) -> Sym:
    """Node ``node_id`` over its arguments as atoms (``v1^2``), unsimplified."""
    node = graph.nodes[node_id]
    sg = SymGraph()
    args = tuple(sg.atom(graph.ref(a)).i for a in node.args)
    return sg.intern(node.op.name, args, node.param if node.op.param else None)
