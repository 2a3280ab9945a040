"""Symbolic nodes -> text: adcli's language, the textbook display, LaTeX, numpy, Python, C.

One printer serves every language; a :class:`Style` says how each operation
is spelled. The printer never recurses: it pushes pieces on an explicit
stack and appends text to one list, so a formula of any depth prints in time
linear in its length. Nodes used more than once become named steps
(``t1 = x*y``) and are referred to by name, never repeated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .ops import ATOM, POWER, PRODUCT, SIGNED, SUM
from .symbolic import LEAVES, Sym, SymGraph

KNOWN = {math.pi: "pi", math.e: "e", math.log(2.0): "log(2)", math.log(10.0): "log(10)"}


def _adcli_number(v: float) -> str:
    if v in KNOWN:
        return KNOWN[v]
    if -v in KNOWN:
        return "-" + KNOWN[-v]
    if v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    return repr(v)


def _display_number(v: float) -> str:
    if v in KNOWN:
        return KNOWN[v]
    if -v in KNOWN:
        return "-" + KNOWN[-v]
    s = f"{v:.6g}"
    return "0" if s == "-0" else s


def _code_number(v: float) -> str:
    r = repr(float(v))
    return r if ("." in r or "e" in r or "n" in r) else r + ".0"


def _numpy_number(v: float) -> str:
    names = {math.pi: "np.pi", math.e: "np.e"}
    if v in names:
        return names[v]
    return _code_number(v)


def _latex_number(v: float) -> str:
    names = {math.pi: r"\pi", math.e: "e", math.log(2.0): r"\ln 2", math.log(10.0): r"\ln 10"}
    if v in names:
        return names[v]
    if -v in names:
        return "-" + names[-v]
    s = _display_number(v)
    if "e" in s:
        m, _, ex = s.partition("e")
        return rf"{m} \cdot 10^{{{int(ex)}}}"
    return s


def latex_name(name: str) -> str:
    """x1 -> x_{1}, x_2 -> x_{2}, alpha -> \\alpha."""
    m = re.match(r"^([^\W\d_]+)_?(\d+)$", name)
    greek = {"alpha", "beta", "gamma", "delta", "theta", "lambda", "mu", "sigma", "phi", "omega", "tau", "rho"}
    base, sub = (m.group(1), m.group(2)) if m else (name, None)
    if base in greek:
        base = "\\" + base
    elif len(base) > 1 and "_" not in base:
        base = rf"\mathrm{{{base}}}"
    base = base.replace("_", r"\_")
    return f"{base}_{{{sub}}}" if sub else base


@dataclass(frozen=True)
class Style:
    """How one language spells the operations."""

    name: str
    mul: str
    pow: str | None  # infix power operator, or None for the function template "pow"
    number: Callable[[float], str]
    funcs: dict[str, str]  # op -> template over {0}, {1}, ... and {c}
    open: str = "("
    close: str = ")"
    where: str = "where({0} {c} {1}, {2}, {3})"
    cmp: dict[str, str] = field(default_factory=dict)  # comparison spellings
    leaf: Callable[[str], str] = str  # how a name is written
    div: str | None = "/"  # infix division, or None for the template "div"


def _fn_templates(prefix: str, names: dict[str, str] | None = None) -> dict[str, str]:
    from .ops import OPS

    # every op written as a call, with its arguments as its definition lists them
    # (clip's three, polygamma's order {c} first, spherical_j1 from sinc's rule)
    out = {n: prefix + o.show for n, o in OPS.items() if o.arity and o.show.startswith(n + "(") and n != "where"}
    out["logb"] = f"{prefix}log({{0}}, {{1}})"
    out.update(names or {})
    return out


_STYLES: dict[str, Style] = {}

# scipy.special's names for the special functions (numpy and jax targets)
_SCIPY = {"erf": "erf", "erfc": "erfc", "normcdf": "ndtr", "gamma": "gamma", "lgamma": "gammaln", "digamma": "digamma"}
# cot, sec, csc from tan, cos, sin in Python's math and C's math.h ({T} is the module prefix)
_MATH_ONLY = {"cot": "(1.0 / {T}tan({0}))", "sec": "(1.0 / {T}cos({0}))", "csc": "(1.0 / {T}sin({0}))"}
# what Python's math module and C's math.h do not have: export refuses rather than approximate
MISSING_IN_MATH = ("digamma", "polygamma", "spherical_j1")


def style(name: str) -> Style:
    """The style called ``name`` (built on first use: the registry may have grown)."""
    s = _STYLES.get(name)
    if s is None:
        s = _STYLES[name] = _build_style(name)
    return s


def _build_style(name: str) -> Style:
    if name == "adcli":
        return Style("adcli", "*", "^", _adcli_number, _fn_templates(""))
    if name == "display":
        return Style("display", "·", "^", _display_number, _fn_templates(""))
    if name == "numpy":
        np_names = {
            "asin": "np.arcsin({0})",
            "acos": "np.arccos({0})",
            "atan": "np.arctan({0})",
            "asinh": "np.arcsinh({0})",
            "acosh": "np.arccosh({0})",
            "atanh": "np.arctanh({0})",
            "atan2": "np.arctan2({0}, {1})",
            "abs": "np.abs({0})",
            "relu": "np.maximum({0}, 0.0)",
            "sigmoid": "_sigmoid({0})",
            "softplus": "np.logaddexp(0.0, {0})",
            "max": "np.maximum({0}, {1})",
            "min": "np.minimum({0}, {1})",
            "logb": "(np.log({0})/np.log({1}))",
            "cot": "(1.0 / np.tan({0}))",
            "sec": "(1.0 / np.cos({0}))",
            "csc": "(1.0 / np.sin({0}))",
            "round": "np.rint({0})",
            "heaviside": "np.heaviside({0}, 0.5)",
            "logsumexp": "np.logaddexp({0}, {1})",
            "normpdf": "_normpdf({0})",
            "sinc": "_sinc({0})",
            **{n: f"scipy.special.{f}({{0}})" for n, f in _SCIPY.items()},
            "polygamma": "scipy.special.polygamma({ci}, {0})",
            "spherical_j1": "scipy.special.spherical_jn(1, {0})",
        }
        return Style(
            "numpy", "*", "**", _numpy_number, _fn_templates("np.", np_names), where="np.where({0} {c} {1}, {2}, {3})"
        )
    if name == "python":
        py_names = {
            "abs": "abs({0})",
            "sign": "_sign({0})",
            "relu": "max({0}, 0.0)",
            "sigmoid": "_sigmoid({0})",
            "softplus": "_softplus({0})",
            "max": "max({0}, {1})",
            "min": "min({0}, {1})",
            "cbrt": "_cbrt({0})",
            **_MATH_ONLY,
            "round": "round({0})",  # halves to even, as numpy's rint
            "heaviside": "_heaviside({0})",
            "mod": "_mod({0}, {1})",
            "clip": "_clip({0}, {1}, {2})",
            "logsumexp": "_logsumexp({0}, {1})",
            "normcdf": "_normcdf({0})",
            "normpdf": "_normpdf({0})",
            "sinc": "_sinc({0})",
        }
        py_names = {k: v.replace("{T}", "math.") for k, v in py_names.items()}
        funcs = _fn_templates("math.", py_names)
        for n in MISSING_IN_MATH:
            funcs.pop(n, None)
        return Style("python", "*", "**", _code_number, funcs, where="({2} if {0} {c} {1} else {3})")
    if name == "c":
        c_names = {
            "abs": "fabs({0})",
            "sign": "adcli_sign({0})",
            "relu": "adcli_relu({0})",
            "sigmoid": "adcli_sigmoid({0})",
            "softplus": "adcli_softplus({0})",
            "max": "fmax({0}, {1})",
            "min": "fmin({0}, {1})",
            "pow": "pow({0}, {1})",
            "powc": "pow({0}, {c})",
            "logb": "(log({0})/log({1}))",
            **{k: v.replace("{T}", "") for k, v in _MATH_ONLY.items()},
            "gamma": "tgamma({0})",
            "round": "nearbyint({0})",  # the default rounding mode: halves to even, as numpy's rint
            "heaviside": "adcli_heaviside({0})",
            "mod": "adcli_mod({0}, {1})",
            "clip": "adcli_clip({0}, {1}, {2})",
            "logsumexp": "adcli_logsumexp({0}, {1})",
            "normcdf": "adcli_normcdf({0})",
            "normpdf": "adcli_normpdf({0})",
            "sinc": "adcli_sinc({0})",
        }
        funcs = _fn_templates("", c_names)
        for n in MISSING_IN_MATH:
            funcs.pop(n, None)
        return Style("c", "*", None, _code_number, funcs, where="({0} {c} {1} ? {2} : {3})")
    if name == "latex":
        tex = {
            n: rf"\operatorname{{{n}}}\left(" + t[t.index("(") + 1 : -1] + r"\right)"
            for n, t in _fn_templates("").items()
        }
        for n in ("sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "log"):
            tex[n] = rf"\{n}\left({{0}}\right)"
        tex.update(
            {
                "sqrt": r"\sqrt{{{0}}}",
                "abs": r"\left|{0}\right|",
                "log": r"\ln\left({0}\right)",
                "asin": r"\arcsin\left({0}\right)",
                "acos": r"\arccos\left({0}\right)",
                "atan": r"\arctan\left({0}\right)",
                "max": r"\max\left({0}, {1}\right)",
                "min": r"\min\left({0}, {1}\right)",
                "logb": r"\log_{{{1}}}\left({0}\right)",
                "div": r"\frac{{{0}}}{{{1}}}",
                "gamma": r"\Gamma\left({0}\right)",
                "spherical_j1": r"j_{{1}}\left({0}\right)",
                "digamma": r"\psi\left({0}\right)",
                "polygamma": r"\psi^{({ci})}\left({0}\right)",
                "floor": r"\left\lfloor {0} \right\rfloor",
                "ceil": r"\left\lceil {0} \right\rceil",
                "cot": r"\cot\left({0}\right)",
                "sec": r"\sec\left({0}\right)",
                "csc": r"\csc\left({0}\right)",
            }
        )
        return Style(
            "latex",
            r" \cdot ",
            "^",
            _latex_number,
            tex,
            open=r"\left(",
            close=r"\right)",
            where=r"\begin{{cases}} {2} & {0} {c} {1} \\ {3} & \text{{otherwise}} \end{{cases}}",
            cmp={"<=": r"\le", ">=": r"\ge", "!=": r"\ne", "==": "="},
            leaf=latex_name,
            div=None,
        )
    raise ValueError(name)


def _template_parts(template: str) -> list[str | int]:
    """``"np.sin({0})"`` -> ``["np.sin(", 0, ")"]``; ``{c}`` stays for the caller."""
    parts: list[str | int] = []
    for piece in re.split(r"(\{\d\})", template):
        if re.fullmatch(r"\{\d\}", piece):
            parts.append(int(piece[1]))
        elif piece:
            parts.append(piece.replace("{{", "{").replace("}}", "}"))
    return parts


class Printer:
    """Prints nodes of one :class:`SymGraph` in one style; ``names`` maps the
    nodes that are shown by name (named steps, trace names) to that name."""

    def __init__(self, sg: SymGraph, st: Style, names: dict[int, str] | None = None):
        self.sg = sg
        self.st = st
        self.names = names or {}

    def _number(self, v: float) -> tuple[str, int]:
        s = self.st.number(v)
        return s, (SIGNED if s.startswith("-") else ATOM)

    def _param(self, c) -> str:
        s = self.st.number(float(c))
        return f"{self.st.open}{s}{self.st.close}" if s.startswith("-") else s

    def _shape(self, i: int):
        """(precedence, parts): parts are text or (child id, required precedence)."""
        sg, st = self.sg, self.st
        op, args, param = sg.ops[i], sg.args[i], sg.params[i]
        if op == "add":
            return SUM, [(args[0], SUM), " + ", (args[1], PRODUCT, True)]
        if op == "sub":
            return SUM, [(args[0], SUM), " - ", (args[1], PRODUCT, True)]
        if op == "mul":
            return PRODUCT, [(args[0], PRODUCT), st.mul, (args[1], POWER, True)]
        if op == "div" and st.div:
            return PRODUCT, [(args[0], PRODUCT), st.div, (args[1], POWER, True)]
        if op == "neg":
            return SIGNED, ["-", (args[0], PRODUCT, True)]
        if op in ("powc", "pow") and st.pow:
            right = [self._param(param)] if op == "powc" else [(args[1], ATOM)]
            if st.name == "latex":
                return POWER, [(args[0], ATOM), "^{", *(self._zero(right)), "}"]
            return POWER, [(args[0], ATOM), st.pow, *right]
        if op == "cmp":
            return 0, [(args[0], SUM), f" {st.cmp.get(param, param)} ", (args[1], SUM)]
        template = st.where if op == "where" else st.funcs[op]
        if "{ci}" in template:  # a whole-number parameter written as an integer (polygamma's order)
            template = template.replace("{ci}", str(int(param)))
        template = template.replace("{c}", st.cmp.get(param, param) if op == "where" else self._param(param or 0))
        return ATOM, [p if isinstance(p, str) else (args[p], 0) for p in _template_parts(template)]

    @staticmethod
    def _zero(parts):
        return [(p[0], 0) if isinstance(p, tuple) else p for p in parts]

    def leaf_text(self, i: int) -> tuple[str, int]:
        op = self.sg.ops[i]
        if op == "const":
            return self._number(self.sg.params[i])
        text = str(self.sg.params[i])
        if op == "atom" and text.startswith("-"):
            return text, SIGNED
        if op == "atom" and not re.fullmatch(r"[\w.]+(e-\d+)?|\(.*\)|\w+\(.*\)", text):
            return f"({text})", ATOM
        return self.st.leaf(text), ATOM

    def text(self, root: int, named_root: bool = False) -> str:
        """The formula of ``root``, with named nodes referred to by name."""
        out: list[str] = []
        stack: list = [(root, 0, False, True)]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
                continue
            i, need, right, top = item
            if i in self.names and not (top and named_root):
                out.append(self.st.leaf(self.names[i]))
                continue
            if self.sg.ops[i] in LEAVES:
                s, prec = self.leaf_text(i)
                out.append(self._wrap(s) if prec < need or (prec == SIGNED and right) else s)
                continue
            prec, parts = self._shape(i)
            wrap = prec < need or (prec == SIGNED and right)
            seq = [self.st.open, *parts, self.st.close] if wrap else parts
            for p in reversed(seq):
                stack.append(p if isinstance(p, str) else (p[0], p[1], len(p) > 2, False))
        return "".join(out)

    def _wrap(self, s: str) -> str:
        return f"{self.st.open}{s}{self.st.close}"


def use_counts(sg: SymGraph, roots: list[int]) -> list[int]:
    """How many times each node is used by the nodes the roots reach (roots count once each)."""
    n = max(roots) + 1 if roots else 0
    reach = [False] * n
    for r in roots:
        reach[r] = True
    uses = [0] * n
    for r in roots:
        uses[r] += 1
    for i in range(n - 1, -1, -1):
        if reach[i]:
            for a in sg.args[i]:
                reach[a] = True
                uses[a] += 1
    return [u if reach[i] else 0 for i, u in enumerate(uses)]


def plan_steps(
    sg: SymGraph, roots: list[int], preferred: dict[int, str], taken: set[str], prefix: str = "t"
) -> dict[int, str]:
    """Name every node used more than once (and not a leaf): ``t1, t2, ...`` in
    topological order, or the user's own step name where the node has one."""
    uses = use_counts(sg, roots)
    used = set(taken) | set(preferred.values())
    names: dict[int, str] = {}
    k = 0
    for i, u in enumerate(uses):
        if sg.ops[i] in LEAVES or u < (1 if i in preferred else 2):
            continue  # shared nodes, and the user's own steps, are named
        if sg.ops[i] == "neg" and sg.ops[sg.args[i][0]] in LEAVES:
            continue  # -x is as short as a name
        if i in preferred:
            names[i] = preferred[i]
            continue
        while True:
            k += 1
            cand = f"{prefix}{k}"
            if cand not in used:
                break
        names[i] = cand
    return names


def count_ops(sg: SymGraph, roots: list[int]) -> int:
    """Operations in the printed formulas with their steps: every distinct node once."""
    uses = use_counts(sg, roots)
    return sum(1 for i, u in enumerate(uses) if u and sg.ops[i] not in LEAVES)


def show(s: Sym, st: str = "display") -> str:
    """One node as a formula in the given style, nothing named."""
    return Printer(s.g, style(st)).text(s.i)
