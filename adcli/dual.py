"""Dual numbers: a value and its tangent, carried through the same passes as plain values.

``Dual(primal, tangent)`` stands for ``primal + tangent·ε`` with ``ε² = 0``.
Primal and tangent are floats or numpy arrays (one entry per point), so one
pass still serves one point or many.

:class:`DualNS` is the ``xp`` namespace that :func:`adcli.evaluate.evaluate`
and the derivative rules in :mod:`adcli.ops` run against. It is generated from
the registry: for each primitive, the value is the primitive's own ``ev`` on
the primals and the tangent is ``Σ ∂op/∂aₖ · ȧₖ`` with the partials from the
primitive's own ``d``. No derivative rule is written twice.

Because the rules in :mod:`adcli.ops` are written in the primitives they
differentiate, running a reverse sweep on values that are dual numbers
differentiates the rules again: evaluate with inputs ``Dual(x, v)``, seed the
output adjoint with ``Dual(1, 0)``, and the tangent parts of the input
adjoints are ``H·v`` exactly (forward-over-reverse).

Comparisons (``<``, ``==``...) compare primals and return numpy booleans: the
branch a ``where``, ``max`` or ``select`` takes, and the domain and kink
checks, depend on the value, not on the tangent. ``np.asarray(d)`` is the
primal, so the code that shows a point or an offending value works unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .ops import CMP, OPS, NumpyNS, Op


def primal(x: Any) -> Any:
    return x.primal if isinstance(x, Dual) else x


def tangent(x: Any) -> Any:
    """The tangent of ``x``; a plain number has tangent 0."""
    return x.tangent if isinstance(x, Dual) else 0.0


def _zeros_like(x: Any) -> Any:
    x = primal(x)
    return np.zeros(np.shape(x)) if np.ndim(x) else np.float64(0.0)


def _times(a: Any, p: Any) -> Any:
    """The chain-rule product with the 0·inf = 0 convention (one source: evaluate.zero_times).

    evaluate imports this module, so the first call binds evaluate.zero_times
    in this function's place: no import inside the sweeps' hot loop."""
    global _times
    from .evaluate import zero_times

    _times = zero_times
    return zero_times(a, p)


def plain_times(a: Any, p: Any) -> Any:
    """A plain product: a sweep's first attempt, redone carefully if a result is not finite."""
    return a * p


class Dual:
    """``primal + tangent·ε``. Arithmetic goes through :class:`DualNS`."""

    __slots__ = ("primal", "tangent")

    def __init__(self, primal: Any, tangent: Any = 0.0):
        self.primal = primal
        self.tangent = tangent

    # -- numpy interplay --------------------------------------------------------

    def __array__(self, dtype=None, copy=None):
        """The primal: what shows a point or an offending value."""
        return np.asarray(self.primal, dtype=dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs:
            return NotImplemented
        if ufunc in _ON_PRIMALS:
            return ufunc(*[primal(x) for x in inputs])
        fn = _UFUNC_OPS.get(ufunc)
        if fn is None:
            return NotImplemented
        return fn(*inputs)

    @property
    def ndim(self) -> int:
        return int(np.ndim(self.primal))

    @property
    def shape(self) -> tuple:
        return np.shape(self.primal)

    def __float__(self) -> float:
        return float(self.primal)

    def __bool__(self) -> bool:
        return bool(self.primal)

    def __repr__(self) -> str:
        return f"Dual({self.primal!r}, {self.tangent!r})"

    # -- arithmetic -------------------------------------------------------------

    def __add__(self, o):
        if _has_omega(self) or _has_omega(o):  # an adjoint in a sweep: a sum is linear
            return Dual(self.primal + primal(o), self.tangent + tangent(o))
        return DualNS.add(self, o)

    def __radd__(self, o):
        if _has_omega(self) or _has_omega(o):
            return Dual(primal(o) + self.primal, tangent(o) + self.tangent)
        return DualNS.add(o, self)

    def __sub__(self, o):
        return DualNS.sub(self, o)

    def __rsub__(self, o):
        return DualNS.sub(o, self)

    # A finite non-zero constant factor (a rule's 2.0 * x) of a first-order dual with
    # plain parts is what DualNS.mul gives, to the bit, without its dispatch, while the
    # tangent stays finite: then no 0·inf convention applies (it also turns a -0 to 0).
    def _scaled(self, o: Any, left: bool) -> Dual | None:
        if type(o) is not float or o == 0.0 or not math.isfinite(o) or isinstance(self.primal, Dual):
            return None
        if _has_omega(self):
            return None
        t = self.tangent * o
        if not (np.isfinite(t).all() if type(t) is np.ndarray else math.isfinite(t)):
            return None
        return Dual(o * self.primal if left else self.primal * o, t)

    def __mul__(self, o):
        scaled = self._scaled(o, left=False)
        return DualNS.mul(self, o) if scaled is None else scaled

    def __rmul__(self, o):
        scaled = self._scaled(o, left=True)
        return DualNS.mul(o, self) if scaled is None else scaled

    def __truediv__(self, o):
        return DualNS.div(self, o)

    def __rtruediv__(self, o):
        return DualNS.div(o, self)

    def __neg__(self):
        if _has_omega(self):
            return Dual(-self.primal, -self.tangent)
        return DualNS.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return DualNS.abs(self)

    def __pow__(self, o):
        return _power(self, o)

    def __rpow__(self, o):
        return _power(o, self)

    # -- comparisons: on primals, numpy booleans ----------------------------------

    def __lt__(self, o):
        return np.less(self.primal, primal(o))

    def __le__(self, o):
        return np.less_equal(self.primal, primal(o))

    def __gt__(self, o):
        return np.greater(self.primal, primal(o))

    def __ge__(self, o):
        return np.greater_equal(self.primal, primal(o))

    def __eq__(self, o):  # type: ignore[override]
        return np.equal(self.primal, primal(o))

    def __ne__(self, o):  # type: ignore[override]
        return np.not_equal(self.primal, primal(o))

    __hash__ = None  # type: ignore[assignment]


def _has_omega(x: Any) -> bool:
    """Whether ``x`` is a dual adjoint carrying an infinity (evaluate.Omega parts)."""
    from .evaluate import Omega

    return isinstance(x, Dual) and (type(x.primal) is Omega or type(x.tangent) is Omega)


def dual_times(a: Any, p: Any, times=None) -> Dual:
    """``a · p`` for a chain-rule term when either factor is dual:
    ``(a₀ + a₁ε)(p₀ + p₁ε) = a₀p₀ + (a₀p₁ + a₁p₀)ε``, each product by ``times``
    (0·inf = 0; the sweeps pass evaluate.times, which may give Omega parts)."""
    times = times or _times
    a0, p0 = primal(a), primal(p)
    total = None
    if isinstance(p, Dual):
        total = times(a0, p.tangent)
    if isinstance(a, Dual):
        c = times(a.tangent, p0)
        total = c if total is None else total + c
    return Dual(times(a0, p0), total)


def _lift(op: Op):
    """The dual-number version of ``op``: value by ``op.ev``, tangent by ``op.d``."""
    k, ev, d, name = op.arity, op.ev, op.d, op.name
    assert ev is not None and d is not None

    def fn(*args):
        vals, extra = args[:k], args[k:]
        if not any(isinstance(v, Dual) for v in vals):
            return ev(*vals, *extra)
        ps = [primal(v) for v in vals]
        # Dual numbers whose primals are dual themselves (higher orders) use this
        # namespace again one level down; plain primals use numpy.
        inner = DualNS if any(isinstance(p, Dual) for p in ps) else NumpyNS
        # no errstate here: evaluate and the sweeps run under one np.errstate(all="ignore")
        ans = getattr(inner, name)(*ps, *extra)
        parts = d(inner, ans, *ps, *extra)
        total = None
        for v, part in zip(vals, parts):
            if not isinstance(v, Dual) or (isinstance(part, float) and part == 0.0):
                continue
            c = _times(v.tangent, part)
            total = c if total is None else total + c
        return Dual(ans, _zeros_like(ans) if total is None else total)

    fn.__name__ = name
    fn.__doc__ = f"{name} on dual numbers: value by the registry's ev, tangent by its partials."
    return fn


def _power(a: Any, b: Any) -> Any:
    """``a ** b``: a constant exponent is ``powc``, a dual one ``pow``."""
    if isinstance(b, Dual):
        return DualNS.pow(a, b)
    if np.ndim(b) == 0:
        return DualNS.powc(a, float(b))
    return DualNS.pow(a, b)


class DualNS:
    """The ``xp`` namespace for dual numbers, generated from the registry."""

    pow: Any  # filled in from the registry below, like every primitive
    powc: Any

    @staticmethod
    def select(cond, a, b):
        cond = primal(cond)
        if not isinstance(a, Dual) and not isinstance(b, Dual):
            return np.where(cond, a, b)
        return Dual(np.where(cond, primal(a), primal(b)), np.where(cond, tangent(a), tangent(b)))

    @staticmethod
    def cmp(c, a, b):
        return CMP[c](primal(a), primal(b))


for _name, _o in OPS.items():
    if _o.ev is not None and _o.d is not None:
        setattr(DualNS, _name, staticmethod(_lift(_o)))

# numpy functions applied to a Dual: the registry's ops (np.sin(d) is DualNS.sin(d)),
# and predicates that only look at the value.
_UFUNC_OPS: dict[Any, Any] = {np.power: _power, np.positive: lambda x: x}
for _name, _o in OPS.items():
    if isinstance(_o.ev, np.ufunc) and _o.ev not in _UFUNC_OPS and hasattr(DualNS, _name):
        _UFUNC_OPS[_o.ev] = getattr(DualNS, _name)
_ON_PRIMALS = {
    *CMP.values(),
    np.isfinite,
    np.isnan,
    np.isinf,
    np.signbit,
    np.logical_not,
    np.logical_and,
    np.logical_or,
}

__all__ = ["Dual", "DualNS", "dual_times", "plain_times", "primal", "tangent"]
