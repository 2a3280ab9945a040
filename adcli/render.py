"""Results and errors -> text, Rich renderables and JSON. The only module that
knows how things look; the CLI and the REPL both print through it."""

from __future__ import annotations

import json
import re
import math
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
