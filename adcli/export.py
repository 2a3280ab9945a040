"""``adcli export``: the value and gradient (and Hessian) as code you can take away.

The generated function is the textbook's sweep written out: one statement
per node of the trace, named as the trace names it (``v1``, ``x1``, your step
names), then the adjoint sweep as ``v1_bar += v2_bar * (...)`` lines whose
local partials are the registry's rules printed in the target language
(:mod:`adcli.symbolic`, :mod:`adcli.formula`). The Hessian, when asked for,
differentiates the symbolic gradient once more and writes those nodes out
the same way. Nothing walks a graph at run time.

Conventions follow adcli's: ``where`` selects, and where a partial can be
exactly zero (``where``, ``relu``, ``abs``, ``max``...) the chain-rule
products take 0·inf = 0, as adcli's engines do.
"""

from __future__ import annotations

import keyword
import re
from collections import Counter
from dataclasses import dataclass, field

from .errors import USAGE, AdcliError
from .formula import Printer, Style, style
from .graph import Graph
from .ops import OPS
from .symbolic import LEAVES, Sym, SymGraph, apply, from_graph, gradient

LANGS = ("python", "numpy", "c", "jax")

# ops whose partial can be exactly 0 at some points: an adjoint 0 then meets
# partials that may be infinite further down, and 0·inf must stay 0
# every op printed as a function call: the ones a target may lack
_CALLS = {n for n, o in OPS.items() if o.show.startswith(n + "(") and n != "where"}

_ZEROING = {n for n, o in OPS.items() if o.zeroes}
# ops whose partial is infinite at a point of their domain (sqrt'(0), asin'(1)): a zero
# adjoint meeting it gives 0, as in the engines, so these products are always careful
_BLOWS = {n for n, o in OPS.items() if o.steep}


def _blows(op: str, param) -> bool:
    """Can this op's partial be infinite inside its domain? (x^c: only for c < 1.)"""
    return op in _BLOWS and (op != "powc" or (param < 1 and param != 0))


_C_RESERVED = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern",
    "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return", "short", "signed",
    "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while",
    "in", "value", "grad", "hess", "fabs", "fmax", "fmin", "pow", "log", "exp", "sqrt", "cbrt",
}  # fmt: skip
_PY_RESERVED = {"math", "np", "jnp", "abs", "max", "min", "float", "value", "gradient", "hessian", "jax", "scipy",
                "round"}  # fmt: skip

_HELPERS = {
    "python": {
        "_sigmoid": "def _sigmoid(x):\n    if x >= 0:\n        return 1.0 / (1.0 + math.exp(-x))\n"
        "    z = math.exp(x)\n    return z / (1.0 + z)\n",
        "_softplus": "def _softplus(x):\n    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))\n",
        "_sign": "def _sign(x):\n    return float((x > 0) - (x < 0))\n",
        "_cbrt": "def _cbrt(x):\n    return math.copysign(abs(x) ** (1.0 / 3.0), x)\n",
        "_times": 'def _times(a, p):\n    """a * p with 0 * inf = 0, as adcli\'s engines."""\n'
        "    return 0.0 if a == 0 or p == 0 else a * p\n",
        "_heaviside": "def _heaviside(x):\n    return 1.0 if x > 0 else 0.0 if x < 0 else 0.5 if x == 0 else x\n",
        "_mod": 'def _mod(a, b):\n    """a mod b with the sign of b, as numpy\'s mod (a - b*floor(a/b), rounded once)."""\n'
        "    return a % b\n",
        "_clip": "def _clip(x, lo, hi):\n    return lo if x < lo else hi if x > hi else x\n",
        "_logsumexp": 'def _logsumexp(a, b):\n    """log(exp(a) + exp(b)) without overflow, as numpy\'s logaddexp."""\n'
        "    if a == b:\n        return a + math.log(2.0)\n    m, d = (a, b - a) if a > b else (b, a - b)\n"
        "    return m + math.log1p(math.exp(d))\n",
        "_normcdf": "def _normcdf(x):\n    return 0.5 * math.erfc(-x / math.sqrt(2.0))\n",
        "_normpdf": "def _normpdf(x):\n    return math.exp(-0.5 * x * x) / 2.5066282746310002\n",
        "_sinc": "def _sinc(x):\n    return 1.0 if x == 0 else math.sin(x) / x\n",
        "_div": 'def _div(a, b):\n    """a / b in IEEE doubles, as C and numpy: x / 0 is inf (0 / 0 NaN), not an error."""\n'
        "    if b:\n        return a / b\n    if a == 0 or a != a:\n        return math.nan\n"
        "    return math.copysign(math.inf, a) * math.copysign(1.0, b)\n",
        "_pow": 'def _pow(a, c):\n    """a ** c as C\'s pow: 0 ** -1 is inf, a negative base to a fractional power NaN."""\n'
        "    try:\n        r = a ** c\n    except ZeroDivisionError:\n"
        "        return math.copysign(math.inf, a) if float(c).is_integer() and int(c) % 2 else math.inf\n"
        "    except OverflowError:\n        return math.inf\n"
        "    return math.nan if isinstance(r, complex) else r\n",
        "_live": 'def _live(f):\n    """A value on a branch where() drops may be undefined: NaN, not an error."""\n'
        "    try:\n        return f()\n    except (ValueError, ZeroDivisionError, OverflowError):\n"
        "        return math.nan\n",
    },
    "numpy": {
        "_sigmoid": "def _sigmoid(x):\n    z = np.exp(-np.abs(x))\n    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))\n",
        "_times": 'def _times(a, p):\n    """a * p with 0 * inf = 0, as adcli\'s engines."""\n    r = a * p\n'
        "    return np.where(((a == 0) | (p == 0)) & ~np.isfinite(r), 0.0, r)\n",
        "_normpdf": "def _normpdf(x):\n    return np.exp(-0.5 * x * x) / 2.5066282746310002\n",
        "_sinc": "def _sinc(x):\n    safe = np.where(x == 0, 1.0, x)\n    return np.where(x == 0, 1.0, np.sin(x) / safe)\n",
    },
    "c": {
        "adcli_sign": "static double adcli_sign(double x) { return (double)((x > 0) - (x < 0)); }\n",
        "adcli_relu": "static double adcli_relu(double x) { return x > 0 ? x : 0.0; }\n",
        "adcli_sigmoid": "static double adcli_sigmoid(double x) {\n    double z = exp(-fabs(x));\n"
        "    return x >= 0 ? 1.0 / (1.0 + z) : z / (1.0 + z);\n}\n",
        "adcli_softplus": "static double adcli_softplus(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }\n",
        "adcli_times": "/* a * p with 0 * inf = 0, as adcli's engines */\n"
        "static double adcli_times(double a, double p) {\n    double r = a * p;\n"
        "    return ((a == 0 || p == 0) && !isfinite(r)) ? 0.0 : r;\n}\n",
        "adcli_heaviside": "static double adcli_heaviside(double x) { return x > 0 ? 1.0 : x < 0 ? 0.0 : x == 0 ? 0.5 : x; }\n",
        "adcli_mod": "/* a mod b with the sign of b, as numpy's mod (a - b*floor(a/b), rounded once) */\n"
        "static double adcli_mod(double a, double b) {\n    double r = fmod(a, b);\n"
        "    if (r != 0 && ((r < 0) != (b < 0))) r += b;\n    return r != 0 ? r : copysign(0.0, b);\n}\n",
        "adcli_clip": "static double adcli_clip(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }\n",
        "adcli_logsumexp": "/* log(exp(a) + exp(b)) without overflow, as numpy's logaddexp */\n"
        "static double adcli_logsumexp(double a, double b) {\n    if (a == b) return a + log(2.0);\n"
        "    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));\n}\n",
        "adcli_normcdf": "static double adcli_normcdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }\n",
        "adcli_normpdf": "static double adcli_normpdf(double x) { return exp(-0.5 * x * x) / 2.5066282746310002; }\n",
        "adcli_sinc": "static double adcli_sinc(double x) { return x == 0 ? 1.0 : sin(x) / x; }\n",
    },
}
# j1 for sinc's derivative, in numpy and jax alike: jax.scipy.special has no spherical_jn
# (checked with jax 0.10.2), and scipy's is 0 below about |x| = 1e-300 and NaN at subnormal
# x. The closed form, and below |x| = 0.5, where it cancels, its Taylor series to x^11 (the
# next term is below 1e-17 relative there)
_HELPERS["numpy"]["_spherical_j1"] = (
    'def _spherical_j1(x):\n    """j1(x) = (sin(x)/x - cos(x))/x, by its series near 0 (no cancellation)."""\n'
    "    small = np.abs(x) < 0.5\n    s = np.where(small, 1.0, x)\n    z = x * x\n"
    "    series = x * (1 / 3 - z * (1 / 30 - z * (1 / 840 - z * (1 / 45360 - z * (1 / 3991680 - z / 518918400)))))\n"
    "    return np.where(small, series, (np.sin(s) / s - np.cos(s)) / s)\n"
)
_HELPERS["jax"] = {k: v.replace("np.", "jnp.") for k, v in _HELPERS["numpy"].items()}


def _printer(lang: str):
    """The printer for ``lang``: Python's ``/`` and ``**`` raise where C and numpy
    give inf or NaN (1/0, 0 ** -0.5, (-8) ** 0.5 is even complex), so the Python
    target spells those through ``_div`` and ``_pow``."""
    if lang != "python":
        return Printer
    from .ops import ATOM

    class IEEEPrinter(Printer):
        def _shape(self, i: int):
            sg = self.sg
            op, args, c = sg.ops[i], sg.args[i], sg.params[i]
            if op == "div" and sg.ops[args[1]] != "const":
                return ATOM, ["_div(", (args[0], 0), ", ", (args[1], 0), ")"]
            if op == "powc" and (c < 0 or c != int(c)):
                return ATOM, ["_pow(", (args[0], 0), ", ", self._param(c), ")"]
            if op == "pow":
                return ATOM, ["_pow(", (args[0], 0), ", ", (args[1], 0), ")"]
            return super()._shape(i)

    return IEEEPrinter


def _lang_style(lang: str) -> Style:
    from dataclasses import replace

    base = style("numpy" if lang == "jax" else lang)
    spaced = replace(base, mul=" * ", pow=" ** " if base.pow else None)
    if lang in ("numpy", "jax"):  # the helper above
        spaced = replace(spaced, funcs={**spaced.funcs, "spherical_j1": "_spherical_j1({0})"})
    if lang != "jax":
        return spaced
    return replace(
        spaced,
        name="jax",
        number=lambda v: base.number(v).replace("np.", "jnp."),
        funcs={k: v.replace("np.", "jnp.").replace("scipy.", "jax.scipy.") for k, v in spaced.funcs.items()},
        where=base.where.replace("np.", "jnp."),
    )


@dataclass
class _Code:
    lang: str
    lines: list[str] = field(default_factory=list)
    reads: set[str] = field(default_factory=set)
    loop_lines: set[int] = field(default_factory=set)  # written by adcli.loops: kept as they are
    arrays: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # vector -> (offset, length, its bar)
    const_arrays: dict[str, list[float]] = field(default_factory=dict)  # vector constants loops read
    notes: list[str] = field(default_factory=list)

    def add_loop_lines(self, lines: list[str]) -> None:
        for ln in lines:
            self.loop_lines.add(len(self.lines))
            self.lines.append(ln)


def _ident(name: str, lang: str, taken: set[str]) -> str:
    """A valid identifier in ``lang`` for a trace name (θ in C becomes u03b8)."""
    out = re.sub(r"\[(\d+)\]$", r"_\1", name)  # x[3] unrolled: x_3
    if lang == "c":
        out = "".join(ch if (ch.isascii() and (ch.isalnum() or ch == "_")) else f"u{ord(ch):04x}" for ch in out)
        if out in _C_RESERVED:
            out += "_"
    elif keyword.iskeyword(out) or out in _PY_RESERVED:
        out += "_"
    while out in taken:
        out += "_"
    taken.add(out)
    return out


def export(graph: Graph, lang: str, name: str = "f", hessian: bool = False) -> str:
    """Source code of a function ``name`` for the value and gradient of ``graph``."""
    if lang not in LANGS:
        raise AdcliError(USAGE, f"unknown --lang {lang!r}: use python, numpy, c or jax")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or keyword.iskeyword(name):
        raise AdcliError(USAGE, f"--name {name!r} is not a valid function name", hint="use letters, digits and _")
    if len(graph.outputs) != 1:
        raise AdcliError(
            USAGE,
            f"export needs a scalar expression, but this one has {len(graph.outputs)} outputs",
            graph.source,
            (graph.output_spans[1][0], graph.output_spans[-1][1]),
        )
    st = _lang_style(lang)
    _refuse_missing(graph, lang, st, hessian)
    taken: set[str] = {name}
    var: dict[int, str] = {}
    code = _Code(lang)
    elements = _vector_inputs(graph)  # vector inputs become arrays: x[k] is x[k-1]
    bars: dict[int, str] = {}
    for base, ids in elements.items():
        a = _ident(base, lang, taken)
        ab = _ident(f"{a}_bar", lang, taken)
        code.arrays[a] = (graph.inputs.index(ids[0]), len(ids), ab)
        for k, i in enumerate(ids):
            var[i], bars[i] = f"{a}[{k}]", f"{ab}[{k}]"
    for i, node in enumerate(graph.nodes):
        if not node.op.constant and i not in var:
            var[i] = _ident(node.name or f"v{i}", lang, taken)
    bars.update({i: _ident(f"{v}_bar", lang, taken) for i, v in var.items() if i not in bars})
    loops = {} if hessian else _plan_loops(graph, lang, var, bars, taken, code)
    if hessian and getattr(graph, "reductions", None):
        code.notes.append("the reductions are unrolled: --hessian writes each second derivative out")
    keep = _needed(graph, loops)
    careful = any(n.op.name in _ZEROING for n in graph.nodes)
    guard = lang == "python" and graph.has_where  # Python raises where numpy gives NaN
    inputs = _params(graph, var, code)
    out = graph.outputs[0]

    sg = SymGraph()
    atoms: dict[int, Sym] = {}

    def leaf(j: int) -> Sym:
        node = graph.nodes[j]
        if j not in atoms:
            atoms[j] = sg.const(node.param) if node.op.constant else sg.atom(var[j])
        return atoms[j]

    pr = _printer(lang)(sg, st)

    varying = set(var.values()) | set(code.arrays)  # what depends on the inputs (arrays in numpy)
    writer = None
    if loops:
        from .loops import Writer

        def fresh(stem: str) -> str:
            k = 1
            while f"{stem}{k}" in taken:
                k += 1
            taken.add(f"{stem}{k}")
            return f"{stem}{k}"

        writer = Writer(
            lang,
            lambda g: _printer(lang)(g, st),
            lambda g, s, own: _partials_with_ans(g, s, own),
            careful or any(_zeroing_loop(lp) for lp in loops.values()),
            guard,
            fresh,
        )
        writer.blows = _blows

    def emit(target: str, expr: str, decl: bool, op: str = "=") -> None:
        refs = set(re.findall(r"[A-Za-z_]\w*", expr))
        code.reads.update(refs)
        if refs & varying:
            varying.add(target)
        if lang == "jax" and target.endswith("]") and op != "=":  # jax arrays are immutable
            arr, _, k = target.partition("[")
            sign = "-" if op == "-=" else ""
            code.lines.append(f"{arr} = {arr}.at[{k[:-1]}].add({sign}{expr})")
            return
        if lang == "c":
            code.lines.append(f"{'double ' if decl else ''}{target} {op} {expr};")
        else:
            code.lines.append(f"{target} {op} {expr}")

    # -- the forward pass: one statement per node ------------------------------------
    code.lines.append(_comment(lang, "forward pass: one line per node of the trace"))
    for i, node in enumerate(graph.nodes):
        if node.op.arity == 0 or not keep[i]:
            continue
        if i in loops:
            assert writer is not None
            code.add_loop_lines([_comment(lang, graph.source[slice(*loops[i].span)])])
            code.add_loop_lines(writer.forward(loops[i], var[i], _pre(loops[i], var[i])))
            varying.add(var[i])
            continue
        extra = (node.param,) if node.op.param else ()
        s = sg.intern(node.op.name, tuple(leaf(a).i for a in node.args), *extra)
        expr = pr.text(s.i)
        if node.op.name == "powc" and node.param == 2 and lang in ("numpy", "jax"):  # the same number as x^2, faster
            x = pr.text(leaf(node.args[0]).i)
            expr = f"{x} * {x}"
        if guard and node.op.dom is not None:
            expr = f"_live(lambda: {expr})"
        emit(var[i], expr, True)

    # -- the adjoint sweep ----------------------------------------------------------------
    code.lines.append(_comment(lang, "adjoint sweep: v_bar = ∂f/∂v, from the output back to the inputs"))
    assigned: set[int] = set()
    aliased: set[int] = set()
    known: dict[int, float] = {}  # adjoints that are plain numbers
    for ids in elements.values():
        assigned.update(ids)  # array adjoints start at 0: every contribution is +=
    if graph.is_const(out):
        pass
    else:
        emit(bars[out], "1.0", True)
        assigned.add(out)
        known[out] = 1.0
    for i in range(len(graph.nodes) - 1, -1, -1):
        node = graph.nodes[i]
        if i not in assigned or node.op.arity == 0:
            continue
        if i in loops:
            assert writer is not None
            for j in dict.fromkeys(loops[i].leaves):
                known.pop(j, None)
                if j not in assigned:
                    emit(bars[j], "0.0", True)
                    assigned.add(j)
                elif j in aliased:  # the loop adds in place: not into another adjoint's array
                    emit(bars[j], f"{bars[j]} + 0.0", False)
                    aliased.discard(j)
            code.add_loop_lines(writer.reverse(loops[i], var[i], bars[i], _pre(loops[i], var[i])))
            continue
        own = leaf(i) if i in atoms else sg.atom(var[i])
        atoms[i] = own
        args = [leaf(a) for a in node.args]
        extra = (node.param,) if node.op.param else ()
        s = sg.intern(node.op.name, tuple(a.i for a in args), *extra)
        # the registry's rule on symbols: ans is the node's own variable
        ps = _partials_with_ans(sg, s, own)
        a_bar = sg.atom(bars[i])
        # over arrays, an adjoint that is a known number (the seed 1) is folded
        # in rather than multiplied through every point; elsewhere the line reads as the textbook's
        c = known.get(i) if lang in ("numpy", "jax") else None
        for k, j in enumerate(node.args):
            p = ps[k]
            if graph.is_const(j) or p.const_value() == 0:
                continue
            pv = p.const_value()
            value_of = None
            if c is not None:
                term = apply("mul", c, p)
                text = pr.text(term.i)
                value_of = term.const_value()
            elif pv in (1.0, -1.0):
                term = a_bar if pv == 1.0 else apply("neg", a_bar)
                text = pr.text(term.i)
            elif (careful or _blows(node.op.name, node.param)) and pv is None:
                text = f"{'adcli_times' if lang == 'c' else '_times'}({bars[i]}, {pr.text(p.i)})"
            else:  # v_bar * (the rule's partial), as the textbook writes it
                text = pr.text(sg.intern("mul", (a_bar.i, p.i)).i)
            if j in known or (j in assigned and value_of is not None):
                known.pop(j, None)  # a second contribution: no longer a plain number
            elif j not in assigned and value_of is not None:
                known[j] = value_of
            if guard:
                text = f"_live(lambda: {text})"
            if j not in assigned:
                emit(bars[j], text, True)
                assigned.add(j)
                if lang == "numpy" and text == bars[i]:
                    aliased.add(j)  # x_bar = v_bar is the same array: never += into it
            elif j in aliased:
                emit(bars[j], f"{bars[j]} - {bars[i]}" if pv == -1.0 else f"{bars[j]} + {text}", False)
                aliased.discard(j)
            elif pv == -1.0 and not guard:
                emit(bars[j], bars[i], False, "-=")
            else:
                emit(bars[j], text, False, "+=")
    for i in graph.inputs:
        if i not in assigned:
            emit(bars[i], "0.0" if lang in ("python", "c") else f"0.0 * {var[i]}", True)
            assigned.add(i)
    grads = _grads(graph, bars, code)
    value = var[out] if out in var else st.number(graph.nodes[out].param)

    hess_rows: list[list[str]] | None = None
    if hessian:
        hess_rows = _hessian_lines(graph, lang, st, var, taken, code, emit)
    return _assemble(graph, lang, name, inputs, value, grads, hess_rows, code, varying)


def _vector_inputs(graph: Graph) -> dict[str, list[int]]:
    """Vector inputs whose elements are all inputs, 1..n in order: {name: ids}."""
    from .vectors import split_name

    out: dict[str, list[int]] = {}
    for i in graph.inputs:
        sp = split_name(graph.nodes[i].name or "")
        if sp is not None:
            out.setdefault(sp[0], []).append(i)
    ok = {}
    for base, ids in out.items():
        ks = [split_name(graph.nodes[i].name or "")[1] for i in ids]  # type: ignore[index]
        start = graph.inputs.index(ids[0])
        if ks == list(range(1, len(ks) + 1)) and graph.inputs[start : start + len(ids)] == ids:
            ok[base] = ids
    return ok


def _plan_loops(graph: Graph, lang: str, var, bars, taken: set[str], code: _Code) -> dict:
    """The top-level reductions written as loops: {result node: Loop}."""
    from .loops import Builder, Unloopable

    reds = getattr(graph, "reductions", None)
    if not reds:
        return {}
    final_id = {id(n): k for k, n in enumerate(graph.nodes)}
    arrays: dict[str, tuple[str, str]] = {}
    for a in code.arrays:
        base = next(graph.nodes[i].name or "" for i in graph.inputs if var[i].startswith(a + "["))
        arrays[base.rpartition("[")[0]] = (a, code.arrays[a][2])
    for red in reds:  # an accumulator the trace numbers (v79991) reads better as sum1
        j = final_id.get(id(red.result))
        if j is not None and j in var and re.fullmatch(r"v\d+", var[j]):
            var[j] = _ident(f"{red.kind}1" if f"{red.kind}1" not in taken else red.kind, lang, taken)
            bars[j] = _ident(f"{var[j]}_bar", lang, taken)
    consts: dict[str, str] = {}
    loops = {}
    for red in reds:
        j = final_id.get(id(red.result))
        if j is None or j in loops or graph.nodes[j].op.arity == 0:
            continue
        for n in red.consts:
            if n not in consts:
                consts[n] = _ident(n, lang, taken)
        b = Builder(red, final_id, var, bars, arrays, consts, lambda v: _ident(v, lang, taken), lang)
        try:
            loops[j] = b.top()
        except Unloopable as e:
            code.notes.append(f"{graph.source[red.span[0] : red.span[1]]} is unrolled: {e}")
            continue
        for n in b.used_consts:
            code.const_arrays[consts[n]] = [float(v) for v in red.consts[n]]
    return loops


def _needed(graph: Graph, loops: dict) -> list[bool]:
    """Nodes the code computes: a loop's terms are the loop's, not separate lines."""
    keep = [False] * len(graph.nodes)
    for o in graph.outputs:
        keep[o] = True
    for i in range(len(keep) - 1, -1, -1):
        if keep[i]:
            for a in loops[i].leaves if i in loops else graph.nodes[i].args:
                keep[a] = True
    return keep


def _pre(loop, acc: str) -> str | None:
    from .loops import pre_name

    return pre_name(loop, acc)


def _zeroing_loop(loop) -> bool:
    from .loops import zeroing

    return zeroing(loop, _ZEROING)


def _params(graph: Graph, var: dict[int, str], code: _Code) -> list[str]:
    """The function's parameters: a vector input is one array."""
    out: list[str] = []
    for i in graph.inputs:
        v = var[i]
        p = v.partition("[")[0] if v.endswith("]") and v.partition("[")[0] in code.arrays else v
        if p not in out:
            out.append(p)
    return out


def _grads(graph: Graph, bars: dict[int, str], code: _Code) -> list[str]:
    """The gradient's entries in input order; ``*x_bar`` for a whole array."""
    out: list[str] = []
    for i in graph.inputs:
        b = bars[i]
        if b.endswith("]") and b.partition("[")[0] in {ab for _, _, ab in code.arrays.values()}:
            b = "*" + b.partition("[")[0]
            if b in out:
                continue
        out.append(b)
    return out


def _refuse_missing(graph: Graph, lang: str, st: Style, hessian: bool) -> None:
    """A function the target's library lacks (digamma in Python's math, in C's
    math.h) is refused, located at the node whose value or derivative needs it:
    never a hand-written approximation."""
    from .symbolic import local_partials

    seen: dict[tuple, str | None] = {}
    for node in graph.nodes:
        if node.op.arity == 0:
            continue
        key = (node.op.name, node.param if node.op.param else None)
        if key not in seen:
            sg = SymGraph()
            args = [sg.input(f"a{k}") for k in range(node.op.arity)]
            s = sg.intern(node.op.name, tuple(a.i for a in args), key[1])
            todo = [(s, 0)]
            missing = None
            while todo and missing is None:  # the op, its partials, and theirs for a Hessian
                t, order = todo.pop()
                if sg.ops[t.i] not in st.funcs and sg.ops[t.i] in _CALLS:
                    missing = sg.ops[t.i]
                elif order < (2 if hessian else 1) and sg.ops[t.i] not in LEAVES and sg.ops[t.i] != "cmp":
                    for p in local_partials(t):
                        todo += [(sg.sym(j), order + 1) for j in _below(sg, p.i)]
            seen[key] = missing
        missing = seen[key]
        if missing is not None:
            need = "" if missing == node.op.name else f" (needed by the derivative of {node.op.name})"
            library = "Python's math module" if lang == "python" else "C's math.h"
            raise AdcliError(
                USAGE,
                f"export --lang {lang} cannot write {missing}{need}: {library} has no {missing}",
                graph.source,
                node.span,
                hint=f"use --lang numpy or --lang jax, which have {missing} (scipy.special, jax.scipy.special)",
            )


def _below(sg: SymGraph, root: int) -> list[int]:
    """``root`` and every node under it (small graphs: one rule's partial)."""
    live = {root}
    for i in range(root, -1, -1):
        if i in live:
            live.update(sg.args[i])
    return sorted(live)


def _partials_with_ans(sg: SymGraph, s: Sym, own: Sym) -> list[Sym]:
    """The rule's partials where ``ans`` is the node's variable (not its formula)."""
    from .ops import OPS
    from .symbolic import SymNS

    op = OPS[s.op]
    args = [sg.sym(k) for k in sg.args[s.i]]
    extra = (sg.params[s.i],) if op.param else ()
    ps = op.d(SymNS, own, *args, *extra)  # type: ignore[misc]
    return [p if isinstance(p, Sym) else sg.const(p) for p in ps]


def _hessian_lines(graph: Graph, lang: str, st: Style, var: dict[int, str], taken: set[str], code: _Code, emit):
    """Second derivatives: the symbolic gradient differentiated again, each new
    node one statement ``h1 = ...`` (nodes of the trace keep their names)."""
    problem = from_graph(graph)
    sg = problem.sg
    names: dict[int, str] = {}
    for gi, s in enumerate(problem.of):
        if gi in var and sg.ops[s.i] not in ("const",):
            names.setdefault(s.i, var[gi])
    firsts = gradient(problem.outputs[0], problem.inputs)
    n = len(problem.inputs)
    entries: dict[tuple[int, int], Sym] = {}
    for a in range(n):
        for b, h in enumerate(gradient(firsts[a], problem.inputs[a:]), start=a):
            entries[(a, b)] = h
    roots = sorted({h.i for h in entries.values()})
    need = [False] * (max(roots) + 1 if roots else 0)
    for r in roots:
        need[r] = True
    for i in range(len(need) - 1, -1, -1):
        if need[i] and i not in names:
            for a in sg.args[i]:
                need[a] = True
    pr = _printer(lang)(sg, st, names)
    code.lines.append(_comment(lang, "second derivatives: the symbolic gradient differentiated again"))
    k = 0
    for i, needed in enumerate(need):
        if not needed or i in names or sg.ops[i] in LEAVES or sg.ops[i] == "cmp":
            continue
        k += 1
        nm = f"h{k}"
        while nm in taken:
            nm += "_"
        taken.add(nm)
        text = pr.text(i, named_root=True)
        names[i] = nm
        if lang == "python" and graph.has_where:
            text = f"_live(lambda: {text})"
        emit(nm, text, True)
    rows = [[pr.text(entries[(min(a, b), max(a, b))].i) for b in range(n)] for a in range(n)]
    for row in rows:
        for t in row:
            code.reads.update(re.findall(r"[A-Za-z_]\w*", t))
    return rows


def _comment(lang: str, text: str) -> str:
    return f"/* {text} */" if lang == "c" else f"# {text}"


def _assemble(graph, lang, name, inputs, value, grads, hess_rows, code: _Code, varying: set[str]) -> str:
    body_text = "\n".join(code.lines)
    helpers = [src for h, src in _HELPERS[lang].items() if re.search(rf"\b{h}\(", body_text + str(hess_rows))]
    source = f"{name}({', '.join(inputs)})"
    n = len(inputs)
    if lang == "c":
        sig = f"void {name}(const double *in, double *value, double *grad{', double *hess' if hess_rows else ''})"
        out = [
            "#include <math.h>",
            "",
            f"/* {_c_comment(source)}",
            "   generated by adcli export: value and gradient"
            + (" and Hessian (row-major)" if hess_rows else "")
            + f"; in = ({', '.join(inputs)}) */",
            "",
        ]
        out += [_comment(lang, note) for note in code.notes]
        out += helpers + ([""] if helpers else [])
        for c, vals in code.const_arrays.items():  # --const vectors: data, one line each
            out.append(f"static const double {c}[{len(vals)}] = {{{', '.join(repr(v) for v in vals)}}};")
        out += [""] if code.const_arrays else []
        out.append(sig + " {")
        body = []
        flat = 0
        for v in inputs:
            if v in code.arrays:
                off, n_, ab = code.arrays[v]
                body += [f"const double *{v} = in + {off};", f"double *{ab} = grad + {off};"]
                body.append(f"for (int k = 0; k < {n_}; k++) {ab}[k] = 0.0;")
                flat += n_
            else:
                body.append(f"const double {v} = in[{flat}];")
                flat += 1
        n_pre = len(body)
        for k, line in enumerate(code.lines):
            fwd = k not in code.loop_lines and _is_forward_decl(line, code)
            body.append(line.replace("double ", "const double ", 1) if fwd else line)
        body.append(f"*value = {value};")
        flat = 0
        for v, g in zip(inputs, grads):
            if v in code.arrays:
                flat += code.arrays[v][1]
            else:
                body.append(f"grad[{flat}] = {g};")
                flat += 1
        if hess_rows:
            body += [f"hess[{a * n + b}] = {t};" for a, row in enumerate(hess_rows) for b, t in enumerate(row)]
        # a variable nothing reads (-Wall -Werror): say so. Words are counted once over the
        # body (a search per declaration would make a long body quadratic)
        words = Counter(re.findall(r"\w+", "\n".join(body[n_pre:])))
        for k, line in enumerate(body):
            m = re.match(r"(?:const )?double (\w+) =", line)
            if m is None:
                continue
            own = re.findall(r"\w+", line).count(m.group(1)) if k >= n_pre else 0
            if words[m.group(1)] <= own:
                body.append(f"(void){m.group(1)};")
        out += ["    " + line for line in body]
        out.append("}")
        return "\n".join(out) + "\n"
    imports = {"python": "import math", "numpy": "import numpy as np", "jax": "import jax.numpy as jnp"}[lang]
    if "scipy.special." in body_text + str(hess_rows) + str(value):  # only when a special function is used
        imports += "\nimport jax.scipy.special" if lang == "jax" else "\nimport scipy.special"
    out = [imports, "", ""]
    out += [_comment(lang, note) for note in code.notes] + ([""] if code.notes else [])
    for c, vals in code.const_arrays.items():  # --const vectors: data, one line each
        arr = f"({', '.join(repr(v) for v in vals)},)"
        out += [
            f"{c} = {arr if lang == 'python' else ('np' if lang == 'numpy' else 'jnp') + '.array(' + arr + ')'}",
            "",
        ]
    out += [""] if code.const_arrays else []
    for src in helpers:
        out += [src.rstrip("\n"), "", ""]
    out.append(f"def {name}({', '.join(inputs)}):")
    doc = f"Value and gradient{' and Hessian' if hess_rows else ''} of {source} (generated by adcli export)."
    out.append(f"    {_py_doc(doc)}")
    if lang == "numpy" and graph.has_where:  # a branch where() drops may be undefined: no warnings
        out.append('    with np.errstate(all="ignore"):')
        pad = "        "
    else:
        pad = "    "
    mod = {"numpy": "np", "jax": "jnp"}.get(lang)
    if mod is not None:  # plain Python numbers too: numpy's inf and NaN, never Python's errors
        scalars = [v for v in inputs if v not in code.arrays]
        if scalars:
            out.append(f"{pad}{', '.join(scalars)} = " + ", ".join(f"{mod}.asarray({v}, dtype=float)" for v in scalars))
    for v, (_, n_, ab) in code.arrays.items():
        out.append(f"{pad}if len({v}) != {n_}:")
        out.append(f'{pad}    raise ValueError(f"{v} has length {{len({v})}}; this code was exported for length {n_}")')
        if mod is None:
            out.append(f"{pad}{ab} = [0.0] * {n_}")
        else:
            out.append(f"{pad}{v} = {mod}.asarray({v}, dtype=float)")
    if (code.arrays or code.loop_lines) and mod is not None:
        shapes = [f"{mod}.shape({v})[1:]" if v in code.arrays else f"{mod}.shape({v})" for v in inputs]
        out.append(f"{pad}points = {mod}.broadcast_shapes({', '.join(shapes)})  # the shape of the points")
        for _, n_, ab in code.arrays.values():
            out.append(f"{pad}{ab} = {mod}.zeros(({n_},) + points)")
    kept = {value, *grads, *(t for row in hess_rows or [] for t in row)}
    free = lang == "numpy" and not code.loop_lines and not code.arrays
    lines = _free_dead_arrays(code.lines, set(inputs) | _names(" ".join(kept))) if free else code.lines
    if lines is not code.lines:
        out.append(pad + "# (del frees each array once nothing below reads it: at 10^6 points memory is the cost)")
    out += [pad + line for line in lines]
    if lang in ("numpy", "jax"):
        mod = "np" if lang == "numpy" else "jnp"
        shape = f"{mod}.broadcast_shapes({', '.join(f'{mod}.shape({v})' for v in inputs)})"
        if code.arrays or code.loop_lines:
            shape = "points"
        entries = [value, *grads, *(t for row in hess_rows or [] for t in row)]
        if any(not (t.startswith("*") or set(re.findall(r"[A-Za-z_]\w*", t)) & varying) for t in entries):
            out.append(f"{pad}shape = {shape}  # a constant entry still has the inputs' shape")

        def wrap(t):
            if t.startswith("*") or set(re.findall(r"[A-Za-z_]\w*", t)) & varying:
                return t
            return f"{mod}.broadcast_to({t}, shape)"

    else:

        def wrap(t):
            return t

    ret = f"{wrap(value)}, [{', '.join(wrap(g) for g in grads)}]"
    if hess_rows:
        ret += ", [" + ", ".join("[" + ", ".join(wrap(t) for t in row) + "]" for row in hess_rows) + "]"
    out.append(f"{pad}return {ret}")
    return "\n".join(out) + "\n"


def _names(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_]\w*", text))


def _free_dead_arrays(lines: list[str], keep: set[str]) -> list[str]:
    """After the last line that reads an array, ``del`` it: over 10^6 points
    the memory a dead array holds costs as much as computing it."""
    last: dict[str, int] = {}
    assigned: set[str] = set()
    for k, line in enumerate(lines):
        if line.startswith("#"):
            continue
        target, op, expr = line.partition(" ")[0], line.split(" ")[1], line.split(" ", 2)[2]
        for name in _names(expr) | ({target} if op != "=" else set()):
            last[name] = k
        assigned.add(target)
        last.setdefault(target, k)
    dead: dict[int, list[str]] = {}
    for name, k in last.items():
        if name in assigned and name not in keep:
            dead.setdefault(k, []).append(name)
    out = []
    for k, line in enumerate(lines):
        out.append(line)
        if k in dead:
            out.append("del " + ", ".join(dead[k]))
    return out


def _is_forward_decl(line: str, code: _Code) -> bool:
    return line.startswith("double ") and "_bar" not in line.split("=")[0]


def _c_comment(text: str) -> str:
    return text.replace("*/", "* /")


def _py_doc(text: str) -> str:
    return '"""' + text.replace("\\", "\\\\").replace('"""', "'''") + '"""'
