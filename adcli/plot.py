"""Plots: f and its derivatives over a range, and the path of a descent.

:func:`run_plot` evaluates f, ∂f/∂x (one reverse sweep) and, if asked,
∂²f/∂x² (forward-over-reverse) at every sample of the range in ONE vectorised
pass each: the inputs are numpy arrays, and points where f is undefined are
masked (``mask_undefined``), so they become gaps, never errors.

Two ways to draw the data:

- :func:`text_plot`: a small plot made of Braille dots (f) and ASCII marks
  (the derivatives), for the terminal, at most 80 columns wide;
- :func:`write_image`, :func:`write_descent_image`: PNG / SVG / PDF with
  matplotlib, imported only here and only when asked for (``pip install
  "adcli[plot]"``); a missing matplotlib is a clear error, not a traceback.
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .core import Problem, parse_point, require_scalar, resolve_wrt
from .errors import DOMAIN, FILE, INPUT, NAME, USAGE, AdcliError, Warning_
from .evaluate import Values, evaluate
from .graph import Graph, fmt_value
from .parse import constant_at, parse

IMAGE_FORMATS = (".png", ".svg", ".pdf")
TEXT_HEIGHT = 16  # rows of the terminal plot
MAX_WIDTH = 80
IMAGE_SAMPLES = 801


@dataclass
class PlotData:
    graph: Graph
    name: str  # the input on the horizontal axis
    lo: float
    hi: float
    fixed: dict[str, float]  # the other inputs, from --at
    x: np.ndarray
    f: np.ndarray  # NaN where f is undefined (a gap)
    df: np.ndarray  # ∂f/∂x, NaN where f is undefined
    d2f: np.ndarray | None = None  # ∂²f/∂x² with --hessian
    undefined: int = 0  # how many samples are gaps
    first_error: AdcliError | None = None  # why the first gap is one
    warnings: list[Warning_] = field(default_factory=list)

    @property
    def expression(self) -> str:
        return " ".join(self.graph.expression.split())

    def curves(self) -> list[tuple[str, str, np.ndarray]]:
        """(short label, long label, values) for f, f' and, with --hessian, f''."""
        x = self.name
        out = [("f", f"f({x}) = {self.expression}", self.f), ("f'", f"f'({x}) = ∂f/∂{x}", self.df)]
        if self.d2f is not None:
            out.append(("f''", f"f''({x}) = ∂²f/∂{x}²", self.d2f))
        return out


# -- options ------------------------------------------------------------------------------


def parse_range(text: str, label: str = "--range") -> tuple[float, float]:
    """``-3:3`` or ``-pi:2*pi`` -> (lo, hi) with lo < hi, both finite."""
    pieces = text.split(":")
    if len(pieces) != 2:
        raise AdcliError(
            INPUT,
            f"{label} needs two values separated by a colon",
            text,
            (0, max(len(text), 1)),
            hint=f"write e.g. {label} -3:3",
            label=label,
        )
    out = []
    off = 0
    for piece in pieces:
        stripped = piece.strip()
        lead = len(piece) - len(piece.lstrip())
        span = (off + lead, off + lead + max(len(stripped), 1))
        if not stripped:
            raise AdcliError(INPUT, "a value is missing", text, span, hint=f"write e.g. {label} -3:3", label=label)
        v = constant_at(text, span[0], span[1], label, f"{label} value")
        if not math.isfinite(v):
            raise AdcliError(INPUT, f"{stripped} is {fmt_value(v)}: the range must be finite", text, span, label=label)
        out.append(v)
        off += len(piece) + 1
    lo, hi = out
    if not lo < hi:
        raise AdcliError(
            INPUT,
            f"the range {fmt_value(lo)}:{fmt_value(hi)} is empty: the first value must be smaller",
            text,
            (0, len(text)),
            label=label,
        )
    return lo, hi


def _axis_input(g: Graph, wrt: str | None) -> int:
    names = g.input_names
    if wrt is None:
        if len(names) == 1:
            return 0
        if not names:
            raise AdcliError(USAGE, "plot needs an expression with an input to put on the horizontal axis")
        raise AdcliError(
            USAGE,
            f"plot needs --wrt: which input goes on the horizontal axis ({', '.join(names)})",
            hint=f"e.g. --wrt {names[0]} --at {','.join(n + '=1' for n in names[1:])}",
        )
    positions = resolve_wrt(g, wrt)
    if len(positions) != 1:
        raise AdcliError(
            USAGE, f"plot draws against one input, but --wrt names {len(positions)}", wrt, (0, len(wrt)), label="--wrt"
        )
    return positions[0]


def _fixed_inputs(g: Graph, axis: int, at: str | None) -> dict[str, float]:
    """The values of the inputs not on the axis; a value for the axis input is ignored."""
    names = g.input_names
    point = parse_point(at, "--at") if at is not None else {}
    for name, (_, span) in point.items():
        if name not in names:
            have = ", ".join(names) if names else "none"
            raise AdcliError(
                NAME, f"{name} is not an input of the expression (its inputs: {have})", at, span, label="--at"
            )
    missing = [n for k, n in enumerate(names) if k != axis and n not in point]
    if missing:
        raise AdcliError(
            INPUT,
            f"missing value{'s' if len(missing) > 1 else ''} for {', '.join(missing)} "
            f"(only {names[axis]} varies along the plot)",
            hint=f"add --at {','.join(m + '=...' for m in missing)}",
            label="--at",
        )
    return {n: point[n][0] for k, n in enumerate(names) if k != axis}


# -- the data -------------------------------------------------------------------------------


def samples(lo: float, hi: float, n: int) -> np.ndarray:
    return np.linspace(lo, hi, n)


def run_plot(
    expr: str | Graph,
    wrt: str | None = None,
    range_text: str = "-3:3",
    at: str | None = None,
    hessian: bool = False,
    n: int = IMAGE_SAMPLES,
) -> PlotData:
    """f and its derivative(s) along one input, at ``n`` samples of the range."""
    from . import reverse

    g = expr if isinstance(expr, Graph) else parse(expr)  # the REPL passes its graph
    require_scalar(Problem(g, [], None), "plot")  # type: ignore[arg-type]
    axis = _axis_input(g, wrt)
    fixed = _fixed_inputs(g, axis, at)
    lo, hi = parse_range(range_text)
    x = samples(lo, hi, n)
    names = g.input_names
    inputs = [x if k == axis else np.full(n, fixed[name]) for k, name in enumerate(names)]
    values = evaluate(g, inputs, mask_undefined=True)
    adj, _ = reverse.vjp(values, [np.ones(n)])
    df = np.broadcast_to(np.asarray(reverse.input_adjoints(values, adj)[axis], dtype=np.float64), (n,))
    f = np.broadcast_to(np.asarray(values.outputs[0], dtype=np.float64), (n,))
    bad = np.broadcast_to(np.asarray(values.undefined, dtype=bool), (n,)) | ~np.isfinite(f)
    if np.all(bad):
        if values.first_error is not None:
            err = values.first_error
            err.message = f"f is undefined on the whole range {fmt_value(lo)}:{fmt_value(hi)}; first, {err.message}"
            err.hint = err.hint or "try another --range"
            raise err
        raise AdcliError(
            DOMAIN, f"f is not finite anywhere on the range {fmt_value(lo)}:{fmt_value(hi)}", hint="try another --range"
        )
    f = np.where(bad, np.nan, f)
    df = np.where(bad, np.nan, df)
    warnings = list(values.warnings)
    d2f = None
    if hessian:
        d2f = _second_derivative(g, inputs, axis, ~bad, warnings)
    return PlotData(
        g, names[axis], lo, hi, fixed, x, f, df, d2f, int(np.count_nonzero(bad)), values.first_error, warnings
    )


def _second_derivative(
    g: Graph, inputs: list[np.ndarray], axis: int, ok: np.ndarray, warnings: list[Warning_]
) -> np.ndarray:
    """∂²f/∂x² by forward-over-reverse, at the samples where f is defined (one pass)."""
    from .derivatives import run_hessian

    out = np.full(len(ok), np.nan)
    sub = [a[ok] for a in inputs]
    values = evaluate(g, sub, mask_undefined=True)
    result = run_hessian(Problem(g, sub, values), g.input_names[axis])
    seen = {w.message for w in warnings}
    warnings.extend(w for w in result.warnings if w.message not in seen)
    out[ok] = np.broadcast_to(np.asarray(result.hessian[0][0], dtype=np.float64), (int(ok.sum()),))
    return out


# -- limits and gaps (shared by the terminal and the image) ----------------------------------


def y_limits(arrays: list[np.ndarray]) -> tuple[float, float]:
    """Limits that show every curve, except that a pole (tan, 1/x) does not get to
    squash everything else: extremes far beyond the bulk of the values are cut."""
    v = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.array([])
    if v.size == 0:
        return -1.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    q_lo, q_hi = (float(q) for q in np.percentile(v, [5, 95]))
    spread = q_hi - q_lo
    if spread > 0 and hi - lo > 20 * spread:
        lo, hi = max(lo, q_lo - spread), min(hi, q_hi + spread)
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        pad = max(1.0, abs(hi)) * 0.5
        return lo - pad, hi + pad
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def broken(y: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``y`` with NaN where a curve leaves the plot on one side and comes back on
    the other (a pole): no vertical line across the plot there."""
    y = np.array(y, dtype=np.float64)
    jump = ((y[:-1] > hi) & (y[1:] < lo)) | ((y[:-1] < lo) & (y[1:] > hi))
    y[1:][jump] = np.nan
    return y


# -- the terminal plot ----------------------------------------------------------------------

_BRAILLE = 0x2800
_DOT = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][col] bit of a Braille cell
MARKS = {"f'": "•", "f''": "+"}


LABEL_WIDTH = 9


def text_samples(width: int = MAX_WIDTH) -> int:
    """How many samples the terminal plot of this width draws: one per Braille dot column."""
    return 2 * (max(40, min(width, MAX_WIDTH)) - LABEL_WIDTH - 2)


def text_plot(data: PlotData, width: int = MAX_WIDTH, height: int = TEXT_HEIGHT, digits: int = 3) -> str:
    """f in Braille dots (2×4 per character), f' as ·, f'' as +; a zero line,
    axis labels and a legend; at most ``width`` (≤ 80) columns."""
    width = max(40, min(width, MAX_WIDTH))
    curves = data.curves()
    lo, hi = y_limits([c[2] for c in curves])
    top, bottom, zero = fmt_value(hi, digits), fmt_value(lo, digits), "0"
    lab_w = max(len(top), len(bottom), LABEL_WIDTH)
    cols = width - lab_w - 2  # "label ┤" then the canvas
    rows = height
    # Resample on the canvas: one sample per Braille dot column.
    _, ys = resample(data, 2 * cols)
    grid = [[0] * cols for _ in range(rows)]  # Braille bits
    marks: list[list[str]] = [[""] * cols for _ in range(rows)]
    hp = 4 * rows

    def pixel(y: float) -> float:
        return (hi - y) / (hi - lo) * (hp - 1)

    f = ys[0]
    prev = None
    for j, y in enumerate(f):
        if not math.isfinite(y):
            prev = None
            continue
        r = pixel(y)
        if prev is not None:
            r0, r1 = prev, r
            out0, out1 = _side(r0, hp), _side(r1, hp)
            if out0 and out1:  # both outside: same side, or a pole
                prev = r
                continue
            a, b = sorted((round(min(max(r0, 0), hp - 1)), round(min(max(r1, 0), hp - 1))))
            mid = (a + b) // 2
            for rr in range(a, b + 1):  # the first half of a steep rise in the previous column
                jj = j - 1 if (rr <= mid) == (r0 < r1) else j
                _set(grid, rr, jj)
        elif 0 <= r <= hp - 1:
            _set(grid, round(r), j)
        prev = r
    for (label, _, _), y in zip(curves[1:], ys[1:]):
        mark = MARKS[label]
        for c in range(cols):
            v = y[2 * c]
            if not math.isfinite(v):
                continue
            r = pixel(v)
            if 0 <= r <= hp - 1:
                rr = round(r) // 4
                if grid[rr][c] == 0 and not marks[rr][c]:
                    marks[rr][c] = mark
    zero_row = round(pixel(0.0)) // 4 if lo < 0 < hi else None
    lines = []
    for rr in range(rows):
        cells = []
        for c in range(cols):
            if grid[rr][c]:
                cells.append(chr(_BRAILLE + grid[rr][c]))
            elif marks[rr][c]:
                cells.append(marks[rr][c])
            elif rr == zero_row:
                cells.append("┈")
            else:
                cells.append(" ")
        if rr == 0:
            label, tick = top, "┤"
        elif rr == rows - 1:
            label, tick = bottom, "┤"
        elif rr == zero_row:
            label, tick = zero, "┼"
        else:
            label, tick = "", "│"
        lines.append(f"{label:>{lab_w}} {tick}{''.join(cells)}".rstrip())
    lines += _x_axis(data, lab_w, cols, digits)
    legend = "   ".join([f"⠉⠉ {curves[0][1]}"] + [f"{MARKS[label] * 2} {long}" for label, long, _ in curves[1:]])
    fixed = ", ".join(f"{k}={fmt_value(v, digits + 3)}" for k, v in data.fixed.items())
    notes = [legend] + ([f"with {fixed}"] if fixed else [])
    if data.undefined:
        notes.append(gaps_text(data, digits))
    out = []
    for note in notes:
        out += textwrap.wrap(note, width, subsequent_indent="   ", break_on_hyphens=False) or [""]
    return "\n".join(lines + out)


def gap_intervals(data: PlotData) -> list[tuple[float, float]]:
    """The runs of samples where f is undefined (or not finite), as (first x, last x)."""
    bad = ~np.isfinite(data.f)
    out = []
    k, n = 0, len(bad)
    while k < n:
        if bad[k]:
            j = k
            while j + 1 < n and bad[j + 1]:
                j += 1
            out.append((float(data.x[k]), float(data.x[j])))
            k = j + 1
        else:
            k += 1
    return out


def gaps_text(data: PlotData, digits: int = 3) -> str:
    """``gaps: f is undefined for x in [-1, -0.0146] (46 of 138 samples); at x=-1, log(x): ...``"""
    runs = gap_intervals(data)
    shown = [
        f"[{fmt_value(a, digits)}, {fmt_value(b, digits)}]" if a != b else fmt_value(a, digits) for a, b in runs[:3]
    ]
    where = ", ".join(shown) + (f" and {len(runs) - 3} more" if len(runs) > 3 else "")
    text = f"gaps: f is undefined for {data.name} in {where} ({data.undefined} of {len(data.x)} samples)"
    err = data.first_error
    if err is not None:
        m = re.match(r"^(.*) at (?:point \d+ \()?(.*?)\)?: (.*)$", err.message, re.DOTALL)
        text += f"; at {m.group(2)}, {m.group(1)}: {m.group(3)}" if m else f"; {err.message}"
    else:
        text += "; f is not finite there"
    return text


def _side(r: float, hp: int) -> int:
    return -1 if r < 0 else (1 if r > hp - 1 else 0)


def _set(grid: list[list[int]], r: int, j: int) -> None:
    if j < 0:
        return
    grid[r // 4][j // 2] |= _DOT[r % 4][j % 2]


def resample(data: PlotData, n: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The curves at ``n`` points of the range: the data itself when it has
    exactly that many samples, else by nearest sample (gaps stay gaps)."""
    if len(data.x) == n:
        return data.x, [c[2] for c in data.curves()]
    xs = samples(data.lo, data.hi, n)
    idx = np.clip(np.searchsorted(data.x, xs), 0, len(data.x) - 1)
    return xs, [c[2][idx] for c in data.curves()]


def _x_axis(data: PlotData, lab_w: int, cols: int, digits: int) -> list[str]:
    ticks = [(0, data.lo), (cols - 1, data.hi)]
    if data.lo < 0 < data.hi:
        c0 = round(-data.lo / (data.hi - data.lo) * (cols - 1))
        if 6 < c0 < cols - 7:
            ticks.insert(1, (c0, 0.0))
    else:
        mid = (data.lo + data.hi) / 2
        ticks.insert(1, ((cols - 1) // 2, mid))
    axis = ["─"] * cols
    for c, _ in ticks:
        axis[c] = "┬"
    labels = [" "] * (cols + 8)
    for k, (c, v) in enumerate(ticks):
        s = fmt_value(v, digits)
        start = c if k == 0 else (c - len(s) + 1 if k == len(ticks) - 1 else c - len(s) // 2)
        start = max(0, start)
        for q, ch in enumerate(s):
            labels[start + q] = ch
    # The axis name goes under the axis, in the first free place of: between the
    # last two ticks, between the first two, after the last label.
    name = data.name
    placed = False
    for a, b in ((ticks[-2][0], ticks[-1][0]), (ticks[0][0], ticks[1][0])):
        start = (a + b) // 2 - len(name) // 2
        if start > 0 and all(ch == " " for ch in labels[start - 2 : start + len(name) + 2]):
            labels[start : start + len(name)] = list(name)
            placed = True
            break
    label_line = "".join(labels).rstrip()
    if not placed:
        label_line += "  " + name
    return [" " * lab_w + " └" + "".join(axis), " " * (lab_w + 2) + label_line]


# -- images (matplotlib, optional) -------------------------------------------------------------


def _matplotlib():
    """matplotlib's Figure class, or a clear error if matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        from matplotlib.figure import Figure
    except ImportError:
        raise AdcliError(
            USAGE,
            "writing an image needs matplotlib, which is not installed",
            hint='pip install "adcli[plot]" (or pip install matplotlib); without --output, plot draws in the terminal',
        ) from None
    return Figure


def _image_path(output: str) -> Path:
    path = Path(output)
    if path.suffix.lower() not in IMAGE_FORMATS:
        raise AdcliError(
            USAGE,
            f"cannot tell the image format of {output!r}: end the name in .png, .svg or .pdf",
            output,
            (0, len(output)),
            label="--output",
        )
    if path.parent and not path.parent.exists():
        raise AdcliError(FILE, f"cannot write {output}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise AdcliError(FILE, f"cannot write {output}: it is a folder")
    return path


def _save(fig: Any, path: Path, output: str) -> None:
    try:
        fig.savefig(path, dpi=100, metadata=_metadata(path))
    except OSError as exc:
        raise AdcliError(FILE, f"cannot write {output}: {exc.strerror or exc}") from None


def _metadata(path: Path) -> dict:
    """No dates in the files, so that regenerating an unchanged plot changes nothing."""
    suffix = path.suffix.lower()
    if suffix == ".svg":
        return {"Date": None, "Creator": "adcli"}
    if suffix == ".pdf":
        return {"CreationDate": None, "Creator": "adcli"}
    return {"Software": "adcli"}


def write_image(data: PlotData, output: str) -> Path:
    """f, f' (and f'') over the range, with axis labels and a legend."""
    path = _image_path(output)
    Figure = _matplotlib()
    import matplotlib as mpl

    with mpl.rc_context({"svg.hashsalt": "adcli", "font.size": 10}):
        fig = Figure(figsize=(7, 4.2), layout="constrained")
        ax = fig.subplots()
        curves = data.curves()
        lo, hi = y_limits([c[2] for c in curves])
        styles = [
            {"color": "C0", "lw": 2.0},
            {"color": "C1", "lw": 1.6, "ls": "--"},
            {"color": "C2", "lw": 1.4, "ls": ":"},
        ]
        for (_label, long, y), style in zip(curves, styles):
            ax.plot(data.x, broken(y, lo, hi), label=long, **style)
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.set_xlim(data.lo, data.hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel(data.name)
        ax.set_ylabel("value")
        fixed = ", ".join(f"{k} = {fmt_value(v)}" for k, v in data.fixed.items())
        ax.set_title(f"f({data.name}) = {data.expression}" + (f"   ({fixed})" if fixed else ""))
        ax.grid(True, color="0.9")
        ax.legend(loc="best", framealpha=0.9)
        _save(fig, path, output)
    return path


def write_descent_image(result: Any, output: str, n: int = 201) -> Path:
    """The path of a descent: on a contour plot of f for two moving inputs, or on
    the curve of f for one; the other inputs stay at their --at values."""
    path = _image_path(output)
    moving = result.wrt
    if len(moving) not in (1, 2):
        names = result.inputs
        raise AdcliError(
            USAGE,
            f"--plot draws a function of one or two inputs, but {len(moving)} move here "
            f"({', '.join(names[k] for k in moving)})",
            hint="choose one or two with --wrt; the others stay at their --at values",
        )
    Figure = _matplotlib()
    import matplotlib as mpl

    g = result.problem.graph
    names = result.inputs
    pts = np.array([it.point for it in result.iterations], dtype=np.float64)
    base = np.array(result.iterations[0].point, dtype=np.float64)
    boxes = [_span(pts[:, k]) for k in moving]
    title = f"{result.method_text}: {result.final.k} steps\nf = {' '.join(g.expression.split())}"
    marker = "-o" if len(pts) <= 100 else "-"
    with mpl.rc_context({"svg.hashsalt": "adcli", "font.size": 10}):
        fig = Figure(figsize=(6.4, 5.2) if len(moving) == 2 else (7, 4.2), layout="constrained")
        ax = fig.subplots()
        if len(moving) == 2:
            (x0, x1), (y0, y1) = boxes
            gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
            z = _grid_values(g, base, moving, [gx.ravel(), gy.ravel()]).reshape(gx.shape)
            finite = z[np.isfinite(z)]
            if finite.size:
                levels = np.unique(np.quantile(finite, np.linspace(0, 1, 16) ** 2))
                if len(levels) > 1:
                    cs = ax.contour(gx, gy, z, levels=levels, cmap="viridis", linewidths=0.8)
                    fig.colorbar(cs, ax=ax, label="f")
            ax.set_xlabel(names[moving[0]])
            ax.set_ylabel(names[moving[1]])
            ax.plot(pts[:, moving[0]], pts[:, moving[1]], marker, color="C3", ms=3, lw=1.2, label="path")
            ax.plot(pts[0, moving[0]], pts[0, moving[1]], "s", color="k", ms=7, label="start")
            ax.plot(pts[-1, moving[0]], pts[-1, moving[1]], "*", color="C1", ms=14, mec="k", label="end")
        else:
            ((x0, x1),) = boxes
            xs = np.linspace(x0, x1, n)
            ys = _grid_values(g, base, moving, [xs])
            ax.plot(xs, ys, color="C0", lw=2, label="f")
            vals = [it.value for it in result.iterations]
            ax.plot(pts[:, moving[0]], vals, marker, color="C3", ms=3, lw=1.0, label="path")
            ax.plot(pts[0, moving[0]], vals[0], "s", color="k", ms=7, label="start")
            ax.plot(pts[-1, moving[0]], vals[-1], "*", color="C1", ms=14, mec="k", label="end")
            ax.set_xlabel(names[moving[0]])
            ax.set_ylabel("f")
        ax.set_title(title)
        ax.legend(loc="best", framealpha=0.9)
        _save(fig, path, output)
    return path


def _span(v: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(v)), float(np.max(v))
    pad = max(0.25 * (hi - lo), 0.5 * max(abs(lo), abs(hi)) * 0.1, 0.5)
    return lo - pad, hi + pad


def _grid_values(g: Graph, base: np.ndarray, moving: list[int], coords: list[np.ndarray]) -> np.ndarray:
    """f on a grid in one vectorised pass; NaN where it is undefined."""
    m = len(coords[0])
    inputs = [np.full(m, base[k]) for k in range(len(base))]
    for k, c in zip(moving, coords):
        inputs[k] = c
    values: Values = evaluate(g, inputs, mask_undefined=True)
    z = np.broadcast_to(np.asarray(values.outputs[0], dtype=np.float64), (m,))
    bad = np.broadcast_to(np.asarray(values.undefined, dtype=bool), (m,)) | ~np.isfinite(z)
    return np.where(bad, np.nan, z)
