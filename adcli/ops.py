"""The primitive registry: every operation adcli knows, each declared once.

A stanza gives an op's arity, its numpy evaluation, its local partial
derivatives, how it is displayed, where it is undefined (domain) and where
its derivative needs a stated convention (kink). The value engine, both
derivative engines, the explanations and the checks all read this table;
the partials are shown (``--steps``), printed (``adcli diff``) and exported
by running the same rules on symbols (:mod:`adcli.symbolic`), so there is no
second, hand-written display of a derivative to drift from the rule.

Partials are written against a namespace ``xp`` that offers the primitives by
name (``xp.cos``, ``xp.sqrt``...) plus ``xp.select(cond, a, b)`` plus ordinary arithmetic, and
they receive the op's own output ``ans`` so that ``exp``, ``sqrt``, ``tanh``
reuse it. Because the rules are written in the operations they differentiate,
evaluating them on dual numbers differentiates them again (Hessians).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

LN2 = math.log(2.0)
LN10 = math.log(10.0)


@dataclass(frozen=True)
class Op:
    name: str
    arity: int
    ev: Callable[..., Any]  # numpy evaluation: ev(*args[, param])
    d: Callable[..., tuple] | None  # partials: d(xp, ans, *args[, param])
    show: str  # definition template: "{0} + {1}", "sin({0})"; {c} is the param
    # domain: (mask of points where undefined, message with {0}, {1} = arg values)
    dom: tuple[Callable[..., Any], str] | None = None
    # kink: (mask of points needing a convention, the convention stated)
    kink: tuple[Callable[..., Any], str] | None = None
    param: bool = False  # takes a constant parameter (const value, exponent, comparison)
    fn: bool = True  # callable by name in the language as name(args)
    # how second derivatives couple the arguments (Hessian sparsity): "linear" (none: sums,
    # selections, piecewise-linear ops), "bilinear" (one argument's inputs with the other's:
    # a product), "full" (all with all; the safe default for a new op)
    curvature: str = "full"
    constant: bool = False  # a constant leaf: no derivative flows into it
    variable: bool = False  # an input leaf: the point gives its value (its param is its name)
    selects: bool = False  # picks one argument by a comparison: liveness follows the branch taken
    # a sum (+1) or difference (-1) of two arguments, the sign the second one enters with:
    # it can lose its digits, or one argument entirely (precision warnings)
    cancels: float = 0.0
    underflows: bool = False  # can round a non-zero result to 0 (precision warnings)
    # a partial is exactly 0 over a region (a branch not taken, a flat piece): exported code
    # multiplies carefully there, so a 0 adjoint meeting an infinite partial stays 0
    zeroes: bool = False
    steep: bool = False  # a partial is infinite at a point of the domain (sqrt'(0), asin'(1))
    # the op that takes over when the last argument is a constant, with that constant as its
    # param (pow -> powc: x^3 has one partial, defined for x < 0 too)
    const_last: str | None = None
    # an inner node of a nest of its own kind (hypot(a, b, c) = hypot(hypot(a, b), c)) on its
    # kink needs no convention: its value there is 0, and the enclosing node's partial towards
    # a 0 is 0 off its own kink (on it, the enclosing node states its own)
    kink_nests: bool = False


OPS: dict[str, Op] = {}


def op(name: str, arity: int, ev, d, show: str, **kw) -> Op:
    o = Op(name, arity, ev, d, show, **kw)
    OPS[name] = o
    return o


def _special(name: str) -> Callable[..., Any]:
    """``scipy.special.<name>``, imported on the first call: only an expression
    that uses a special function pays for importing scipy."""
    fn: Any = None

    def ev(*args):
        nonlocal fn
        if fn is None:
            from scipy import special

            fn = getattr(special, name)
        return fn(*args)

    ev.__name__ = name
    return ev


_erf, _erfc, _ndtr, _gamma, _gammaln, _psi = (_special(n) for n in ("erf", "erfc", "ndtr", "gamma", "gammaln", "psi"))
_polygamma, _spherical_jn = _special("polygamma"), _special("spherical_jn")
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
SQRT_2PI = math.sqrt(2.0 * math.pi)


def _scalar(r):
    """A 0-d result as a numpy scalar, like the ufuncs return."""
    return r[()] if isinstance(r, np.ndarray) else r


_FLOATS = (float, np.float64)


def _select(cond, a, b):
    """np.where(cond, a, b); at one point (a numpy bool and two floats) the branch
    itself, without np.where's cost (a where(...) nested 10^5 deep calls it 10^5
    times, and its partials twice as often). As np.where gives it: a 0-d float64
    array, not a numpy scalar, which the reverse sweep would take for a structural
    zero (isinstance(p, float)) and drop from --steps."""
    if cond.__class__ is np.bool_ and a.__class__ in _FLOATS and b.__class__ in _FLOATS:
        return np.array(a if cond else b)
    return np.where(cond, a, b)


def _pole(x):
    """0, -1, -2, ...: the poles of gamma, digamma and polygamma (where lgamma is +inf)."""
    x = np.asarray(x)
    return (x <= 0) & (np.floor(x) == x)


def _on_multiple(f):
    """Where ``f(x)`` (sin or cos) is 0 to double precision: ``x`` is the double
    nearest a zero of ``f`` (a multiple of π for sin, an odd one of π/2 for cos)."""

    def bad(x):
        x = np.asarray(x)
        return np.abs(f(x)) < np.spacing(np.abs(x))

    return bad


def _sinc(x):
    with np.errstate(all="ignore"):
        return _scalar(np.where(x == 0, 1.0, np.sin(x) / np.where(x == 0, 1.0, x)))


def _spherical_j1(x):
    """j1(x), by its series x/3 - x^3/30 below |x| = 1e-5 (exact to rounding there):
    scipy's spherical_jn(1, x) is 0 below about 1e-300 and NaN at subnormal x."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-5
    with np.errstate(all="ignore"):
        r = np.where(small, x / 3.0 - x * x * x / 30.0, _spherical_jn(1, np.where(small, 1.0, x)))
    return _scalar(r)


def _clip_d(xp, ans, x, lo, hi):
    """clip(x, lo, hi) = min(max(x, lo), hi), with max's and min's rule at a tie
    (each side gets half): the three partials always sum to 1."""
    m = xp.select(x > lo, x, lo)
    dm_dx = xp.select(x > lo, 1.0, xp.select(x == lo, 0.5, 0.0))
    dc_dm = xp.select(m < hi, 1.0, xp.select(m == hi, 0.5, 0.0))
    return (dc_dm * dm_dx, dc_dm * (1.0 - dm_dx), 1.0 - dc_dm)


def _sigmoid(x):
    with np.errstate(over="ignore"):
        z = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def _powc_d(xp, ans, x, c):
    if c == 0:
        return (0.0,)
    if c == 1:
        return (1.0,)
    if c == 2:
        return (2.0 * x,)
    return (c * xp.powc(x, c - 1),)


def _is_int(c) -> bool:
    return float(c).is_integer()


def _powc_undefined(x, c):
    """x^c is defined everywhere for a whole c >= 0 (x^2, x^3): skip the array passes."""
    if c >= 0 and _is_int(c):
        return False
    if c >= 0:
        return x < 0
    return (x <= 0) if not _is_int(c) else (x == 0)


# j1'(x) = sum_k (-1)^k (2k+1)(2k+2) x^(2k) / (2k+3)!  (j1 = sum_k (-1)^k (2k+2) x^(2k+1) / (2k+3)!).
# Near 0 the closed form sinc(x) - 2·j1(x)/x keeps its value but not its derivative:
# (j1'·x - j1)/x² cancels, and j1'' at x = 1e-8 came out 1.9e-8 instead of -2e-9 (1e-12
# relative error still at x = 1). Below |x| = 1.5 the series through x^26 is used (the next
# term is < 1e-26); its derivatives are exact polynomials.
_J1_PRIME_SERIES = tuple((-1) ** k * (2 * k + 1) * (2 * k + 2) / math.factorial(2 * k + 3) for k in range(14))


def _spherical_j1_d(xp, ans, x):
    z = x * x
    series = _J1_PRIME_SERIES[-1]
    for c in _J1_PRIME_SERIES[-2::-1]:
        series = c + z * series
    return (xp.select(xp.abs(x) < 1.5, series, xp.sinc(x) - 2.0 * ans / x),)


CMP: dict[str, Callable[[Any, Any], Any]] = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}

# fmt: off
# --- leaves -----------------------------------------------------------------
op("input", 0, None, None, "{c}", param=True, fn=False, curvature="linear", variable=True)
op("const", 0, lambda c: c, None, "{c}", param=True, fn=False, curvature="linear", constant=True)

# --- arithmetic -------------------------------------------------------------
op("add", 2, np.add,      lambda xp, ans, a, b: (1.0, 1.0),           "{0} + {1}", fn=False, curvature="linear",
   cancels=1.0)
op("sub", 2, np.subtract, lambda xp, ans, a, b: (1.0, -1.0),          "{0} - {1}", fn=False, curvature="linear",
   cancels=-1.0)
op("mul", 2, np.multiply, lambda xp, ans, a, b: (b, a),               "{0}·{1}", fn=False, curvature="bilinear",
   underflows=True)
op("div", 2, np.divide,   lambda xp, ans, a, b: (1.0 / b, -ans / b),  "{0}/{1}",
   dom=(lambda a, b: b == 0, "division by zero: the divisor is {1}"), fn=False, underflows=True)
op("neg", 1, np.negative, lambda xp, ans, x: (-1.0,),                 "-{0}", fn=False, curvature="linear")
op("powc", 1, np.power,   _powc_d,                                    "{0}^{c}", param=True, fn=False, underflows=True,
   dom=(_powc_undefined, "{0} cannot be raised to a non-integer or negative power here"),
   kink=(lambda x, c: (0 < c < 1) and (x == 0), "the derivative of x^c (0 < c < 1) at x = 0 is +inf"), steep=True)
op("pow", 2, np.power,
   lambda xp, ans, a, b: (b * xp.pow(a, b - 1.0), xp.select(a == 0, 0.0, ans * xp.log(a))),
   "{0}^{1}", underflows=True, const_last="powc",
   dom=(lambda a, b: (a < 0) | ((a == 0) & (b <= 0)),
        "base {0} with exponent {1}: a power whose exponent depends on the inputs needs a base > 0"),
   kink=(lambda a, b: a == 0, "a^b at a = 0: ∂/∂b taken as 0"), zeroes=True, steep=True)

# --- exponentials and logarithms ---------------------------------------------
op("exp",   1, np.exp,   lambda xp, ans, x: (ans,),                  "exp({0})", underflows=True)
op("expm1", 1, np.expm1, lambda xp, ans, x: (ans + 1.0,),            "expm1({0})", underflows=True)
op("log",   1, np.log,   lambda xp, ans, x: (1.0 / x,),              "log({0})",
   dom=(lambda x: x <= 0, "argument is {0}; log needs an argument > 0"))
op("log1p", 1, np.log1p, lambda xp, ans, x: (1.0 / (1.0 + x),),      "log1p({0})",
   dom=(lambda x: x <= -1, "argument is {0}; log1p needs an argument > -1"))
op("log2",  1, np.log2,  lambda xp, ans, x: (1.0 / (x * LN2),),      "log2({0})",
   dom=(lambda x: x <= 0, "argument is {0}; log2 needs an argument > 0"))
op("log10", 1, np.log10, lambda xp, ans, x: (1.0 / (x * LN10),),     "log10({0})",
   dom=(lambda x: x <= 0, "argument is {0}; log10 needs an argument > 0"))
op("logb",  2, lambda x, b: np.log(x) / np.log(b),
   lambda xp, ans, x, b: (1.0 / (x * xp.log(b)), -ans / (b * xp.log(b))),
   "log({0}, {1})",
   dom=(lambda x, b: (x <= 0) | (b <= 0) | (b == 1),
        "log({0}, base {1}) needs an argument > 0 and a base > 0 other than 1"), fn=False)
op("sqrt",  1, np.sqrt,  lambda xp, ans, x: (0.5 / ans,),            "sqrt({0})",
   dom=(lambda x: x < 0, "argument is {0}; sqrt needs an argument >= 0"),
   kink=(lambda x: x == 0, "sqrt'(0) = +inf"), steep=True)
op("cbrt",  1, np.cbrt,  lambda xp, ans, x: (1.0 / (3.0 * ans * ans),), "cbrt({0})",
   kink=(lambda x: x == 0, "cbrt'(0) = +inf"), steep=True)

# --- trigonometric -----------------------------------------------------------
op("sin",  1, np.sin,    lambda xp, ans, x: (xp.cos(x),),            "sin({0})")
op("cos",  1, np.cos,    lambda xp, ans, x: (-xp.sin(x),),           "cos({0})")
op("tan",  1, np.tan,    lambda xp, ans, x: (1.0 + ans * ans,),      "tan({0})")
op("asin", 1, np.arcsin, lambda xp, ans, x: (1.0 / xp.sqrt(1.0 - x * x),), "asin({0})",
   dom=(lambda x: np.abs(x) > 1, "argument is {0}; asin needs -1 <= argument <= 1"),
   kink=(lambda x: np.abs(x) == 1, "asin'(±1) = +inf"), steep=True)
op("acos", 1, np.arccos, lambda xp, ans, x: (-1.0 / xp.sqrt(1.0 - x * x),), "acos({0})",
   dom=(lambda x: np.abs(x) > 1, "argument is {0}; acos needs -1 <= argument <= 1"),
   kink=(lambda x: np.abs(x) == 1, "acos'(±1) = -inf"), steep=True)
op("atan", 1, np.arctan, lambda xp, ans, x: (1.0 / (1.0 + x * x),),  "atan({0})")
op("atan2", 2, np.arctan2,
   lambda xp, ans, y, x: (x / (x * x + y * y), -y / (x * x + y * y)),
   "atan2({0}, {1})",
   dom=(lambda y, x: (x == 0) & (y == 0), "atan2 is undefined at (0, 0)"))

# --- hyperbolic --------------------------------------------------------------
op("sinh",  1, np.sinh,    lambda xp, ans, x: (xp.cosh(x),),          "sinh({0})", underflows=True)
op("cosh",  1, np.cosh,    lambda xp, ans, x: (xp.sinh(x),),          "cosh({0})")
op("tanh",  1, np.tanh,    lambda xp, ans, x: (1.0 - ans * ans,),     "tanh({0})")
op("asinh", 1, np.arcsinh, lambda xp, ans, x: (1.0 / xp.sqrt(x * x + 1.0),), "asinh({0})")
op("acosh", 1, np.arccosh, lambda xp, ans, x: (1.0 / xp.sqrt(x * x - 1.0),), "acosh({0})",
   dom=(lambda x: x < 1, "argument is {0}; acosh needs an argument >= 1"),
   kink=(lambda x: x == 1, "acosh'(1) = +inf"), steep=True)
op("atanh", 1, np.arctanh, lambda xp, ans, x: (1.0 / (1.0 - x * x),), "atanh({0})",
   dom=(lambda x: np.abs(x) >= 1, "argument is {0}; atanh needs -1 < argument < 1"), steep=True)

# --- piecewise and activation functions --------------------------------------
op("abs",  1, np.abs,  lambda xp, ans, x: (xp.sign(x),),             "abs({0})", curvature="linear",
   kink=(lambda x: x == 0, "abs is not differentiable at 0: using abs'(0) = 0"), zeroes=True)
op("sign", 1, np.sign, lambda xp, ans, x: (0.0,),                    "sign({0})", curvature="linear",
   kink=(lambda x: x == 0, "sign jumps at 0: using sign'(0) = 0"), zeroes=True)
op("relu", 1, lambda x: np.maximum(x, 0.0),
   lambda xp, ans, x: (xp.select(x > 0, 1.0, 0.0),),                 "relu({0})", curvature="linear",
   kink=(lambda x: x == 0, "relu is not differentiable at 0: using relu'(0) = 0"), zeroes=True)
op("sigmoid",  1, _sigmoid, lambda xp, ans, x: (ans * xp.sigmoid(-x),), "sigmoid({0})")  # not 1 - ans: exact far left
op("softplus", 1, lambda x: np.logaddexp(0.0, x),
   lambda xp, ans, x: (xp.sigmoid(x),),                              "softplus({0})")
op("hypot", 2, np.hypot,
   lambda xp, ans, a, b: (xp.select(ans == 0, 0.0, a / ans), xp.select(ans == 0, 0.0, b / ans)),
   "hypot({0}, {1})",
   kink=(lambda a, b: (a == 0) & (b == 0), "hypot is not differentiable at (0, 0): using 0 for both partials"), zeroes=True,
   kink_nests=True)
op("max", 2, np.maximum,
   lambda xp, ans, a, b: (xp.select(a > b, 1.0, xp.select(a == b, 0.5, 0.0)),
                          xp.select(b > a, 1.0, xp.select(a == b, 0.5, 0.0))),
   "max({0}, {1})", curvature="linear",
   kink=(lambda a, b: a == b, "max at a tie: each argument gets half the derivative"), zeroes=True)
op("min", 2, np.minimum,
   lambda xp, ans, a, b: (xp.select(a < b, 1.0, xp.select(a == b, 0.5, 0.0)),
                          xp.select(b < a, 1.0, xp.select(a == b, 0.5, 0.0))),
   "min({0}, {1})", curvature="linear",
   kink=(lambda a, b: a == b, "min at a tie: each argument gets half the derivative"), zeroes=True)
op("where", 4, lambda lhs, rhs, a, b, c: _select(CMP[c](lhs, rhs), a, b),
   lambda xp, ans, lhs, rhs, a, b, c: (0.0, 0.0, xp.select(xp.cmp(c, lhs, rhs), 1.0, 0.0),
                                       xp.select(xp.cmp(c, lhs, rhs), 0.0, 1.0)),
   "where({0} {c} {1}, {2}, {3})", param=True, curvature="linear", selects=True,
   kink=(lambda lhs, rhs, a, b, c: lhs == rhs, "where(...) at its switch: the selected branch's derivative is used"), zeroes=True)
op("logsumexp", 2, np.logaddexp,
   lambda xp, ans, a, b: (xp.sigmoid(a - b), xp.sigmoid(b - a)),   "logsumexp({0}, {1})")
op("clip", 3, np.clip, _clip_d,                                    "clip({0}, {1}, {2})",
   dom=(lambda x, lo, hi: lo > hi, "clip needs lo <= hi, but lo is {1} and hi is {2}"),
   kink=(lambda x, lo, hi: (x == lo) | (x == hi), "clip at a bound: x and the bound each get half the derivative"), zeroes=True)

# --- steps: derivative 0 between the jumps ---------------------------------------
op("floor", 1, np.floor, lambda xp, ans, x: (0.0,),                "floor({0})",
   kink=(lambda x: np.floor(np.asarray(x)) == x, "floor jumps at whole numbers: using floor' = 0 there"), zeroes=True)
op("ceil",  1, np.ceil,  lambda xp, ans, x: (0.0,),                "ceil({0})",
   kink=(lambda x: np.floor(np.asarray(x)) == x, "ceil jumps at whole numbers: using ceil' = 0 there"), zeroes=True)
op("round", 1, np.rint,  lambda xp, ans, x: (0.0,),                "round({0})",
   kink=(lambda x: np.asarray(x) - np.floor(np.asarray(x)) == 0.5,
         "round jumps halfway between whole numbers (it sends halves to even): using round' = 0 there"), zeroes=True)
op("heaviside", 1, lambda x: np.heaviside(x, 0.5), lambda xp, ans, x: (0.0,), "heaviside({0})",
   kink=(lambda x: x == 0, "heaviside jumps at 0 (heaviside(0) = 1/2): using heaviside'(0) = 0"), zeroes=True)
# a - b·floor(a/b), with the sign of b; the quotient in ∂/∂b is the one np.mod used
op("mod", 2, np.mod, lambda xp, ans, a, b: (1.0, -xp.round((a - ans) / b)), "mod({0}, {1})",
   dom=(lambda a, b: b == 0, "the divisor is {1}; mod needs a divisor other than 0"),
   kink=(lambda a, b: np.mod(np.asarray(a), np.asarray(b)) == 0,
         "mod(a, b) jumps where a/b is whole: using ∂/∂a = 1 and ∂/∂b = -a/b there"), zeroes=True)

# --- more trigonometric ----------------------------------------------------------
op("cot", 1, lambda x: np.cos(x) / np.sin(x), lambda xp, ans, x: (-(1.0 + ans * ans),), "cot({0})",
   dom=(_on_multiple(np.sin), "argument is {0}, a multiple of π to double precision: cot is undefined there"))
op("sec", 1, lambda x: 1.0 / np.cos(x), lambda xp, ans, x: (ans * xp.tan(x),), "sec({0})",
   dom=(_on_multiple(np.cos), "argument is {0}, an odd multiple of π/2 to double precision: sec is undefined there"))
op("csc", 1, lambda x: 1.0 / np.sin(x), lambda xp, ans, x: (-ans * xp.cot(x),), "csc({0})",
   dom=(_on_multiple(np.sin), "argument is {0}, a multiple of π to double precision: csc is undefined there"))
# sin(x)/x, unnormalised, sinc(0) = 1; sinc' = -j1 (spherical Bessel), accurate near 0 where
# (cos(x) - sinc(x))/x cancels; j1 is public so that diff's formulas can be typed back
op("sinc", 1, _sinc, lambda xp, ans, x: (-xp.spherical_j1(x),), "sinc({0})")
op("spherical_j1", 1, _spherical_j1, _spherical_j1_d, "spherical_j1({0})")

# --- special functions (scipy.special, imported on first use) ------------------------
op("erf",     1, _erf,  lambda xp, ans, x: (TWO_OVER_SQRT_PI * xp.exp(-x * x),),  "erf({0})")
op("erfc",    1, _erfc, lambda xp, ans, x: (-TWO_OVER_SQRT_PI * xp.exp(-x * x),), "erfc({0})")
op("normcdf", 1, _ndtr, lambda xp, ans, x: (xp.normpdf(x),),                      "normcdf({0})")
op("normpdf", 1, lambda x: np.exp(-0.5 * x * x) / SQRT_2PI, lambda xp, ans, x: (-x * ans,), "normpdf({0})")
op("gamma",   1, _gamma, lambda xp, ans, x: (ans * xp.digamma(x),),               "gamma({0})",
   dom=(_pole, "argument is {0}; gamma has poles at 0, -1, -2, ..."))
op("lgamma",  1, _gammaln, lambda xp, ans, x: (xp.digamma(x),),                   "lgamma({0})",
   dom=(_pole, "argument is {0}; lgamma (log|gamma|) is +inf at 0, -1, -2, ..."))
op("digamma", 1, _psi, lambda xp, ans, x: (xp.polygamma(x, 1.0),),                "digamma({0})",
   dom=(_pole, "argument is {0}; digamma has poles at 0, -1, -2, ..."))
# polygamma(n, x): the n-th derivative of digamma; n a whole constant >= 0 (the parameter)
op("polygamma", 1, lambda x, n: _polygamma(n, x), lambda xp, ans, x, n: (xp.polygamma(x, n + 1.0),),
   "polygamma({c}, {0})", param=True,
   dom=(lambda x, n: _pole(x), "argument is {0}; polygamma has poles at 0, -1, -2, ..."))
# fmt: on

# Names the language accepts as functions, with the arities they accept.
FUNCTIONS: dict[str, tuple[int, ...]] = {name: (o.arity,) for name, o in OPS.items() if o.fn}
FUNCTIONS["log"] = (1, 2)  # log(x, base) builds a logb node
FUNCTIONS["where"] = (3,)  # where(lhs CMP rhs, a, b) builds a 4-argument node
FUNCTIONS["polygamma"] = (2,)  # polygamma(n, x): n is the node's parameter
# Any number of arguments (at least one), folded into a balanced tree of the
# binary op; hypot(a) is abs(a).
VARIADIC: tuple[str, ...] = ("max", "min", "hypot", "logsumexp")
for _name in VARIADIC:
    FUNCTIONS[_name] = (1, 2)
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

# The language's precedence levels: the parser folds operator chains by them,
# the printers (adcli/formula.py) parenthesise by them.
SUM, PRODUCT, SIGNED, POWER, ATOM = 1, 2, 3, 4, 5
# Infix operators, by the grammar's terminal: (primitive, level, right-associative).
INFIX: dict[str, tuple[str, int, bool]] = {
    "PLUS": ("add", SUM, False),
    "MINUS": ("sub", SUM, False),
    "STAR": ("mul", PRODUCT, False),
    "SLASH": ("div", PRODUCT, False),
    "POW": ("pow", POWER, True),
}


class NumpyNS:
    """The ``xp`` namespace for plain numpy values: each primitive's own ``ev``."""

    select = staticmethod(_select)

    @staticmethod
    def cmp(c, a, b):
        return CMP[c](a, b)


for _name, _o in OPS.items():
    if _o.ev is not None:
        setattr(NumpyNS, _name, staticmethod(_o.ev))
