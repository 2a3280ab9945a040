"""Property tests: adcli's values and derivatives against independent oracles.

Random expression trees over every primitive of the registry are built three
ways at once, from the same draw: as adcli source text, as a SymPy
expression, and as an mpmath value at the point (used to keep every argument
inside its domain and away from kinks while building). Nothing here uses
adcli to compute a reference: SymPy differentiates symbolically and
evaluates at 40 digits; adcli only produces the numbers under test.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from adcli import core
from adcli.derivatives import run_hessian
from adcli.dual import Dual, DualNS
from adcli.ops import OPS, NumpyNS
from adcli.parse import parse

mp = mpmath.mp
mp.dps = 40

SYMS = {n: sp.Symbol(n, real=True) for n in ("x", "y", "z")}
HALF = sp.Rational(1, 2)

# -- the three-way expression algebra -------------------------------------------------


@dataclass(frozen=True)
class T:
    text: str  # adcli syntax
    sym: sp.Expr  # the same function in SymPy
    val: mpmath.mpf  # its value at the point (high precision)
    vars: frozenset  # free names


def const(q: Fraction) -> T:
    s = str(float(q))
    text = f"({s})" if q < 0 else s
    return T(text, sp.Rational(q.numerator, q.denominator), mp.mpf(q.numerator) / q.denominator, frozenset())


PI = T("pi", sp.pi, +mp.pi, frozenset())
E = T("e", sp.E, +mp.e, frozenset())


def var(name: str, point: dict) -> T:
    return T(name, SYMS[name], mp.mpf(point[name]), frozenset({name}))


def _vars(*ts):
    return frozenset().union(*(t.vars for t in ts))


def add(a, b):
    return T(f"({a.text} + {b.text})", a.sym + b.sym, a.val + b.val, _vars(a, b))


def sub(a, b):
    return T(f"({a.text} - {b.text})", a.sym - b.sym, a.val - b.val, _vars(a, b))


def mul(a, b):
    return T(f"({a.text} * {b.text})", a.sym * b.sym, a.val * b.val, _vars(a, b))


def div(a, b):
    return T(f"({a.text} / {b.text})", a.sym / b.sym, a.val / b.val, _vars(a, b))


def neg(a):
    return T(f"(-{a.text})", -a.sym, -a.val, a.vars)


def plus(a):
    return T(f"(+{a.text})", a.sym, a.val, a.vars)


def powc(a, c: Fraction, style: int = 0):
    cs = str(float(c)) if c.denominator != 1 else str(c.numerator)
    if style == 0:
        text = f"({a.text}^{cs})"  # 2^-1 style: a signed exponent needs no parentheses
    elif style == 1:
        text = f"({a.text}**({cs}))"
    else:
        text = f"pow({a.text}, {cs})"
    cq = sp.Rational(c.numerator, c.denominator)
    cm = mp.mpf(c.numerator) / c.denominator
    return T(text, a.sym**cq, a.val**cm, a.vars)


def powv(a, b, style: int = 0):
    text = f"({a.text} ^ {b.text})" if style == 0 else f"pow({a.text}, {b.text})"
    return T(text, a.sym**b.sym, a.val**b.val, _vars(a, b))


def _cbrt_m(v):
    return mpmath.sign(v) * abs(v) ** (mp.mpf(1) / 3)


# name -> (SymPy function, mpmath function)
UNARY = {
    "sin": (sp.sin, mpmath.sin),
    "cos": (sp.cos, mpmath.cos),
    "tan": (sp.tan, mpmath.tan),
    "asin": (sp.asin, mpmath.asin),
    "acos": (sp.acos, mpmath.acos),
    "atan": (sp.atan, mpmath.atan),
    "sinh": (sp.sinh, mpmath.sinh),
    "cosh": (sp.cosh, mpmath.cosh),
    "tanh": (sp.tanh, mpmath.tanh),
    "asinh": (sp.asinh, mpmath.asinh),
    "acosh": (sp.acosh, mpmath.acosh),
    "atanh": (sp.atanh, mpmath.atanh),
    "exp": (sp.exp, mpmath.exp),
    "expm1": (lambda a: sp.exp(a) - 1, mpmath.expm1),
    "log": (sp.log, mpmath.log),
    "log1p": (lambda a: sp.log(1 + a), mpmath.log1p),
    "log2": (lambda a: sp.log(a) / sp.log(2), lambda v: mpmath.log(v, 2)),
    "log10": (lambda a: sp.log(a) / sp.log(10), mpmath.log10),
    "sqrt": (sp.sqrt, mpmath.sqrt),
    # Piecewise functions: the generator keeps their arguments at least 0.1 away
    # from the switch, where each equals one smooth piece in a neighbourhood of
    # the point; SymPy gets that piece (see PIECES).
    "cbrt": (None, _cbrt_m),
    "abs": (None, abs),
    "sign": (None, mpmath.sign),
    "relu": (None, lambda v: max(v, mp.mpf(0))),
    "sigmoid": (lambda a: 1 / (1 + sp.exp(-a)), lambda v: 1 / (1 + mpmath.exp(-v))),
    "softplus": (lambda a: sp.log(1 + sp.exp(a)), lambda v: mpmath.log(1 + mpmath.exp(v))),
    "erf": (sp.erf, mpmath.erf),
    "erfc": (sp.erfc, mpmath.erfc),
    "normcdf": (lambda a: (1 + sp.erf(a / sp.sqrt(2))) / 2, mpmath.ncdf),
    "normpdf": (lambda a: sp.exp(-(a**2) / 2) / sp.sqrt(2 * sp.pi), mpmath.npdf),
    "gamma": (sp.gamma, mpmath.gamma),
    "lgamma": (lambda a: sp.log(sp.gamma(a) ** 2) / 2, lambda v: mpmath.log(abs(mpmath.gamma(v)))),
    "digamma": (sp.digamma, mpmath.digamma),
    "sinc": (sp.sinc, mpmath.sinc),
    "spherical_j1": (lambda a: (sp.sin(a) / a - sp.cos(a)) / a, lambda v: (mpmath.sin(v) / v - mpmath.cos(v)) / v),
    "cot": (sp.cot, mpmath.cot),
    "sec": (sp.sec, mpmath.sec),
    "csc": (sp.csc, mpmath.csc),
    "floor": (None, mpmath.floor),
    "ceil": (None, mpmath.ceil),
    "round": (None, lambda v: mpmath.nint(v)),
    "heaviside": (None, lambda v: mp.mpf(1) if v > 0 else mp.mpf(0)),
}

BINARY = {
    "atan2": (sp.atan2, mpmath.atan2),
    "hypot": (lambda a, b: sp.sqrt(a**2 + b**2), mpmath.hypot),
    "max": (None, max),
    "min": (None, min),
    "mod": (None, lambda a, b: a - b * mpmath.floor(a / b)),
    "logsumexp": (lambda a, b: sp.log(sp.exp(a) + sp.exp(b)), lambda a, b: mpmath.log(mpmath.exp(a) + mpmath.exp(b))),
}
# any number of arguments: the SymPy function of a list, the mpmath one of values
NARY = {
    "max": (None, lambda *v: max(v)),
    "min": (None, lambda *v: min(v)),
    "hypot": (lambda *a: sp.sqrt(sum(x**2 for x in a)), lambda *v: mpmath.sqrt(sum(x**2 for x in v))),
    "logsumexp": (lambda *a: sp.log(sum(sp.exp(x) for x in a)), lambda *v: mpmath.log(sum(mpmath.exp(x) for x in v))),
    "clip": (None, lambda x, lo, hi: min(max(x, lo), hi)),
}

# The smooth piece a piecewise function equals near the point, from the argument
# values there (args are (sympy expr, value) pairs).
PIECES = {
    "cbrt": lambda a: a[0] ** sp.Rational(1, 3) if a[1] > 0 else -((-a[0]) ** sp.Rational(1, 3)),
    "abs": lambda a: a[0] if a[1] > 0 else -a[0],
    "sign": lambda a: sp.Integer(1) if a[1] > 0 else sp.Integer(-1),
    "relu": lambda a: a[0] if a[1] > 0 else sp.Integer(0),
    "max": lambda *a: max(a, key=lambda p: p[1])[0],
    "min": lambda *a: min(a, key=lambda p: p[1])[0],
    "floor": lambda a: sp.Integer(int(mpmath.floor(a[1]))),
    "ceil": lambda a: sp.Integer(int(mpmath.ceil(a[1]))),
    "round": lambda a: sp.Integer(int(mpmath.nint(a[1]))),
    "heaviside": lambda a: sp.Integer(1 if a[1] > 0 else 0),
    "mod": lambda a, b: a[0] - b[0] * sp.Integer(int(mpmath.floor(a[1] / b[1]))),
    "clip": lambda x, lo, hi: x[0] if lo[1] < x[1] < hi[1] else (lo[0] if x[1] <= lo[1] else hi[0]),
}


def call(name, *args):
    text = f"{name}({', '.join(a.text for a in args)})"
    table = UNARY if len(args) == 1 else BINARY if len(args) == 2 and name in BINARY else NARY
    fs, fm = table[name]
    if fs is None:
        sym = PIECES[name](*((a.sym, a.val) for a in args))
    else:
        sym = fs(*(a.sym for a in args))
    return T(text, sym, fm(*(a.val for a in args)), _vars(*args))


def bars(a):
    return T(f"|{a.text}|", PIECES["abs"]((a.sym, a.val)), abs(a.val), a.vars)


def polygamma(n: int, a):
    return T(f"polygamma({n}, {a.text})", sp.polygamma(n, a.sym), mpmath.polygamma(n, a.val), a.vars)


def logb(a, b):
    return T(
        f"log({a.text}, {b.text})", sp.log(a.sym) / sp.log(b.sym), mpmath.log(a.val) / mpmath.log(b.val), _vars(a, b)
    )


CMPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def where(cmp, lhs, rhs, a, b):
    test = CMPS[cmp]
    text = f"where({lhs.text} {cmp} {rhs.text}, {a.text}, {b.text})"
    pick = a if test(lhs.val, rhs.val) else b  # the branch taken near the point
    return T(text, pick.sym, pick.val, _vars(lhs, rhs, a, b))


def where_cond(cond: tuple, a, b):
    """``where`` with a compound condition: ``cond`` is (text, truth at the point, vars)."""
    text, truth, vs = cond
    pick = a if truth else b
    return T(f"where({text}, {a.text}, {b.text})", pick.sym, pick.val, _vars(a, b) | vs)


# -- keeping arguments in their domains and away from kinks ------------------------------


def shifted(a: T, margin=0.25) -> T:
    """``a + s`` with a shift chosen so the result is at least ``margin`` from 0."""
    for s in (Fraction(1, 2), Fraction(-3, 4), Fraction(5, 4)):
        t = add(a, const(s))
        if abs(t.val) >= margin:
            return t
    raise AssertionError("unreachable")


POSITIVE = [  # wrappers whose result is >= 1 whatever the argument
    lambda a: add(const(Fraction(1)), powc(a, Fraction(2))),
    lambda a: add(const(Fraction(2)), call("sin", a)),
    lambda a: call("exp", call("tanh", a)),
    lambda a: call("hypot", a, const(Fraction(1))),
    lambda a: add(call("softplus", a), const(Fraction(1))),
]
UNIT = [  # wrappers whose result lies in [-3/4, 3/4]
    lambda a: mul(const(Fraction(1, 2)), call("sin", a)),
    lambda a: mul(const(Fraction(3, 4)), call("tanh", a)),
    lambda a: sub(call("sigmoid", a), const(Fraction(1, 2))),
    lambda a: mul(const(Fraction(1, 2)), call("cos", a)),
]
BOUNDED = [  # wrappers whose result lies in [-2, 2]
    lambda a: mul(const(Fraction(2)), call("tanh", a)),
    lambda a: call("sin", a),
    lambda a: call("atan", a),
]


def _frac_dist(v, at=0) -> float:
    """How far ``v`` is from the nearest whole number (``at=0``) or half (``at=0.5``)."""
    f = (v - at) - mpmath.floor(v - at)
    return float(min(f, 1 - f))


def _ok_unary(name: str, v) -> bool:
    if name in ("floor", "ceil"):
        return _frac_dist(v) > 0.1 and abs(v) < 1e3
    if name == "round":
        return _frac_dist(v, 0.5) > 0.1 and abs(v) < 1e3
    if name in ("heaviside", "sinc", "spherical_j1"):  # the closed forms of sinc and j1 divide by v
        return 0.1 < abs(v) < 1e3
    if name in ("gamma", "lgamma", "digamma"):
        return 0.1 < v < 20 or (-5 < v < 0 and _frac_dist(v) > 0.1)
    if name in ("cot", "csc"):
        return abs(mpmath.sin(v)) > 0.3 and abs(v) < 1e3
    if name == "sec":
        return abs(mpmath.cos(v)) > 0.3 and abs(v) < 1e3
    if name in ("erf", "erfc", "normcdf", "normpdf"):
        return abs(v) < 8
    if name in ("log", "log2", "log10", "sqrt"):
        return v > 0.1
    if name == "log1p":
        return v > -0.9
    if name in ("asin", "acos", "atanh"):
        return abs(v) < 0.9
    if name == "acosh":
        return v > 1.1
    if name == "tan":
        return abs(mpmath.cos(v)) > 0.3
    if name in ("abs", "sign", "relu", "cbrt"):
        return abs(v) > 0.1
    if name in ("exp", "expm1", "sinh", "cosh", "softplus", "sigmoid"):
        return abs(v) < 8
    return abs(v) < 1e3


def _fix_unary(name: str, a: T, choose) -> T:
    if _ok_unary(name, a.val):
        return a
    if name in ("floor", "ceil", "round", "heaviside", "sinc", "spherical_j1"):
        a = choose(BOUNDED)(a)
        for s in (Fraction(1, 2), Fraction(1, 4), Fraction(-1, 4), Fraction(3, 4)):
            t = add(a, const(s))
            if _ok_unary(name, t.val):
                return t
        raise AssertionError("unreachable")
    if name in ("gamma", "lgamma", "digamma", "cot", "csc"):
        return add(const(Fraction(3, 2)), mul(const(Fraction(1, 2)), call("sin", a)))  # in [1, 2]
    if name == "sec":
        return choose(UNIT)(a)
    if name in ("log", "log2", "log10", "sqrt", "log1p"):
        return choose(POSITIVE)(a)
    if name in ("asin", "acos", "atanh", "tan"):
        return choose(UNIT)(a)
    if name == "acosh":
        return add(const(Fraction(3, 2)), powc(a, Fraction(2)))
    if name in ("abs", "sign", "relu", "cbrt"):
        return shifted(a)
    return choose(BOUNDED)(a)


def positive(a: T, choose, low=0.1) -> T:
    return a if low < a.val < 1e3 else choose(POSITIVE)(a)


def bounded(a: T, choose) -> T:
    return a if abs(a.val) < 3 else choose(BOUNDED)(a)


# Every expression kind the generator produces, and the adcli primitive it exercises.
KINDS = {
    "add": "add",
    "sub": "sub",
    "mul": "mul",
    "div": "div",
    "neg": "neg",
    "plus": None,
    "powc": "powc",
    "pow": "pow",
    "logb": "logb",
    "where": "where",
    "atan2": "atan2",
    "hypot": "hypot",
    "max": "max",
    "min": "min",
    "mod": "mod",
    "logsumexp": "logsumexp",
    "clip": "clip",
    "polygamma": "polygamma",
    "bars": "abs",
    "max3": "max",
    "min3": "min",
    "hypot3": "hypot",
    "logsumexp3": "logsumexp",
    "where_and": "where",
    "where_or": "where",
    "where_not": "where",
    **{name: name for name in UNARY},
}
POWC_EXPONENTS = [Fraction(k) for k in (2, 3, -1, -2, 0, 1, 4)] + [
    Fraction(1, 2),
    Fraction(3, 2),
    Fraction(-1, 2),
    Fraction(5, 2),
]


def build(kind: str, choose, sub_) -> T:
    """One node of kind ``kind`` over subtrees drawn by ``sub_()``, kept in-domain."""
    if kind in UNARY:
        return call(kind, _fix_unary(kind, sub_(), choose))
    if kind in ("add", "sub", "mul"):
        return {"add": add, "sub": sub, "mul": mul}[kind](sub_(), sub_())
    if kind == "div":
        a, b = sub_(), sub_()
        return div(a, b if abs(b.val) >= 0.25 else shifted(b))
    if kind == "neg":
        return neg(sub_())
    if kind == "plus":
        return plus(sub_())
    if kind == "powc":
        a = sub_()
        c = choose(POWC_EXPONENTS)
        if c.denominator != 1:
            a = positive(a, choose)  # a non-integer power needs a positive base
        else:
            a = bounded(a, choose)
            if c < 0 and abs(a.val) < 0.25:  # keep away from the pole at 0
                a = shifted(a)
        return powc(a, c, choose((0, 1, 2)))
    if kind == "pow":
        a, b = positive(sub_(), choose), bounded(sub_(), choose)
        return powv(a, b, choose((0, 1)))
    if kind == "logb":
        a = positive(sub_(), choose)
        b = sub_()
        if not (b.val > 0.1 and abs(b.val - 1) > 0.25):
            b = add(const(Fraction(2)), powc(b, Fraction(2)))
        return logb(a, b)
    if kind == "atan2":
        y, x = sub_(), sub_()
        if abs(y.val) < 0.25 and x.val < 0.25:  # near the origin or the branch cut
            y = shifted(y)
        return call("atan2", y, x)
    if kind == "hypot":
        a, b = sub_(), sub_()
        if abs(a.val) < 0.25 and abs(b.val) < 0.25:
            a = shifted(a)
        return call("hypot", a, b)
    if kind in ("max", "min"):
        a, b = sub_(), sub_()
        if abs(a.val - b.val) < 0.25:
            b = add(b, const(Fraction(1, 2)))
        return call(kind, a, b)
    if kind in ("max3", "min3", "hypot3", "logsumexp3"):
        args = [sub_(), sub_(), sub_()]
        if kind in ("max3", "min3"):  # no ties: each at least 1/4 from the others
            for k in range(1, 3):
                while any(abs(args[k].val - args[j].val) < 0.25 for j in range(k)):
                    args[k] = add(args[k], const(Fraction(1, 2)))
        if kind == "logsumexp3":
            args = [bounded(x, choose) for x in args]
        # hypot(a, b, c)'s only kink is a = b = c = 0 (a zero inner pair with c != 0 is smooth)
        if kind == "hypot3" and all(abs(x.val) < 0.25 for x in args):
            args[0] = shifted(args[0])
        return call(kind[:-1], *args)
    if kind == "logsumexp":
        return call(kind, bounded(sub_(), choose), bounded(sub_(), choose))
    if kind == "mod":
        a, b = sub_(), sub_()
        if abs(b.val) < 0.25:
            b = shifted(b)
        for s in (Fraction(0), Fraction(1, 4), Fraction(1, 2), Fraction(-1, 3)):
            t = add(a, const(s)) if s else a
            if _frac_dist(t.val / b.val) > 0.1:  # away from the jumps, where a/b is whole
                return call("mod", t, b)
        # a large |b| moves a/b too little: shift by a fraction of b (a/b + 1/4 or + 1/2 is
        # at least 0.15 from a whole number whenever a/b is within 0.1 of one)
        for s in (Fraction(1, 4), Fraction(1, 2)):
            t = add(a, mul(const(s), b))
            if _frac_dist(t.val / b.val) > 0.1:
                return call("mod", t, b)
        raise AssertionError("unreachable")
    if kind == "clip":
        x, lo = sub_(), sub_()
        hi = add(lo, add(const(Fraction(1, 2)), powc(sub_(), Fraction(2))))  # lo + 1/2 + s^2 > lo
        for t in (x, add(x, const(Fraction(1, 4))), add(x, const(Fraction(-1, 4)))):
            if abs(t.val - lo.val) > 0.1 and abs(t.val - hi.val) > 0.1:
                return call("clip", t, lo, hi)
        raise AssertionError("unreachable")
    if kind == "polygamma":
        return polygamma(choose((0, 1, 2)), _fix_unary("digamma", sub_(), choose))
    if kind == "bars":
        return bars(_fix_unary("abs", sub_(), choose))
    if kind in ("where_and", "where_or", "where_not"):
        conds = []
        for _ in range(2 if kind != "where_not" else 1):
            cmp = choose(sorted(CMPS))
            lhs, rhs = sub_(), sub_()
            if abs(lhs.val - rhs.val) < 0.25:
                rhs = add(rhs, const(Fraction(1, 2)))
            conds.append((f"{lhs.text} {cmp} {rhs.text}", CMPS[cmp](lhs.val, rhs.val), _vars(lhs, rhs)))
        if kind == "where_not":
            (t, v, vs) = conds[0]
            cond = (f"not ({t})" if choose((0, 1)) else f"not {t}", not v, vs)
        else:
            word = kind[6:]
            (t1, v1, s1), (t2, v2, s2) = conds
            truth = (v1 and v2) if word == "and" else (v1 or v2)
            cond = (f"{t1} {word} ({t2})" if choose((0, 1)) else f"{t1} {word} {t2}", truth, s1 | s2)
        return where_cond(cond, sub_(), sub_())
    if kind == "where":
        cmp = choose(sorted(CMPS))
        lhs, rhs, a, b = sub_(), sub_(), sub_(), sub_()
        if abs(lhs.val - rhs.val) < 0.25:
            rhs = add(rhs, const(Fraction(1, 2)))
        return where(cmp, lhs, rhs, a, b)
    raise AssertionError(kind)


CONSTS = [Fraction(k, 4) for k in range(-12, 13)]
# kinds in groups drawn with equal chance, so the rarer structures come up often
GROUPS = [
    ["add", "sub", "mul", "div", "neg", "plus"],
    ["powc", "pow", "logb"],
    sorted(UNARY),
    ["atan2", "hypot", "max", "min", "where", "mod", "logsumexp", "clip", "polygamma"],
    ["bars", "max3", "min3", "hypot3", "logsumexp3", "where_and", "where_or", "where_not"],
]
assert sorted(k for g in GROUPS for k in g) == sorted(KINDS)


@st.composite
def trees(draw, point: dict, depth: int, top: bool = True) -> T:
    """A random expression over x, y, z, at most ``depth`` operations deep."""
    if depth == 0 or (not top and draw(st.integers(0, 4)) == 0):
        r = draw(st.integers(0, 9))
        if r < 6:
            return var(draw(st.sampled_from(sorted(point))), point)
        if r == 6:
            return draw(st.sampled_from([PI, E]))
        return const(draw(st.sampled_from(CONSTS)))
    kind = draw(st.sampled_from(draw(st.sampled_from(GROUPS))))

    def choose(seq):
        return draw(st.sampled_from(list(seq)))

    t = build(kind, choose, lambda: draw(trees(point, depth - 1, False)))
    return t if abs(t.val) < 1e3 else choose(BOUNDED)(t)


# -- checking one tree ------------------------------------------------------------------


def _close(a: float, b, rel: float, scale: float = 1.0) -> bool:
    a, b = float(a), float(b)
    return abs(a - b) <= rel * max(abs(a), abs(b), scale)


def _grad(text: str, at: str, mode: str):
    r = core.run_grad(core.load(text, at), mode)
    names = r.problem.inputs
    return float(r.value), {names[k]: float(g) for k, g in zip(r.wrt, r.gradient)}, r.warnings


def _real(v, text):
    re_, im_ = v.as_real_imag()
    assert im_ == 0 or abs(im_) <= 1e-30 * max(1, abs(re_)), (text, v)
    assert re_.is_finite, (text, v)  # the generator keeps everything finite
    return re_


def check_tree(t: T, point: dict) -> None:
    if not t.vars:
        t = mul(t, var("x", point))
    names = sorted(t.vars)
    subs = {SYMS[n]: sp.Float(point[n], 40) for n in names}
    ref_value = t.sym.evalf(40, subs=subs)
    ref_grad = {n: sp.diff(t.sym, SYMS[n]).evalf(40, subs=subs) for n in names}
    # SymPy's evalf may leave an imaginary part at rounding level (atan2 of a
    # negative argument, say): drop it when it is that small, and only then
    ref_value = _real(ref_value, t.text)
    ref_grad = {n: _real(g, t.text) for n, g in ref_grad.items()}
    # the mpmath value computed while building agrees with SymPy's (checks the oracle itself)
    assert _close(t.val, ref_value, 1e-20), (t.text, t.val, ref_value)
    if not (abs(ref_value) < 1e6 and all(abs(g) < 1e6 for g in ref_grad.values())):
        return  # far out of scale: relative tolerances say little there

    at = ",".join(f"{n}={point[n]!r}" for n in names)
    v_r, g_r, w_r = _grad(t.text, at, "reverse")
    v_f, g_f, w_f = _grad(t.text, at, "forward")
    ctx = (t.text, at)
    assert set(g_r) == set(g_f) == set(names), ctx
    # no kink and nothing non-finite: the only warnings allowed are numeric hazards
    # (cancellation, absorption, underflow), never a convention
    for w in (*w_r, *w_f):
        assert any(h in w.message for h in HAZARDS), (ctx, w.message)
        assert not any(k in w.message for k in KINK_MESSAGES), (ctx, w.message)
    # forward and reverse: the same numbers to 1e-12
    assert v_r == v_f, ctx
    # a derivative that is 0 (or tiny) is a sum of terms that cancel, whose rounding
    # differs between the engines: relative to the size of the function and its
    # gradient, never below 1e-12 of that
    scale = max(1.0, abs(float(ref_value)), *(abs(float(g)) for g in ref_grad.values()))
    for n in names:
        assert _close(g_r[n], g_f[n], 1e-12, scale), (ctx, n, g_r[n], g_f[n])
    # both against SymPy to 1e-9
    assert _close(v_r, ref_value, 1e-9), (ctx, v_r, ref_value)
    for n in names:
        assert _close(g_r[n], ref_grad[n], 1e-9, scale), (ctx, n, g_r[n], ref_grad[n])
        assert _close(g_f[n], ref_grad[n], 1e-9, scale), (ctx, n, g_f[n], ref_grad[n])
    # and `adcli check` (AD against finite differences) passes on these smooth functions
    if not any(h in w.message for w in (*w_r, *w_f) for h in HAZARDS):
        from adcli import check, core

        result = check.run_check(core.load(t.text, at))
        assert result.exit_code() == 0, (ctx, render_check(result))


def render_check(result):
    from adcli import render

    return render.check_text(result, 10)


HAZARDS = ("cancellation", "lost entirely", "underflow")
KINK_MESSAGES = [o.kink[1] for o in OPS.values() if o.kink is not None]

POINT_COORD = st.floats(-2, 2, allow_nan=False, allow_infinity=False, allow_subnormal=False)


@settings(max_examples=examples(200), deadline=None)
@given(data=st.data())
def test_random_expressions_forward_reverse_sympy(data):
    point = {n: data.draw(POINT_COORD, label=n) for n in ("x", "y", "z")}
    t = data.draw(trees(point, 4), label="tree")
    check_tree(t, point)


# -- every primitive at least once, deterministically ------------------------------------


def test_generator_covers_every_primitive():
    produced = {v for v in KINDS.values() if v is not None}
    expected = {name for name in OPS if name not in ("input", "const")}
    assert produced == expected


def _fixed_choice(pick):
    """A chooser that always takes the element at ``pick`` (cyclically)."""

    def choose(seq):
        seq = list(seq)
        return seq[pick % len(seq)]

    return choose


@pytest.mark.parametrize("pick", [0, 1, 2])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind(kind, pick):
    point = {"x": 0.7, "y": -1.3, "z": 1.9}
    subtrees = itertools.cycle(
        [var("x", point), var("y", point), add(var("z", point), var("x", point)), var("y", point)]
    )
    t = build(kind, _fixed_choice(pick), lambda: next(subtrees))
    want = KINDS[kind]
    if want is not None:
        assert want in {n.op.name for n in parse(t.text).nodes}, t.text
    check_tree(t, point)
    # second order: the Hessian (forward over reverse) against SymPy's
    names = sorted(t.vars)
    if names:
        at = ",".join(f"{n}={point[n]!r}" for n in names)
        hr = run_hessian(core.load(t.text, at))
        h = np.asarray(hr.matrix, dtype=float)
        order = [SYMS[n] for n in hr.problem.inputs]
        subs = {SYMS[n]: sp.Float(point[n], 40) for n in names}
        ref = np.array(sp.hessian(t.sym, order).evalf(40, subs=subs).tolist(), dtype=float)
        assert np.allclose(h, ref, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(ref).max())), (t.text, h, ref)


# -- the registry, one primitive at a time, against finite differences and SymPy ---------

# in-domain points away from kinks for each unary function
UNARY_POINTS = {
    "sin": [0.3, -2.5],
    "cos": [0.3, -2.5],
    "tan": [0.4, -1.2],
    "asin": [0.3, -0.8],
    "acos": [0.3, -0.8],
    "atan": [0.3, -3.0],
    "sinh": [0.3, -2.0],
    "cosh": [0.3, -2.0],
    "tanh": [0.3, -2.0],
    "asinh": [0.3, -4.0],
    "acosh": [1.5, 7.0],
    "atanh": [0.3, -0.9],
    "exp": [0.3, -2.0],
    "expm1": [1e-4, -2.0],
    "log": [0.3, 5.0],
    "log1p": [1e-4, -0.5],
    "log2": [0.3, 5.0],
    "log10": [0.3, 5.0],
    "sqrt": [0.3, 5.0],
    "cbrt": [0.3, -5.0],
    "abs": [0.3, -5.0],
    "sign": [0.3, -5.0],
    "relu": [0.3, -5.0],
    "sigmoid": [0.3, -5.0],
    "softplus": [0.3, -5.0],
    "erf": [0.3, -2.5],
    "erfc": [0.3, 4.0],
    "normcdf": [0.3, -6.0],
    "normpdf": [0.3, -3.0],
    "gamma": [0.3, 4.5, -1.5],
    "lgamma": [0.3, 12.5, -2.5],
    "digamma": [0.3, 5.0, -0.5],
    "sinc": [0.3, -4.0, 1e-3],
    "spherical_j1": [0.3, -4.0, 2.5, 1e-3],
    "cot": [0.3, -2.0],
    "sec": [0.3, 2.0],
    "csc": [0.3, -2.0],
    "floor": [0.3, -2.5],
    "ceil": [0.3, -2.5],
    "round": [0.3, -2.7],
    "heaviside": [0.3, -5.0],
}
BINARY_POINTS = {
    "atan2": [(0.3, 0.4), (0.5, -2.0), (-0.5, -2.0)],
    "hypot": [(0.3, 0.4), (-2.0, 1.5)],
    "max": [(0.3, 0.4), (-2.0, -3.0)],
    "min": [(0.3, 0.4), (-2.0, -3.0)],
    "pow": [(1.5, 0.4), (0.3, -2.5)],
    "mod": [(1.3, 0.7), (-2.5, 0.7), (2.5, -0.8)],
    "logsumexp": [(0.3, 0.4), (-30.0, 2.0)],
}


# SymPy's own piecewise functions, fine on a bare symbol
SYMPY_PIECEWISE = {
    "cbrt": lambda a: sp.sign(a) * sp.Abs(a) ** sp.Rational(1, 3),
    "abs": sp.Abs,
    "sign": sp.sign,
    "relu": lambda a: sp.Max(a, 0),
    "max": sp.Max,
    "min": sp.Min,
}


def _sympy_unary(name, s, x):
    """SymPy's form of a unary primitive; a step function as its constant piece near x."""
    if UNARY[name][0] is not None:
        return UNARY[name][0](s)
    if name in SYMPY_PIECEWISE:
        return SYMPY_PIECEWISE[name](s)
    return PIECES[name]((s, mp.mpf(x)))


def _unary_fns():
    return sorted(name for name, o in OPS.items() if o.fn and o.arity == 1 and not o.param)


def test_point_tables_cover_registry():
    assert set(UNARY_POINTS) == set(_unary_fns())
    assert set(UNARY_POINTS) <= set(UNARY)
    binary = {name for name, o in OPS.items() if o.fn and o.arity == 2 and not o.param}
    assert set(BINARY_POINTS) == binary


def _central_fd(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def _value_at(text, at):
    return float(core.run_eval(core.load(text, at)).value[0])


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("name,x", [(n, x) for n in sorted(UNARY_POINTS) for x in UNARY_POINTS[n]])
def test_unary_registry(name, x, mode):
    text = f"{name}(x)"
    r = core.run_grad(core.load(text, f"x={x!r}"), mode)
    assert r.warnings == []
    value, deriv = float(r.value), float(r.gradient[0])
    s = sp.Symbol("s", real=True)
    fs = _sympy_unary(name, s, x)
    ref_v = fs.evalf(30, subs={s: sp.Float(x, 30)})
    ref_d = sp.diff(fs, s).evalf(30, subs={s: sp.Float(x, 30)})
    assert value == pytest.approx(float(ref_v), rel=1e-13, abs=1e-300)
    assert deriv == pytest.approx(float(ref_d), rel=1e-12, abs=1e-300)
    # second order: the Hessian (forward over reverse) against SymPy's second derivative
    if mode == "reverse":
        h = run_hessian(core.load(text, f"x={x!r}"))
        assert h.warnings == []
        ref_h = float(sp.diff(fs, s, 2).evalf(30, subs={s: sp.Float(x, 30)}))
        assert float(h.matrix[0][0]) == pytest.approx(ref_h, rel=1e-11, abs=1e-300)
    # central differences on the values adcli computes (no derivative code involved)
    h = 1e-5 * max(1.0, abs(x))
    fd = _central_fd(lambda u: _value_at(text, f"x={u!r}"), x, h)
    assert deriv == pytest.approx(fd, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("name,pt", [(n, p) for n in sorted(BINARY_POINTS) for p in BINARY_POINTS[n]])
def test_binary_registry(name, pt, mode):
    a, b = pt
    text = f"{name}(a, b)"
    at = f"a={a!r},b={b!r}"
    r = core.run_grad(core.load(text, at), mode)
    assert r.warnings == []
    sa, sb = sp.symbols("a b", real=True)
    if name == "pow":
        fs = sp.Pow(sa, sb)
    elif BINARY[name][0] is not None:
        fs = BINARY[name][0](sa, sb)
    elif name in SYMPY_PIECEWISE:
        fs = SYMPY_PIECEWISE[name](sa, sb)
    else:
        fs = PIECES[name]((sa, mp.mpf(a)), (sb, mp.mpf(b)))
    subs = {sa: sp.Float(a, 30), sb: sp.Float(b, 30)}
    assert float(r.value) == pytest.approx(float(fs.evalf(30, subs=subs)), rel=1e-13)
    for k, s in enumerate((sa, sb)):
        ref = float(sp.diff(fs, s).evalf(30, subs=subs))
        assert float(r.gradient[k]) == pytest.approx(ref, rel=1e-12, abs=1e-300)
    if mode == "reverse":  # second order against SymPy's Hessian
        h = run_hessian(core.load(text, at))
        ref_h = np.array(sp.hessian(fs, (sa, sb)).evalf(30, subs=subs).tolist(), dtype=float)
        assert np.allclose(np.asarray(h.matrix, dtype=float), ref_h, rtol=1e-11, atol=1e-300)
    h = 1e-5
    fd_a = _central_fd(lambda u: _value_at(text, f"a={u!r},b={b!r}"), a, h)
    fd_b = _central_fd(lambda u: _value_at(text, f"a={a!r},b={u!r}"), b, h)
    assert [float(g) for g in r.gradient] == pytest.approx([fd_a, fd_b], rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize(
    "text,x,ref",
    [
        ("log(x, 2)", 3.0, 1 / (3.0 * math.log(2))),
        ("log(8, x)", 3.0, -math.log(8) / (3.0 * math.log(3.0) ** 2)),
        ("x^3", -2.0, 12.0),
        ("x^-2", -2.0, 0.25),
        ("x^0.5", 4.0, 0.25),
        ("x^x", 2.0, 4 * (math.log(2) + 1)),
        ("2^x", 3.0, 8 * math.log(2)),
    ],
)
def test_powers_and_log_base(text, x, ref, mode):
    r = core.run_grad(core.load(text, f"x={x!r}"), mode)
    assert float(r.gradient[0]) == pytest.approx(ref, rel=1e-14)
    assert r.warnings == []


# -- the rest of the registry: parameters, three arguments, j1 near 0 -------------------


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("n,x", [(0, 0.7), (1, 2.5), (2, -0.5), (3, 1.5), (1, -3.3)])
def test_polygamma_registry(n, x, mode):
    text = f"polygamma({n}, x)"
    r = core.run_grad(core.load(text, f"x={x!r}"), mode)
    assert r.warnings == []
    assert float(r.value) == pytest.approx(float(mpmath.polygamma(n, x)), rel=1e-12)
    assert float(r.gradient[0]) == pytest.approx(float(mpmath.polygamma(n + 1, x)), rel=1e-12)
    h = run_hessian(core.load(text, f"x={x!r}"))
    assert float(h.matrix[0][0]) == pytest.approx(float(mpmath.polygamma(n + 2, x)), rel=1e-11)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("pt", [(0.5, -1.0, 2.0), (-3.0, -1.0, 2.0), (2.5, -1.0, 2.0)])
def test_clip_registry(pt, mode):
    """clip(x, lo, hi) is one of its three arguments away from the bounds: the gradient
    is that argument's unit vector, the Hessian zero."""
    x, lo, hi = pt
    at = f"x={x!r},lo={lo!r},hi={hi!r}"
    r = core.run_grad(core.load("clip(x, lo, hi)", at), mode)
    assert r.warnings == []
    which = 0 if lo < x < hi else (1 if x < lo else 2)
    assert float(r.value) == pt[which] == float(NARY["clip"][1](*map(mp.mpf, pt)))
    assert [float(g) for g in r.gradient] == [1.0 if k == which else 0.0 for k in range(3)]
    h = run_hessian(core.load("clip(x, lo, hi)", at))
    assert np.array_equal(np.asarray(h.matrix, dtype=float), np.zeros((3, 3)))


def _j1(v):
    return (mpmath.sin(v) / v - mpmath.cos(v)) / v


@pytest.mark.parametrize("x", [0.3, -2.0, 7.5, 1e-3, 1e-9])
def test_spherical_j1_near_zero(x):
    """sinc' = -j1, accurate where (cos(x) - sinc(x))/x cancels: its value, its derivative
    (through the dual numbers, as a Hessian sees it) against mpmath."""
    assert float(NumpyNS.spherical_j1(x)) == pytest.approx(float(_j1(mp.mpf(x))), rel=1e-13)
    d = DualNS.spherical_j1(Dual(np.float64(x), np.float64(1.0)))
    ref = mpmath.diff(_j1, mp.mpf(x))
    assert float(d.tangent) == pytest.approx(float(ref), rel=1e-12)


@pytest.mark.parametrize("x", [1e-12, 1e-8, -1e-4, 0.05, 0.1, 0.7, 1.0, 1.4999, 1.5, -1.5001, 3.0, -9.0])
def test_spherical_j1_second_derivative(x):
    """j1'' against mpmath, near 0 (where (j1'·x - j1)/x² cancels: 1.9e-8 instead of -2e-9
    at x = 1e-8 before the series), on both sides of the series' bound |x| = 1.5 and beyond."""
    ref = float(mpmath.diff(_j1, mp.mpf(x), 2)) if abs(x) > 1e-6 else -x / 5 + x**3 / 42
    h = run_hessian(core.load("spherical_j1(x)", f"x={x!r}"))
    assert float(h.matrix[0][0]) == pytest.approx(ref, rel=1e-14)
    assert h.warnings == []


def test_sinc_at_and_near_zero():
    """sinc(0) = 1, sinc'(0) = 0, sinc''(0) = -1/3; near 0 the series, no cancellation."""
    for x in (0.0, 1e-4, -1e-7):
        r = core.run_grad(core.load("sinc(x)", f"x={x!r}"), "reverse")
        f = core.run_grad(core.load("sinc(x)", f"x={x!r}"), "forward")
        h = run_hessian(core.load("sinc(x)", f"x={x!r}"))
        series_d = -x / 3 + x**3 / 30
        series_h = -1 / 3 + x**2 / 10
        assert float(r.value) == pytest.approx(1 - x**2 / 6, rel=1e-15)
        assert float(r.gradient[0]) == pytest.approx(series_d, rel=1e-13, abs=0)
        assert float(f.gradient[0]) == pytest.approx(series_d, rel=1e-13, abs=0)
        assert float(h.matrix[0][0]) == pytest.approx(series_h, rel=1e-13)
        assert r.warnings == [] and h.warnings == []


@pytest.mark.parametrize("x", [5e-324, 1e-320, 1e-300])
def test_sinc_second_derivative_at_subnormal_x(x):
    """sinc'' = -j1' = -1/3 at tiny x: j1' from its series, not from j1(x)/x (which reads
    -1 where j1 rounds to 0 at 5e-324)."""
    h = run_hessian(core.load("sinc(x)", f"x={x!r}"))
    assert float(h.matrix[0][0]) == pytest.approx(-1 / 3, rel=1e-15)
