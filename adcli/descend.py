"""Gradient descent and Newton's method on a scalar expression, with exact derivatives.

``run_descend`` starts from the --at point and updates the --wrt inputs (all
inputs by default) along the negative gradient:

- ``gd``: ``v <- momentum·v - lr·∇f``, ``x <- x + v`` (plain gradient descent
  when momentum is 0). No line search: the point is to see what a learning
  rate does, including what a too large one does.
- ``newton``: ``x <- x - t·H⁻¹∇f`` with the exact Hessian (forward-over-reverse,
  :func:`adcli.derivatives.run_hessian`). Guarded: a Hessian that is not
  positive definite has its eigenvalues replaced by their absolute values
  (floored) so the step still goes downhill (and its length is capped at
  max(1, ‖x‖)),
  and ``t`` starts at --lr (default 1) and is halved until the value decreases
  enough (Armijo) and the new point is inside the domain.

It stops when the gradient norm or the step is below --tol, after --iters
steps, or when the descent diverges: a value or gradient that is inf or NaN,
a point outside the domain of the expression, or a value that keeps growing.
Divergence is not an exception: the iterations so far are kept and
``DescentResult.error`` says what happened (the CLI prints the table, then
the error, and exits with code 2).

Nothing prints here; :mod:`adcli.render` draws the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .core import Problem, bind_point, require_scalar, resolve_wrt, run_grad
from .errors import DOMAIN, USAGE, AdcliError, Warning_
from .evaluate import evaluate
from .graph import fmt_value
from .parse import parse

METHODS = ("gd", "newton")
DEFAULT_LR = {"gd": 0.1, "newton": 1.0}

# Divergence rules (documented in README, "Gradient descent").
GROWTH_FACTOR = 1e6  # the value rose this far above where it started: f - f0 > 1e6·(1 + |f0|)
RISING_STREAK = 10  # plain gd: the value rose this many iterations in a row and is above f0
FALL_FACTOR = 1e15  # the value fell below f0 - 1e15·(1 + |f0|): f is unbounded below
POINT_LIMIT = 1e150  # the point ran off to infinity
ARMIJO = 1e-4  # Newton: accept a step when f(x + t d) <= f(x) + 1e-4·t·∇f·d
MAX_HALVINGS = 40


@dataclass
class Iterate:
    k: int  # 0 = the starting point
    point: list[float]  # every input, in input order
    value: float
    grad_norm: float  # the norm of the gradient over the --wrt inputs
    gradient: list[float]  # aligned with DescentResult.wrt
    step: float | None = None  # the length of the step that led here (None at the start)
    note: str = ""  # Newton: "t = 0.5" (a shortened step), "H not positive definite: |λ| used"


@dataclass
class DescentResult:
    problem: Problem  # at the starting point
    method: str
    wrt: list[int]  # positions in problem.inputs that move
    lr: float
    momentum: float
    tol: float
    max_iters: int
    iterations: list[Iterate]
    stopped: str  # "gradient", "step", "iterations", "no-decrease", "diverged"
    reason: str  # a sentence for people
    warnings: list[Warning_] = field(default_factory=list)
    error: AdcliError | None = None  # set when the descent diverged

    @property
    def converged(self) -> bool:
        return self.stopped in ("gradient", "step")

    @property
    def method_text(self) -> str:
        if self.method == "newton":
            return "Newton's method" + (f" (first step length {fmt_value(self.lr)})" if self.lr != 1 else "")
        extra = f", momentum = {fmt_value(self.momentum)}" if self.momentum else ""
        return f"gradient descent (lr = {fmt_value(self.lr)}{extra})"

    @property
    def summary(self) -> str:
        """One sentence: how the descent ended."""
        k = self.final.k if self.iterations else 0
        its = f"{k} iteration{'s' if k != 1 else ''} of {self.method_text}"
        if self.stopped == "diverged":
            return self.reason
        if self.converged:
            return f"converged after {its}: {self.reason}"
        if self.stopped == "iterations":
            return f"not converged after {its}: {self.reason}"
        return f"stopped after {its}: {self.reason}"

    @property
    def inputs(self) -> list[str]:
        return self.problem.inputs

    @property
    def final(self) -> Iterate:
        return self.iterations[-1]


def _norm(v) -> float:
    with np.errstate(all="ignore"):
        return float(np.sqrt(np.sum(np.square(np.asarray(v, dtype=np.float64)))))


class _Diverged(Exception):
    def __init__(self, error: AdcliError):
        self.error = error


def _check_options(method: str, lr: float | None, iters: int, tol: float, momentum: float) -> float:
    if method not in METHODS:
        raise AdcliError(USAGE, f"unknown method {method!r}: use gd or newton")
    if lr is None:
        lr = DEFAULT_LR[method]
    if not (math.isfinite(lr) and lr > 0):
        raise AdcliError(USAGE, f"--lr must be a positive number, not {fmt_value(lr)}")
    if iters < 0:
        raise AdcliError(USAGE, f"--iters must be 0 or more, not {iters}")
    if not (math.isfinite(tol) and tol >= 0):
        raise AdcliError(USAGE, f"--tol must be 0 or a positive number, not {fmt_value(tol)}")
    if not (math.isfinite(momentum) and 0 <= momentum < 1):
        raise AdcliError(USAGE, f"--momentum must be in [0, 1), not {fmt_value(momentum)}")
    if method == "newton" and momentum != 0:
        raise AdcliError(
            USAGE,
            "--momentum applies to --method gd only",
            hint="Newton's method takes the step the Hessian says; drop --momentum",
        )
    if method == "newton" and lr > 1:
        raise AdcliError(
            USAGE,
            f"--lr for newton is the first step length tried, at most 1, not {fmt_value(lr)}",
            hint="the full Newton step is --lr 1 (the default)",
        )
    return lr


class _Objective:
    """f, ∇f (and for Newton ∇²f) at a point, by the same engines as grad and hessian."""

    def __init__(self, g, wrt: str | None, positions: list[int]):
        self.g = g
        self.wrt = wrt
        self.positions = positions
        self.warnings: list[Warning_] = []
        self._seen: set[str] = set()

    def _collect(self, ws: list[Warning_]) -> None:
        for w in ws:
            if w.message not in self._seen:
                self._seen.add(w.message)
                self.warnings.append(w)

    def problem(self, x: list[float]) -> Problem:
        values = evaluate(self.g, [np.float64(v) for v in x])
        return Problem(self.g, list(x), values)

    def value(self, x: list[float]) -> float:
        return float(self.problem(x).values.outputs[0])

    def grad(self, x: list[float]) -> tuple[float, np.ndarray]:
        result = run_grad(self.problem(x), "reverse", self.wrt)
        self._collect(result.warnings)
        return float(result.value), np.array([float(v) for v in result.gradient])

    def hessian(self, x: list[float]) -> tuple[float, np.ndarray, np.ndarray]:
        from .derivatives import run_hessian

        result = run_hessian(self.problem(x), self.wrt)
        self._collect(result.warnings)
        grad = np.array([float(v) for v in result.gradient])
        return float(result.value), grad, np.array(result.matrix, dtype=np.float64).reshape(len(grad), len(grad))


def run_descend(
    problem: Problem,
    lr: float | None = None,
    iters: int = 50,
    tol: float = 1e-8,
    momentum: float = 0.0,
    method: str = "gd",
    wrt: str | None = None,
) -> DescentResult:
    """Descend from ``problem``'s point; see the module docstring."""
    lr = _check_options(method, lr, iters, tol, momentum)
    require_scalar(problem, "descend")
    g = problem.graph
    positions = resolve_wrt(g, wrt)
    if not positions:
        raise AdcliError(USAGE, "descend needs at least one input to move, but the expression has none")
    obj = _Objective(g, wrt, positions)
    result = DescentResult(problem, method, positions, lr, momentum, tol, iters, [], "iterations", "")
    try:
        if method == "gd":
            _gradient_descent(obj, result, list(problem.point))
        else:
            _newton(obj, result, list(problem.point))
    except _Diverged as d:
        if not result.iterations:  # the starting point itself is no good: a plain error
            err = d.error
            err.kind = DOMAIN
            err.message = "cannot start here: " + err.message.split(": ", 1)[1]
            err.hint = "choose another starting point (--at)"
            err.extra.pop("iteration", None)
            raise err from None
        result.stopped = "diverged"
        result.error = d.error
        result.reason = d.error.message
    result.warnings = obj.warnings
    return result


def load_descend(expr: str, at: str | None, **options: Any) -> DescentResult:
    """Parse, bind to --at, descend: what the CLI and the REPL call."""
    g, point = bind_point(parse(expr), at)
    values = evaluate(g, [np.float64(v) for v in point])
    return run_descend(Problem(g, point, values), **options)


# -- the two methods --------------------------------------------------------------------------


def _where(obj: _Objective, x: list[float]) -> str:
    return ", ".join(f"{n}={fmt_value(v)}" for n, v in zip(obj.g.input_names, x))


def _diverged(result: DescentResult, k: int, what: str, hint: str | None = None) -> _Diverged:
    name = "gradient descent" if result.method == "gd" else "Newton's method"
    err = AdcliError(DOMAIN, f"{name} diverged at iteration {k}: {what}", hint=hint, extra={"iteration": k})
    err.kind = "diverged"
    return _Diverged(err)


def _lr_hint(result: DescentResult) -> str:
    if result.method == "newton":
        return "start closer to a minimum (--at)"
    return f"try a smaller --lr (now {fmt_value(result.lr)}; e.g. --lr {fmt_value(result.lr / 10)})"


def _evaluate_at(obj: _Objective, result: DescentResult, k: int, x: list[float], newton: bool):
    """(value, gradient[, Hessian]) at iterate k; leaving the domain or a non-finite
    value is divergence."""
    try:
        out = obj.hessian(x) if newton else obj.grad(x)
    except AdcliError as exc:
        if exc.kind != DOMAIN:
            raise
        err = _diverged(
            result, k, f"the point left the domain of the expression: {exc.message}", _lr_hint(result)
        ).error
        err.source, err.span, err.label = exc.source, exc.span, exc.label
        raise _Diverged(err) from None
    value, grad = out[0], out[1]
    if not math.isfinite(value):
        raise _diverged(result, k, f"the value is {fmt_value(value)} at {_where(obj, x)}", _lr_hint(result))
    if not np.all(np.isfinite(grad)):
        raise _diverged(result, k, f"the gradient is not finite at {_where(obj, x)}", _lr_hint(result))
    return out


def _record(obj, result, k, x, value, grad, step, note="") -> Iterate:
    it = Iterate(k, [float(v) for v in x], value, _norm(grad), [float(v) for v in grad], step, note)
    result.iterations.append(it)
    return it


def _check_growth(obj, result: DescentResult, k: int, x: list[float], value: float, rising: int) -> None:
    f0 = result.iterations[0].value
    scale = 1.0 + abs(f0)
    if value - f0 > GROWTH_FACTOR * scale:
        raise _diverged(result, k, f"the value grew from {fmt_value(f0)} to {fmt_value(value)}", _lr_hint(result))
    if result.momentum == 0 and result.method == "gd" and rising >= RISING_STREAK and value > f0:
        raise _diverged(
            result,
            k,
            f"the value rose {rising} iterations in a row, from {fmt_value(f0)} to {fmt_value(value)}",
            _lr_hint(result),
        )
    if value < f0 - FALL_FACTOR * scale:
        raise _diverged(
            result,
            k,
            f"the value fell from {fmt_value(f0)} to {fmt_value(value)} and keeps "
            "falling: the expression seems unbounded below",
            "descend needs a function with a minimum",
        )
    if _norm([x[p] for p in result.wrt]) > POINT_LIMIT:
        raise _diverged(result, k, f"the point ran off to infinity ({_where(obj, x)})", _lr_hint(result))


def _gradient_descent(obj: _Objective, result: DescentResult, x: list[float]) -> None:
    lr, beta, tol = result.lr, result.momentum, result.tol
    velocity = np.zeros(len(result.wrt))
    step: float | None = None
    rising = 0
    prev = None
    for k in range(result.max_iters + 1):
        value, grad = _evaluate_at(obj, result, k, x, newton=False)
        it = _record(obj, result, k, x, value, grad, step)
        if prev is not None:
            rising = rising + 1 if value > prev else 0
        prev = value
        if k > 0:
            _check_growth(obj, result, k, x, value, rising)
        if _converged(result, it, step, tol):
            return
        if k == result.max_iters:
            break
        with np.errstate(all="ignore"):
            velocity = beta * velocity - lr * grad
        x = list(x)
        for q, p in enumerate(result.wrt):
            x[p] = float(x[p] + velocity[q])
        step = _norm(velocity)
    _stop(result, "iterations", f"‖∇f‖ = {fmt_value(result.final.grad_norm, 3)} > tol = {fmt_value(tol)}")


def _converged(result, it, step, tol) -> bool:
    """Stop (and say why) when the gradient or the last step is below tol."""
    if it.grad_norm <= tol:
        _stop(result, "gradient", f"‖∇f‖ = {fmt_value(it.grad_norm, 3)} ≤ tol = {fmt_value(tol)}")
        return True
    if step is not None and step <= tol:
        _stop(result, "step", f"the last step was {fmt_value(step, 3)} ≤ tol = {fmt_value(tol)}")
        return True
    return False


def _stop(result: DescentResult, stopped: str, reason: str) -> None:
    result.stopped, result.reason = stopped, reason


def _newton_direction(H: np.ndarray, grad: np.ndarray) -> tuple[np.ndarray, bool]:
    """-H⁻¹ ∇f, and whether H had to be modified: where H is not safely positive
    definite, its eigenvalues are replaced by their absolute values (floored),
    so the direction still goes downhill and keeps the curvature's scale."""
    H = 0.5 * (H + H.T)
    scale = max(1.0, float(np.max(np.abs(H)))) if len(grad) else 1.0
    lam, Q = np.linalg.eigh(H)
    if lam[0] > 1e-10 * scale:
        return np.linalg.solve(H, -grad), False
    lam = np.maximum(np.abs(lam), 1e-6 * scale)
    return -(Q @ ((Q.T @ grad) / lam)), True


def _cap(d: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A step from a modified Hessian is no longer than max(1, ‖x‖): where the
    curvature is nearly flat, |λ| is tiny and the raw step would be huge."""
    limit = max(1.0, _norm(x))
    n = _norm(d)
    return d * (limit / n) if n > limit else d


def _newton(obj: _Objective, result: DescentResult, x: list[float]) -> None:
    tol = result.tol
    step: float | None = None
    note = ""
    for k in range(result.max_iters + 1):
        value, grad, H = _evaluate_at(obj, result, k, x, newton=True)
        it = _record(obj, result, k, x, value, grad, step, note)
        if k > 0:
            _check_growth(obj, result, k, x, value, 0)
        if _converged(result, it, step, tol):
            return
        if k == result.max_iters:
            break
        if not np.all(np.isfinite(H)):
            raise _diverged(result, k, f"the Hessian is not finite at {_where(obj, x)}", _lr_hint(result))
        d, modified = _newton_direction(H, grad)
        if modified:
            d = _cap(d, np.array([x[p] for p in result.wrt]))
        slope = float(grad @ d)
        t = result.lr
        for _ in range(MAX_HALVINGS):
            trial = list(x)
            for q, p in enumerate(result.wrt):
                trial[p] = float(x[p] + t * d[q])
            try:
                f_new = obj.value(trial)
            except AdcliError as exc:
                if exc.kind != DOMAIN:
                    raise
                f_new = math.nan  # outside the domain: shorten the step
            if math.isfinite(f_new) and f_new <= value + ARMIJO * t * slope:
                break
            t /= 2
        else:
            _stop(
                result,
                "no-decrease",
                f"no step along the Newton direction decreases f any further "
                f"(‖∇f‖ = {fmt_value(it.grad_norm, 3)}; at a minimum to rounding?)",
            )
            return
        notes = []
        if modified:
            notes.append("H not positive definite: |λ| used")
        if t != 1.0:
            notes.append(f"t = {fmt_value(t, 3)}")
        note = ", ".join(notes)
        x = trial
        step = t * _norm(d)
    _stop(result, "iterations", f"‖∇f‖ = {fmt_value(result.final.grad_norm, 3)} > tol = {fmt_value(tol)}")
