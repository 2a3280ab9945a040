"""Vectors, reductions and lists (SPEC 7), expanded at parse time into scalar nodes.

Design: ``sum(EXPR for i=1..n)`` becomes ordinary hash-consed nodes
(``t1 + t2 + ...``), so every engine, the Hessian, check, trace and steps
work on it unchanged, and a vector input ``x`` becomes the scalar inputs
``x[1]``, ``x[2]``... (named so in every output). The LALR builder meets the
body before the ``for`` that binds its loop variable, so the body is built
once as a *template*: the loop variable is a placeholder node, ``x[i+1]`` an
``index`` placeholder, and a reduction whose bounds depend on an enclosing
loop variable (``for j=1..i``) a deferred ``reduce`` placeholder.
:meth:`Expander.expand` then copies the part of the template that depends on
the loop variable once per value, folding index arithmetic to constants;
everything that does not depend on it is shared, not copied. The cost is the
size of the expansion; the only recursion is through deferred reductions, so
its depth is the textual nesting of reductions (capped by MAX_NESTING).
Templates never reach a finished graph: :meth:`Expander.check_closed` refuses
a loop variable used outside its reduction. ``Graph.reductions`` keeps, per
top-level reduction, its kind, loop variable, range and template span, for
code generators that would rather emit a loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import INPUT, NAME, PARSE, AdcliError
from .graph import Graph
from .ops import CONSTANTS, FUNCTIONS, Op

REDUCTIONS = ("sum", "prod", "max", "min", "logsumexp")
MAX_NESTING = 64
MAX_COPIES = 5_000_000  # template nodes copied in all: beyond this the graph would not fit in memory


def _template_only(*args: Any) -> Any:
    raise AssertionError("a reduction template reached evaluation")


# Placeholders: template nodes only, never evaluated, never in OPS.
LOOPVAR = Op("loopvar", 0, _template_only, None, "{c}", param=True, fn=False)
INDEX = Op("index", 1, _template_only, None, "{c}[{0}]", param=True, fn=False)
REDUCE = Op("reduce", 3, _template_only, None, "{c}", param=True, fn=False)

_FOR = re.compile(r"\bfor\s+([^\W\d]\w*)")


@dataclass
class Env:
    """What the expression's names mean besides inputs: vector lengths of
    inputs (from --at or a --points header) and constants (--const)."""

    lengths: dict[str, int] = field(default_factory=dict)
    consts: dict[str, float | list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Reduction:
    """A reduction as written: enough structure to emit it as a loop."""

    kind: str
    var: str
    lo: int
    hi: int
    span: tuple[int, int]  # the whole reduction
    body_span: tuple[int, int]  # its template EXPR
    # for a code generator (adcli/loops.py): the template itself, ``body`` an id
    # into ``nodes`` (the builder's node list, which finalize leaves intact for
    # template nodes), and the node the expansion folded to; list steps by name
    body: int = field(default=-1, compare=False)
    nodes: list = field(default_factory=list, compare=False, repr=False)
    result: Any = field(default=None, compare=False, repr=False)
    lists: dict = field(default_factory=dict, compare=False, repr=False)
    free: dict = field(default_factory=dict, compare=False, repr=False)  # template node -> its loop variables
    consts: dict = field(default_factory=dict, compare=False, repr=False)  # vector constants


class TemplateGraph(Graph):
    """A graph that knows which nodes depend on loop variables (``free``)."""

    def __init__(self, source: str):
        super().__init__(source)
        self.free: dict[int, frozenset[str]] = {}
        self.reductions: list[Reduction] = []

    def _tracking_apply(self, opname: str, args: tuple[int, ...], span: tuple[int, int], param: Any = None) -> int:
        i = Graph.apply(self, opname, args, span, param)
        free = self.free
        fs = [free[a] for a in args if a in free]
        if fs:
            free[i] = frozenset().union(*fs)
        return i

    def placeholder(self, op: Op, args: tuple[int, ...], param: Any, span, free: frozenset[str]) -> int:
        if not self.free:  # from the first template on, apply tracks loop variables (none: no cost)
            self.apply = self._tracking_apply  # type: ignore[method-assign]
        i = self._intern(op, args, param, span)
        self.free[i] = free
        return i


def loop_variables(source: str) -> set[str]:
    """Names bound by ``for NAME`` anywhere in the program (comments aside)."""
    return set(_FOR.findall(re.sub(r"#[^\n]*", "", source)))


def _fmt_env(env: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in env.items())


class Expander:
    """The vector-and-reduction half of the parser's builder (see module doc)."""

    def __init__(self, g: TemplateGraph, source: str, env: Env | None):
        self.g = g
        self.source = source
        self.env = env or Env()
        self.loopvars = loop_variables(source)
        self.vectors: dict[str, dict[int, int]] = {}  # vector input -> {k: input node}
        self.vector_order: list[str] = []
        self.lists: dict[str, list[int]] = {}  # list steps
        self.depth = 0
        self.copies = 0
        self.elements: dict[tuple[str, float], int] = {}  # name[k] -> its node, once resolved
        self.plans: dict[tuple[int, frozenset[str]], list[int]] = {}  # template -> nodes to copy
        self.list_templates: dict[int, tuple[str, int, int, int]] = {}  # id(items) -> (var, lo, hi, body)

    def err(self, kind: str, message: str, span: tuple[int, int], hint: str | None = None) -> AdcliError:
        return AdcliError(kind, message, self.source, span, hint=hint)

    # -- leaves -----------------------------------------------------------------

    def loopvar(self, name: str, span: tuple[int, int]) -> int:
        return self.g.placeholder(LOOPVAR, (), name, span, frozenset((name,)))

    def scalar_const(self, name: str, span: tuple[int, int]) -> int | None:
        """A scalar --const, or None; a vector one used bare is an error."""
        c = self.env.consts.get(name)
        if c is None:
            return None
        if isinstance(c, list):
            raise self.err(NAME, f"{name} is a vector constant of length {len(c)}: index it, {name}[i]", span)
        return self.g.const(c, name, span)

    def bare_vector(self, name: str, span: tuple[int, int], steps: dict[str, int]) -> None:
        """Refuse a vector or list name used where one number is needed."""
        if name in self.lists:
            n = len(self.lists[name])
            raise self.err(NAME, f"{name} is a list of {n} values: index it, {name}[1]..{name}[{n}]", span)
        n_ = self.env.lengths.get(name)
        if name in self.vectors or n_ is not None:
            what = f" of length {n_}" if n_ is not None else ""
            raise self.err(NAME, f"{name} is a vector input{what}: index it, {name}[i]", span)

    def length(self, name: str, span: tuple[int, int]) -> int:
        if name in self.lists:
            n = len(self.lists[name])
        elif isinstance(self.env.consts.get(name), list):
            n = len(self.env.consts[name])  # type: ignore[arg-type]
        elif name in self.env.consts:
            raise self.err(NAME, f"{name} is a scalar constant, not a vector: len({name}) is undefined", span)
        else:
            n_ = self.env.lengths.get(name)
            if n_ is None:
                if self.g.has_input(name):
                    raise self.err(NAME, f"{name} is a scalar input, not a vector", span)
                raise self.err(
                    INPUT,
                    f"the length of {name} is not known",
                    span,
                    hint=f"give its value as a vector, e.g. --at {name}=[1,2,3]",
                )
            n = n_
            self._vector(name, span)
        return self.g.const(float(n), str(n), span)

    def _vector(self, name: str, span: tuple[int, int]) -> dict[int, int]:
        """The element inputs of vector ``name``: all of them at once when its
        length is known, so they are inputs in index order."""
        elems = self.vectors.get(name)
        if elems is None:
            if self.g.has_input(name):
                raise self.err(NAME, f"{name} is used as a scalar input elsewhere, so it cannot be indexed", span)
            elems = self.vectors[name] = {}
            self.vector_order.append(name)
            n = self.env.lengths.get(name)
            if n is not None:
                for k in range(1, n + 1):
                    elems[k] = self.g.input(f"{name}[{k}]", span)
        return elems

    # -- indexing -----------------------------------------------------------------

    def index(self, name: str, idx: int, span: tuple[int, int], idx_span: tuple[int, int], steps) -> int:
        if name in steps and name not in self.lists:
            raise self.err(NAME, f"{name} is a step with one value, not a list: it cannot be indexed", span)
        if name in self.env.consts and not isinstance(self.env.consts[name], list):
            raise self.err(NAME, f"{name} is a scalar constant, not a vector: it cannot be indexed", span)
        if name in self.loopvars:
            raise self.err(NAME, f"{name} is a loop variable, not a vector", span)
        if name in FUNCTIONS or name in CONSTANTS:
            what = "function" if name in FUNCTIONS else "constant"
            raise self.err(NAME, f"{name} is a {what}, not a vector: it cannot be indexed", span)
        if idx in self.g.free:
            return self.g.placeholder(INDEX, (idx,), (name, span, idx_span), span, self.g.free[idx])
        return self.element(name, idx, span, idx_span, {})

    def element(self, name: str, idx: int, span, idx_span, env: dict[str, int]) -> int:
        """``name[idx]`` for a constant node ``idx``, with errors naming the index, its value and the valid range."""
        if not self.g.is_const(idx):  # an input in the index, found only once the loop variables are set
            raise self.err(
                INPUT,
                f"the index {self.source[idx_span[0] : idx_span[1]]} of {name} is not a constant (it uses an input)",
                idx_span,
                hint="indices are integer arithmetic of loop variables, constants and len(...)",
            )
        value = self.g.nodes[idx].param
        key = (name, value)
        i = self.elements.get(key)
        if i is not None:
            return i
        i = self.elements[key] = self._element(name, value, span, idx_span, env)
        return i

    def _element(self, name: str, value: float, span, idx_span, env: dict[str, int]) -> int:
        if name in self.lists:
            n: int | None = len(self.lists[name])
        elif isinstance(self.env.consts.get(name), list):
            n = len(self.env.consts[name])  # type: ignore[arg-type]
        else:
            n = self.env.lengths.get(name)
        k = int(value)
        if value != k or k < 1 or (n is not None and k > n):
            text = self.source[idx_span[0] : idx_span[1]]
            literal = text.strip() == f"{value:g}"
            # "(at i=3)" unless the index is the loop variable itself
            at = f" (at {_fmt_env(env)})" if env and text.strip() not in env else ""
            what = f"the index {text} of {name} " + ("is" if literal else f"is {value:g}{at},")
            if value != k:
                raise self.err(INPUT, f"{what} not a whole number", idx_span)
            valid = f"1..{n}" if n is not None else "1, 2, ..."
            hint = "indices start at 1" if k == 0 else None
            raise self.err(INPUT, f"{what} outside {valid}", idx_span, hint=hint)
        if name in self.lists:
            return self.lists[name][k - 1]
        c = self.env.consts.get(name)
        if isinstance(c, list):
            return self.g.const(c[k - 1], f"{name}[{k}]", span)
        elems = self._vector(name, span)
        i = elems.get(k)
        if i is None:
            i = elems[k] = self.g.input(f"{name}[{k}]", span)
        return i

    # -- reductions -----------------------------------------------------------------

    def bound(self, i: int, span: tuple[int, int], env: dict[str, int]) -> int | None:
        """A range end as an int, or None while it depends on a loop variable."""
        if i in self.g.free:
            return None
        if not self.g.is_const(i):
            raise self.err(
                INPUT,
                f"the range bound {self.source[span[0] : span[1]]} is not a constant (it uses an input)",
                span,
                hint="bounds are integer arithmetic of constants, len(...) and loop variables; --const n=10 names one",
            )
        v = self.g.nodes[i].param
        if v != int(v):
            at = f" (at {_fmt_env(env)})" if env else ""
            raise self.err(
                INPUT, f"the range bound {self.source[span[0] : span[1]]} is {v:g}{at}, not a whole number", span
            )
        return int(v)

    def reduce(self, kind: str, var: str, lo: int, hi: int, body: int, spans, outer: dict[str, int]) -> int:
        """``kind(body for var=lo..hi)``: expanded now if the bounds are known,
        else a deferred placeholder that the enclosing expansion resolves."""
        span, body_span, lo_span, hi_span = spans
        a, b = self.bound(lo, lo_span, outer), self.bound(hi, hi_span, outer)
        if kind == "list":
            if a is None or b is None:
                raise self.err(PARSE, "the range of a list must be constant", span)
            terms = [self.subst(body, {var: k}) for k in range(a, b + 1)]
            if not terms:
                raise self.err(
                    INPUT, f"the list is empty: {var}={a}..{b}", span, hint="a list needs at least one value"
                )
            if not outer:
                self.list_templates[id(terms)] = (var, a, b, body)
            return terms  # type: ignore[return-value]
        if a is None or b is None:
            free = (self.g.free.get(lo, frozenset()) | self.g.free.get(hi, frozenset())) | (
                self.g.free.get(body, frozenset()) - {var}
            )
            return self.g.placeholder(
                REDUCE, (lo, hi, body), (kind, var, span, body_span, lo_span, hi_span), span, free
            )
        terms = [self.subst(body, {**outer, var: k}) for k in range(a, b + 1)]
        if not terms:
            if kind == "sum":
                return self.g.const(0.0, "0", span)
            if kind == "prod":
                return self.g.const(1.0, "1", span)
            at = f" (at {_fmt_env(outer)})" if outer else ""
            raise self.err(
                INPUT, f"{kind} over an empty range: {var}={a}..{b}{at}", span, hint=f"{kind} needs at least one term"
            )
        result = self.combine(kind, terms, span)
        if not outer:
            lists = {n: self.list_templates.get(id(items)) for n, items in self.lists.items()}
            vecs = {n: v for n, v in self.env.consts.items() if isinstance(v, list)}
            red = Reduction(
                kind, var, a, b, span, body_span, body, self.g.nodes, self.g.nodes[result], lists, self.g.free, vecs
            )
            self.g.reductions.append(red)
        return result

    def _count(self, n: int, span: tuple[int, int]) -> None:
        self.copies += n
        cap = MAX_COPIES
        if self.copies > cap:
            raise self.err(
                INPUT,
                f"the reductions expand to more than {cap:,} nodes",
                span,
                hint="adcli writes out every term; use smaller ranges",
            )

    def combine(self, kind: str, terms: list[int], span: tuple[int, int]) -> int:
        g = self.g
        acc = terms[0]
        if kind == "logsumexp":
            # log(e^a + e^b) = a + softplus(b - a): no overflow, no kink
            for t in terms[1:]:
                acc = g.apply("add", (acc, g.apply("softplus", (g.apply("sub", (t, acc), span),), span)), span)
            return acc
        op = {"sum": "add", "prod": "mul", "max": "max", "min": "min"}[kind]
        for t in terms[1:]:
            acc = g.apply(op, (acc, t), span)
        return acc

    def subst(self, root: int, env: dict[str, int]) -> int:
        """A copy of the template ``root`` with the loop variables in ``env`` set."""
        g = self.g
        free = g.free
        keys = env.keys()
        fr = free.get(root)
        if fr is None or fr.isdisjoint(keys):
            return root
        nodes = g.nodes
        plan_key = (root, frozenset(keys))
        plan = self.plans.get(plan_key)
        if plan is None:  # the nodes that depend on these loop variables, in order
            seen = {root}
            stack = [root]
            while stack:
                n = stack.pop()
                node = nodes[n]
                args = node.args[:2] if node.op is REDUCE else node.args
                for a in args:
                    fa = free.get(a)
                    if fa is not None and a not in seen and not fa.isdisjoint(keys):
                        seen.add(a)
                        stack.append(a)
            plan = self.plans[plan_key] = sorted(seen)
        self._count(len(plan), nodes[root].span)
        new: dict[int, int] = {}
        for n in plan:
            node = nodes[n]
            op = node.op
            if op is LOOPVAR:
                new[n] = g.const(float(env[node.param]), str(env[node.param]), node.span)
            elif op is INDEX:
                (a,) = node.args
                idx = new.get(a, a)
                name, span, idx_span = node.param
                if idx in free:
                    new[n] = g.placeholder(INDEX, (idx,), node.param, span, free[idx])
                else:
                    new[n] = self.element(name, idx, span, idx_span, env)
            elif op is REDUCE:
                lo, hi, body = node.args
                kind, var, span, body_span, lo_span, hi_span = node.param
                inner = {k: v for k, v in env.items() if k != var}
                self.depth += 1
                if self.depth > MAX_NESTING:
                    raise self.err(PARSE, f"reductions nest more than {MAX_NESTING} deep", span)
                try:
                    new_body = self.subst(body, inner)
                    new[n] = self.reduce(
                        kind,
                        var,
                        new.get(lo, lo),
                        new.get(hi, hi),
                        new_body,
                        (span, body_span, lo_span, hi_span),
                        env,
                    )
                finally:
                    self.depth -= 1
            else:
                args = tuple(new.get(a, a) for a in node.args)
                new[n] = g.apply(op.name, args, node.span, node.param)
        return new[root]

    # -- finishing ----------------------------------------------------------------------

    def check_closed(self, i: int, span: tuple[int, int]) -> None:
        """An output or step must not depend on a loop variable (used outside its reduction)."""
        fr = self.g.free.get(i)
        if fr:
            var = sorted(fr)[0]
            raise self.err(
                NAME,
                f"the loop variable {var} is used outside the reduction that defines it",
                span,
                hint=f"write it inside sum(... for {var}=A..B)",
            )

    def order_inputs(self) -> None:
        """Vector elements in index order, at their vector's first appearance."""
        if not self.vectors:
            return
        g = self.g
        elem_of = {i: (name, k) for name, elems in self.vectors.items() for k, i in elems.items()}
        out: list[int] = []
        placed: set[str] = set()
        for i in g.inputs:
            owner = elem_of.get(i)
            if owner is None:
                out.append(i)
            elif owner[0] not in placed:
                placed.add(owner[0])
                elems = self.vectors[owner[0]]
                out.extend(elems[k] for k in sorted(elems))
        g.inputs = out


# -- names as written ------------------------------------------------------------------

_ELEM = re.compile(r"^(.*)\[(\d+)\]$")


def split_name(name: str) -> tuple[str, int] | None:
    """``"x[3]"`` -> ``("x", 3)``; a scalar name -> None."""
    m = _ELEM.match(name)
    return (m.group(1), int(m.group(2))) if m else None


def written_inputs(names: list[str]) -> list[str]:
    """Input names as written: ``["x[1]", "x[2]", "b"]`` -> ``["x", "b"]``."""
    out: list[str] = []
    seen: set[str] = set()
    for n in names:
        s = split_name(n)
        base = s[0] if s else n
        if base not in seen:
            seen.add(base)
            out.append(base)
    return out


def grouped(names: list[str], values: list[Any]) -> dict[str, Any]:
    """``{"x": [..], "b": ..}`` from flat names and values (vector elements as lists)."""
    out: dict[str, Any] = {}
    for n, v in zip(names, values):
        s = split_name(n)
        if s is None:
            out[n] = v
        else:
            out.setdefault(s[0], []).append(v)
    return out


def by_input(names: list[str], positions: list[int], values: list[Any]) -> dict[str, Any]:
    """A JSON gradient (or vjp, hvp): ``{"x": [..], "b": ..}`` for the inputs at
    ``positions``. A vector is one list when all its elements are there in
    order; otherwise (``--wrt x[2]``) its elements keep their own keys."""
    sizes: dict[str, int] = {}
    for n in names:
        s = split_name(n)
        if s is not None:
            sizes[s[0]] = sizes.get(s[0], 0) + 1
    chosen = [names[k] for k in positions]
    seen: dict[str, list[int]] = {}
    for n in chosen:
        s = split_name(n)
        if s is not None:
            seen.setdefault(s[0], []).append(s[1])
    whole = {base for base, ks in seen.items() if ks == list(range(1, sizes[base] + 1))}
    out: dict[str, Any] = {}
    for n, v in zip(chosen, values):
        s = split_name(n)
        if s is not None and s[0] in whole:
            out.setdefault(s[0], []).append(v)
        else:
            out[n] = v
    return out
