"""Results and errors -> text, Rich renderables and JSON. The only module that
knows how things look; the CLI and the REPL both print through it."""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

import numpy as np

from .errors import AdcliError, Warning_
from .graph import fmt_value


# -- JSON ------------------------------------------------------------------------


def jsonable(v: Any) -> Any:
    """numpy values -> JSON types; non-finite floats -> "NaN", "Infinity", "-Infinity"."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "Infinity" if f > 0 else "-Infinity"
        return f
    return v


def dumps(doc: Any) -> str:
    return json.dumps(jsonable(doc), ensure_ascii=False, allow_nan=False)


def warnings_json(ws: list[Warning_]) -> list[str]:
    return [w.message for w in ws]


def eval_json(result) -> dict:
    p = result.problem
    values = result.value
    return {
        "inputs": p.inputs,
        "point": p.point_dict(),
        "value": values[0] if len(values) == 1 else values,
        "warnings": warnings_json(result.warnings),
    }


def grad_json(result) -> dict:
    p = result.problem
    names = p.inputs
    return {
        "inputs": p.inputs,
        "point": p.point_dict(),
        "mode": result.mode,
        "value": result.value,
        "gradient": {names[k]: g for k, g in zip(result.wrt, result.gradient)},
        "sweeps": result.sweeps,
        "warnings": warnings_json(result.warnings),
    }


def error_json(err: AdcliError) -> dict:
    doc: dict[str, Any] = {"kind": err.kind, "message": err.message}
    lc = err.line_col()
    if lc is not None:
        doc["line"], doc["column"] = lc
    if err.label:
        doc["source"] = err.label
    if err.hint:
        doc["hint"] = err.hint
    for k, v in err.extra.items():
        if v is not None:
            doc[k] = v
    return {"error": doc}


# -- text ------------------------------------------------------------------------


def eval_text(result, digits: int) -> str:
    return "\n".join(fmt_value(v, digits) for v in result.value)


def grad_lines(result, digits: int) -> list[tuple[str, str]]:
    names = result.problem.inputs
    rows = [("f", fmt_value(result.value, digits))]
    rows += [(f"∂f/∂{names[k]}", fmt_value(g, digits)) for k, g in zip(result.wrt, result.gradient)]
    return rows


def _int_width(num: str) -> int:
    m = re.match(r"[-+]?(\d+|inf|NaN)", num)
    return len(m.group(0)) if m else 0


def aligned(rows: list[tuple[str, str]]) -> str:
    """Two columns: names, then numbers lined up on their decimal points."""
    if not rows:
        return ""
    w1 = max(len(a) for a, _ in rows)
    wi = max(_int_width(b) for _, b in rows)
    return "\n".join(f"{a:<{w1}}  {' ' * (wi - _int_width(b))}{b}".rstrip() for a, b in rows)


def grad_text(result, digits: int) -> str:
    return aligned(grad_lines(result, digits))


_WINDOW = 72


def _visible(ch: str) -> str:
    if ch == "\t":
        return " "
    return ch if ch.isprintable() else "\ufffd"


def source_excerpt(source: str, span: tuple[int, int]) -> list[str]:
    """The line holding span[0], and a caret line under the span (clipped to a window)."""
    start = min(span[0], len(source))
    ls = source.rfind("\n", 0, start) + 1
    le = source.find("\n", start)
    le = len(source) if le < 0 else le
    col = start - ls
    end = min(max(span[1], start + 1), le + 1) - ls
    line = source[ls:le]
    lo = 0
    if len(line) > _WINDOW:
        lo = max(0, min(col - _WINDOW // 2, len(line) - _WINDOW))
    shown = "".join(_visible(c) for c in line[lo : lo + _WINDOW])
    prefix = "…" if lo > 0 else ""
    suffix = "…" if lo + _WINDOW < len(line) else ""
    caret_from = col - lo + len(prefix)
    width = max(1, min(end - col, _WINDOW - (col - lo)))
    return [f"  {prefix}{shown}{suffix}", "  " + " " * caret_from + "^" * width]


def error_text(err: AdcliError) -> str:
    lines = [f"error: {err.message}"]
    if err.source is not None and err.span is not None:
        lc = err.line_col()
        where = err.label or "expression"
        if lc is not None and (lc[0] > 1 or "\n" in err.source):
            where += f", line {lc[0]}, column {lc[1]}"
        elif lc is not None:
            where += f", column {lc[1]}"
        lines.append(f" --> {where}")
        lines += source_excerpt(err.source, err.span)
    if err.hint:
        lines.append(f"hint: {err.hint}")
    return "\n".join(lines)


def warning_text(w: Warning_) -> str:
    return f"warning: {w.message}"


# -- explanations: trace tables and steps -----------------------------------------


def table_text(headers: list[str], rows: list[list[str]], right: set[int], width: int | None = None) -> str:
    """A Rich table (no colour) rendered to text, for stable, pipeable output."""
    import io

    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="")
    for k, h in enumerate(headers):
        table.add_column(h, justify="right" if k in right else "left", no_wrap=True, overflow="fold")
    for r in rows:
        table.add_row(*r)
    buf = io.StringIO()
    Console(file=buf, width=width or _width(), color_system=None, no_color=True, highlight=False,
            force_terminal=False, soft_wrap=False).print(table)
    return "\n".join(line.rstrip() for line in buf.getvalue().rstrip("\n").splitlines())


def _width() -> int:
    import os
    import shutil

    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    return shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else 80


def trace_text(rows, digits: int, adjoint_headers: list[str] | None = None,
               tangent_headers: list[str] | None = None) -> str:
    """The trace table: node, definition, value, and the adjoint or tangent column(s)."""
    from .explain import bar, dot

    headers = ["node", "definition", "value"]
    first = rows[0] if rows else None
    n_adj = len(first.adjoints) if first is not None and first.adjoints is not None else 0
    n_tan = len(first.tangents) if first is not None and first.tangents is not None else 0
    headers += adjoint_headers or [bar("v")] * n_adj
    headers += tangent_headers or [dot("v")] * n_tan
    headers.append("")
    body = []
    for r in rows:
        line = [r.name, r.definition, fmt_value(r.value, digits)]
        line += [fmt_value(a, digits) for a in (r.adjoints or [])]
        line += [fmt_value(t, digits) for t in (r.tangents or [])]
        line.append(f"= {r.output}" if r.output else "")
        body.append(line)
    return table_text(headers, body, right=set(range(2, len(headers) - 1)))


def trace_json(rows) -> dict:
    nodes = []
    for r in rows:
        d: dict[str, Any] = {"name": r.name, "op": r.op, "args": r.args, "definition": r.definition,
                             "value": r.value}
        if r.output:
            d["output"] = r.output
        if r.adjoints is not None:
            d["adjoint"] = r.adjoints[0] if len(r.adjoints) == 1 else r.adjoints
        if r.tangents is not None:
            d["tangent"] = r.tangents[0] if len(r.tangents) == 1 else r.tangents
        nodes.append(d)
    return {"nodes": nodes}


def adjoint_steps_json(values, steps) -> list[dict]:
    from .explain import partial_formula

    g = values.graph
    out = []
    for s in steps:
        d: dict[str, Any] = {"target": g.nodes[s.target].name}
        if s.source < 0:
            d.update(seed=True, total=s.total)
        else:
            d.update(source=g.nodes[s.source].name, formula=partial_formula(g, s.source, s.arg),
                     adjoint=s.adjoint, partial=s.partial, contribution=s.contribution, total=s.total)
        out.append(d)
    return out


def tangent_steps_json(values, steps) -> list[dict]:
    from .explain import partial_formula

    g = values.graph
    return [{"node": g.nodes[s.node].name,
             "terms": [{"arg": g.nodes[a].name, "formula": partial_formula(g, s.node, k), "partial": p,
                        "tangent": t} for k, a, p, t in s.terms],
             "tangent": s.total} for s in steps]


def grad_explained_text(result, digits: int, trace: bool, steps: bool) -> str:
    """grad's output with the trace table and/or the accumulation steps before it."""
    from . import explain

    values = result.problem.values
    g = values.graph
    names = result.problem.inputs
    parts = []
    if trace:
        rows = explain.trace_rows(values, _one(result.adjoints), result.tangents)
        parts.append(trace_text(rows, digits, None, _tangent_headers(result)))
    if steps:
        if result.mode == "reverse":
            lines = explain.adjoint_lines(values, result.adjoint_steps or [], digits)
            y = explain.output_letter(g)
            lines += [f"∂{y}/∂{names[k]} = {explain.bar(names[k])} = {fmt_value(gk, digits)}"
                      for k, gk in zip(result.wrt, result.gradient)]
            parts.append("\n".join(lines))
        else:
            blocks = []
            for j, (k, ssteps) in enumerate(zip(result.wrt, result.tangent_steps or [])):
                direction = [1.0 if q == k else None for q in range(len(names))]
                head = f"sweep {j + 1} of {len(result.wrt)}: {explain.seed_line(g, direction, digits)}"
                body = explain.tangent_lines(values, ssteps, digits)
                y = explain.output_letter(g)
                body.append(f"∂{y}/∂{names[k]} = {explain.dot(y)} = {fmt_value(result.gradient[j], digits)}")
                blocks.append("\n".join([head] + ["  " + b for b in body]))
            parts.append("\n\n".join(blocks))
    parts.append(grad_text(result, digits))
    return "\n\n".join(parts)


def grad_explained_json(result, trace: bool, steps: bool) -> dict:
    from . import explain

    doc = grad_json(result)
    values = result.problem.values
    if trace:
        doc["trace"] = trace_json(explain.trace_rows(values, _one(result.adjoints), result.tangents))
    if steps:
        if result.mode == "reverse":
            doc["steps"] = adjoint_steps_json(values, result.adjoint_steps or [])
        else:
            doc["steps"] = [tangent_steps_json(values, st) for st in result.tangent_steps or []]
    return doc


def _one(adjoints):
    return None if adjoints is None else [adjoints]


def _tangent_headers(result) -> list[str] | None:
    from .explain import dot

    if result.tangents is None:
        return None
    names = result.problem.inputs
    return [f"{dot('v')} (∂/∂{names[k]})" for k in result.wrt]


def _adjoint_headers(result) -> list[str] | None:
    from .explain import bar, output_labels

    if result.adjoints is None or len(result.adjoints) == 1:
        return None
    labels = output_labels(result.problem.graph)
    return [f"{bar('v')} ({labels.get(o, '')})" for o in result.problem.graph.outputs]


def eval_explained_text(result, digits: int, trace: bool, steps: bool) -> str:
    from . import explain

    values = result.problem.values
    parts = []
    if trace:
        parts.append(trace_text(explain.trace_rows(values), digits))
    if steps:
        parts.append("\n".join(explain.value_lines(values, digits)))
    parts.append(eval_text(result, digits))
    return "\n\n".join(parts)


def eval_explained_json(result, trace: bool, steps: bool) -> dict:
    from . import explain

    doc = eval_json(result)
    if trace or steps:
        doc["trace"] = trace_json(explain.trace_rows(result.problem.values))
    return doc


def trace_result_text(result, digits: int, steps: bool) -> str:
    from . import explain

    values = result.problem.values
    g = values.graph
    names = result.problem.inputs
    rows = explain.trace_rows(values, result.adjoints, result.tangents)
    parts = [trace_text(rows, digits, _adjoint_headers(result), _tangent_headers(result))]
    if steps and result.adjoint_steps is not None:
        labels = explain.output_labels(g)
        blocks = []
        for o, st in zip(g.outputs, result.adjoint_steps):
            head = f"sweep for {labels.get(o, 'y')}:" if len(g.outputs) > 1 else None
            lines = explain.adjoint_lines(values, st, digits)
            blocks.append("\n".join(([head] if head else []) + lines))
        parts.append("\n\n".join(blocks))
    if steps and result.tangent_steps is not None:
        blocks = []
        for j, (k, st) in enumerate(zip(result.wrt, result.tangent_steps)):
            direction = [1.0 if q == k else None for q in range(len(names))]
            head = f"sweep {j + 1} of {len(result.wrt)}: {explain.seed_line(g, direction, digits)}"
            blocks.append("\n".join([head] + ["  " + b for b in explain.tangent_lines(values, st, digits)]))
        parts.append("\n\n".join(blocks))
    return "\n\n".join(parts)


def trace_result_json(result, steps: bool) -> dict:
    from . import explain

    values = result.problem.values
    doc: dict[str, Any] = {"inputs": result.problem.inputs, "point": result.problem.point_dict(),
                           "mode": result.mode}
    doc.update(trace_json(explain.trace_rows(values, result.adjoints, result.tangents)))
    if steps and result.adjoint_steps is not None:
        doc["steps"] = [adjoint_steps_json(values, st) for st in result.adjoint_steps]
        if len(doc["steps"]) == 1:
            doc["steps"] = doc["steps"][0]
    if steps and result.tangent_steps is not None:
        doc["steps"] = [tangent_steps_json(values, st) for st in result.tangent_steps]
    doc["warnings"] = warnings_json(result.warnings)
    return doc


# -- many points ------------------------------------------------------------------------


def _point_rows(result, kind: str):
    """Per point: (point dict, value(s), gradient dict or None, error message or None)."""
    p = result.problem
    names = p.inputs
    cols = [np.asarray(a) for a in p.point]
    n = len(cols[0]) if cols else 1
    values = [np.broadcast_to(np.asarray(v, dtype=float), (n,)) for v in result.value] if kind == "eval" else \
        [np.broadcast_to(np.asarray(result.value, dtype=float), (n,))]
    grads = [] if kind == "eval" else [np.broadcast_to(np.asarray(g_, dtype=float), (n,)) for g_ in result.gradient]
    bad = np.broadcast_to(np.asarray(p.values.undefined), (n,))
    return names, cols, n, values, grads, bad


def points_output(kind: str, result, fmt: str) -> str:
    """JSON Lines (one object per point) or CSV, at full double precision."""
    if fmt not in ("jsonl", "csv"):
        raise AdcliError("usage", f"unknown --format {fmt!r} for --points: use jsonl or csv")
    names, cols, n, values, grads, bad = _point_rows(result, kind)
    gnames = [names[k] for k in getattr(result, "wrt", [])]
    out = []
    if fmt == "csv":
        vh = ["value"] if len(values) == 1 else [f"value{k + 1}" for k in range(len(values))]
        out.append(",".join(names + vh + [f"d_{x}" for x in gnames] + ["error"]))
        rows = zip(*[c.tolist() for c in cols], *[v.tolist() for v in values], *[g_.tolist() for g_ in grads],
                   bad.tolist())
        k_in = len(names)
        for row in rows:
            *nums, b = row
            if b:
                out.append(",".join(map(repr, nums[:k_in])) + "," * (len(nums) - k_in) + ",undefined")
            else:
                out.append(",".join(map(repr, nums)) + ",")
        return "\n".join(out)
    for i in range(n):
        doc: dict[str, Any] = {"point": {x: cols[k][i] for k, x in enumerate(names)}}
        if bad[i]:
            doc["error"] = {"kind": "domain", "message": "the expression is undefined at this point"}
        else:
            doc["value"] = values[0][i] if len(values) == 1 else [v[i] for v in values]
            if grads:
                doc["gradient"] = {x: g_[i] for x, g_ in zip(gnames, grads)}
        out.append(dumps(doc))
    return "\n".join(out)


# -- the DAG -------------------------------------------------------------------------------

_MAX_DEPTH = 40


def _node_label(drawing, i: int, digits: int) -> str:
    g = drawing.graph
    node = g.nodes[i]
    text = node.name if node.op.name == "input" else f"{node.name} = {g.definition(i)}"
    if drawing.values is not None:
        text += f"  [{fmt_value(drawing.values.vals[i], digits)}"
        if drawing.adjoints is not None:
            a = drawing.adjoints[i]
            text += f", v̄ {fmt_value(0.0 if a is None else a, digits)}"
        text += "]"
    return text


def graph_text(drawing, digits: int) -> str:
    """A tree from each output; a shared node is drawn once, later mentions say so."""
    from .explain import output_labels

    g = drawing.graph
    labels = output_labels(g)
    seen: set[int] = set()
    lines: list[str] = []
    for o in dict.fromkeys(g.outputs):
        stack = [(o, "", "", 0)]
        while stack:
            i, lead, child_lead, depth = stack.pop()
            node = g.nodes[i]
            text = _node_label(drawing, i, digits)
            if i == o:
                text = f"{labels.get(o, 'y')}: {text}"
            kids = [a for a in dict.fromkeys(node.args) if g.nodes[a].op.name != "const"]
            if i in seen and kids:
                lines.append(f"{lead}{node.name} (shown above)")
                continue
            seen.add(i)
            lines.append(lead + text)
            if depth >= _MAX_DEPTH and kids:
                lines.append(f"{child_lead}└── … ({len(g.nodes)} nodes in all; deeper levels not drawn)")
                continue
            for k in range(len(kids) - 1, -1, -1):
                last = k == len(kids) - 1
                stack.append((kids[k], child_lead + ("└── " if last else "├── "),
                              child_lead + ("    " if last else "│   "), depth + 1))
    return "\n".join(lines)


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def graph_dot(drawing, digits: int) -> str:
    g = drawing.graph
    from .explain import output_labels

    labels = output_labels(g)
    out = ["digraph adcli {", "  rankdir=BT;", '  node [shape=box, fontname="monospace"];']
    for i in g.rows():
        shape = ", shape=ellipse" if g.nodes[i].op.name == "input" else ""
        extra = ", peripheries=2" if i in labels else ""
        out.append(f'  n{i} [label="{_esc(_node_label(drawing, i, digits))}"{shape}{extra}];')
    for i in g.rows():
        for a in dict.fromkeys(g.nodes[i].args):
            if g.nodes[a].op.name != "const":
                out.append(f"  n{a} -> n{i};")
    out.append("}")
    return "\n".join(out)


def graph_mermaid(drawing, digits: int) -> str:
    g = drawing.graph
    out = ["graph BT"]
    for i in g.rows():
        label = _node_label(drawing, i, digits).replace('"', "#quot;")
        out.append(f'  n{i}["{label}"]')
    for i in g.rows():
        for a in dict.fromkeys(g.nodes[i].args):
            if g.nodes[a].op.name != "const":
                out.append(f"  n{a} --> n{i}")
    return "\n".join(out)


def graph_output(drawing, fmt: str, digits: int) -> str:
    renderers = {"text": graph_text, "dot": graph_dot, "mermaid": graph_mermaid}
    if fmt not in renderers:
        raise AdcliError("usage", f"unknown --format {fmt!r}: use text, dot or mermaid")
    return renderers[fmt](drawing, digits)


# -- jvp, vjp, jacobian, hessian, hvp, implicit -------------------------------------------


def matrix_text(corner: str, col_labels: list[str], row_labels: list[str], cells: list[list[str]],
                width: int | None = None) -> str:
    """A labelled table of numbers, each column aligned on the decimal points. Columns
    that do not fit ``width`` (default: the terminal, 80 when piped) continue in a
    further block below, with the row labels repeated."""
    width = width or _width()
    lw = max([len(corner)] + [len(r) for r in row_labels])
    cols = []
    for j, head in enumerate(col_labels):
        entries = [row[j] for row in cells]
        wi = max([_int_width(s) for s in entries] or [0])
        wf = max([len(s) - _int_width(s) for s in entries] or [0])
        shown = [" " * (wi - _int_width(s)) + s + " " * (wf - (len(s) - _int_width(s))) for s in entries]
        w = max(len(head), wi + wf)
        cols.append((head.rjust(w), [s.rjust(w) for s in shown], w))
    blocks, current, used = [], [], lw
    for col in cols:
        if current and used + 3 + col[2] > width:
            blocks.append(current)
            current, used = [], lw
        current.append(col)
        used += 3 + col[2]
    blocks.append(current)
    out = []
    for block in blocks:
        lines = [corner.ljust(lw) + "".join("   " + h for h, _, _ in block)]
        for i, label in enumerate(row_labels):
            lines.append(label.ljust(lw) + "".join("   " + shown[i] for _, shown, _ in block))
        out.append("\n".join(line.rstrip() for line in lines))
    return "\n\n".join(out)


def _f_letter(g, prefer: str = "f") -> str:
    names = set(g.input_names)
    return next(c for c in (prefer, "f", "y", "out", "_f") if c not in names and not any(
        n.startswith(c) and n[len(c):].isdigit() for n in names))


def output_names(g, prefer: str = "f") -> list[str]:
    """f for one output, f1, f2... for several (another letter if an input is called f)."""
    f = _f_letter(g, prefer)
    return [f] if len(g.outputs) == 1 else [f"{f}{k + 1}" for k in range(len(g.outputs))]


def _value_doc(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else list(values)


def _column(label: str, entries: list[Any], digits: int) -> tuple[str, list[str]]:
    return label, [fmt_value(e, digits) for e in entries]


def _table(corner: str, row_labels: list[str], columns: list[tuple[str, list[str]]]) -> str:
    cells = [[col[1][i] for col in columns] for i in range(len(row_labels))]
    return matrix_text(corner, [c[0] for c in columns], row_labels, cells)


def _sweeps(k: int, what: str) -> str:
    return f"{k} {what} sweep{'s' if k != 1 else ''}"


# jvp ---------------------------------------------------------------------------


def jvp_json(result) -> dict:
    p = result.problem
    names = p.inputs
    return {
        "inputs": names,
        "point": p.point_dict(),
        "wrt": [names[k] for k in result.wrt],
        "direction": list(result.direction),
        "value": _value_doc(result.value),
        "jvp": list(result.jvp),
        "sweeps": result.sweeps,
        "mode": "forward",
        "warnings": warnings_json(result.warnings),
    }


def jvp_text(result, digits: int) -> str:
    names = result.problem.inputs
    outs = output_names(result.problem.graph)
    return "\n\n".join([
        _table("", [names[k] for k in result.wrt], [_column("v", result.direction, digits)]),
        _table("", outs, [_column("value", result.value, digits), _column("J·v", result.jvp, digits)]),
        _sweeps(result.sweeps, "forward"),
    ])


# vjp ---------------------------------------------------------------------------


def vjp_json(result) -> dict:
    p = result.problem
    names = p.inputs
    return {
        "inputs": names,
        "point": p.point_dict(),
        "cotangent": list(result.cotangent),
        "value": _value_doc(result.value),
        "vjp": {names[k]: g for k, g in zip(result.wrt, result.vjp)},
        "sweeps": result.sweeps,
        "mode": "reverse",
        "warnings": warnings_json(result.warnings),
    }


def vjp_text(result, digits: int) -> str:
    names = result.problem.inputs
    outs = output_names(result.problem.graph)
    return "\n\n".join([
        _table("", outs, [_column("value", result.value, digits), _column("u", result.cotangent, digits)]),
        _table("", [names[k] for k in result.wrt], [_column("uᵀ·J", result.vjp, digits)]),
        _sweeps(result.sweeps, "reverse"),
    ])


# jacobian ------------------------------------------------------------------------


def jacobian_json(result) -> dict:
    p = result.problem
    names = p.inputs
    return {
        "inputs": names,
        "point": p.point_dict(),
        "wrt": [names[k] for k in result.wrt],
        "value": list(result.value),
        "jacobian": [list(row) for row in result.jacobian],
        "sweeps": result.sweeps,
        "mode": result.mode,
        "requested_mode": result.requested,
        "reason": result.reason,
        "warnings": warnings_json(result.warnings),
    }


def jacobian_sweeps_line(result) -> str:
    per = "input" if result.mode == "forward" else "output"
    line = f"{result.mode} mode: {result.sweeps} sweep{'s' if result.sweeps != 1 else ''}, one per {per}"
    return f"{line}\nauto: {result.reason}" if result.requested == "auto" else line


def jacobian_text(result, digits: int) -> str:
    names = result.problem.inputs
    outs = output_names(result.problem.graph)
    cols = [_column(f"∂/∂{names[k]}", [row[j] for row in result.jacobian], digits)
            for j, k in enumerate(result.wrt)]
    table = _table("", outs, cols) if cols else "(no inputs to differentiate with respect to)"
    return table + "\n\n" + jacobian_sweeps_line(result)


# hessian and hvp --------------------------------------------------------------------


def hessian_json(result) -> dict:
    p = result.problem
    names = p.inputs
    return {
        "inputs": names,
        "point": p.point_dict(),
        "wrt": [names[k] for k in result.wrt],
        "value": result.value,
        "gradient": {names[k]: g for k, g in zip(result.wrt, result.gradient)},
        "hessian": [list(row) for row in result.hessian],
        "sweeps": result.sweeps,
        "mode": "forward-over-reverse",
        "warnings": warnings_json(result.warnings),
    }


def _value_and_gradient(result, digits: int) -> str:
    names = result.problem.inputs
    f = output_names(result.problem.graph)[0]
    rows = [(f, fmt_value(result.value, digits))]
    rows += [(f"∂{f}/∂{names[k]}", fmt_value(g, digits)) for k, g in zip(result.wrt, result.gradient)]
    return aligned(rows)


def hessian_text(result, digits: int) -> str:
    names = result.problem.inputs
    f = output_names(result.problem.graph)[0]
    labels = [f"∂{names[k]}" for k in result.wrt]
    cols = [_column(labels[j], [row[j] for row in result.hessian], digits) for j in range(len(labels))]
    parts = [_value_and_gradient(result, digits)]
    if cols:
        parts.append(_table(f"∂²{f}", labels, cols))
    parts.append(f"forward-over-reverse: {_sweeps(result.sweeps, 'reverse')} on dual numbers, "
                 "one Hessian-vector product per input")
    return "\n\n".join(parts)


def hvp_json(result) -> dict:
    p = result.problem
    names = p.inputs
    return {
        "inputs": names,
        "point": p.point_dict(),
        "wrt": [names[k] for k in result.wrt],
        "direction": list(result.direction),
        "value": result.value,
        "gradient": {names[k]: g for k, g in zip(result.wrt, result.gradient)},
        "hvp": {names[k]: h for k, h in zip(result.wrt, result.hvp)},
        "sweeps": result.sweeps,
        "mode": "forward-over-reverse",
        "warnings": warnings_json(result.warnings),
    }


def hvp_text(result, digits: int) -> str:
    names = result.problem.inputs
    return "\n\n".join([
        _value_and_gradient(result, digits),
        _table("", [names[k] for k in result.wrt],
               [_column("v", result.direction, digits), _column("H·v", result.hvp, digits)]),
        "forward-over-reverse: 1 reverse sweep on dual numbers; H is not formed",
    ])


# implicit ------------------------------------------------------------------------------


def implicit_json(result) -> dict:
    p = result.problem
    names = p.inputs
    ys = [names[k] for k in result.solve]
    xs = [names[k] for k in result.wrt]
    doc = {
        "inputs": names,
        "point": p.point_dict(),
        "solve": ys,
        "wrt": xs,
        "value": _value_doc(result.value),
        "F_y": [list(r) for r in result.F_y],
        "F_x": [list(r) for r in result.F_x],
        "derivative": {y: {x: result.derivative[i][j] for j, x in enumerate(xs)} for i, y in enumerate(ys)},
        "newton": None,
        "warnings": warnings_json(result.warnings),
    }
    if result.newton is not None:
        doc["newton"] = {"start": dict(zip(ys, result.newton.start)), "iterations": result.newton.iterations,
                         "residual": result.newton.residual}
    return doc


def implicit_text(result, digits: int) -> str:
    names = result.problem.inputs
    ys = [names[k] for k in result.solve]
    xs = [names[k] for k in result.wrt]
    m = len(ys)
    parts = []
    if result.newton is not None:
        nw = result.newton
        solved = ", ".join(f"{y} = {fmt_value(result.problem.point[k], digits)}"
                           for y, k in zip(ys, result.solve))
        start = ", ".join(f"{y} = {fmt_value(s, digits)}" for y, s in zip(ys, nw.start))
        parts.append(f"Newton: {solved} after {nw.iterations} iteration{'s' if nw.iterations != 1 else ''} "
                     f"from {start} (max |F| = {fmt_value(nw.residual, 3)})")
    if m == 1:
        y = ys[0]
        rows = [("F", fmt_value(result.value[0], digits))]
        rows += [(f"F_{x}", fmt_value(result.F_x[0][j], digits)) for j, x in enumerate(xs)]
        rows.append((f"F_{y}", fmt_value(result.F_y[0][0], digits)))
        lines = [aligned(rows)]
        d = "d" if len(xs) == 1 else "∂"
        lines.append("\n".join(f"{d}{y}/{d}{x} = -F_{x}/F_{y} = {fmt_value(result.derivative[0][j], digits)}"
                               for j, x in enumerate(xs)))
        parts += lines
    else:
        eqs = [f"F{i + 1}" for i in range(m)]
        parts.append(_table("", eqs, [_column("value", result.value, digits)]))
        parts.append(_table("F_y", eqs, [_column(f"∂/∂{y}", [r[j] for r in result.F_y], digits)
                                        for j, y in enumerate(ys)]))
        if xs:
            parts.append(_table("F_x", eqs, [_column(f"∂/∂{x}", [r[j] for r in result.F_x], digits)
                                            for j, x in enumerate(xs)]))
            ylabel, xlabel = f"({', '.join(ys)})", (xs[0] if len(xs) == 1 else f"({', '.join(xs)})")
            parts.append(f"d{ylabel}/d{xlabel} = -F_y⁻¹ F_x:\n"
                         + _table("", ys, [_column(f"∂/∂{x}", [r[j] for r in result.derivative], digits)
                                           for j, x in enumerate(xs)]))
    if not xs:
        parts.append("(no other inputs: nothing to differentiate with respect to)")
    return "\n\n".join(parts)


# explanations (--trace, --steps) for jvp, vjp, jacobian, hvp and hessian --------------------


def _full_direction(result) -> list[Any]:
    """The seed tangent of every input (None where it is not differentiated)."""
    full: list[Any] = [None] * len(result.problem.inputs)
    for k, d in zip(result.wrt, result.direction):
        full[k] = d
    return full


def _forward_block(values, direction: list[Any], steps, digits: int, head: str = "") -> str:
    from . import explain

    lines = [head + explain.seed_line(values.graph, direction, digits)]
    return "\n".join(lines + ["  " + b for b in explain.tangent_lines(values, steps, digits)])


def _reverse_block(values, steps, digits: int, head: str = "") -> str:
    from . import explain

    return "\n".join(([head] if head else []) + explain.adjoint_lines(values, steps, digits))


def jvp_explained_text(result, digits: int, trace: bool = False, steps: bool = False) -> str:
    from . import explain

    values = result.problem.values
    parts = []
    if trace:
        rows = explain.trace_rows(values, None, [result.tangents])
        parts.append(trace_text(rows, digits, None, [explain.dot("v")]))
    if steps:
        parts.append(_forward_block(values, _full_direction(result), result.tangent_steps or [], digits))
    parts.append(jvp_text(result, digits))
    return "\n\n".join(parts)


def jvp_explained_json(result, trace: bool = False, steps: bool = False) -> dict:
    from . import explain

    doc = jvp_json(result)
    values = result.problem.values
    if trace:
        doc["trace"] = trace_json(explain.trace_rows(values, None, [result.tangents]))
    if steps:
        doc["steps"] = tangent_steps_json(values, result.tangent_steps or [])
    return doc


def vjp_explained_text(result, digits: int, trace: bool = False, steps: bool = False) -> str:
    from . import explain

    values = result.problem.values
    parts = []
    if trace:
        parts.append(trace_text(explain.trace_rows(values, [result.adjoints]), digits))
    if steps:
        parts.append(_reverse_block(values, result.adjoint_steps or [], digits))
    parts.append(vjp_text(result, digits))
    return "\n\n".join(parts)


def vjp_explained_json(result, trace: bool = False, steps: bool = False) -> dict:
    from . import explain

    doc = vjp_json(result)
    values = result.problem.values
    if trace:
        doc["trace"] = trace_json(explain.trace_rows(values, [result.adjoints]))
    if steps:
        doc["steps"] = adjoint_steps_json(values, result.adjoint_steps or [])
    return doc


def _jacobian_headers(result) -> tuple[list[str] | None, list[str] | None]:
    from .explain import bar, dot

    names = result.problem.inputs
    if result.mode == "forward":
        return None, [f"{dot('v')} (∂/∂{names[k]})" for k in result.wrt]
    outs = output_names(result.problem.graph, "y")
    return [f"{bar('v')} ({o})" for o in outs], None


def jacobian_explained_text(result, digits: int, trace: bool = False, steps: bool = False) -> str:
    from . import explain

    values = result.problem.values
    names = result.problem.inputs
    parts = []
    if trace:
        rows = explain.trace_rows(values, result.adjoints, result.tangents)
        parts.append(trace_text(rows, digits, *_jacobian_headers(result)))
    if steps:
        blocks = []
        if result.mode == "forward":
            for j, (k, st) in enumerate(zip(result.wrt, result.tangent_steps or [])):
                direction = [1.0 if q == k else None for q in range(len(names))]
                blocks.append(_forward_block(values, direction, st, digits,
                                             f"sweep {j + 1} of {result.sweeps}: "))
        else:
            outs = output_names(result.problem.graph, "y")
            for i, st in enumerate(result.adjoint_steps or []):
                blocks.append(_reverse_block(values, st, digits, f"sweep {i + 1} of {result.sweeps}, for {outs[i]}:"))
        parts.append("\n\n".join(blocks))
    parts.append(jacobian_text(result, digits))
    return "\n\n".join(parts)


def jacobian_explained_json(result, trace: bool = False, steps: bool = False) -> dict:
    from . import explain

    doc = jacobian_json(result)
    values = result.problem.values
    if trace:
        doc["trace"] = trace_json(explain.trace_rows(values, result.adjoints, result.tangents))
    if steps:
        if result.mode == "forward":
            doc["steps"] = [tangent_steps_json(values, st) for st in result.tangent_steps or []]
        else:
            doc["steps"] = [adjoint_steps_json(values, st) for st in result.adjoint_steps or []]
    return doc


# forward-over-reverse: every number is a dual number a + bε -------------------------------


def _scalar(x: Any) -> Any:
    a = np.asarray(x, dtype=float)
    return a.reshape(-1)[0] if a.size == 1 else a


def _parts(x: Any) -> tuple[Any, Any]:
    from .dual import primal, tangent

    if x is None:
        return 0.0, 0.0
    return _scalar(primal(x)), _scalar(tangent(x))


def dual_text(x: Any, digits: int) -> str:
    """``(a + bε)``: a value and its tangent along the seeded direction."""
    a, b = _parts(x)
    bs = fmt_value(b, digits)
    sign, bs = ("-", bs[1:]) if bs.startswith("-") else ("+", bs)
    return f"({fmt_value(a, digits)} {sign} {bs}ε)"


def _dual_rows(values, adjoints) -> list[list[Any]]:
    """Per node: name, definition, value, tangent, adjoint, tangent of the adjoint."""
    from . import explain

    g = values.graph
    outs = explain.output_labels(g)
    rows = []
    for i in g.rows():
        node = g.nodes[i]
        v, vt = _parts(values.vals[i])
        a, at = _parts(adjoints[i])
        rows.append([node.name or "", "input" if node.op.name == "input" else g.definition(i), v, vt, a, at,
                     outs.get(i, "")])
    return rows


def dual_trace_text(values, adjoints, digits: int) -> str:
    from .explain import bar, dot

    headers = ["node", "definition", "value", dot("v"), bar("v"), dot(bar("v")), ""]
    body = [[r[0], r[1]] + [fmt_value(x, digits) for x in r[2:6]] + [f"= {r[6]}" if r[6] else ""]
            for r in _dual_rows(values, adjoints)]
    return table_text(headers, body, right={2, 3, 4, 5})


def dual_trace_json(values, adjoints) -> dict:
    return {"nodes": [{"name": r[0], "definition": r[1], "value": r[2], "tangent": r[3], "adjoint": r[4],
                       "adjoint_tangent": r[5], **({"output": r[6]} if r[6] else {})}
                      for r in _dual_rows(values, adjoints)]}


def dual_step_lines(values, steps, digits: int) -> list[str]:
    """The value pass and the adjoint steps of one forward-over-reverse sweep, on dual numbers."""
    from . import explain

    g = values.graph
    outs = explain.output_labels(g)
    lines = []
    for i in g.rows():
        node = g.nodes[i]
        name = node.name or ""
        if node.op.name == "input":
            lines.append(f"{name} = {dual_text(values.vals[i], digits)}")
        else:
            lines.append(f"{name} = {g.definition(i)} = {dual_text(values.vals[i], digits)}")
    current = None
    for s in steps:
        if g.is_const(s.target):
            continue  # a constant's adjoint is never used
        t = g.nodes[s.target].name or ""
        if s.source < 0:
            lines.append(f"{explain.bar(outs.get(s.target, 'y'))} = {explain.bar(t)} = "
                         f"{dual_text(s.total, digits)}   (seed)")
            continue
        src = g.nodes[s.source].name or ""
        if s.source != current:
            current = s.source
            lines.append(f"{src} = {g.definition(s.source)}")
        formula = explain.partial_formula(g, s.source, s.arg)
        lines.append(f"  {explain.bar(t)} += {explain.bar(src)} · ∂{src}/∂{t} = {explain.bar(src)} · "
                     f"{explain._factor(formula)} = {dual_text(s.adjoint, digits)} · {dual_text(s.partial, digits)}"
                     f" = {dual_text(s.contribution, digits)}   ({explain.bar(t)} = {dual_text(s.total, digits)})")
    return lines


def dual_steps_json(values, steps) -> list[dict]:
    from .explain import partial_formula

    def d(x):
        a, b = _parts(x)
        return {"value": a, "tangent": b}

    g = values.graph
    out = []
    for s in steps:
        if g.is_const(s.target):
            continue
        if s.source < 0:
            out.append({"target": g.nodes[s.target].name, "seed": True, "total": d(s.total)})
        else:
            out.append({"target": g.nodes[s.target].name, "source": g.nodes[s.source].name,
                        "formula": partial_formula(g, s.source, s.arg), "adjoint": d(s.adjoint),
                        "partial": d(s.partial), "contribution": d(s.contribution), "total": d(s.total)})
    return out


def hvp_explained_text(result, digits: int, trace: bool = False, steps: bool = False) -> str:
    parts = []
    if trace:
        parts.append(dual_trace_text(result.dual_values, result.adjoints, digits))
    if steps:
        parts.append("\n".join(dual_step_lines(result.dual_values, result.adjoint_steps or [], digits)))
    parts.append(hvp_text(result, digits))
    return "\n\n".join(parts)


def hvp_explained_json(result, trace: bool = False, steps: bool = False) -> dict:
    doc = hvp_json(result)
    if trace:
        doc["trace"] = dual_trace_json(result.dual_values, result.adjoints)
    if steps:
        doc["steps"] = dual_steps_json(result.dual_values, result.adjoint_steps or [])
    return doc


def hessian_explained_text(result, digits: int, trace: bool = False, steps: bool = False) -> str:
    names = result.problem.inputs
    blocks = []
    if trace or steps:
        for j, k in enumerate(result.wrt):
            head = f"sweep {j + 1} of {result.sweeps}: direction e_{names[k]} (column ∂/∂{names[k]} of H)"
            block = [head]
            values, adjoints = result.sweep_values[j], result.sweep_adjoints[j]
            if trace:
                block.append(dual_trace_text(values, adjoints, digits))
            if steps and result.sweep_steps is not None:
                block.append("\n".join(dual_step_lines(values, result.sweep_steps[j], digits)))
            blocks.append("\n".join(block))
    return "\n\n".join(blocks + [hessian_text(result, digits)])


def hessian_explained_json(result, trace: bool = False, steps: bool = False) -> dict:
    doc = hessian_json(result)
    if trace:
        doc["trace"] = [dual_trace_json(v, a) for v, a in zip(result.sweep_values, result.sweep_adjoints)]
    if steps and result.sweep_steps is not None:
        doc["steps"] = [dual_steps_json(v, st) for v, st in zip(result.sweep_values, result.sweep_steps)]
    return doc


_DERIVATIVE_RENDERERS = {
    "jvp": (jvp_explained_text, jvp_explained_json),
    "vjp": (vjp_explained_text, vjp_explained_json),
    "jacobian": (jacobian_explained_text, jacobian_explained_json),
    "hessian": (hessian_explained_text, hessian_explained_json),
    "hvp": (hvp_explained_text, hvp_explained_json),
    "implicit": (lambda r, digits, trace=False, steps=False: implicit_text(r, digits),
                 lambda r, trace=False, steps=False: implicit_json(r)),
}


def derivative_text(kind: str, result, digits: int, trace: bool = False, steps: bool = False) -> str:
    """Text for jvp, vjp, jacobian, hessian, hvp or implicit (with --trace / --steps)."""
    return _DERIVATIVE_RENDERERS[kind][0](result, digits, trace, steps)


def derivative_json(kind: str, result, trace: bool = False, steps: bool = False) -> dict:
    """The JSON document for jvp, vjp, jacobian, hessian, hvp or implicit."""
    return _DERIVATIVE_RENDERERS[kind][1](result, trace, steps)
