"""The commands as pure functions: text and options in, result dataclasses out.

Nothing here prints. The CLI and the REPL both call these functions and hand
the results to :mod:`adcli.render`, which is why they show the same thing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import forward, reverse, sweeps
from .errors import FILE, INPUT, NAME, USAGE, AdcliError, Warning_
from .evaluate import Values, evaluate
from .graph import Graph
from .parse import constant_at, parse

MODES = ("reverse", "forward")


# -- reading what the user gave -------------------------------------------------


def read_expression(arg: str, stdin=None) -> str:
    """The expression argument: literal text, ``-`` for stdin, ``@file`` for a file."""
    if arg == "-":
        stream = stdin if stdin is not None else sys.stdin
        text = stream.read()
        return text[1:] if text.startswith("\ufeff") else text  # a byte-order mark
    if arg.startswith("@") and len(arg) > 1:
        return read_text_file(arg[1:])
    return arg


def read_text_file(name: str) -> str:
    path = Path(name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AdcliError(FILE, f"no such file: {name}") from None
    except IsADirectoryError:
        raise AdcliError(FILE, f"{name} is a directory, not a file") from None
    except OSError as exc:
        raise AdcliError(FILE, f"cannot read {name}: {exc.strerror}") from None
    if b"\0" in data:
        raise AdcliError(FILE, f"{name} looks like a binary file, not an expression")
    try:
        return data.decode("utf-8-sig")  # a byte-order mark (Notepad, Excel) is not part of the text
    except UnicodeDecodeError as exc:
        raise AdcliError(FILE, f"{name} is not UTF-8 text (byte {exc.start})") from None


def split_top_level(text: str, sep: str = ",") -> list[tuple[str, int]]:
    """Split on ``sep`` outside parentheses; each piece with its offset in ``text``."""
    pieces, depth, start = [], 0, 0
    for k, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            pieces.append((text[start:k], start))
            start = k + 1
    pieces.append((text[start:], start))
    return pieces


def parse_point(text: str, label: str = "--at") -> dict[str, tuple[float, tuple[int, int]]]:
    """``x1=1,x2=pi/4`` -> {name: (value, span of the item)}."""
    point: dict[str, tuple[float, tuple[int, int]]] = {}
    if not text.strip():
        raise AdcliError(INPUT, f"{label} is empty", text, (0, 0), hint="write e.g. x1=1,x2=2", label=label)
    for piece, off in split_top_level(text):
        stripped = piece.strip()
        lead = len(piece) - len(piece.lstrip())
        span = (off + lead, off + lead + max(len(stripped), 1))
        if not stripped:
            raise AdcliError(INPUT, "empty item (two commas in a row?)", text, span, label=label)
        if "=" not in stripped:
            raise AdcliError(
                INPUT, f"{stripped!r} has no value", text, span, hint="write name=value, e.g. x1=1", label=label
            )
        name, _, value = stripped.partition("=")
        name = name.strip()
        name_span = (span[0], span[0] + max(len(name), 1))
        if not name or not (name[0].isalpha() or name[0] == "_") or not all(c.isalnum() or c == "_" for c in name):
            raise AdcliError(INPUT, f"{name!r} is not a valid input name", text, name_span, label=label)
        if name in point:
            raise AdcliError(INPUT, f"{name} is given twice", text, name_span, label=label)
        vstart = span[0] + stripped.index("=") + 1
        if not value.strip():
            raise AdcliError(
                INPUT,
                f"the value of {name} is empty",
                text,
                (vstart - 1, vstart),
                hint=f"write {name}=1, say",
                label=label,
            )
        glued = re.search(r"\s([^\W\d]\w*)\s*=", value)  # x=1 y=2: the comma is missing
        if glued:
            k = vstart + glued.start(1)
            raise AdcliError(
                INPUT,
                f"missing comma before {glued.group(1)}=",
                text,
                (k, k + len(glued.group(1))),
                hint="separate the values with commas: " + re.sub(r"\s+(?=[^\W\d]\w*\s*=)", ",", text.strip()),
                label=label,
            )
        try:
            v = constant_at(text, vstart, span[1], label, f"the value of {name}")
        except AdcliError as exc:
            exc.message = f"value of {name}: {exc.message}"
            raise
        point[name] = (v, span)
    return point


def resolve_point(g: Graph, at: str | None, label: str = "--at") -> list[float]:
    """The values of ``g``'s inputs, in ``g``'s input order, from the --at text."""
    point = _point_of(g, at, label)
    return [point[n] for n in g.input_names]


def bind_point(g: Graph, at: str | None, label: str = "--at") -> tuple[Graph, list[float]]:
    """``g`` with its inputs in the order --at gives them (SPEC 1), and their values.
    Every command that takes a point comes through here (or :mod:`adcli.batch`),
    so every output lists the inputs in the order the user wrote."""
    point = _point_of(g, at, label)
    g = g.in_order(list(point))
    return g, [point[n] for n in g.input_names]


def _point_of(g: Graph, at: str | None, label: str) -> dict[str, float]:
    """The --at values by name, in the order given; every input has one."""
    names = g.input_names
    known = set(names)
    point = parse_point(at, label) if at is not None else {}
    for name, (_, span) in point.items():
        if name not in known:
            raise AdcliError(
                NAME,
                f"{name} is not an input of the expression (its inputs: {listing(names)})",
                at,
                span,
                label=label,
                hint=did_you_mean(name, [n for n in names if n not in point]),
            )
    missing = [n for n in names if n not in point]
    if missing:
        given = f" in {label}" if at is not None else ""
        raise AdcliError(
            INPUT,
            f"missing value{'s' if len(missing) > 1 else ''} for {listing(missing)}{given}",
            hint=f"add {','.join(m + '=...' for m in missing[:5])}{',...' if len(missing) > 5 else ''} to {label}",
            label=label,
        )
    return {n: v for n, (v, _) in point.items()}


def resolve_wrt(g: Graph, wrt: str | None) -> list[int]:
    """Positions (in g.inputs) to differentiate with respect to, in --wrt order."""
    names = g.input_names
    if wrt is None:
        return list(range(len(names)))
    out: list[int] = []
    position = {n: k for k, n in enumerate(names)}
    seen: set[int] = set()
    for piece, off in split_top_level(wrt):
        name = piece.strip()
        span = (off, off + max(len(piece), 1))
        if name not in position:
            raise AdcliError(
                NAME,
                f"{name!r} is not an input of the expression (its inputs: {listing(names)})",
                wrt,
                span,
                label="--wrt",
            )
        k = position[name]
        if k in seen:
            raise AdcliError(INPUT, f"{name} is listed twice", wrt, span, label="--wrt")
        seen.add(k)
        out.append(k)
    return out


def parse_vector(text: str, size: int, label: str, per: str) -> list[float]:
    """``2,-1`` or ``pi/4, -sqrt(2)`` -> floats, exactly ``size`` of them; ``per`` says
    what each one is for ("input (x1, x2)", "output")."""
    if not text.strip():
        raise AdcliError(
            INPUT,
            f"{label} is empty",
            text,
            (0, 0),
            label=label,
            hint=f"give {size} value{'s' if size != 1 else ''}, one per {per}",
        )
    pieces = split_top_level(text)
    out: list[float] = []
    for piece, off in pieces:
        stripped = piece.strip()
        lead = len(piece) - len(piece.lstrip())
        span = (off + lead, off + lead + max(len(stripped), 1))
        if not stripped:
            raise AdcliError(INPUT, "empty item (two commas in a row?)", text, span, label=label)
        if "=" in stripped:
            raise AdcliError(
                INPUT,
                f"{label} takes plain values, one per {per} in order, not name=value",
                text,
                span,
                label=label,
                hint=f"write e.g. {label} " + ",".join(["1"] * size),
            )
        out.append(constant_at(text, span[0], span[1], label, f"{label} value {len(out) + 1}"))
    if len(out) != size:
        raise AdcliError(
            INPUT,
            f"{label} has {len(out)} value{'s' if len(out) != 1 else ''}, but it needs {size}: one per {per}",
            text,
            (0, len(text)),
            label=label,
        )
    return out


def resolve_vector(given: str | Sequence[Any] | None, size: int, label: str, per: str, command: str) -> list[Any]:
    """A direction or cotangent (--dir, --cotangent) as numbers, before any engine runs:
    text to parse, or values given directly (floats or arrays)."""
    if given is None:
        example = ",".join(["1"] + ["0"] * (size - 1)) if size else "1"
        raise AdcliError(
            USAGE,
            f"{command} needs {label} with {size} value{'s' if size != 1 else ''}, one per {per}",
            hint=f"e.g. {label} {example}",
        )
    if isinstance(given, str):
        return [np.float64(v) for v in parse_vector(given, size, label, per)]
    given = list(given)
    if len(given) != size:
        raise AdcliError(INPUT, f"{label} has {len(given)} values, but it needs {size}: one per {per}", label=label)
    return given


def did_you_mean(name: str, candidates: list[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    return "did you mean " + " or ".join(close) + "?" if close else None


def listing(names: list[str], most: int = 8) -> str:
    """``x1, x2, x3`` -- clipped for an expression with thousands of inputs."""
    if not names:
        return "none"
    shown = ", ".join(names[:most])
    return shown + (f", ... ({len(names)} in all)" if len(names) > most else "")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise AdcliError(USAGE, f"unknown mode {mode!r}: use reverse or forward")
    return mode


# -- results ---------------------------------------------------------------------


@dataclass
class Problem:
    """An expression bound to a point: what every command starts from."""

    graph: Graph
    point: list[float]
    values: Values

    @property
    def inputs(self) -> list[str]:
        return self.graph.input_names

    def point_dict(self) -> dict[str, float]:
        return dict(zip(self.inputs, self.point))


def load(expr: str, at: str | None) -> Problem:
    g, point = bind_point(parse(expr), at)
    values = evaluate(g, [np.float64(v) for v in point])
    return Problem(g, point, values)


@dataclass
class EvalResult:
    problem: Problem
    value: list[Any]
    warnings: list[Warning_] = field(default_factory=list)


@dataclass
class GradResult:
    problem: Problem
    mode: str
    wrt: list[int]  # positions in problem.inputs
    value: Any
    gradient: list[Any]  # aligned with wrt
    sweeps: int
    warnings: list[Warning_]
    adjoints: list[Any] | None = None  # reverse mode: every node's adjoint
    adjoint_steps: list[reverse.AdjointStep] | None = None
    tangents: Sequence[list[Any]] | None = None  # forward mode: one tangent list per direction
    tangent_steps: Sequence[list[forward.TangentStep]] | None = None


def run_eval(problem: Problem) -> EvalResult:
    return EvalResult(problem, problem.values.outputs, problem.values.warnings)


def require_scalar(problem: Problem, command: str) -> None:
    g = problem.graph
    if len(g.outputs) != 1:
        raise AdcliError(
            USAGE,
            f"{command} needs a scalar expression, but this one has {len(g.outputs)} outputs",
            g.source,
            (g.output_spans[1][0], g.output_spans[-1][1]),
            hint="use jacobian (or jvp / vjp) for several outputs",
        )


def run_grad(problem: Problem, mode: str = "reverse", wrt: str | None = None, record: bool = False) -> GradResult:
    check_mode(mode)
    require_scalar(problem, "grad")
    g, values = problem.graph, problem.values
    positions = resolve_wrt(g, wrt)
    value = values.outputs[0]
    if mode == "reverse":
        adj, steps = reverse.vjp(values, [np.float64(1.0)], record=record)
        grads = reverse.input_adjoints(values, adj)
        gradient = [grads[k] for k in positions]
        result = GradResult(
            problem,
            mode,
            positions,
            value,
            gradient,
            1,
            values.warnings,
            adjoints=adj,
            adjoint_steps=steps if record else None,
        )
    else:
        batch = sweeps.run(values, "forward", sweeps.unit_groups(len(positions)), positions, record)
        out = batch.at_outputs()[0]
        tangents = sweeps.PerDirection(batch)
        result = GradResult(
            problem,
            mode,
            positions,
            value,
            [batch.entry(out, d) for d in range(len(positions))],
            len(positions),
            values.warnings,
            tangents=tangents,
            tangent_steps=sweeps.StepsPerDirection(tangents) if record else None,
        )
    _check_gradient_finite(result)
    return result


def _check_gradient_finite(result: GradResult) -> None:
    """A non-finite derivative must never pass silently: name it if no warning did."""
    if result.warnings:
        return
    names = result.problem.inputs
    for k, gk in zip(result.wrt, result.gradient):
        if not np.all(np.isfinite(gk)):
            result.problem.values.warn(("grad", k), f"∂f/∂{names[k]} is {gk} at this point")


# -- many points -------------------------------------------------------------------


def in_header_order(g: Graph, header: list[str], arrays: list[Any]) -> tuple[Graph, list[Any]]:
    """``g`` with its inputs in the order of a --points header, and the columns
    (given aligned with ``g``'s inputs) in that order too."""
    by_name = dict(zip(g.input_names, arrays))
    g = g.in_order(header)
    return g, [by_name[n] for n in g.input_names]


# -- trace and graph -----------------------------------------------------------------


@dataclass
class TraceResult:
    problem: Problem
    mode: str
    wrt: list[int]
    adjoints: Sequence[list[Any]] | None  # reverse: one adjoint list per output
    tangents: Sequence[list[Any]] | None  # forward: one tangent list per wrt input
    adjoint_steps: Sequence[list[reverse.AdjointStep]] | None
    tangent_steps: Sequence[list[forward.TangentStep]] | None
    warnings: list[Warning_]


def run_trace(problem: Problem, mode: str = "reverse", wrt: str | None = None, record: bool = False) -> TraceResult:
    """Values, plus adjoints (one reverse sweep per output) or tangents (one
    forward sweep per input) of every node."""
    check_mode(mode)
    g, values = problem.graph, problem.values
    positions = resolve_wrt(g, wrt)
    if mode == "reverse":
        batch = sweeps.run(values, "reverse", sweeps.unit_groups(len(g.outputs)), positions, record)
    else:
        batch = sweeps.run(values, "forward", sweeps.unit_groups(len(positions)), positions, record)
    nodes = sweeps.PerDirection(batch)
    steps = sweeps.StepsPerDirection(nodes) if record else None
    if mode == "reverse":
        return TraceResult(problem, mode, positions, nodes, None, steps, None, values.warnings)
    return TraceResult(problem, mode, positions, None, nodes, None, steps, values.warnings)


@dataclass
class Drawing:
    graph: Graph
    values: Values | None
    adjoints: list[Any] | None
    warnings: list[Warning_]


def run_graph(expr: str, at: str | None) -> Drawing:
    """The DAG, with values (and, for a scalar, adjoints) when a point is given."""
    return draw(parse(expr) if at is None else load(expr, at))


def draw(problem: Problem | Graph) -> Drawing:
    """The drawing of a bare graph, or of a problem with its values and (scalar) adjoints."""
    if isinstance(problem, Graph):
        return Drawing(problem, None, None, [])
    adj = None
    if len(problem.graph.outputs) == 1:
        adj, _ = reverse.vjp(problem.values, [np.float64(1.0)])
    return Drawing(problem.graph, problem.values, adj, problem.values.warnings)
