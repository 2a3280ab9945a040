"""What ``--trace`` and ``--steps`` show, as plain data and text lines.

Everything here reads what the engines recorded while they computed (the
values, the adjoints, the :class:`~adcli.reverse.AdjointStep` and
:class:`~adcli.forward.TangentStep` records); nothing is recomputed for
display. Layout (tables, colour) is :mod:`adcli.render`'s business.
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .evaluate import Values
from .forward import TangentStep
from .graph import Graph, fmt_value, format_template
from .reverse import AdjointStep

_SIMPLE = re.compile(r"^[^\W\d]\w*$")
_NUMBER = re.compile(r"^-?\d+(\.\d*)?(e[-+]?\d+)?$")


_ASCII = re.compile(r"[\x00-\x7f]+")


def cells(text: str) -> int:
    """Terminal columns a line takes: combining marks (the bar in v̄) take none."""
    if text.isascii():
        return len(text)
    return len(text) - sum(map(bool, map(unicodedata.combining, _ASCII.sub("", text))))


def wrap(line: str, width: int = 80, indent: int = 8, marks: list[str] | None = None) -> list[str]:
    """Break a long step line before its ``=`` and ``(`` joints, so a step reads
    at 80 columns; the continuation lines are indented. ``marks``, if given,
    are the combining characters the line may hold (else they are looked up)."""
    if marks is None:
        marks = [] if line.isascii() else [c for c in set(line) if unicodedata.combining(c)]
    # cells(piece), for pieces of the line: len(piece) minus the marks it holds
    if not marks:
        if len(line) <= width:
            return [line]
    elif len(line) - sum(line.count(m) for m in marks) <= width:
        return [line]
    main, sep, total = line.partition("   (")
    if " = = " in main:  # overlapping joints: a split at each one
        pieces = re.split(r"(?= = )", main)
    else:
        first, *rest = main.split(" = ")
        pieces = [first, *(" = " + p for p in rest)]
    if sep:
        pieces.append("   (" + total)
    if not marks:
        cells_of = [len(p) for p in pieces]
    elif len(marks) == 1:
        m = marks[0]
        cells_of = [len(p) - p.count(m) for p in pieces]
    else:
        cells_of = [len(p) - sum(p.count(m) for m in marks) for p in pieces]
    out = [pieces[0]]
    taken = cells_of[0]  # cells(out[-1]), kept up to date
    for piece, n in zip(pieces[1:], cells_of[1:]):
        if taken + n <= width:
            out[-1] += piece
            taken += n
        else:
            kept = piece.lstrip()  # (white space is never a combining mark)
            out.append(" " * indent + kept)
            taken = indent + n - (len(piece) - len(kept))
    return out


def _mark(name: str, mark: str) -> str:
    """Put a combining mark on a name's first letter: v1 -> v̄1, x2 -> ẋ2."""
    return name[0] + mark + name[1:] if name else mark


def bar(name: str) -> str:
    return _mark(name, "\u0304")


def dot(name: str) -> str:
    return _mark(name, "\u0307")


def num(v: Any, digits: int) -> str:
    """A number inside a formula: negatives in parentheses."""
    s = fmt_value(v, digits)
    return f"({s})" if s.startswith("-") else s


def output_letter(g: Graph, first: str = "y") -> str:
    """y, as textbooks call the output in a trace (f in results), unless an input or a
    named step is already called that (or that and digits: y1, y2 for several outputs)."""
    names = list(filter(None, map(operator.attrgetter("name"), g.nodes)))  # ("" is no candidate)
    names += g.input_names
    other = "f" if first == "y" else "y"
    lines = "\n".join(names)  # one name a line (a name holds none): those starting with c in one scan

    def taken(c: str) -> bool:
        return any(rest == "" or rest.isdigit() for rest in re.findall(f"^{re.escape(c)}(.*)$", lines, re.M))

    return next(c for c in (first, other, "out", "_" + first) if not taken(c))


def output_names(g, prefer: str = "f") -> list[str]:
    """f for one output, f1, f2... for several (another letter if an input is called f)."""
    if g.output_labels is not None and len(g.output_labels) == len(g.outputs):
        return list(g.output_labels)
    f = output_letter(g, prefer)
    return [f] if len(g.outputs) == 1 else [f"{f}{k + 1}" for k in range(len(g.outputs))]


def output_labels(g: Graph) -> dict[int, str]:
    """y for a single output, y1, y2... for several."""
    y = output_letter(g)
    if len(g.outputs) == 1:
        return {g.outputs[0]: y}
    labels: dict[int, str] = {}
    for k, o in enumerate(g.outputs, start=1):
        labels.setdefault(o, f"{y}{k}")
    return labels


@dataclass
class TraceRow:
    node: int
    name: str
    op: str
    args: list[str]
    definition: str  # "x1 - x2"; "input" for inputs
    value: Any
    output: str  # "y" on an output row, else ""
    adjoints: list[Any] | None = None  # one per reverse sweep (output)
    tangents: list[Any] | None = None  # one per forward sweep (input)


@dataclass
class TraceTable:
    """The trace's rows as columns (what :func:`trace_rows` gives row by row):
    one entry per node shown, in evaluation order; the adjoints or tangents one
    column per sweep, 0.0 where a sweep never reached the node."""

    nodes: list[int]
    names: list[str]
    definitions: list[str]
    values: list[Any]
    outputs: list[str]
    adjoints: list[list[Any]] | None = None
    tangents: list[list[Any]] | None = None


def trace_table(
    values: Values, adjoints: Sequence[list[Any]] | None = None, tangents: Sequence[list[Any]] | None = None
) -> TraceTable:
    """The trace table, built a column at a time."""
    g = values.graph
    nodes = g.nodes
    ids = g.rows()
    outs = output_labels(g)
    # each node's reference (g.ref), written once
    refs = [g.ref(i) if n.op.constant else (n.name or f"#{i}") for i, n in enumerate(nodes)]
    shown = [nodes[i] for i in ids]
    vals = values.vals
    return TraceTable(
        nodes=ids,
        names=[n.name or "" for n in shown],
        definitions=[_definition(n, refs, g) for n in shown],
        values=[vals[i] for i in ids],
        outputs=[outs.get(i, "") for i in ids],
        # each direction's list read once: a PerDirection builds it on every read
        adjoints=None if adjoints is None else [[0.0 if a[i] is None else a[i] for i in ids] for a in adjoints],
        tangents=None if tangents is None else [[0.0 if t[i] is None else t[i] for i in ids] for t in tangents],
    )


def _definition(node: Any, refs: list[str], g: Graph) -> str:
    """A trace row's definition: g.definition of the node, from the references given."""
    if node.is_input:
        return "input"
    show = node.op.show
    if "{c" in show or "{ans" in show:
        return format_template(show, [refs[a] for a in node.args], node, g)
    return show.format(*[refs[a] for a in node.args])  # what format_template gives a template of arguments only


def trace_rows(
    values: Values, adjoints: Sequence[list[Any]] | None = None, tangents: Sequence[list[Any]] | None = None
) -> list[TraceRow]:
    """One row per node in evaluation order (constants are shown inline), with
    the adjoints of each reverse sweep or the tangents of each forward sweep."""
    t = trace_table(values, adjoints, tangents)
    g = values.graph
    rows = []
    for k, i in enumerate(t.nodes):
        node = g.nodes[i]
        rows.append(
            TraceRow(
                node=i,
                name=t.names[k],
                op=node.op.name,
                args=[g.ref(a) for a in node.args],
                definition=t.definitions[k],
                value=t.values[k],
                output=t.outputs[k],
                adjoints=None if t.adjoints is None else [a[k] for a in t.adjoints],
                tangents=None if t.tangents is None else [c[k] for c in t.tangents],
            )
        )
    return rows


def partial_formula(g: Graph, node_id: int, k: int) -> str:
    """The local derivative ∂v/∂(argument k) as a formula in the node names:
    the registry's rule itself, interpreted on symbols (no second copy).

    The formula depends on the names only through which of them are equal and
    how each is printed (as it is, in parentheses, or as a signed leaf), so the
    rule is read once per op, parameter, argument and such pattern, on
    placeholder names, and its formula is a template the names fill in (a long
    trace has one rule reading per kind of step, not one per step)."""
    node = g.nodes[node_id]
    op = node.op
    texts = [g.ref(a) for a in node.args]
    # the value's atom, as symbolic.local_partial_of names it (its call: g.definition(node_id))
    texts.append(format_template(op.show, texts, node, g) if op.show.startswith(op.name + "(") else (node.name or ""))
    shape = (tuple(map(texts.index, texts)), tuple(map(_leaf_kind, texts)))
    key = (id(op), node.param if op.param else None, k, shape)
    try:
        hit = _PARTIALS.get(key)
    except TypeError:  # a parameter that does not hash: read the rule on the names themselves
        return _read_partial(op, node.param, k, texts)
    if hit is None or hit[0] is not op:  # (the op itself kept: an id is not reused while it lives)
        first, kinds = shape
        holders = [_holder(f, kind) for f, kind in zip(first, kinds)]
        formula = _read_partial(op, node.param, k, holders)
        template = formula.replace("{", "{{").replace("}", "}}")
        for j, h in enumerate(holders):
            if first[j] == j:
                template = template.replace(h, "{" + str(j) + "}")
        hit = _PARTIALS[key] = (op, template)
    return hit[1].format(*texts)


_PARTIALS: dict[tuple, tuple[Any, str]] = {}
_PLAIN_LEAF = re.compile(r"[\w.]+(e-\d+)?|\(.*\)|\w+\(.*\)")  # formula.Printer.leaf_text's test


def _leaf_kind(text: str) -> int:
    """How the display style prints a name as a leaf: 0 signed, 1 as it is, 2 in parentheses."""
    if text.startswith("-"):
        return 0
    return 1 if _PLAIN_LEAF.fullmatch(text) else 2


def _holder(j: int, kind: int) -> str:
    """A placeholder name printed as a name of that kind is, that no formula contains."""
    return ("-Ph%dQz", "Ph%dQz", "Ph%dQz+")[kind] % j


def _read_partial(op: Any, param: Any, k: int, texts: list[str]) -> str:
    from .formula import show
    from .symbolic import rule_partial

    return show(rule_partial(op, param, k, texts[:-1], texts[-1]), "display")


def _atomic(formula: str) -> bool:
    """A name, a non-negative number, or one function call ``f(...)``."""
    if _SIMPLE.match(formula) or (_NUMBER.match(formula) and not formula.startswith("-")):
        return True
    m = _CALL.match(formula)
    if not m or not formula.endswith(")"):
        return False
    depth = 0
    for p in _PAREN.finditer(formula, m.end() - 1):  # the call's parenthesis must close last
        depth += 1 if p.group() == "(" else -1
        if depth == 0:
            return p.end() == len(formula)
    return False


_CALL = re.compile(r"^[^\W\d]\w*\(")
_PAREN = re.compile(r"[()]")


def _factor(formula: str) -> str:
    return formula if _atomic(formula) else f"({formula})"


def adjoint_lines(values: Values, steps: list[AdjointStep], digits: int) -> list[str]:
    """``v̄1 += v̄2 · ∂v2/∂v1 = 1 · (2·v1) = 1 · (-2) = -2   (v̄1 = -2)``, grouped
    under the node that passes its adjoint back, in the order they happened."""
    g = values.graph
    outs = output_labels(g)
    passed = [s for s in steps if s.source >= 0]
    formulas = [partial_formula(g, s.source, s.arg) for s in passed]
    numeric = [not _NUMBER.match(f) for f in formulas]  # a formula that is not a number gets its value
    # every step's numbers formatted at once, column by column
    adjoint = [_signed(a) for a in fmt_values([s.adjoint for s in passed], digits)]
    partial = iter(_signed(p) for p in fmt_values([s.partial for s, n in zip(passed, numeric) if n], digits))
    contribution = fmt_values([s.contribution for s in passed], digits)
    total = fmt_values([s.total for s in passed], digits)
    lines: list[str] = []
    current = None
    j = 0
    for s in steps:
        t = g.ref(s.target)
        if s.source < 0:
            y = outs.get(s.target, "y")
            lines.append(f"{bar(y)} = {bar(t)} = {fmt_value(s.total, digits)}   (seed)")
            continue
        src = g.nodes[s.source].name or ""
        if s.source != current:
            current = s.source
            lines.append(f"{src} = {g.definition(s.source)}")
        a = adjoint[j]
        chain = f"{a} · {_factor(formulas[j])}"
        if numeric[j]:
            chain += f" = {a} · {next(partial)}"
        bt = bar(t)
        line = f"  {bt} += {bar(src)} · ∂{src}/∂{t} = {chain} = {contribution[j]}   ({bt} = {total[j]})"
        # its only characters outside ASCII: the bar, · and ∂, unless the names or the formula have some
        lines += wrap(line, marks=_BAR if (t + src + formulas[j]).isascii() else None)
        j += 1
    return lines


_BAR = ["\u0304"]


def _signed(s: str) -> str:
    """A formatted number inside a formula, as :func:`num` writes it."""
    return f"({s})" if s.startswith("-") else s


def fmt_values(vs: list[Any], digits: int) -> list[str]:
    """``[fmt_value(v, digits) for v in vs]``, formatted in bulk: the numbers
    read into one float array, its Python floats formatted by one ``map``."""
    arr = None
    if vs:
        with contextlib.suppress(TypeError, ValueError):  # ragged: not one number each
            arr = np.array(vs)
    if arr is None or arr.dtype != np.float64 or arr.shape != (len(vs),):
        return [fmt_value(v, digits) for v in vs]  # not one plain number each: one at a time
    out = list(map(format, arr.tolist(), itertools.repeat(f".{digits}g")))
    for k in np.flatnonzero(np.isnan(arr)).tolist():
        out[k] = "NaN"
    for k in np.flatnonzero(arr == 0).tolist():
        out[k] = "0"  # -0.0 too
    return out


def tangent_lines(values: Values, steps: list[TangentStep], digits: int) -> list[str]:
    """``v̇3 = v2·v̇1 + v1·v̇2 = 2·0 + 1·(-1) = -1``: the dual-number rule per node."""
    g = values.graph
    lines = []
    for s in steps:
        name = g.nodes[s.node].name or ""
        symbolic, numeric = [], []
        for k, a, p, t in s.terms:
            formula = partial_formula(g, s.node, k)
            an = g.nodes[a].name or ""
            if formula == "1":
                symbolic.append(dot(an))
                numeric.append(num(t, digits))
            elif formula == "-1":
                symbolic.append(f"-{dot(an)}")
                numeric.append(f"-{num(t, digits)}")
            else:
                symbolic.append(f"{_factor(formula)}·{dot(an)}")
                numeric.append(f"{num(p, digits)}·{num(t, digits)}")
        sym = " + ".join(symbolic).replace("+ -", "- ")
        nums = " + ".join(numeric).replace("+ -", "- ")
        total = fmt_value(s.total, digits)
        chain = [sym] + [t for t in (nums, total) if t != sym]
        if len(chain) == 3 and chain[1] == chain[2]:
            chain.pop()
        lines += wrap(f"{dot(name)} = " + " = ".join(chain), 78)
    return lines


def seed_line(g: Graph, direction: list[Any], digits: int) -> str:
    parts = [
        f"{dot(g.nodes[i].name or '')} = {fmt_value(0.0 if d is None else d, digits)}"
        for i, d in zip(g.inputs, direction)
    ]
    return "seed " + ", ".join(parts)


def value_lines(values: Values, digits: int) -> list[str]:
    """The forward pass: ``v1 = x1 - x2 = 1 - 2 = -1`` per node."""
    g = values.graph
    lines = []
    for i in g.rows():
        node = g.nodes[i]
        name = node.name or ""
        if node.is_input:
            lines.append(f"{name} = {fmt_value(values.vals[i], digits)}")
            continue
        shown = [num(values.vals[a], digits) if not g.is_const(a) else g.ref(a) for a in node.args]
        numeric = format_template(node.op.show, shown, node, g)
        lines.append(f"{name} = {g.definition(i)} = {numeric} = {fmt_value(values.vals[i], digits)}")
    return lines
