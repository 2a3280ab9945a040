"""The commands as pure functions: text and options in, result dataclasses out.

Nothing here prints. The CLI and the REPL both call these functions and hand
the results to :mod:`adcli.render`, which is why they show the same thing.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import forward, reverse, sweeps
from .errors import FILE, INPUT, NAME, USAGE, AdcliError, Warning_
from .evaluate import Values, evaluate
from .graph import Graph
from .parse import constant_at, parse
from .vectors import Env, by_input, split_name, written_inputs

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
    try:
        with open(name, "rb") as f:  # open, not pathlib: pathlib (and urllib) cost 4 ms of a cold start
            data = f.read()
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


def split_top_level(text: str, sep: str = ",", newlines: bool = False) -> list[tuple[str, int]]:
    """Split on ``sep`` (and, with ``newlines``, on line ends) outside
    parentheses and brackets; each piece with its offset in ``text``."""
    if len(sep) == 1 and not any(b in text for b in "()[]"):  # nothing nested: every separator splits
        parts = re.split(f"[{re.escape(sep)}\n]" if newlines else re.escape(sep), text)
        out, off = [], 0
        for p in parts:
            out.append((p, off))
            off += len(p) + 1
        return out
    return split_nested(text, sep, newlines)


def split_nested(text: str, sep: str = ",", newlines: bool = False) -> list[tuple[str, int]]:
    """:func:`split_top_level` a character at a time, counting the brackets."""
    pieces, depth, start = [], 0, 0
    for k, ch in enumerate(text):
        if ch == "(" or ch == "[":
            depth += 1
        elif ch == ")" or ch == "]":
            depth -= 1
        elif (ch == sep or (newlines and ch == "\n")) and depth == 0:
            pieces.append((text[start:k], start))
            start = k + 1
    pieces.append((text[start:], start))
    return pieces


Value = float | list[float]  # a vector input or constant is a list
_GLUED = re.compile(r"\s([^\W\d]\w*)\s*=")


def parse_point(text: str, label: str = "--at") -> dict[str, tuple[Value, tuple[int, int]]]:
    """``x1=1,x2=pi/4,v=[1,2]`` -> {name: (value, span of the item)}; ``@FILE``
    reads the same from a file (items separated by commas or new lines)."""
    point: dict[str, tuple[Value, tuple[int, int]]] = {}
    from_file = text.startswith("@") and len(text) > 1
    if from_file:
        label = f"{label} {text}"
        text = read_text_file(text[1:]).lstrip("\ufeff")
    if not text.strip():
        raise AdcliError(INPUT, f"{label} is empty", text, (0, 0), hint="write e.g. x1=1,x2=2", label=label)
    for piece, off in split_top_level(text, newlines=from_file):
        stripped = piece.strip()
        lead = len(piece) - len(piece.lstrip())
        span = (off + lead, off + lead + max(len(stripped), 1))
        if not stripped:
            if from_file:
                continue
            raise AdcliError(INPUT, "empty item (two commas in a row?)", text, span, label=label)
        if "=" not in stripped:
            raise AdcliError(
                INPUT, f"{stripped!r} has no value", text, span, hint="write name=value, e.g. x1=1", label=label
            )
        name, _, value = stripped.partition("=")
        name = name.strip()
        name_span = (span[0], span[0] + max(len(name), 1))
        bare = name.replace("_", "")  # all(c.isalnum() or c == "_" for c in name), at C speed
        if not name or not (name[0].isalpha() or name[0] == "_") or (bare and not bare.isalnum()):
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
        glued = _GLUED.search(value)  # x=1 y=2: the comma is missing
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
            v = _value_at(text, vstart, span[1], label, name)
        except AdcliError as exc:
            exc.message = f"value of {name}: {exc.message}"
            raise
        point[name] = (v, span)
    return point


def _value_at(text: str, start: int, end: int, label: str, name: str) -> Value:
    """One value, or a vector ``[1, 2, pi]`` (each element a constant)."""
    body = text[start:end]
    lead = len(body) - len(body.lstrip())
    if not body.strip().startswith("["):
        return constant_at(text, start, end, label, f"the value of {name}")
    b0 = start + lead
    b1 = start + len(body.rstrip())
    if not text[b1 - 1] == "]":
        raise AdcliError(INPUT, f"the vector {name} has no closing ]", text, (b0, b1), label=label)
    inner = text[b0 + 1 : b1 - 1]
    if not inner.strip():
        raise AdcliError(INPUT, f"the vector {name} is empty", text, (b0, b1), label=label)
    if "," in inner:
        pieces = split_top_level(inner)
    else:  # one value a line (or separated by spaces), as a column file pastes
        pieces = [(m.group(), m.start()) for m in re.finditer(r"\S+", inner)]
    out: list[float] = []
    for piece, off in pieces:
        lead = len(piece) - len(piece.lstrip())
        s = b0 + 1 + off + lead
        if not piece.strip():
            raise AdcliError(INPUT, "empty element (two commas in a row?)", text, (s, s + 1), label=label)
        try:
            out.append(constant_at(text, s, s + len(piece.strip()), label, f"{name}[{len(out) + 1}]"))
        except AdcliError as err:
            if "," in inner or len(pieces) == 1 or err.hint:
                raise
            # [1 - 2]: without commas the spaces separate the elements ("1", "-", "2")
            raise replace(
                err,
                hint=f"without commas, spaces separate a vector's elements (here {len(pieces)}: "
                + " ".join(repr(p) for p, _ in pieces)
                + "); separate them with commas, or write each element without spaces",
            ) from None
    return out


def point_env(point: dict[str, tuple[Value, tuple[int, int]]], consts: dict[str, Value] | None = None) -> Env:
    """What the parser must know before it reads the expression: vector lengths and constants."""
    for name in point:
        if consts and name in consts:
            raise AdcliError(
                INPUT,
                f"{name} is given both as a constant (--const) and in the point",
                None,
                None,
                hint=f"a constant is never an input: drop {name} from one of them",
            )
    lengths = {n: len(v) for n, (v, _) in point.items() if isinstance(v, list)}
    return Env(lengths, dict(consts or {}))


def flat_point(point: dict[str, tuple[Value, tuple[int, int]]]) -> dict[str, tuple[float, tuple[int, int]]]:
    """Vector values spread into their elements: ``x=[1,2]`` -> ``x[1]``, ``x[2]``."""
    out: dict[str, tuple[float, tuple[int, int]]] = {}
    for name, (v, span) in point.items():
        if isinstance(v, list):
            out.update((f"{name}[{k}]", (x, span)) for k, x in enumerate(v, 1))
        else:
            out[name] = (v, span)
    return out


def parse_consts(text: str | None, label: str = "--const") -> dict[str, Value]:
    """``--const t=[0.1,0.2],n=10``, ``@FILE`` of such items, or ``@data.csv``
    (a header of names, then one row per element: each column a vector)."""
    if text is None:
        return {}
    if text.startswith("@") and text.lower().endswith(".csv"):
        return _csv_columns(text[1:], f"{label} {text}")
    return {n: v for n, (v, _) in parse_point(text, label).items()}


def _csv_columns(name: str, label: str) -> dict[str, Value]:
    text = read_text_file(name).lstrip("\ufeff")
    lines = [(k, line) for k, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
    if not lines:
        raise AdcliError(INPUT, f"{name} is empty: expected a header line of names", label=label)
    k0, header = lines[0]
    names = [h.strip() for h in header.split(",")]
    for h in names:
        if not h or not (h[0].isalpha() or h[0] == "_") or not all(c.isalnum() or c == "_" for c in h):
            raise AdcliError(INPUT, f"{h!r} is not a valid name", header, (0, len(header)), label=f"{label}, line {k0}")
    try:
        rows = io.StringIO("\n".join(line for _, line in lines[1:]))
        data = np.loadtxt(rows, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise AdcliError(INPUT, f"{name}: {exc}", label=label) from None
    if data.size == 0:
        raise AdcliError(INPUT, f"{name} has a header but no rows", label=label)
    if data.shape[1] != len(names):
        raise AdcliError(INPUT, f"{name}: {data.shape[1]} columns but {len(names)} names", label=label)
    bad = ~np.isfinite(data)
    if bad.any():
        r, c = map(int, np.argwhere(bad)[0])
        raise AdcliError(INPUT, f"{name}: {names[c]} in row {r + 1} is {data[r, c]}, not a finite number", label=label)
    return {h: data[:, k].tolist() for k, h in enumerate(names)}


def bind_point(g: Graph, at: str | None, label: str = "--at", parsed=None) -> tuple[Graph, list[float]]:
    """``g`` with its inputs in the order --at gives them (SPEC 1), and their values.
    Every command that takes a point comes through here (or :mod:`adcli.batch`),
    so every output lists the inputs in the order the user wrote."""
    point = _point_of(g, at, label, parsed)
    g = g.in_order(list(point))
    return g, [point[n] for n in g.input_names]


def _point_of(g: Graph, at: str | None, label: str, parsed=None) -> dict[str, float]:
    """The --at values by name, in the order given; every input has one (a
    vector ``x=[..]`` gives ``x[1]``, ``x[2]``...)."""
    point = parsed if parsed is not None else (parse_point(at, label) if at is not None else {})
    if any("[" in n and split_name(n) for n in g.input_names):
        return _vector_point(g, point, at, label)
    names = g.input_names
    _only_inputs(point, names, at, label)
    missing = [n for n in names if n not in point]
    if missing:
        given = f" in {label}" if at is not None else ""
        raise AdcliError(
            INPUT,
            f"missing value{'s' if len(missing) > 1 else ''} for {listing(missing)}{given}",
            hint=f"add {','.join(m + '=...' for m in missing[:5])}{',...' if len(missing) > 5 else ''} to {label}",
            label=label,
        )
    return {n: v for n, (v, _) in point.items()}  # type: ignore[misc]


def _only_inputs(point, names: list[str], at: str | None, label: str) -> None:
    """Refuse a name in --at that is not one of ``names`` (the inputs as written)."""
    known = set(names)
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


def _vector_point(g: Graph, point, at: str | None, label: str) -> dict[str, float]:
    """_point_of for an expression with vector inputs: ``x[k]`` takes element
    k of ``--at x=[...]``; the elements come in the order of their vector."""
    names = g.input_names
    written = written_inputs(names)
    _only_inputs(point, written, at, label)
    out: dict[str, dict[str, float]] = {}  # by the name given in --at
    missing: list[str] = []
    for n in names:
        s = split_name(n)
        base = s[0] if s else n
        item = point.get(base)
        if item is None:
            if base not in missing:
                missing.append(base)
            continue
        v, span = item
        if s is None:
            if isinstance(v, list):
                raise AdcliError(INPUT, f"{n} is a scalar input, but its value is a vector", at, span, label=label)
            out.setdefault(base, {})[n] = v
        elif not isinstance(v, list):
            raise AdcliError(
                INPUT,
                f"{base} is a vector input ({n}...), but its value is one number",
                at,
                span,
                label=label,
                hint=f"write {base}=[1,2,3]",
            )
        elif s[1] > len(v):
            raise AdcliError(INPUT, f"{base} has {len(v)} values, but the expression uses {n}", at, span, label=label)
        else:
            out.setdefault(base, {})[n] = v[s[1] - 1]
    if missing:
        given = f" in {label}" if at is not None else ""
        raise AdcliError(
            INPUT,
            f"missing value{'s' if len(missing) > 1 else ''} for {listing(missing)}{given}",
            hint=f"add {','.join(m + '=...' for m in missing[:5])} to {label}",
            label=label,
        )
    return {n: x for base in point if base in out for n, x in out[base].items()}


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
        elems = [] if name in position else _elements_of(name, position)
        if elems:  # --wrt x: every element of the vector x
            for e in elems:
                if position[e] in seen:
                    raise AdcliError(INPUT, f"{e} is listed twice", wrt, span, label="--wrt")
                seen.add(position[e])
                out.append(position[e])
            continue
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


def _elements_of(name: str, position: dict[str, int]) -> list[str]:
    """``x[1]``, ``x[2]``... while they are inputs."""
    out: list[str] = []
    while f"{name}[{len(out) + 1}]" in position:
        out.append(f"{name}[{len(out) + 1}]")
    return out


def parse_vector(text: str, size: int, label: str, per: str) -> list[float]:
    """``2,-1`` or ``pi/4, -sqrt(2)`` -> floats, exactly ``size`` of them; ``per`` says
    what each one is for ("input (x1, x2)", "output"). ``@FILE`` reads the same from a
    file (values separated by commas or new lines), as ``--at @FILE`` does."""
    from_file = text.startswith("@") and len(text) > 1
    if from_file:
        label = f"{label} {text}"
        text = read_text_file(text[1:]).lstrip("\ufeff")
    if not text.strip():
        raise AdcliError(
            INPUT,
            f"{label} is empty",
            text,
            (0, 0),
            label=label,
            hint=f"give {size} value{'s' if size != 1 else ''}, one per {per}",
        )
    pieces = split_top_level(text, newlines=from_file)
    out: list[float] = []
    for piece, off in pieces:
        stripped = piece.strip()
        lead = len(piece) - len(piece.lstrip())
        span = (off + lead, off + lead + max(len(stripped), 1))
        if not stripped:
            if from_file:
                continue
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

    def point_dict(self) -> dict[str, Any]:
        """Input values by name; a vector input as one list (``{"x": [..]}``)."""
        return by_input(self.inputs, list(range(len(self.inputs))), self.point)


def load(expr: str, at: str | None, const: str | None = None) -> Problem:
    parsed = parse_point(at) if at is not None else {}
    g = parse(expr, env=point_env(parsed, parse_consts(const)))
    g, point = bind_point(g, at, parsed=parsed)
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
    gradient = result.gradient
    if all(type(gk) is np.float64 or type(gk) is float for gk in gradient) and np.isfinite(gradient).all():
        return  # every entry a finite number (one point): none would warn
    names = result.problem.inputs
    for k, gk in zip(result.wrt, result.gradient):
        warn_nonfinite(result.problem, f"∂f/∂{names[k]}", [gk])


def warn_nonfinite(problem: Problem, label: str, entries: list[Any]) -> None:
    """A non-finite derivative never passes silently: name it when no warning did,
    and a NaN always (another warning, e.g. an infinite first derivative, does not
    say that an entry is undefined)."""
    defined = np.logical_not(problem.values.undefined)  # many points: undefined rows are reported apart
    for test, what, always in ((np.isnan, "undefined (NaN)", True), (np.isfinite, "not finite", False)):
        if problem.values.warnings and not always:
            return
        for v in entries:
            bad = np.logical_and(test(v) if always else np.logical_not(test(v)), defined)
            if np.any(bad):
                one = np.ndim(defined) == 0  # one point; bad may still be a matrix of entries
                where = "at this point" if one else "at some of the points"
                problem.values.warn(("nonfinite", label), f"{label} is {what} {where}")
                return


# -- many points -------------------------------------------------------------------


def in_header_order(g: Graph, header: list[str], arrays: list[Any]) -> tuple[Graph, list[Any]]:
    """``g`` with its inputs in the order of a --points header, and the columns
    (given aligned with ``g``'s inputs) in that order too."""
    by_name = dict(zip(g.input_names, arrays))
    g = g.in_order(header)
    return g, [by_name[n] for n in g.input_names]


def header_lengths(points_arg: str) -> dict[str, int]:
    """Vector lengths from a --points file's header (``x[1],x[2],x[3]``), for len(x).
    Anything unreadable gives none here: reading the points reports it, located."""
    if points_arg == "-":
        return {}
    names: list[str] = []
    try:
        if points_arg.lower().endswith(".parquet"):
            import pyarrow.parquet as pq

            names = list(pq.read_schema(points_arg).names)
        else:
            import csv

            with open(points_arg, encoding="utf-8-sig") as fh:
                for line in fh:
                    if line.strip() and not line.lstrip().startswith("#"):
                        names = next(csv.reader([line]), [])  # quoted names too, as points.py reads them
                        break
    except (OSError, ValueError, ImportError):  # ValueError: not UTF-8 text, not a Parquet file
        return {}
    lengths: dict[str, int] = {}
    for h in names:
        s = split_name(h.strip())
        if s is not None:
            lengths[s[0]] = max(lengths.get(s[0], 0), s[1])
    return lengths


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


def run_graph(expr: str, at: str | None, const: str | None = None) -> Drawing:
    """The DAG, with values (and, for a scalar, adjoints) when a point is given."""
    env = Env({}, parse_consts(const))
    return draw(parse(expr, env=env) if at is None else load(expr, at, const))


def draw(problem: Problem | Graph) -> Drawing:
    """The drawing of a bare graph, or of a problem with its values and (scalar) adjoints."""
    if isinstance(problem, Graph):
        return Drawing(problem, None, None, [])
    adj = None
    if len(problem.graph.outputs) == 1:
        adj, _ = reverse.vjp(problem.values, [np.float64(1.0)])
    return Drawing(problem.graph, problem.values, adj, problem.values.warnings)
