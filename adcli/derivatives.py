"""Beyond the gradient: JVP, VJP, Jacobian, Hessian, HVP and implicit derivatives.

Pure functions over a :class:`~adcli.core.Problem`, returning dataclasses;
nothing prints. Every function works the same whether the input values are
floats (one point) or numpy arrays of shape (N,) (N points in one pass):
entries of the results are numpy float64 scalars or arrays of the point shape.

- :func:`run_jvp`: J·v, one forward sweep.
- :func:`run_vjp`: uᵀ·J, one reverse sweep.
- :func:`run_jacobian`: n forward sweeps or m reverse sweeps, or the cheaper.
- :func:`run_hvp`: H·v by forward-over-reverse: the value pass on dual numbers
  ``Dual(x, v)``, then one reverse sweep seeded with ``Dual(1, 0)``; the
  tangent parts of the input adjoints are ``H·v``. Exact, not differenced:
  the derivative rules are written in the primitives they differentiate.
- :func:`run_hessian`: n such sweeps, one per unit direction.
- :func:`run_implicit`: dy/dx = -F_y⁻¹ F_x for F(x, y) = 0, optionally after
  solving for y by Newton's method with AD derivatives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from . import forward, hvsweep, reverse, sparsity, sweeps
from .core import Problem, parse_vector, require_scalar, resolve_vector, resolve_wrt, split_top_level, warn_nonfinite
from .dual import Dual, DualNS
from .errors import DOMAIN, INPUT, NAME, USAGE, AdcliError, Warning_
from .evaluate import Values, evaluate

JACOBIAN_MODES = ("auto", "forward", "reverse")
NEWTON_MAX_ITER = 50


# -- shapes and vectors ---------------------------------------------------------------


def point_shape(problem: Problem) -> tuple:
    """() for one point, (N,) for N points (the broadcast shape of the inputs)."""
    vals = problem.values.vals
    shapes = [np.shape(vals[i]) for i in problem.graph.inputs]
    return np.broadcast_shapes(*shapes) if shapes else ()


def _full(v: Any, shape: tuple) -> Any:
    """An entry of a result: a float64 scalar for one point, an array of ``shape`` for many."""
    a = np.asarray(v, dtype=np.float64)
    if shape == ():
        return np.float64(a.reshape(-1)[0]) if a.ndim else np.float64(a)
    return np.array(np.broadcast_to(a, shape))


def _stack(entries: list[list[Any]], shape: tuple) -> np.ndarray:
    """Rows of entries -> an array of shape (*shape, rows, cols)."""
    a = np.array([[np.broadcast_to(np.asarray(e, dtype=np.float64), shape) for e in row] for row in entries])
    a = a.reshape(len(entries), len(entries[0]) if entries else 0, *shape)
    return np.moveaxis(np.moveaxis(a, 0, -1), 0, -1)


def _per_input(problem: Problem, positions: list[int]) -> str:
    inputs = problem.inputs  # a property that lists them: once, not per position
    names = [inputs[k] for k in positions]
    return f"input ({', '.join(names)})" if names else "input (there are none)"


def _merge_warnings(problem: Problem, *lists: list[Warning_]) -> list[Warning_]:
    """The problem's warnings plus any new ones from further passes, each once."""
    base = problem.values.warnings
    seen = {w.message for w in base}
    for ws in lists:
        for w in ws:
            if w.message not in seen:
                seen.add(w.message)
                base.append(w)
    return base


# -- JVP and VJP ---------------------------------------------------------------------------


@dataclass
class JvpResult:
    problem: Problem
    wrt: list[int]  # positions in problem.inputs
    direction: list[Any]  # aligned with wrt
    value: list[Any]  # one per output
    jvp: list[Any]  # J·v, one per output
    warnings: list[Warning_]
    sweeps: int = 1
    tangents: list[Any] | None = None  # every node's tangent
    tangent_steps: list[forward.TangentStep] | None = None


@dataclass
class VjpResult:
    problem: Problem
    wrt: list[int]
    cotangent: list[Any]  # one per output
    value: list[Any]
    vjp: list[Any]  # uᵀ·J, aligned with wrt
    warnings: list[Warning_]
    sweeps: int = 1
    adjoints: list[Any] | None = None  # every node's adjoint
    adjoint_steps: list[reverse.AdjointStep] | None = None


def _jvp(values: Values, positions: list[int], direction: list[Any], record: bool = False):
    full: list[Any] = [None] * len(values.graph.inputs)
    for k, d in zip(positions, direction):
        full[k] = d
    tan, steps = forward.jvp(values, full, record=record)
    return forward.output_tangents(values, tan), tan, steps


def _vjp(values: Values, positions: list[int], cotangent: list[Any], record: bool = False):
    adj, steps = reverse.vjp(values, cotangent, record=record)
    grads = reverse.input_adjoints(values, adj)
    return [grads[k] for k in positions], adj, steps


def run_jvp(
    problem: Problem, direction: str | Sequence[Any] | None, wrt: str | None = None, record: bool = False
) -> JvpResult:
    """J·v in one forward sweep; ``direction`` has one value per --wrt input."""
    g, values = problem.graph, problem.values
    positions = resolve_wrt(g, wrt)
    v = resolve_vector(direction, len(positions), "--dir", _per_input(problem, positions), "jvp")
    shape = point_shape(problem)
    out, tan, steps = _jvp(values, positions, v, record)
    jvp = [_full(t, shape) for t in out]
    warn_nonfinite(problem, "J·v", jvp)
    return JvpResult(
        problem,
        positions,
        v,
        [_full(y, shape) for y in values.outputs],
        jvp,
        values.warnings,
        tangents=tan,
        tangent_steps=steps if record else None,
    )


def run_vjp(
    problem: Problem, cotangent: str | Sequence[Any] | None, wrt: str | None = None, record: bool = False
) -> VjpResult:
    """uᵀ·J in one reverse sweep; ``cotangent`` has one value per output."""
    g, values = problem.graph, problem.values
    positions = resolve_wrt(g, wrt)
    m = len(g.outputs)
    u = resolve_vector(cotangent, m, "--cotangent", "output", "vjp")
    shape = point_shape(problem)
    out, adj, steps = _vjp(values, positions, u, record)
    vjp = [_full(a, shape) for a in out]
    warn_nonfinite(problem, "uᵀ·J", vjp)
    return VjpResult(
        problem,
        positions,
        u,
        [_full(y, shape) for y in values.outputs],
        vjp,
        values.warnings,
        adjoints=adj,
        adjoint_steps=steps if record else None,
    )


# -- Jacobian ------------------------------------------------------------------------------


@dataclass
class JacobianResult:
    problem: Problem
    wrt: list[int]
    mode: str  # the mode used: forward or reverse
    requested: str  # auto, forward or reverse
    reason: str  # why this mode (for auto), or what a sweep is
    value: list[Any]  # one per output
    jacobian: list[list[Any]]  # m rows (outputs) × n columns (wrt inputs)
    sweeps: int
    warnings: list[Warning_]
    tangents: Sequence[list[Any]] | None = None  # forward: every node's tangent, per direction
    tangent_steps: Sequence[list[forward.TangentStep]] | None = None
    adjoints: Sequence[list[Any]] | None = None  # reverse: every node's adjoint, per direction
    adjoint_steps: Sequence[list[reverse.AdjointStep]] | None = None
    colours: int | None = None  # compressed by a colouring: this many sweeps instead of `uncompressed`
    uncompressed: int | None = None

    @property
    def matrix(self) -> np.ndarray:
        """The Jacobian as an array of shape (m, n) (one point) or (N, m, n)."""
        return _stack(self.jacobian, point_shape(self.problem))


def choose_mode(m: int, n: int) -> tuple[str, str]:
    """The cheaper mode for an m×n Jacobian (m outputs, n inputs), and why."""

    def s(k: int, what: str) -> str:
        return f"{k} {what}{'s' if k != 1 else ''}"

    if n < m:
        return "forward", f"{s(n, 'input')} < {s(m, 'output')}: forward mode takes {s(n, 'sweep')}, reverse {m}"
    if m < n:
        return "reverse", f"{s(m, 'output')} < {s(n, 'input')}: reverse mode takes {s(m, 'sweep')}, forward {n}"
    return "forward", f"{s(n, 'input')} = {s(m, 'output')}: {s(n, 'sweep')} either way; forward stores no adjoints"


def _jacobian(values: Values, positions: list[int], mode: str, record: bool = False, colour: list[int] | None = None):
    """(J as m lists of n entries, per-direction node lists, per-direction steps), from one
    batched sweep. With a colouring (forward: of the columns, reverse: of the rows) the
    sweep carries one direction per colour and each entry is read back from its colour."""
    m, n = len(values.graph.outputs), len(positions)
    count = n if mode == "forward" else m
    groups = sparsity.groups_of(colour) if colour is not None else sweeps.unit_groups(count)
    batch = sweeps.run(values, mode, groups, positions, record)
    e = batch.entry
    if mode == "forward":
        outs = batch.at_outputs()
        J = [[e(outs[i], colour[j] if colour else j) for j in range(n)] for i in range(m)]
    else:
        ins = batch.at_inputs()
        J = [[e(ins[q], colour[i] if colour else i) for q in positions] for i in range(m)]
    nodes = sweeps.PerDirection(batch)
    return J, nodes, sweeps.StepsPerDirection(nodes)


def _jacobian_colouring(g, positions: list[int], mode: str) -> tuple[list[int] | None, list[list[int]]]:
    """A colouring that needs fewer sweeps than one per input (forward) or output
    (reverse), with the pattern it respects; (None, pattern) when none does."""
    n, m = len(positions), len(g.outputs)
    rows = sparsity.jacobian_pattern(g, positions)
    count = n if mode == "forward" else m
    pattern = rows if mode == "forward" else sparsity.transpose(rows, n)
    if count < 3 or max((len(r) for r in pattern), default=0) >= count:
        return None, rows
    colour = sparsity.colour_columns(pattern, count)
    return (colour if max(colour) + 1 < count else None), rows


def _zero_outside(J: list[list[Any]], rows: list[list[int]], shape: tuple) -> None:
    """Entries outside the pattern are exactly 0 (a compressed sweep sums them with others)."""
    for i, cols in enumerate(rows):
        inside = set(cols)
        for j in range(len(J[i])):
            if j not in inside:
                J[i][j] = _full(0.0, shape)


def run_jacobian(problem: Problem, mode: str = "auto", wrt: str | None = None, record: bool = False) -> JacobianResult:
    """The m×n Jacobian: n forward sweeps, m reverse sweeps, or (auto) the fewer."""
    if mode not in JACOBIAN_MODES:
        raise AdcliError(USAGE, f"unknown mode {mode!r} for jacobian: use auto, forward or reverse")
    g, values = problem.graph, problem.values
    positions = resolve_wrt(g, wrt)
    m, n = len(g.outputs), len(positions)
    if mode == "auto":
        used, reason = choose_mode(m, n)
    else:
        used = mode
        reason = "one forward sweep per input" if mode == "forward" else "one reverse sweep per output"
    colour, rows = (None, []) if record else _jacobian_colouring(g, positions, used)
    J, nodes, steps = _jacobian(values, positions, used, record, colour)
    shape = point_shape(problem)
    J = [[_full(e, shape) for e in row] for row in J]
    if colour is not None:
        _zero_outside(J, rows, shape)
    warn_nonfinite(problem, "the Jacobian", [np.array(J, dtype=np.float64)] if J and J[0] else [])
    sweeps_ = n if used == "forward" else m
    result = JacobianResult(
        problem, positions, used, mode, reason, [_full(y, shape) for y in values.outputs], J, sweeps_, values.warnings
    )
    if colour is not None:
        result.colours, result.uncompressed, result.sweeps = max(colour) + 1, sweeps_, max(colour) + 1
    if used == "forward":
        result.tangents, result.tangent_steps = nodes, steps if record else None
    else:
        result.adjoints, result.adjoint_steps = nodes, steps if record else None
    return result


# -- Hessian and HVP (forward-over-reverse) --------------------------------------------------


@dataclass
class HvpResult:
    problem: Problem
    wrt: list[int]
    direction: list[Any]  # aligned with wrt
    value: Any
    gradient: list[Any]  # aligned with wrt
    hvp: list[Any]  # H·v, aligned with wrt
    warnings: list[Warning_]
    sweeps: int = 1
    dual_values: Values | None = None  # the value pass on dual numbers (tangents = directional derivatives)
    adjoints: list[Any] | None = None  # every node's adjoint, a Dual
    adjoint_steps: list[reverse.AdjointStep] | None = None


@dataclass
class HessianResult:
    problem: Problem
    wrt: list[int]
    value: Any
    gradient: list[Any]  # aligned with wrt
    hessian: Sequence[list[Any]]  # n×n over the wrt inputs
    sweeps: int  # n Hessian-vector products
    warnings: list[Warning_]
    # per sweep (column j = H·e_j): the dual value pass, every node's (dual) adjoint, the steps
    sweep_values: Sequence[Values] = field(default_factory=list)
    sweep_adjoints: Sequence[list[Any]] = field(default_factory=list)
    sweep_steps: Sequence[list[reverse.AdjointStep]] | None = None
    colours: int | None = None  # compressed by a star colouring: this many sweeps instead of n
    uncompressed: int | None = None

    coo: sparsity.Coo | None = None  # the non-zeros, when compressed (H is then never formed densely)

    @property
    def matrix(self) -> np.ndarray:
        """The Hessian as an array of shape (n, n) (one point) or (N, n, n)."""
        rows = self.hessian
        if isinstance(rows, _Rows):
            return np.moveaxis(np.moveaxis(rows.dense(), 0, -1), 0, -1)
        return _stack(list(rows), point_shape(self.problem))


class _Rows(Sequence):
    """The rows of a matrix held as an array (n, n, *point shape) or as coordinates,
    listed on demand: a large sparse Hessian is never expanded unless it is shown."""

    def __init__(self, n: int, shape: tuple, array: np.ndarray | None = None, coo: sparsity.Coo | None = None):
        self.n, self.shape, self.array, self.coo = n, shape, array, coo
        self._by_row: list[dict[int, Any]] | None = None

    def __len__(self) -> int:
        return self.n

    def dense(self) -> np.ndarray:
        if self.array is not None:
            return self.array
        assert self.coo is not None
        return self.coo.dense()

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[r] for r in range(*i.indices(self.n))]
        if not -self.n <= i < self.n:
            raise IndexError(i)
        i %= self.n
        if self.array is not None:
            return [_full(self.array[i, j], self.shape) for j in range(self.n)]
        if self._by_row is None:
            assert self.coo is not None
            self._by_row = [{} for _ in range(self.n)]
            for t, (r, c) in enumerate(zip(self.coo.rows.tolist(), self.coo.cols.tolist())):
                self._by_row[r][c] = t
        zero = _full(0.0, self.shape)
        row = self._by_row[i]
        return [_full(self.coo.values[row[j]], self.shape) if j in row else zero for j in range(self.n)]  # type: ignore[union-attr]


def _forward_over_reverse(
    problem: Problem, positions: list[int], direction: list[Any] | None, record: bool = False, groups=None
):
    """One forward-over-reverse sweep: (value, gradient, H·v, dual values, adjoints, steps).

    The value pass runs on ``Dual(x, v)``; the reverse sweep is seeded with
    ``Dual(1, 0)``. With ``groups`` (k of them) the tangents carry a leading
    batch axis of length k, direction d seeding the wrt positions in
    ``groups[d]``, and each H·v entry has that axis: one sweep, k products.
    Values are at least one-dimensional inside the sweep so that an adjoint
    whose value is 0 but whose tangent is not still passes its tangent back."""
    g = problem.graph
    shape = point_shape(problem)
    work = shape if shape != () else (1,)
    if groups is None:
        tangent_of = {
            k: np.broadcast_to(np.asarray(d, dtype=np.float64), work) for k, d in zip(positions, direction or [])
        }
    else:
        tangent_of = {}
        for d, group in enumerate(groups):
            for q in group:
                t = tangent_of.setdefault(positions[q], np.zeros((len(groups),) + work))
                t[d] = 1.0
    inputs = []
    for k, i in enumerate(g.inputs):
        x = np.broadcast_to(np.asarray(problem.values.vals[i], dtype=np.float64), work).copy()
        seeded = tangent_of.get(k)
        inputs.append(Dual(x, np.zeros(work) if seeded is None else np.array(seeded)))
    values = evaluate(g, inputs, xp=DualNS, **_mask_kw(problem))
    seed = Dual(np.ones(work), np.zeros(work))
    adj, steps = reverse.vjp(values, [seed], record=record)
    grads = reverse.input_adjoints(values, adj)
    out = values.outputs[0]
    value = _full(out.primal if isinstance(out, Dual) else out, shape)
    gradient, hv = [], []
    for k in positions:
        a = grads[k]
        gradient.append(_full(a.primal if isinstance(a, Dual) else a, shape))
        ta = a.tangent if isinstance(a, Dual) else 0.0
        hv.append(_full(ta, shape) if groups is None else np.broadcast_to(ta, (len(groups),) + work))
    if groups is not None:  # one array (n, k, *point shape): row i, direction d
        B = np.stack(hv) if hv else np.zeros((0, len(groups)) + work)
        return value, gradient, B if shape != () else B[..., 0], values, adj, steps
    return value, gradient, hv, values, adj, steps


def _hessian_fast(problem: Problem, positions: list[int], groups: list[list[int]]):
    """(gradient, H·v as an array (n, k, *point shape)) by :func:`adcli.hvsweep.hvp`,
    the k groups as one batch axis; None if a result is not finite (redo on duals)."""
    shape = point_shape(problem)
    k = len(groups)
    seeds: dict[int, Any] = {}
    for d, group in enumerate(groups):
        for q in group:
            t = seeds.setdefault(positions[q], np.zeros((k,) + (1,) * len(shape)))
            t[d] = 1.0
    out = hvsweep.hvp(problem.values, seeds)
    if out is None:
        return None
    grads, hv = out
    gradient = [_full(0.0 if grads[q] is None else grads[q], shape) for q in positions]
    B = np.zeros((len(positions), k) + shape)
    for r, q in enumerate(positions):
        if hv[q] is not None:
            B[r] = hv[q]
    return gradient, B


class _Slices(Sequence):
    """Sweep d of a batched forward-over-reverse pass, as its own sweep would have shown it."""

    def __init__(self, k: int, get):
        self.k, self.get = k, get

    def __len__(self) -> int:
        return self.k

    def __getitem__(self, d):  # type: ignore[override]
        if isinstance(d, slice):
            return [self.get(j) for j in range(*d.indices(self.k))]
        if not -self.k <= d < self.k:
            raise IndexError(d)
        return self.get(d % self.k)


def _direction(x: Any, d: int, ndim: int) -> Any:
    """Direction d of a dual number whose tangent may carry the batch axis."""
    if isinstance(x, Dual):
        t = x.tangent
        return Dual(x.primal, t[d] if np.ndim(t) > ndim else t)
    return x


def _mask_kw(problem: Problem) -> dict:
    """Many points: a point where the expression is undefined is masked, not an error."""
    return {"mask_undefined": True} if point_shape(problem) != () else {}


def _hvp_fast(problem: Problem, positions: list[int], v: list[Any]):
    """(gradient, H·v) by :func:`adcli.hvsweep.hvp` on plain arrays; None if a result
    is not finite (redo on dual numbers, which apply the infinity conventions)."""
    shape = point_shape(problem)
    seeds = {q: np.broadcast_to(np.asarray(d, dtype=np.float64), shape) for q, d in zip(positions, v)}
    out = hvsweep.hvp(problem.values, {q: t for q, t in seeds.items() if t.any()})
    if out is None:
        return None
    grads, hv = out
    gradient = [_full(0.0 if grads[q] is None else grads[q], shape) for q in positions]
    return gradient, [_full(0.0 if hv[q] is None else hv[q], shape) for q in positions]


def run_hvp(
    problem: Problem,
    direction: str | Sequence[Any] | None,
    wrt: str | None = None,
    record: bool = False,
    duals: bool = False,
) -> HvpResult:
    """H·v of a scalar expression without forming H: one forward-over-reverse sweep, on
    plain arrays; on dual numbers when ``duals`` (what --trace shows), ``record``
    (--steps) or a result that is not finite asks for them."""
    require_scalar(problem, "hvp")
    positions = resolve_wrt(problem.graph, wrt)
    v = resolve_vector(direction, len(positions), "--dir", _per_input(problem, positions), "hvp")
    fast = None if (record or duals) else _hvp_fast(problem, positions, v)
    if fast is not None:
        gradient, hv = fast
        value = _full(problem.values.outputs[0], point_shape(problem))
        warnings = _merge_warnings(problem)
        warn_nonfinite(problem, "H·v", hv)
        return HvpResult(problem, positions, v, value, gradient, hv, warnings)
    value, gradient, hv, dvals, adj, steps = _forward_over_reverse(problem, positions, v, record)
    warnings = _merge_warnings(problem, dvals.warnings)
    warn_nonfinite(problem, "H·v", hv)
    return HvpResult(
        problem,
        positions,
        v,
        value,
        gradient,
        hv,
        warnings,
        dual_values=dvals,
        adjoints=adj,
        adjoint_steps=steps if record else None,
    )


def run_hessian(problem: Problem, wrt: str | None = None, record: bool = False) -> HessianResult:
    """The exact Hessian of a scalar expression: its n columns H·e_j from one
    forward-over-reverse sweep carrying them as a batch axis. When the Hessian's
    sparsity pattern admits a star colouring with k < n colours (and no steps
    are recorded), the sweep carries k sums of unit vectors instead and each
    entry is read back from one of them."""
    require_scalar(problem, "hessian")
    positions = resolve_wrt(problem.graph, wrt)
    n = len(positions)
    shape = point_shape(problem)
    value, gradient = _full(problem.values.outputs[0], shape), []
    plan = None if (record or n < 3) else sparsity.hessian_plan(problem.graph, positions)
    colour = None if plan is None else plan.colour
    groups = plan.groups if plan is not None and plan.groups is not None else sweeps.unit_groups(n)
    dual: list[Any] = []  # the pass on dual numbers, once it has run: (values, adjoints, steps)
    coo = None

    def on_duals() -> tuple[Values, list[Any], list[reverse.AdjointStep]]:
        """The pass on dual numbers: what --trace and --steps show, and the careful redo."""
        if not dual:
            out = _forward_over_reverse(problem, positions, None, record, groups)
            _merge_warnings(problem, out[3].warnings)
            dual.append(out)
        return dual[0][3:]

    if n:
        fast = None if record else _hessian_fast(problem, positions, groups)
        if fast is None:
            on_duals()
            value, gradient, B = dual[0][:3]
        else:
            gradient, B = fast
        if colour is None:
            rows = _Rows(n, shape, array=B)
        else:
            assert plan is not None and plan.recovery is not None
            i, j, r, c = plan.recovery.T
            vals = B[r, c]
            off = i != j  # symmetric: each off-diagonal entry stands for two
            coo = sparsity.Coo(
                np.concatenate([i, j[off]]), np.concatenate([j, i[off]]), np.concatenate([vals, vals[off]]), (n, n)
            )
            order = np.lexsort((coo.cols, coo.rows))
            coo = sparsity.Coo(coo.rows[order], coo.cols[order], coo.values[order], (n, n))
            rows = _Rows(n, shape, coo=coo)
    else:
        rows = _Rows(0, shape, array=np.zeros((0, 0) + shape))
    warnings = _merge_warnings(problem)
    warn_nonfinite(problem, "the Hessian", [rows.dense() if coo is None else coo.values])
    k = len(groups)
    ndim = len(shape) if shape != () else 1

    def values_of(d: int) -> Values:
        dvals = on_duals()[0]
        return Values(dvals.graph, [_direction(v, d, ndim) for v in dvals.vals], dvals.xp, dvals.warnings)

    def adjoints_of(d: int) -> list[Any]:
        return [_direction(a, d, ndim) for a in on_duals()[1]]

    def steps_of(d: int) -> list[reverse.AdjointStep]:
        f = partial(_direction, d=d, ndim=ndim)
        return [
            reverse.AdjointStep(s.target, s.source, s.arg, f(s.adjoint), f(s.partial), f(s.contribution), f(s.total))
            for s in on_duals()[2]
        ]

    result = HessianResult(
        problem,
        positions,
        value,
        gradient,
        rows,
        k if n else 0,
        warnings,
        _Slices(k if n else 0, values_of),
        _Slices(k if n else 0, adjoints_of),
        _Slices(k, steps_of) if record and n else None,
    )
    if colour is not None:
        result.colours, result.uncompressed, result.coo = k, n, coo
    return result


# -- implicit differentiation ------------------------------------------------------------


@dataclass
class NewtonInfo:
    start: list[Any]  # the starting guess for the solved variables
    iterations: int
    residual: Any  # max |F| at the solution


@dataclass
class ImplicitResult:
    problem: Problem  # at the point used (after Newton, if asked)
    solve: list[int]  # positions of the solved variables y
    wrt: list[int]  # positions of the free variables x
    value: list[Any]  # F at the point, one per equation
    F_y: list[list[Any]]  # m×m
    F_x: list[list[Any]]  # m×k
    derivative: list[list[Any]]  # dy/dx, m×k
    warnings: list[Warning_]
    newton: NewtonInfo | None = None
    cond: Any = None  # condition number of F_y


def resolve_solve(problem: Problem, solve: str | None) -> list[int]:
    g = problem.graph
    names = problem.inputs
    m = len(g.outputs)
    if solve is None or not solve.strip():
        raise AdcliError(
            USAGE,
            "implicit needs the unknowns to solve for: --solve y (one per equation)",
            hint='e.g. adcli implicit "x^2 + y^2 - 1" --solve y --at x=0.6,y=0.8',
        )
    out: list[int] = []
    for piece, off in split_top_level(solve):
        name = piece.strip()
        span = (off, off + max(len(piece), 1))
        if name not in names:
            have = ", ".join(names) if names else "none"
            raise AdcliError(
                NAME, f"{name!r} is not an input of the expression (its inputs: {have})", solve, span, label="--solve"
            )
        k = names.index(name)
        if k in out:
            raise AdcliError(INPUT, f"{name} is listed twice", solve, span, label="--solve")
        out.append(k)
    if len(out) != m:
        eq = f"{m} equation{'s' if m != 1 else ''}"
        raise AdcliError(
            USAGE,
            f"--solve names {len(out)} unknown{'s' if len(out) != 1 else ''}, but there {'are' if m != 1 else 'is'} {eq}",
            solve,
            (0, len(solve)),
            label="--solve",
            hint="name one unknown per equation; write several equations as F1, F2 (each = 0)",
        )
    return out


def _implicit_wrt(problem: Problem, solve: list[int], wrt: str | None) -> list[int]:
    names = problem.inputs
    if wrt is None:
        return [k for k in range(len(names)) if k not in solve]
    positions = resolve_wrt(problem.graph, wrt)
    for k in positions:
        if k in solve:
            raise AdcliError(
                USAGE, f"{names[k]} is solved for (--solve), so it cannot also be in --wrt", wrt, label="--wrt"
            )
    return positions


def _reload(problem: Problem, x: list[Any]) -> Problem:
    values = evaluate(problem.graph, x, **_mask_kw(problem))
    return Problem(problem.graph, x, values)


def _solve_matrix(A: np.ndarray, B: np.ndarray, names: list[str], problem: Problem, during: str = ""):
    """X = A⁻¹ B for stacked A of shape (*shape, m, m); a singular A is a clear error."""
    with np.errstate(all="ignore"):
        finite = np.all(np.isfinite(A), axis=(-2, -1))
        cond = np.where(finite, np.linalg.cond(np.where(finite[..., None, None], A, 0.0)), np.inf)
    bad = ~(cond < 1e14)
    if np.any(bad):
        idx = int(np.flatnonzero(bad)[0]) if np.ndim(bad) else None
        m = A.shape[-1]
        what = f"∂F/∂{names[0]} is 0" if m == 1 else f"F_y = ∂F/∂({', '.join(names)}) is singular"
        if m == 1 and np.isfinite(np.asarray(cond).flat[0]) and np.asarray(A).reshape(-1)[0] != 0:
            what = f"∂F/∂{names[0]} is 0 (to rounding)"
        if not np.all(finite):
            what = f"F_y = ∂F/∂({', '.join(names)}) is not finite"
        raise AdcliError(
            DOMAIN,
            f"{during}{what} at {problem.values.point_text(idx)}: the equations do not determine "
            f"{', '.join(names)} as a differentiable function of the other inputs here",
            hint="the implicit function theorem needs an invertible F_y; try another point",
        )
    return np.linalg.solve(A, B), cond


def _F_and_jacobian(problem: Problem, solve: list[int], wrt: list[int]):
    """F, F_y and F_x (stacked as arrays of shape (*shape, m), (*shape, m, m), (*shape, m, k))."""
    values = problem.values
    shape = point_shape(problem)
    positions = solve + wrt
    m = len(problem.graph.outputs)
    mode, _ = choose_mode(m, len(positions))
    J, _, _ = _jacobian(values, positions, mode)
    J = [[_full(e, shape) for e in row] for row in J]
    A = _stack([row[: len(solve)] for row in J], shape)
    B = _stack([row[len(solve) :] for row in J], shape) if wrt else np.zeros((*shape, m, 0))
    F = np.moveaxis(np.array([np.broadcast_to(np.asarray(f, dtype=np.float64), shape) for f in values.outputs]), 0, -1)
    return F, A, B, J


def _newton(problem: Problem, solve: list[int]) -> tuple[Problem, NewtonInfo]:
    """Solve F(x, y) = 0 for y from the --at values of y (the starting guess),
    with F_y from AD: y <- y - F_y⁻¹ F until the step is at rounding level."""
    g = problem.graph
    inputs = problem.inputs
    names = [inputs[k] for k in solve]
    x = [problem.values.vals[i] for i in g.inputs]
    start = [_full(x[k], point_shape(problem)) for k in solve]
    current = problem
    for it in range(1, NEWTON_MAX_ITER + 1):
        F, A, _, _ = _F_and_jacobian(current, solve, [])
        shape = F.shape[:-1]
        res = np.max(np.abs(F), axis=-1)
        if not np.all(np.isfinite(res)):
            raise AdcliError(
                DOMAIN,
                f"Newton's method for {', '.join(names)} reached a point where F is not "
                f"finite ({current.values.point_text()})",
                hint="try a starting guess closer to a solution in --at",
            )
        if np.all(res == 0):
            return current, NewtonInfo(start, it - 1, _full(res, shape))
        step, _ = _solve_matrix(A, F[..., None], names, current, during=f"Newton iteration {it}: ")
        step = step[..., 0]
        y = np.stack([np.broadcast_to(np.asarray(x[k], dtype=np.float64), shape) for k in solve], axis=-1)
        y = y - step
        for q, k in enumerate(solve):
            x[k] = np.float64(y[q]) if shape == () else y[..., q]
        try:
            current = _reload(problem, x)
        except AdcliError as exc:
            exc.message = f"Newton iteration {it} left the domain: {exc.message}"
            exc.hint = exc.hint or "try a starting guess closer to a solution in --at"
            raise
        if np.all(np.abs(step) <= 1e-13 * np.maximum(1.0, np.abs(y))):
            F = np.array([np.asarray(f, dtype=np.float64) for f in current.values.outputs])
            return current, NewtonInfo(start, it, _full(np.max(np.abs(F), axis=0), shape))
    raise AdcliError(
        DOMAIN,
        f"Newton's method for {', '.join(names)} did not converge in {NEWTON_MAX_ITER} "
        f"iterations (max |F| = {float(np.max(res)):.3g} at {current.values.point_text()})",
        hint="try a starting guess closer to a solution in --at",
    )


def run_implicit(problem: Problem, solve: str | None, wrt: str | None = None, newton: bool = False) -> ImplicitResult:
    """dy/dx = -F_y⁻¹ F_x for the equations F(x, y) = 0 (the outputs), y = --solve."""
    ys = resolve_solve(problem, solve)
    xs = _implicit_wrt(problem, ys, wrt)
    info = None
    if newton:
        problem, info = _newton(problem, ys)
    shape = point_shape(problem)
    F, A, B, J = _F_and_jacobian(problem, ys, xs)
    inputs = problem.inputs
    ynames = [inputs[k] for k in ys]
    D, cond = _solve_matrix(A, B, ynames, problem)
    D = -D
    m, k = len(ys), len(xs)
    # |F| should be 0: compare it with how much F moves when the inputs move by their own size.
    vals = [np.asarray(problem.values.vals[i], dtype=np.float64) for i in problem.graph.inputs]
    pos = ys + xs
    for i in range(m):
        scale = 1.0 + sum(np.abs(J[i][q]) * np.abs(vals[p]) for q, p in enumerate(pos))
        Fi = F[..., i]
        if np.any(np.abs(Fi) > 1e-8 * scale):
            label = "F" if m == 1 else f"F{i + 1}"
            shown = f"{float(np.asarray(Fi).flat[0]):.6g}"
            problem.values.warn(
                ("residual", i),
                f"{label} = {shown} at this point, not 0: the point is off the solution set, so the derivative "
                f"is along the level set {label} = {shown} through it"
                + ("" if newton else " (--newton solves for " + ", ".join(ynames) + " first)"),
            )
    if np.any(cond > 1e8):
        problem.values.warn(
            ("cond",), f"F_y is ill-conditioned (condition number {float(np.max(cond)):.3g}): dy/dx may be inaccurate"
        )

    def entry(a, i, j):
        return _full(a[..., i, j], shape)

    result = ImplicitResult(
        problem,
        ys,
        xs,
        [_full(F[..., i], shape) for i in range(m)],
        [[entry(A, i, j) for j in range(m)] for i in range(m)],
        [[entry(B, i, j) for j in range(k)] for i in range(m)],
        [[entry(D, i, j) for j in range(k)] for i in range(m)],
        problem.values.warnings,
        info,
        _full(cond, shape),
    )
    warn_nonfinite(problem, "dy/dx", [e for row in result.derivative for e in row])
    return result


__all__ = [
    "HessianResult",
    "HvpResult",
    "ImplicitResult",
    "JacobianResult",
    "JvpResult",
    "NewtonInfo",
    "VjpResult",
    "choose_mode",
    "parse_vector",
    "point_shape",
    "run_hessian",
    "run_hvp",
    "run_implicit",
    "run_jacobian",
    "run_jvp",
    "run_vjp",
]
