"""``adcli check``: derivatives checked against an independent answer.

Three references, one report:

- finite differences (the default): central differences with the step
  ``cbrt(eps)·max(1, |x|)`` per input, or forward, or Richardson-extrapolated
  central differences;
- a hand-derived gradient formula (``--grad``), evaluated at the same points;
- the other engine (``--mode both``): forward against reverse, and for several
  outputs the dot-product test ``<u, J v> = <uᵀJ, v>`` with one JVP and one VJP.

The pass rule is ``|ad - ref| <= atol + rtol·|ref|``. Everything is vectorised
over points: the base points, the finite-difference stencils and both engines
are numpy arrays (evaluated in chunks), so a thousand points cost a few passes.

What is *not* a failure, because it is not a wrong gradient:

- a point where the expression is undefined (skipped and counted);
- a non-differentiable point, where the registry's ``kink`` applies a
  convention (``abs'(0) = 0``...): reported as a kink, with the convention;
- a point so close to a kink that the finite-difference stencil crosses it
  (the local partials of a ``kink`` primitive jump between stencil points):
  reported as a kink nearby;
- a row whose stencil leaves the domain even after shrinking the step.

A finite-difference mismatch gets a second opinion before it is called a
failure (unless ``--step`` fixes the step): Ridders' extrapolation, a tableau
of central differences at shrinking steps with an error estimate. Near a pole
or a steep stretch the default step is too coarse, and the refined estimate
settles it; a wrong derivative disagrees with every accurate estimate, so it
still fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from . import forward, reverse, sweeps
from .errors import DOMAIN, INPUT, NAME, USAGE, AdcliError
from .evaluate import evaluate
from .graph import Graph, point_words
from .ops import NumpyNS
from .parse import parse

EPS = float(np.finfo(np.float64).eps)
METHODS = ("central", "forward", "richardson")
MODES = ("reverse", "forward", "both")

# The step for input x is STEP_SCALE[method]·max(1, |x|): the usual balance of
# truncation error (h² for central, h for forward, h⁴ for Richardson) against
# rounding error (eps/h).
STEP_SCALE = {"central": EPS ** (1 / 3), "forward": EPS**0.5, "richardson": EPS**0.2}

# Defaults of the pass rule |ad - ref| <= ATOL + RTOL·|ref|. Measured on 900
# random smooth expressions of 5 inputs at 200 points each in [-2, 2]^5 (886,000
# derivatives with |f|, |∇f| <= 100): central differences with the default step
# are off by 1e-11 relative in the median and 1e-7..6e-7 at the 99.99th
# percentile; with these defaults (and the Ridders second opinion) none failed,
# while 1e-7/1e-9 gave about one false failure per 100,000. A gradient wrong by
# 1e-4 relative is 100 times over RTOL: it fails wherever |∂f/∂x| > 1e-4.
RTOL = 1e-6
ATOL = 1e-8

CHUNK = 1 << 15  # stencil points evaluated in one pass

# Ridders' extrapolation (Numerical Recipes' dfridr): steps h, h/1.4, h/1.4²...
RIDDERS_CON = 1.4
RIDDERS_NTAB = 10
RIDDERS_SAFE = 2.0
RIDDERS_STARTS = (1.0, 1e-2, 1e-4)  # starting steps, as fractions of h0
RIDDERS_SHRINK = 24  # at most 24 divisions by 4 of the step to stay inside the domain
# A difference smaller than twice the extrapolation's own error estimate is one
# the finite differences cannot resolve (a sum of 2,000 squares, |f| ~ 10^5: its
# differences carry ~1e-6 of rounding): AD agrees with it, if the estimate itself
# is sharp, at most 1e-5 of the derivative (plus atol), so a derivative wrong by
# 1e-4 relative still fails, whatever its size.
RIDDERS_COVER = 2.0
RIDDERS_SHARP = 1e-5

# Between two stencil points, a local partial (or value) of a primitive with a
# kink "jumps" if it changes by more than this, absolutely and relatively: the
# partials of abs, relu, max, min, where and sign are 0, ±1/2 or ±1.
JUMP_ABS = 0.1
JUMP_REL = 0.25

PASS, FAIL, KINK, SKIP = "pass", "fail", "kink", "skip"


# -- results ---------------------------------------------------------------------


@dataclass
class CheckRow:
    """One derivative checked at one point."""

    input: str  # the input differentiated; "<u,Jv>" for the dot-product test
    ad: float  # the AD value (reverse mode unless --mode forward)
    fd: float  # the finite-difference estimate (NaN if it could not be computed)
    abs_err: float  # |tested - reference|
    rel_err: float  # abs_err / |reference|
    status: str  # "pass", "fail", "kink" (not differentiable at or near the point), "skip"
    output: int | None = None  # 1-based output, for an expression with several outputs
    point_index: int | None = None  # 0-based point, with several points
    expected: float | None = None  # --grad: the formula's value
    forward: float | None = None  # --mode both: the forward-mode value
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status != FAIL


@dataclass
class CheckResult:
    graph: Graph
    against: str  # "fd" (finite differences), "grad" (a formula) or "forward" (forward vs reverse)
    mode: str  # the engine under test: reverse, forward, or both
    method: str  # the finite-difference method
    step: float | None  # the --step given, or None for the per-input default
    rtol: float
    atol: float
    rows: list[CheckRow]
    coords: np.ndarray  # (points, inputs): every point, checked or skipped
    single: bool  # one point (--at) rather than several
    skipped: list[int] = field(default_factory=list)  # points where the expression is undefined
    skip_reason: str | None = None  # why the first skipped point was skipped
    source: str | None = None  # where several points came from: "points.csv", "random: ..."
    seed: int | None = None  # the seed of --random (and of u, v in the dot-product test)
    dot: tuple[list[float], list[float]] | None = None  # (u, v) of the dot-product test

    @property
    def inputs(self) -> list[str]:
        return self.graph.input_names

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def failures(self) -> list[CheckRow]:
        return [r for r in self.rows if r.status == FAIL]

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def n_points(self) -> int:
        return int(self.coords.shape[0])

    def point(self, index: int | None) -> dict[str, float]:
        row = self.coords[0 if index is None else index]
        return {name: float(v) for name, v in zip(self.inputs, row)}

    def point_text(self, index: int | None, digits: int = 6, focus: str | None = None) -> str:
        where = point_words(list(self.point(index).items()), digits, focus)
        if self.single or index is None:
            return where
        return f"point {index + 1} ({where})"

    def label(self, row: CheckRow) -> str:
        """How a row's derivative is written: ∂f/∂x1, ∂f2/∂x1, <u, J v>."""
        if row.input == DOT:
            return "<u, J v>"
        names = self.output_names
        return f"∂{names[0 if row.output is None else row.output - 1]}/∂{row.input}"

    @cached_property
    def output_names(self) -> list[str]:
        """Once per result: naming reads every node, and a wide check has a row per input."""
        from .explain import output_names

        return output_names(self.graph)

    def exit_code(self) -> int:
        return 0 if self.ok else 1


DOT = "<u,Jv>"


@dataclass
class Case:
    line: int  # 1-based line in the cases file
    expression: str
    at: str
    grad: str | None
    result: CheckResult


@dataclass
class CasesResult:
    label: str  # the cases file's name
    cases: list[Case]
    method: str
    rtol: float
    atol: float

    @property
    def ok(self) -> bool:
        return all(c.result.ok for c in self.cases)

    def exit_code(self) -> int:
        return 0 if self.ok else 1


# -- options -----------------------------------------------------------------------


@dataclass
class Options:
    mode: str = "reverse"
    wrt: str | None = None
    method: str = "central"
    step: float | None = None
    rtol: float = RTOL
    atol: float = ATOL
    seed: int | None = None


def options(
    mode: str = "reverse",
    wrt: str | None = None,
    method: str = "central",
    step: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int | None = None,
) -> Options:
    """Validated options; every mistake is a usage error."""
    if mode not in MODES:
        raise AdcliError(USAGE, f"unknown mode {mode!r}: use reverse, forward or both")
    if method not in METHODS:
        raise AdcliError(USAGE, f"unknown method {method!r}: use central, forward or richardson")
    if step is not None and not (np.isfinite(step) and step > 0):
        raise AdcliError(USAGE, f"--step must be a positive number, got {step:g}")
    rtol = RTOL if rtol is None else rtol
    atol = ATOL if atol is None else atol
    for name, v in (("--rtol", rtol), ("--atol", atol)):
        if not (np.isfinite(v) and v >= 0):
            raise AdcliError(USAGE, f"{name} must be a number >= 0, got {v:g}")
    return Options(mode, wrt, method, step, float(rtol), float(atol), seed)


# -- the hand-derived gradient (--grad) ------------------------------------------------


@dataclass
class Formula:
    position: int  # which input (position in the expression's inputs) it differentiates by
    graph: Graph
    output: int  # which output of ``graph`` is this component


_NAMED = re.compile(r"\s*([^\W\d]\w*)\s*=(?!=)")


def _parse_piece(source: str, start: int, end: int, label: str) -> Graph:
    """Parse ``source[start:end]``; errors point into the whole ``source``."""
    text = source[start:end]
    try:
        return parse(text, label=label)
    except AdcliError as exc:
        raise _reanchor(exc, text, source, start, label) from None


def _reanchor(exc: AdcliError, piece: str, source: str, start: int, label: str) -> AdcliError:
    if exc.source == piece and exc.span is not None:
        exc.source, exc.span = source, (exc.span[0] + start, exc.span[1] + start)
    elif exc.source is None:
        exc.source, exc.span = source, (start, start + max(len(piece), 1))
    exc.label = label
    return exc


def parse_grad(
    g: Graph,
    specs: list[str],
    positions: list[int],
    label: str = "--grad",
    offsets: list[tuple[str, int]] | None = None,
) -> list[Formula]:
    """The --grad values: ``"g1, g2, ..."`` (one formula per input, in order) or,
    repeated, ``x1=g1`` (a formula for the named input). ``offsets`` places each
    spec inside a larger source (a cases file) for error carets."""
    names = g.input_names
    if len(g.outputs) != 1:
        raise AdcliError(
            USAGE,
            f"--grad needs a scalar expression, but this one has {len(g.outputs)} outputs",
            hint="check a Jacobian against finite differences, or with --mode both",
        )
    places = offsets or [(s, 0) for s in specs]
    named: list[tuple[re.Match, str, str, int]] = []
    listed: list[tuple[str, str, int]] = []
    for spec, (src, off) in zip(specs, places):
        m = _NAMED.match(spec)
        if m and ";" not in spec and "\n" not in spec:
            named.append((m, spec, src, off))
        else:
            listed.append((spec, src, off))
    if named and listed:
        raise AdcliError(USAGE, 'give --grad either as one list "g1, g2, ..." or as name=formula per input, not both')
    formulas: list[Formula] = []
    if named:
        for m, spec, src, off in named:
            name = m.group(1)
            name_span = (off + m.start(1), off + m.end(1))
            if name not in names:
                have = ", ".join(names) if names else "none"
                raise AdcliError(
                    NAME, f"{name} is not an input of the expression (its inputs: {have})", src, name_span, label=label
                )
            k = names.index(name)
            if k not in positions:
                raise AdcliError(USAGE, f"{name} is not among --wrt", src, name_span, label=label)
            if any(f.position == k for f in formulas):
                raise AdcliError(USAGE, f"two formulas for ∂f/∂{name}", src, name_span, label=label)
            fg = _parse_piece(src, off + m.end(), off + len(spec), label)
            if len(fg.outputs) != 1:
                raise AdcliError(
                    USAGE,
                    f"the formula for ∂f/∂{name} has {len(fg.outputs)} parts; give one",
                    src,
                    (off + m.end(), off + len(spec)),
                    label=label,
                )
            _check_formula_inputs(fg, names, src, off + m.end(), label)
            formulas.append(Formula(k, fg, 0))
        return formulas
    parts: list[tuple[Graph, int]] = []
    for spec, src, off in listed:
        fg = _parse_piece(src, off, off + len(spec), label)
        _check_formula_inputs(fg, names, src, off, label)
        parts += [(fg, j) for j in range(len(fg.outputs))]
    if len(parts) != len(positions):
        which = ", ".join(names[k] for k in positions)
        spec, src, off = listed[0]
        raise AdcliError(
            USAGE,
            f"--grad gives {len(parts)} formula{'s' if len(parts) != 1 else ''} for "
            f"{len(positions)} input{'s' if len(positions) != 1 else ''} ({which})",
            src,
            (off, off + max(len(spec), 1)),
            label=label,
            hint="give one formula per input, in this order, separated by commas, or --grad name=formula",
        )
    return [Formula(k, fg, j) for k, (fg, j) in zip(positions, parts)]


def _check_formula_inputs(fg: Graph, names: list[str], src: str, off: int, label: str) -> None:
    for i in fg.inputs:
        node = fg.nodes[i]
        if node.name not in names:
            have = ", ".join(names) if names else "none"
            s, e = node.span
            raise AdcliError(
                NAME,
                f"the formula uses {node.name}, which is not an input of the expression (its inputs: {have})",
                src,
                (off + s, off + e),
                label=label,
            )


# -- entry points -------------------------------------------------------------------


def run_check(
    problem,
    mode: str = "reverse",
    wrt: str | None = None,
    method: str = "central",
    step: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    grad: list[str] | None = None,
    seed: int | None = None,
) -> CheckResult:
    """Check the derivatives of ``problem`` (a :class:`adcli.core.Problem` at one
    point, as from ``core.load``) and return the report. ``grad`` holds the
    --grad values; ``seed`` draws u and v of the dot-product test."""
    opts = options(mode, wrt, method, step, rtol, atol, seed)
    g = problem.graph
    cols = [np.asarray(v, dtype=np.float64) for v in problem.point]
    if any(c.ndim for c in cols):  # a problem over several points (--points)
        n = max(c.size for c in cols)
        X = np.column_stack([np.broadcast_to(c.reshape(-1), (n,)) for c in cols])
        return check_points(g, X, opts, grad, single=False)
    X = np.array([[float(c) for c in cols]], dtype=np.float64).reshape(1, len(g.inputs))
    return check_points(g, X, opts, grad, single=True)


def check_points(
    g: Graph,
    X: np.ndarray,
    opts: Options,
    grad: list[str] | None = None,
    single: bool = False,
    source: str | None = None,
    grad_offsets: list[tuple[str, int]] | None = None,
    grad_label: str = "--grad",
) -> CheckResult:
    """Check at every row of ``X`` (points × inputs, in ``g.input_names`` order)."""
    from .core import resolve_wrt

    positions = resolve_wrt(g, opts.wrt)
    if not positions:
        raise AdcliError(USAGE, "the expression has no inputs: there is no derivative to check")
    formulas = parse_grad(g, grad, positions, grad_label, grad_offsets) if grad else None
    if formulas is not None and opts.mode == "both":
        raise AdcliError(
            USAGE,
            "--mode both checks the engines against each other; it does not combine with --grad",
            hint="use --mode reverse or --mode forward with --grad",
        )
    against = "grad" if formulas is not None else ("forward" if opts.mode == "both" else "fd")
    seed = opts.seed
    dot = None
    if against == "forward" and len(g.outputs) > 1:
        rng = np.random.default_rng(0 if seed is None else seed)
        u = rng.standard_normal(len(g.outputs))
        v = rng.standard_normal(len(positions))
        dot = (u.tolist(), v.tolist())
    checker = _Checker(g, positions, opts, against, formulas, dot, single)
    rows: list[CheckRow] = []
    skipped: list[int] = []
    reason: str | None = None
    n_pts = X.shape[0]
    per = max(1, CHUNK // (2 * len(positions) * len(_OFFSETS[opts.method])))
    for lo in range(0, n_pts, per):
        block_rows, block_skipped, why = checker.block(X[lo : lo + per], lo)
        rows += block_rows
        skipped += block_skipped
        reason = reason or why
    return CheckResult(
        g,
        against,
        opts.mode,
        opts.method,
        opts.step,
        opts.rtol,
        opts.atol,
        rows,
        X,
        single,
        skipped,
        reason,
        source,
        seed,
        dot,
    )


# Stencil offsets, in units of the step h, per method.
_OFFSETS = {"central": (1.0, -1.0), "forward": (1.0,), "richardson": (1.0, -1.0, 0.5, -0.5)}


class _Checker:
    """The check of one expression, applied block by block to the points."""

    def __init__(
        self,
        g: Graph,
        positions: list[int],
        opts: Options,
        against: str,
        formulas: list[Formula] | None,
        dot,
        single: bool,
    ):
        self.g = g
        self.pos = positions
        self.opts = opts
        self.against = against
        self.formulas = formulas
        self.dot = dot
        self.single = single
        self.kink_nodes = [i for i, node in enumerate(g.nodes) if node.op.kink is not None]

    # -- evaluation helpers -------------------------------------------------------

    def _eval(self, X: np.ndarray):
        cols = [X[:, i] for i in range(X.shape[1])]
        return evaluate(self.g, cols, mask_undefined=True)

    @staticmethod
    def _outputs(values, n: int) -> np.ndarray:
        return np.array([np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)) for v in values.outputs])

    # -- one block of points ------------------------------------------------------

    def block(self, X: np.ndarray, base_index: int) -> tuple[list[CheckRow], list[int], str | None]:
        g, opts = self.g, self.opts
        P = X.shape[0]
        values = self._eval(X)
        undefined = np.broadcast_to(np.asarray(values.undefined, dtype=bool), (P,)).copy()
        if self.single and np.any(undefined):  # core.load has usually raised this already
            why = self._why(X[0])
            if why is not None:
                raise why
        if not self.single:
            undefined |= ~np.all(np.isfinite(self._outputs(values, P)), axis=0)
        skipped = [base_index + int(k) for k in np.flatnonzero(undefined)]
        reason = None
        if skipped:
            k = int(np.flatnonzero(undefined)[0])
            why = self._why(X[k])
            reason = f"point {base_index + k + 1}: " + (why.message if why else "the value is not finite")
        keep = np.flatnonzero(~undefined)
        if keep.size == 0:
            return [], skipped, reason
        if keep.size < P:
            X = X[keep]
            P = X.shape[0]
            values = self._eval(X)
        index = keep + base_index
        f0 = self._outputs(values, P)  # (m, P)
        m, K = len(g.outputs), len(self.pos)

        kink_at, kink_msg = self._kinks_at(values, P)
        fd, stencil_bad, jump, jump_node, h = self._finite_differences(X, f0, values)
        # An exact kink belongs to the inputs whose stencil sees it (a jump or
        # the domain's edge); if none does, to every input at that point.
        sees = jump | stencil_bad
        kink_rows = kink_at[:, None] & (sees | ~np.any(sees, axis=1, keepdims=True))  # (P, K)

        if self.against == "forward" and m > 1:
            return self._dot_rows(values, X, fd, kink_at, kink_msg, index), skipped, reason

        ad = self._jacobian(values, P, "forward" if opts.mode == "forward" else "reverse")  # (m, P, K)
        expected = fwd = None
        if self.against == "grad":
            expected, formula_note = self._formulas(X)
            test, ref = expected, ad
            checked = np.zeros((m, P, K), dtype=bool)
            for f in self.formulas or []:
                checked[:, :, self.pos.index(f.position)] = True
        elif self.against == "forward":
            fwd = self._jacobian(values, P, "forward")
            test, ref = fwd, ad
            checked = np.ones((m, P, K), dtype=bool)
        else:
            test, ref = ad, fd
            checked = np.ones((m, P, K), dtype=bool)

        abs_err, rel_err, passed = self._compare(test, ref)
        status = np.where(passed, PASS, FAIL).astype(object)
        notes = np.full((m, P, K), "", dtype=object)
        for p, kk in zip(*np.nonzero(kink_rows)):
            status[:, p, kk] = KINK
            notes[:, p, kk] = f"not differentiable here: {kink_msg[p]}"
        if self.against == "fd":
            self._explain_fd_failures(X, h, f0, ad, fd, stencil_bad, jump, jump_node, status, notes, abs_err, rel_err)
        else:
            self._note_nonfinite(status, notes, test, ref)
        if self.against == "grad":
            for (j, p, kk), note in formula_note.items():
                if status[j, p, kk] == FAIL:
                    notes[j, p, kk] = note

        # Plain Python lists: building rows from numpy scalars would dominate the time.
        ad_, fd_, ae_, re_ = ad.tolist(), fd.tolist(), abs_err.tolist(), rel_err.tolist()
        st_, nt_, ck_ = status.tolist(), notes.tolist(), checked.tolist()
        ex_ = None if expected is None else expected.tolist()
        fw_ = None if fwd is None else fwd.tolist()
        idx_ = index.tolist()
        inputs = g.input_names
        names = [inputs[k] for k in self.pos]
        rows: list[CheckRow] = []
        for p in range(P):
            point_index = None if self.single else idx_[p]
            for j in range(m):
                output = j + 1 if m > 1 else None
                for kk in range(K):
                    if not ck_[j][p][kk]:
                        continue
                    rows.append(
                        CheckRow(
                            names[kk],
                            ad_[j][p][kk],
                            fd_[j][p][kk],
                            ae_[j][p][kk],
                            re_[j][p][kk],
                            st_[j][p][kk],
                            output,
                            point_index,
                            None if ex_ is None else ex_[j][p][kk],
                            None if fw_ is None else fw_[j][p][kk],
                            nt_[j][p][kk],
                        )
                    )
        return rows, skipped, reason

    # -- AD --------------------------------------------------------------------------

    def _jacobian(self, values, P: int, engine: str) -> np.ndarray:
        """The Jacobian at every point, shape (m, P, K), from one batched sweep of ``engine``."""
        g = self.g
        m, K = len(g.outputs), len(self.pos)
        J = np.zeros((m, P, K))
        count = m if engine == "reverse" else K
        batch = sweeps.run(values, engine, sweeps.unit_groups(count), self.pos)
        if engine == "reverse":
            grads = batch.at_inputs()
            for j in range(m):
                for kk, k in enumerate(self.pos):
                    J[j, :, kk] = np.broadcast_to(np.asarray(batch.entry(grads[k], j), dtype=np.float64), (P,))
        else:
            for j, t in enumerate(batch.at_outputs()):
                for kk in range(K):
                    J[j, :, kk] = np.broadcast_to(np.asarray(batch.entry(t, kk), dtype=np.float64), (P,))
        return J

    def _dot_rows(self, values, X, fd, kink_at, kink_msg, index) -> list[CheckRow]:
        """<u, J v> two ways: u · (J v) from one forward sweep, (uᵀJ) · v from one reverse sweep."""
        g = self.g
        assert self.dot is not None
        u, v = np.array(self.dot[0]), np.array(self.dot[1])
        P = X.shape[0]
        d: list[Any] = [None] * len(g.inputs)
        for kk, k in enumerate(self.pos):
            d[k] = np.full(P, v[kk])
        tan, _ = forward.jvp(values, d)
        jv = np.array(
            [np.broadcast_to(np.asarray(t, dtype=np.float64), (P,)) for t in forward.output_tangents(values, tan)]
        )
        via_forward = np.einsum("j,jp->p", u, jv)
        adj, _ = reverse.vjp(values, [np.full(P, uj) for uj in u])
        grads = reverse.input_adjoints(values, adj)
        ujt = np.array([np.broadcast_to(np.asarray(grads[k], dtype=np.float64), (P,)) for k in self.pos])
        via_reverse = np.einsum("kp,k->p", ujt, v)
        via_fd = np.einsum("j,jpk,k->p", u, fd, v)
        abs_err, rel_err, passed = self._compare(via_forward, via_reverse)
        rows = []
        for p in range(P):
            status, note = (PASS if passed[p] else FAIL), ""
            if kink_at[p]:
                status, note = KINK, f"not differentiable here: {kink_msg[p]}"
            elif not passed[p] and not (np.isfinite(via_forward[p]) and np.isfinite(via_reverse[p])):
                note = "a derivative is not finite here"
            rows.append(
                CheckRow(
                    DOT,
                    float(via_reverse[p]),
                    float(via_fd[p]),
                    float(abs_err[p]),
                    float(rel_err[p]),
                    status,
                    None,
                    None if self.single else int(index[p]),
                    None,
                    float(via_forward[p]),
                    note,
                )
            )
        return rows

    def _kinks_at(self, values, P: int) -> tuple[np.ndarray, list[str]]:
        """Points where a primitive with a kink sits exactly on it (on a live path)."""
        g = values.graph
        at = np.zeros(P, dtype=bool)
        msg = [""] * P
        with np.errstate(all="ignore"):
            for i in self.kink_nodes:
                node = g.nodes[i]
                args = [values.vals[a] for a in node.args]
                hit = np.broadcast_to(
                    np.asarray(node.op.kink[0](*args, *node.extra()) & np.asarray(values.live(i)), dtype=bool), (P,)
                )
                for p in np.flatnonzero(hit & ~at):
                    msg[p] = f"{g.snippet(i)}: {node.op.kink[1]}"
                at |= hit
        return at, msg

    # -- finite differences ----------------------------------------------------------

    def _steps(self, X: np.ndarray) -> np.ndarray:
        xs = X[:, self.pos]
        if self.opts.step is not None:
            return np.full(xs.shape, self.opts.step)
        return STEP_SCALE[self.opts.method] * np.maximum(1.0, np.abs(xs))

    def _stencil(self, X: np.ndarray, h: np.ndarray, offsets) -> tuple[np.ndarray, np.ndarray, Any, np.ndarray]:
        """Evaluate at X + o·h·e_k for every point, input and offset: outputs
        (m, P, K, S), undefined (P, K, S), the Values, and the exact abscissae (P, K, S)."""
        P, n = X.shape
        K, S = len(self.pos), len(offsets)
        o = np.asarray(offsets)
        Xs = np.broadcast_to(X[:, None, None, :], (P, K, S, n)).copy()
        xk = np.empty((P, K, S))
        for kk, k in enumerate(self.pos):
            xk[:, kk, :] = X[:, k, None] + o[None, :] * h[:, kk, None]
            Xs[:, kk, :, k] = xk[:, kk, :]
        flat = Xs.reshape(P * K * S, n)
        sv = self._eval(flat)
        N = P * K * S
        fs = self._outputs(sv, N).reshape(len(self.g.outputs), P, K, S)
        bad = np.broadcast_to(np.asarray(sv.undefined, dtype=bool), (N,)).reshape(P, K, S)
        return fs, bad, sv, xk

    def _why(self, x: np.ndarray) -> AdcliError | None:
        """The domain error at one point (None if the expression is defined there)."""
        try:
            evaluate(self.g, [np.float64(v) for v in x])
        except AdcliError as exc:
            return exc
        return None

    def _finite_differences(self, X: np.ndarray, f0: np.ndarray, base):
        """FD derivatives (m, P, K); where the stencil left the domain (P, K);
        where it crossed a kink (P, K) and which node; the steps (P, K)."""
        method = self.opts.method
        h = self._steps(X)
        fs, bad, sv, xk = self._stencil(X, h, _OFFSETS[method])
        with np.errstate(all="ignore"):
            if method == "forward":
                x = X[:, self.pos]
                fd = (fs[..., 0] - f0[:, :, None]) / (xk[..., 0] - x)
            else:
                fd = (fs[..., 0] - fs[..., 1]) / (xk[..., 0] - xk[..., 1])
                if method == "richardson":
                    d2 = (fs[..., 2] - fs[..., 3]) / (xk[..., 2] - xk[..., 3])
                    r2 = ((xk[..., 0] - xk[..., 1]) / (xk[..., 2] - xk[..., 3])) ** 2
                    fd = (r2 * d2 - fd) / (r2 - 1.0)
        stencil_bad = np.any(bad, axis=2)
        fd = np.where(stencil_bad[None], np.nan, fd)
        jump, jump_node = self._jumps(base, sv, bad)
        return fd, stencil_bad, jump, jump_node, h

    def _jumps(self, base, sv, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where the stencil of input k crosses a kink: a local partial (or the
        value) of a primitive with a kink jumps between the point and a stencil
        point. Generic over the registry: it reads each op's own partials."""
        P, K, S = bad.shape
        jump = np.zeros((P, K), dtype=bool)
        node_of = np.full((P, K), -1)
        if not self.kink_nodes:
            return jump, node_of
        with np.errstate(all="ignore"):
            for i in self.kink_nodes:
                b = self._local(base, i, (P,))
                s = self._local(sv, i, (P * K * S,))
                hit = np.zeros((P, K, S), dtype=bool)
                for bq, sq in zip(b, s):
                    a, c = bq[:, None, None], sq.reshape(P, K, S)
                    fa, fc = np.isfinite(a), np.isfinite(c)
                    d = np.abs(a - c)
                    hit |= (fa != fc) | (fa & fc & (d > JUMP_ABS) & (d > JUMP_REL * np.maximum(np.abs(a), np.abs(c))))
                live = np.broadcast_to(np.asarray(base.live(i), dtype=bool), (P,))
                new = np.any(hit & ~bad, axis=2) & live[:, None] & ~jump
                node_of[new] = i
                jump |= new
        return jump, node_of

    @staticmethod
    def _local(values, i: int, shape) -> list[np.ndarray]:
        """Node i's value and local partials, each as an array of ``shape``."""
        node = values.graph.nodes[i]
        args = [values.vals[a] for a in node.args]
        ps = node.op.d(NumpyNS, values.vals[i], *args, *node.extra())
        return [np.broadcast_to(np.asarray(q, dtype=np.float64), shape) for q in (values.vals[i], *ps)]

    # -- comparing ---------------------------------------------------------------------

    def _tolerance(self, aref):
        """The pass rule's bound at ``|ref|``: atol + rtol·|ref|."""
        return self.opts.atol + self.opts.rtol * aref

    def _compare(self, test, ref):
        with np.errstate(all="ignore"):
            abs_err = np.abs(test - ref)
            aref = np.abs(ref)
            rel_err = np.where(abs_err == 0, 0.0, abs_err / aref)
            passed = abs_err <= self._tolerance(aref)
        return abs_err, rel_err, passed

    def _note_nonfinite(self, status, notes, test, ref) -> None:
        bad = (status == FAIL) & ~(np.isfinite(test) & np.isfinite(ref))
        notes[bad] = "a derivative is not finite here"

    def _explain_fd_failures(
        self, X, h, f0, ad, fd, stencil_bad, jump, jump_node, status, notes, abs_err, rel_err
    ) -> None:
        """Before calling a finite-difference mismatch a failure: a kink nearby?
        the stencil outside the domain? a second opinion from Ridders?"""
        g = self.g
        fails = status == FAIL  # (m, P, K)
        if not np.any(fails):
            return
        if self.opts.step is None:
            self._ridders(X, h, ad, fd, status, notes, abs_err, rel_err, fails)
        fails = status == FAIL
        for j, p, kk in zip(*np.nonzero(fails & jump[None])):
            status[j, p, kk] = KINK
            notes[j, p, kk] = (
                f"the finite-difference step crosses a kink of {g.snippet(int(jump_node[p, kk]))} near this point"
            )
        fails = status == FAIL
        for j, p, kk in zip(*np.nonzero(fails & stencil_bad[None])):
            status[j, p, kk] = SKIP
            notes[j, p, kk] = "not checked: the expression is undefined within the finite-difference step"
        fails = status == FAIL
        for j, p, kk in zip(*np.nonzero(fails)):
            if not np.isfinite(ad[j, p, kk]):
                notes[j, p, kk] = "the AD derivative is not finite here"
            elif not np.isfinite(fd[j, p, kk]):
                notes[j, p, kk] = "the finite difference is not finite here"

    def _ridders(self, X, h, ad, fd, status, notes, abs_err, rel_err, fails) -> None:
        """Second opinion for failing rows: Ridders' extrapolation of central
        differences at steps h0, h0/1.4, ... with an error estimate. h0 is the
        step h, divided by 4 until the stencil stays inside the domain."""
        pk = sorted({(int(p), int(kk)) for _, p, kk in zip(*np.nonzero(fails))})
        E = len(pk)
        ps = np.array([p for p, _ in pk])
        ks = np.array([kk for _, kk in pk])
        cols_k = np.array([self.pos[kk] for kk in ks])
        # Ridders starts from the central-difference step whatever the method.
        hh = STEP_SCALE["central"] * np.maximum(1.0, np.abs(X[ps, cols_k]))
        h0 = hh.copy()
        todo = np.ones(E, dtype=bool)
        for _ in range(RIDDERS_SHRINK):
            _, bad = self._central_at(X, ps[todo], cols_k[todo], hh[todo])
            todo[np.flatnonzero(todo)[~bad]] = False
            if not np.any(todo):
                break
            hh[todo] /= 4.0
        shrunk = hh < h0
        m = len(self.g.outputs)
        best = np.full((m, E), np.nan)
        err = np.full((m, E), np.inf)
        agree = np.zeros((m, E), dtype=bool)
        target = np.array([[ad[j, p, kk] for p, kk in pk] for j in range(m)]).reshape(m, E)
        # Start at h0, then (a pole or a steep stretch within h0) at h0/100 and h0/10⁴.
        for start in RIDDERS_STARTS:
            todo = ~np.all(agree, axis=0)
            if not np.any(todo):
                break
            hs = hh[todo] * start
            tab = np.empty((RIDDERS_NTAB, m, int(np.count_nonzero(todo))))
            for level in range(RIDDERS_NTAB):
                tab[level], _ = self._central_at(X, ps[todo], cols_k[todo], hs)
                hs = hs / RIDDERS_CON
            est, est_err = _ridders_select(tab)
            with np.errstate(all="ignore"):
                off = np.abs(target[:, todo] - est)
                ok = off <= self._tolerance(np.abs(est))
                sharp = est_err <= RIDDERS_SHARP * np.abs(est) + self.opts.atol
                ok |= sharp & (off <= RIDDERS_COVER * est_err)
            sub_best, sub_err, sub_agree = best[:, todo], err[:, todo], agree[:, todo]
            take = ~sub_agree & (ok | (np.isfinite(est) & ~np.isfinite(sub_best)))
            sub_best[take], sub_err[take] = est[take], est_err[take]
            sub_agree |= ok
            best[:, todo], err[:, todo], agree[:, todo] = sub_best, sub_err, sub_agree
        where = {(p, kk): e for e, (p, kk) in enumerate(pk)}
        for j, p, kk in zip(*np.nonzero(fails)):
            e = where[(int(p), int(kk))]
            r = best[j, e]
            if not np.isfinite(r):
                continue
            how = "Ridders' extrapolation" + (" (with a step reduced to stay inside the domain)" if shrunk[e] else "")
            if agree[j, e]:
                status[j, p, kk] = PASS
                off = abs_err[j, p, kk]
                within = abs(ad[j, p, kk] - r) > self._tolerance(abs(r))
                agrees = f"agrees within its error estimate ({err[j, e]:.1e})" if within else "agrees"
                notes[j, p, kk] = (
                    f"{self.opts.method} differences were off by {off:.1e}; {how} {agrees}"
                    if np.isfinite(off)
                    else f"{how} {agrees}"
                )
            else:
                notes[j, p, kk] = f"{how} also disagrees (error estimate {err[j, e]:.1e})"
            d = abs(ad[j, p, kk] - r)
            fd[j, p, kk] = r
            abs_err[j, p, kk] = d
            rel_err[j, p, kk] = 0.0 if d == 0 else (d / abs(r) if r != 0 else np.inf)

    def _central_at(self, X, ps, cols, hh) -> tuple[np.ndarray, np.ndarray]:
        """Central differences at points ``X[ps]`` along inputs ``cols`` with
        steps ``hh``: (m, E) values (NaN where undefined) and (E,) undefined."""
        E, n, m = len(ps), X.shape[1], len(self.g.outputs)
        if E == 0:
            return np.empty((m, 0)), np.zeros(0, dtype=bool)
        Xs = np.repeat(X[ps][:, None, :], 2, axis=1)  # (E, 2, n)
        xp = X[ps, cols] + hh
        xm = X[ps, cols] - hh
        Xs[np.arange(E), 0, cols] = xp
        Xs[np.arange(E), 1, cols] = xm
        sv = self._eval(Xs.reshape(2 * E, n))
        out = self._outputs(sv, 2 * E).reshape(m, E, 2)
        bad = np.asarray(np.broadcast_to(np.asarray(sv.undefined, dtype=bool), (2 * E,)).reshape(E, 2).any(axis=1))
        with np.errstate(all="ignore"):
            d = np.where(bad[None], np.nan, (out[..., 0] - out[..., 1]) / (xp - xm)[None])
        return d, bad

    # -- the --grad formulas -----------------------------------------------------------

    def _formulas(self, X: np.ndarray):
        """Each formula's value (m=1, P, K; NaN where not given) and notes where undefined."""
        P = X.shape[0]
        names = self.g.input_names
        out = np.full((1, P, len(self.pos)), np.nan)
        notes: dict[tuple[int, int, int], str] = {}
        cache: dict[int, Any] = {}
        for f in self.formulas or []:
            key = id(f.graph)
            if key not in cache:
                cols = [X[:, names.index(name)] for name in f.graph.input_names]
                cache[key] = evaluate(f.graph, cols, mask_undefined=True)
            fv = cache[key]
            kk = self.pos.index(f.position)
            out[0, :, kk] = np.broadcast_to(np.asarray(fv.outputs[f.output], dtype=np.float64), (P,))
            und = np.broadcast_to(np.asarray(fv.undefined, dtype=bool), (P,))
            for p in np.flatnonzero(und):
                out[0, p, kk] = np.nan
                first = fv.first_error.message if fv.first_error is not None else ""
                notes[(0, int(p), kk)] = f"the formula is undefined here{': ' + first if first else ''}"
        return out, notes


def _ridders_select(tab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Neville tableau over the first axis of ``tab`` (levels), vectorised over
    the rest: the best extrapolated value and its error estimate."""
    n = tab.shape[0]
    shape = tab.shape[1:]
    con2 = RIDDERS_CON**2
    a: list[list[Any]] = [[None] * n for _ in range(n)]
    best = np.full(shape, np.nan)
    err = np.full(shape, np.inf)
    done = np.zeros(shape, dtype=bool)
    with np.errstate(all="ignore"):
        a[0][0] = tab[0]
        for i in range(1, n):
            a[0][i] = tab[i]
            fac = con2
            for jj in range(1, i + 1):
                a[jj][i] = (a[jj - 1][i] * fac - a[jj - 1][i - 1]) / (fac - 1.0)
                fac *= con2
                errt = np.maximum(np.abs(a[jj][i] - a[jj - 1][i]), np.abs(a[jj][i] - a[jj - 1][i - 1]))
                better = ~done & np.isfinite(errt) & (errt <= err)
                err = np.where(better, errt, err)
                best = np.where(better, a[jj][i], best)
            done |= np.abs(a[i][i] - a[i - 1][i - 1]) >= RIDDERS_SAFE * err
    return best, err


# -- loading points and cases ---------------------------------------------------------


def load_points(
    expr: str | Graph,
    points: str | None = None,
    random: int | None = None,
    seed: int | None = None,
    box: str | None = None,
    stdin=None,
    expr_from_stdin: bool = False,
    const: str | None = None,
) -> tuple[Graph, np.ndarray, str, int | None]:
    """The expression and several points: ``--points FILE`` or ``--random N``.
    Returns the graph, the points (points × inputs), where they came from and the seed used."""
    from .core import in_header_order
    from .points import random_points, read_points_ordered

    if points is not None and random is not None:
        raise AdcliError(USAGE, "give either --points or --random, not both")
    from .core import header_lengths, parse_consts
    from .vectors import Env

    env = Env(header_lengths(points) if points else {}, parse_consts(const))
    g = expr if isinstance(expr, Graph) else parse(expr, env=env)  # the REPL passes its graph
    names = g.input_names
    if points is not None:
        if points == "-" and expr_from_stdin:
            raise AdcliError(USAGE, "the expression and --points cannot both come from standard input")
        header, cols = read_points_ordered(points, names, stdin)
        g, cols = in_header_order(g, header, cols)
        source = "standard input" if points == "-" else points
    else:
        assert random is not None
        if seed is None:
            seed = int(np.random.default_rng().integers(1 << 31))  # reported, so a failure can be replayed
        cols = random_points(random, seed, box or DEFAULT_BOX, names)
        source = f"random in {box or DEFAULT_BOX}, seed {seed}"
    n = len(cols[0]) if cols else 1
    X = np.column_stack(cols) if cols else np.zeros((n, 0))
    return g, X.astype(np.float64), source, seed


DEFAULT_BOX = "-2:2"


def parse_cases(text: str, label: str) -> list[tuple[int, tuple[str, int], tuple[str, int], tuple[str, int] | None]]:
    """``EXPR | POINT [| GRADIENT]`` per line; ``#`` starts a comment. Each field
    with its offset into ``text``, for error carets."""
    out = []
    offset = 0
    for lineno, line in enumerate(text.splitlines(keepends=True), start=1):
        start = offset
        offset += len(line)
        body = line.rstrip("\r\n")
        hash_at = body.find("#")
        if hash_at >= 0:
            body = body[:hash_at]
        if not body.strip():
            continue
        fields = []
        pos = 0
        for piece in body.split("|"):
            fields.append((piece, start + pos))
            pos += len(piece) + 1
        if len(fields) > 3:
            s = start + body.index("|", body.index("|", body.index("|") + 1) + 1)
            raise AdcliError(INPUT, "too many fields: write EXPR | POINT | GRADIENT", text, (s, s + 1), label=label)
        if len(fields) < 2:
            raise AdcliError(
                INPUT,
                "a case needs a point: write EXPR | x1=1,x2=2 [| GRADIENT]",
                text,
                (start, start + len(body)),
                label=label,
            )
        expr, point = fields[0], fields[1]
        grad = fields[2] if len(fields) == 3 and fields[2][0].strip() else None
        for piece, off in (expr,) + ((grad,) if grad else ()):
            if not piece.strip():
                raise AdcliError(INPUT, "empty expression", text, (off, off + 1), label=label)
        out.append((lineno, expr, point, grad))
    if not out:
        raise AdcliError(INPUT, f"{label} has no cases", hint="one case per line: EXPR | x1=1,x2=2 | GRADIENT")
    return out


def run_cases(text: str, label: str, opts: Options) -> CasesResult:
    """Check every case of a cases file; a bad case is a located error (exit 2)."""
    from .core import bind_point

    cases: list[Case] = []
    for lineno, (etext, eoff), (ptext, poff), grad in parse_cases(text, label):
        g = _parse_piece(text, eoff, eoff + len(etext), label)
        try:
            g, point = bind_point(g, ptext if ptext.strip() else None, "point")
        except AdcliError as exc:
            raise _reanchor(exc, ptext, text, poff, label) from None
        names = g.input_names
        X = np.array([point], dtype=np.float64).reshape(1, len(names))
        try:
            evaluate(g, [np.float64(v) for v in X[0]])
        except AdcliError as exc:
            if exc.kind == DOMAIN and exc.source == g.source and exc.span is not None:
                exc.source, exc.span = text, (exc.span[0] + eoff, exc.span[1] + eoff)
            exc.label = label
            raise
        grads = [grad[0]] if grad else None
        result = check_points(
            g, X, opts, grads, single=True, grad_offsets=[(text, grad[1])] if grad else None, grad_label=label
        )
        cases.append(Case(lineno, etext.strip(), ptext.strip(), grad[0].strip() if grad else None, result))
    return CasesResult(label, cases, opts.method, opts.rtol, opts.atol)
