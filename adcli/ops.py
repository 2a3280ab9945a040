"""The primitive registry: every operation adcli knows, each declared once.

A stanza gives an op's arity, its numpy evaluation, its local partial
derivatives, how it is displayed, where it is undefined (domain) and where
its derivative needs a stated convention (kink). The value engine, both
derivative engines, the explanations and the checks all read this table.

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
    dshow: tuple[str, ...] | Callable[[Any], tuple[str, ...]] = ()
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
    selects: bool = False  # picks one argument by a comparison: liveness follows the branch taken
    cancels: bool = False  # a sum or difference: can lose its digits (precision warnings)
    underflows: bool = False  # can round a non-zero result to 0 (precision warnings)

    def partial_shows(self, param: Any = None) -> tuple[str, ...]:
        return self.dshow(param) if callable(self.dshow) else self.dshow


OPS: dict[str, Op] = {}


def op(name: str, arity: int, ev, d, show: str, dshow=(), **kw) -> Op:
    o = Op(name, arity, ev, d, show, dshow, **kw)
    OPS[name] = o
    return o


def _sigmoid(x):
    with np.errstate(over="ignore"):
        z = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def _fmt_c(c: float) -> str:
    s = f"{c:.6g}"
    return f"({s})" if c < 0 else s


def _powc_dshow(c: float) -> tuple[str, ...]:
    if c == 2:
        return ("2·{0}",)
    return (f"{_fmt_c(c)}·{{0}}^{_fmt_c(c - 1)}",)


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
op("input", 0, None, None, "{c}", param=True, fn=False, curvature="linear")
op("const", 0, lambda c: c, None, "{c}", param=True, fn=False, curvature="linear", constant=True)

# --- arithmetic -------------------------------------------------------------
op("add", 2, np.add,      lambda xp, ans, a, b: (1.0, 1.0),           "{0} + {1}", ("1", "1"), fn=False, curvature="linear",
   cancels=True)
op("sub", 2, np.subtract, lambda xp, ans, a, b: (1.0, -1.0),          "{0} - {1}", ("1", "-1"), fn=False, curvature="linear",
   cancels=True)
op("mul", 2, np.multiply, lambda xp, ans, a, b: (b, a),               "{0}·{1}", ("{1}", "{0}"), fn=False, curvature="bilinear",
   underflows=True)
op("div", 2, np.divide,   lambda xp, ans, a, b: (1.0 / b, -ans / b),  "{0}/{1}", ("1/{1}", "-{ans}/{1}"),
   dom=(lambda a, b: b == 0, "division by zero: the divisor is {1}"), fn=False, underflows=True)
op("neg", 1, np.negative, lambda xp, ans, x: (-1.0,),                 "-{0}", ("-1",), fn=False, curvature="linear")
op("powc", 1, np.power,   _powc_d,                                    "{0}^{c}", _powc_dshow, param=True, fn=False, underflows=True,
   dom=(_powc_undefined, "{0} cannot be raised to a non-integer or negative power here"),
   kink=(lambda x, c: (0 < c < 1) and (x == 0), "the derivative of x^c (0 < c < 1) at x = 0 is +inf"))
op("pow", 2, np.power,
   lambda xp, ans, a, b: (b * xp.pow(a, b - 1.0), xp.select(a == 0, 0.0, ans * xp.log(a))),
   "{0}^{1}", ("{1}·{0}^({1} - 1)", "{ans}·log({0})"), underflows=True,
   dom=(lambda a, b: (a < 0) | ((a == 0) & (b <= 0)),
        "base {0} with exponent {1}: a power whose exponent depends on the inputs needs a base > 0"),
   kink=(lambda a, b: a == 0, "a^b at a = 0: ∂/∂b taken as 0"))

# --- exponentials and logarithms ---------------------------------------------
op("exp",   1, np.exp,   lambda xp, ans, x: (ans,),                  "exp({0})",   ("exp({0})",), underflows=True)
op("expm1", 1, np.expm1, lambda xp, ans, x: (ans + 1.0,),            "expm1({0})", ("exp({0})",), underflows=True)
op("log",   1, np.log,   lambda xp, ans, x: (1.0 / x,),              "log({0})",   ("1/{0}",),
   dom=(lambda x: x <= 0, "argument is {0}; log needs an argument > 0"))
op("log1p", 1, np.log1p, lambda xp, ans, x: (1.0 / (1.0 + x),),      "log1p({0})", ("1/(1 + {0})",),
   dom=(lambda x: x <= -1, "argument is {0}; log1p needs an argument > -1"))
op("log2",  1, np.log2,  lambda xp, ans, x: (1.0 / (x * LN2),),      "log2({0})",  ("1/({0}·log(2))",),
   dom=(lambda x: x <= 0, "argument is {0}; log2 needs an argument > 0"))
op("log10", 1, np.log10, lambda xp, ans, x: (1.0 / (x * LN10),),     "log10({0})", ("1/({0}·log(10))",),
   dom=(lambda x: x <= 0, "argument is {0}; log10 needs an argument > 0"))
op("logb",  2, lambda x, b: np.log(x) / np.log(b),
   lambda xp, ans, x, b: (1.0 / (x * xp.log(b)), -ans / (b * xp.log(b))),
   "log({0}, {1})", ("1/({0}·log({1}))", "-{ans}/({1}·log({1}))"),
   dom=(lambda x, b: (x <= 0) | (b <= 0) | (b == 1),
        "log({0}, base {1}) needs an argument > 0 and a base > 0 other than 1"), fn=False)
op("sqrt",  1, np.sqrt,  lambda xp, ans, x: (0.5 / ans,),            "sqrt({0})",  ("1/(2·sqrt({0}))",),
   dom=(lambda x: x < 0, "argument is {0}; sqrt needs an argument >= 0"),
   kink=(lambda x: x == 0, "sqrt'(0) = +inf"))
op("cbrt",  1, np.cbrt,  lambda xp, ans, x: (1.0 / (3.0 * ans * ans),), "cbrt({0})", ("1/(3·cbrt({0})^2)",),
   kink=(lambda x: x == 0, "cbrt'(0) = +inf"))

# --- trigonometric -----------------------------------------------------------
op("sin",  1, np.sin,    lambda xp, ans, x: (xp.cos(x),),            "sin({0})",   ("cos({0})",))
op("cos",  1, np.cos,    lambda xp, ans, x: (-xp.sin(x),),           "cos({0})",   ("-sin({0})",))
op("tan",  1, np.tan,    lambda xp, ans, x: (1.0 + ans * ans,),      "tan({0})",   ("1 + tan({0})^2",))
op("asin", 1, np.arcsin, lambda xp, ans, x: (1.0 / xp.sqrt(1.0 - x * x),), "asin({0})", ("1/sqrt(1 - {0}^2)",),
   dom=(lambda x: np.abs(x) > 1, "argument is {0}; asin needs -1 <= argument <= 1"),
   kink=(lambda x: np.abs(x) == 1, "asin'(±1) = +inf"))
op("acos", 1, np.arccos, lambda xp, ans, x: (-1.0 / xp.sqrt(1.0 - x * x),), "acos({0})", ("-1/sqrt(1 - {0}^2)",),
   dom=(lambda x: np.abs(x) > 1, "argument is {0}; acos needs -1 <= argument <= 1"),
   kink=(lambda x: np.abs(x) == 1, "acos'(±1) = -inf"))
op("atan", 1, np.arctan, lambda xp, ans, x: (1.0 / (1.0 + x * x),),  "atan({0})",  ("1/(1 + {0}^2)",))
op("atan2", 2, np.arctan2,
   lambda xp, ans, y, x: (x / (x * x + y * y), -y / (x * x + y * y)),
   "atan2({0}, {1})", ("{1}/({0}^2 + {1}^2)", "-{0}/({0}^2 + {1}^2)"),
   dom=(lambda y, x: (x == 0) & (y == 0), "atan2 is undefined at (0, 0)"))

# --- hyperbolic --------------------------------------------------------------
op("sinh",  1, np.sinh,    lambda xp, ans, x: (xp.cosh(x),),          "sinh({0})",  ("cosh({0})",), underflows=True)
op("cosh",  1, np.cosh,    lambda xp, ans, x: (xp.sinh(x),),          "cosh({0})",  ("sinh({0})",))
op("tanh",  1, np.tanh,    lambda xp, ans, x: (1.0 - ans * ans,),     "tanh({0})",  ("1 - tanh({0})^2",))
op("asinh", 1, np.arcsinh, lambda xp, ans, x: (1.0 / xp.sqrt(x * x + 1.0),), "asinh({0})", ("1/sqrt({0}^2 + 1)",))
op("acosh", 1, np.arccosh, lambda xp, ans, x: (1.0 / xp.sqrt(x * x - 1.0),), "acosh({0})", ("1/sqrt({0}^2 - 1)",),
   dom=(lambda x: x < 1, "argument is {0}; acosh needs an argument >= 1"),
   kink=(lambda x: x == 1, "acosh'(1) = +inf"))
op("atanh", 1, np.arctanh, lambda xp, ans, x: (1.0 / (1.0 - x * x),), "atanh({0})", ("1/(1 - {0}^2)",),
   dom=(lambda x: np.abs(x) >= 1, "argument is {0}; atanh needs -1 < argument < 1"))

# --- piecewise and activation functions --------------------------------------
op("abs",  1, np.abs,  lambda xp, ans, x: (xp.sign(x),),             "abs({0})",  ("sign({0})",), curvature="linear",
   kink=(lambda x: x == 0, "abs is not differentiable at 0: using abs'(0) = 0"))
op("sign", 1, np.sign, lambda xp, ans, x: (0.0,),                    "sign({0})", ("0",), curvature="linear",
   kink=(lambda x: x == 0, "sign jumps at 0: using sign'(0) = 0"))
op("relu", 1, lambda x: np.maximum(x, 0.0),
   lambda xp, ans, x: (xp.select(x > 0, 1.0, 0.0),),                 "relu({0})", ("({0} > 0)",), curvature="linear",
   kink=(lambda x: x == 0, "relu is not differentiable at 0: using relu'(0) = 0"))
op("sigmoid",  1, _sigmoid, lambda xp, ans, x: (ans * (1.0 - ans),), "sigmoid({0})",  ("sigmoid({0})·(1 - sigmoid({0}))",))
op("softplus", 1, lambda x: np.logaddexp(0.0, x),
   lambda xp, ans, x: (xp.sigmoid(x),),                              "softplus({0})", ("sigmoid({0})",))
op("hypot", 2, np.hypot,
   lambda xp, ans, a, b: (xp.select(ans == 0, 0.0, a / ans), xp.select(ans == 0, 0.0, b / ans)),
   "hypot({0}, {1})", ("{0}/{ans}", "{1}/{ans}"),
   kink=(lambda a, b: (a == 0) & (b == 0), "hypot is not differentiable at (0, 0): using 0 for both partials"))
op("max", 2, np.maximum,
   lambda xp, ans, a, b: (xp.select(a > b, 1.0, xp.select(a == b, 0.5, 0.0)),
                          xp.select(b > a, 1.0, xp.select(a == b, 0.5, 0.0))),
   "max({0}, {1})", ("({0} > {1})", "({1} > {0})"), curvature="linear",
   kink=(lambda a, b: a == b, "max at a tie: each argument gets half the derivative"))
op("min", 2, np.minimum,
   lambda xp, ans, a, b: (xp.select(a < b, 1.0, xp.select(a == b, 0.5, 0.0)),
                          xp.select(b < a, 1.0, xp.select(a == b, 0.5, 0.0))),
   "min({0}, {1})", ("({0} < {1})", "({1} < {0})"), curvature="linear",
   kink=(lambda a, b: a == b, "min at a tie: each argument gets half the derivative"))
op("where", 4, lambda lhs, rhs, a, b, c: np.where(CMP[c](lhs, rhs), a, b),
   lambda xp, ans, lhs, rhs, a, b, c: (0.0, 0.0, xp.select(xp.cmp(c, lhs, rhs), 1.0, 0.0),
                                       xp.select(xp.cmp(c, lhs, rhs), 0.0, 1.0)),
   "where({0} {c} {1}, {2}, {3})", ("0", "0", "({0} {c} {1})", "not ({0} {c} {1})"), param=True, curvature="linear", selects=True,
   kink=(lambda lhs, rhs, a, b, c: lhs == rhs, "where(...) at its switch: the selected branch's derivative is used"))
# fmt: on

# Names the language accepts as functions, with the arities they accept.
FUNCTIONS: dict[str, tuple[int, ...]] = {name: (o.arity,) for name, o in OPS.items() if o.fn}
FUNCTIONS["log"] = (1, 2)  # log(x, base) builds a logb node
FUNCTIONS["where"] = (3,)  # where(lhs CMP rhs, a, b) builds a 4-argument node
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}


class NumpyNS:
    """The ``xp`` namespace for plain numpy values: each primitive's own ``ev``."""

    select = staticmethod(np.where)

    @staticmethod
    def cmp(c, a, b):
        return CMP[c](a, b)


for _name, _o in OPS.items():
    if _o.ev is not None:
        setattr(NumpyNS, _name, staticmethod(_o.ev))
