"""Issue 15: ``adcli diff`` formulas against SymPy and against adcli's own engines.

Every formula is read back twice: by adcli (its steps and the partial as one
program, evaluated at the point, must give ``adcli grad``'s numbers) and by
SymPy (whose derivative of the same function must equal it: the difference
simplifies to 0 for smooth functions; piecewise ones are compared at the
point to 30 digits, since SymPy cannot simplify a Piecewise away). Every
primitive has a SymPy reading (SYMPY_NAMES): the step functions as SymPy
functions whose derivative is 0, as adcli's rule says away from the jumps.
"""

from __future__ import annotations

import json
import math
import signal

import pytest
import sympy as sp
import test_oracle as oracle
from budget import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from adcli import core, symbolic
from adcli.cli import app
from adcli.diff import run_diff
from adcli.formula import Printer, count_ops, style
from adcli.ops import OPS
from adcli.parse import parse
from adcli.render import diff_json, diff_text

PIECEWISE = {"abs", "sign", "relu", "max", "min", "where", "cbrt", "hypot", "clip"}
# step functions: read with derivative 0 (below), so a primitive's formula simplifies to
# SymPy's; in a random tree the oracle takes their constant piece near the point instead,
# which only agrees at the point
STEPS = {"floor", "ceil", "round", "heaviside", "mod"}


class _Step:
    """Mixin: derivative 0 wherever the step function is differentiable (adcli's rule)."""

    def fdiff(self, argindex=1):
        return sp.S.Zero


class Floor(_Step, sp.floor):
    pass


class Ceil(_Step, sp.ceiling):
    pass


class Heaviside(_Step, sp.Function):
    """adcli's heaviside: 1/2 at 0 (SymPy's own differentiates to a DiracDelta)."""

    @classmethod
    def eval(cls, a):
        if a.is_positive:
            return sp.S.One
        if a.is_negative:
            return sp.S.Zero
        if a.is_zero:
            return sp.S.Half
        return None


class Round(_Step, sp.Function):
    """adcli's round (numpy's rint): halves to even. SymPy has no such function."""

    is_integer = True

    @classmethod
    def eval(cls, a):
        if a.is_integer or isinstance(a, (sp.floor, sp.ceiling, Round)):
            return a  # round(floor(a/b)), as mod's ∂/∂b reads
        if a.is_number and a.is_real:  # 2.5, 7/2, pi + 1
            q = sp.Rational(a) if a.is_Float else a  # the double exactly: 2.5 is a half, not nearly one
            r = sp.floor(q + sp.S.Half)
            return r - 1 if r - q == sp.S.Half and r % 2 else r
        return None


def _where(cond, a, b):
    # unevaluated: Piecewise's own simplification of its conditions cost seconds a test
    return sp.Piecewise((a, cond), (b, True), evaluate=False)


def _sinc(a):
    return sp.sin(a) / a


SYMPY_NAMES = {
    "where": _where,
    "abs": sp.Abs,
    "sign": sp.sign,
    "relu": lambda a: sp.Max(a, 0),
    "max": sp.Max,
    "min": sp.Min,
    "hypot": lambda a, b: sp.sqrt(a**2 + b**2),
    "cbrt": lambda a: sp.sign(a) * sp.Abs(a) ** sp.Rational(1, 3),
    "clip": lambda a, lo, hi: sp.Min(sp.Max(a, lo), hi),
    "sigmoid": lambda a: 1 / (1 + sp.exp(-a)),
    "softplus": lambda a: sp.log(1 + sp.exp(a)),
    "expm1": lambda a: sp.exp(a) - 1,
    "log1p": lambda a: sp.log(1 + a),
    "log2": lambda a: sp.log(a) / sp.log(2),
    "log10": lambda a: sp.log(a) / sp.log(10),
    "log": lambda a, b=None: sp.log(a) if b is None else sp.log(a) / sp.log(b),
    "logsumexp": lambda a, b: sp.log(sp.exp(a) + sp.exp(b)),
    "erf": sp.erf,
    "erfc": sp.erfc,
    "normcdf": lambda a: (1 + sp.erf(a / sp.sqrt(2))) / 2,
    "normpdf": lambda a: sp.exp(-(a**2) / 2) / sp.sqrt(2 * sp.pi),
    "gamma": sp.gamma,
    # log|Γ(a)| for every real a: SymPy's loggamma is complex where Γ < 0 (a in (-3, -2))
    "lgamma": lambda a: sp.log(sp.gamma(a) ** 2) / 2,
    "digamma": sp.digamma,
    "polygamma": sp.polygamma,
    "floor": Floor,
    "ceil": Ceil,
    "round": Round,
    "heaviside": Heaviside,
    "mod": lambda a, b: a - b * Floor(a / b),  # np.mod: the sign of b
    "sinc": _sinc,
    "spherical_j1": lambda a: (sp.sin(a) / a - sp.cos(a)) / a,
    "cot": sp.cot,
    "sec": sp.sec,
    "csc": sp.csc,
    "pi": sp.pi,
    "e": sp.E,
}


def to_sympy(text: str, names: dict) -> sp.Expr:
    from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

    return parse_expr(
        text, local_dict={**SYMPY_NAMES, **names}, transformations=(*standard_transformations, convert_xor)
    )


def formulas(result, at: dict | None = None):
    """{label: (program text in adcli's language, SymPy expression)} for every partial;
    with ``at``, each expression read with the inputs at that point (40 digits)."""
    pr = result.printer("adcli")
    steps = [(n, pr.text(i, named_root=True)) for i, n in result.steps.items()]
    syms = {n: sp.Symbol(n, real=True) for n in result.inputs}
    env: dict = {n: sp.Float(at[n], 40) for n in syms} if at is not None else dict(syms)
    for n, f in steps:
        env[n] = to_sympy(f, env)
    out = {}
    for p in result.partials:
        body = pr.text(p.node)
        program = "; ".join([*(f"{n} = {f}" for n, f in steps), body])
        out[p.wrt] = (program, to_sympy(body, env))
    return out, syms


def adcli_value(program: str, point: dict) -> float:
    g = parse(program)
    at = ",".join(f"{n}={point[n]!r}" for n in g.input_names)
    return float(core.run_eval(core.load(program, at or None)).value[0])


def check_formulas(
    text: str, sym_f: sp.Expr | None, point: dict, smooth: bool, simplify: bool = True, max_ops: int = 40
) -> None:
    """The diff of ``text`` read back by adcli and SymPy agrees with both oracles."""
    g = parse(text)
    result = run_diff(g)
    at = ",".join(f"{n}={point[n]!r}" for n in g.input_names)
    grad = core.run_grad(core.load(text, at))
    try:
        got, syms = formulas(result)
        symbolic = True
    except (ValueError, AttributeError):  # SymPy could not build a formula (a Max of a condition it met zoo
        # in; Heaviside in a power, whose own error message then fails): read it at the point instead
        got, syms = formulas(result, at=point)
        symbolic = False
    if sym_f is None:
        sym_f = to_sympy(text, syms)
    subs = {syms[n]: sp.Float(point[n], 40) for n in g.input_names}
    for k, name in enumerate(g.input_names):
        program, mine = got[(name,)]
        # adcli reads the formula back and gets adcli grad's number
        ad = float(grad.gradient[k])
        back = adcli_value(program, point)
        assert back == pytest.approx(ad, rel=1e-12, abs=1e-12), (text, name, program)
        ref = sp.diff(sym_f.subs({sp.Symbol(n, real=True): syms[n] for n in g.input_names}), syms[name])
        proved = None
        if (
            symbolic and smooth and simplify and sp.count_ops(mine - ref) < max_ops
        ):  # simplify's cost grows fast with size
            proved = _within(SIMPLIFY_SECONDS, _simplifies_to_zero, _as_doubles(_off_removable(mine) - ref))
            assert proved is not False, (text, name, program)
        if not proved:  # not smooth, too large, or simplify ran out of time: 30 digits at the point
            # each side on its own, the point put in first (40-digit Floats): evalf(subs=) of the
            # difference, 0, raised its precision again and again, and subs is slow
            want = ref.xreplace(subs).evalf(30)
            diff = mine.xreplace(subs).evalf(30) - want
            # constants adcli folded are floats: agreement to 1e-14, not to 30 digits
            assert abs(diff) <= 1e-14 * max(1, abs(want)), (text, name, program, diff)


SIMPLIFY_SECONDS = 20.0  # SymPy's simplify has no bound; a rare random tree takes minutes


class _OutOfTime(Exception):
    pass


def _within(seconds: float, fn, *args):
    """fn(*args), or None when it runs longer than ``seconds`` (SIGALRM: SymPy is pure Python)."""

    def stop(signum, frame):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    except _OutOfTime:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _off_removable(e: sp.Expr) -> sp.Expr:
    """A rule's value at one point of a removable singularity, ``where(t == 0, 1/3, f(t))``
    (spherical_j1'), read as ``f(t)``: equal everywhere else, so SymPy can simplify it; the
    value at the point itself is checked by the 30-digit comparison and adcli's read-back."""

    def removable(a) -> bool:
        return isinstance(a, sp.Piecewise) and len(a.args) == 2 and isinstance(a.args[0].cond, sp.Eq)

    return e.replace(removable, lambda a: a.args[1].expr)


def _as_doubles(e: sp.Expr) -> sp.Expr:
    """SymPy's irrational constants (log(57/16), sqrt(2), pi) as the doubles adcli folds them to,
    so that simplify can cancel them against adcli's constants (in both formulas: a printed
    log(3, x) reads as log(3)/log(x), and log(3) - 1.0986... sent simplify on for 20 s)."""

    def irrational(a) -> bool:
        return bool(a.is_number and not a.is_Rational and a.is_real)

    return e.replace(irrational, lambda a: sp.Float(float(a)))


def _simplifies_to_zero(d: sp.Expr) -> bool | None:
    """SymPy's simplify gives 0: exactly, or up to the rounding of constants
    adcli folded to floats (SymPy keeps acos(3*tanh(pi)/4) exact); None where it cannot
    tell (real powers of a base it does not know is positive)."""
    given, d = d, sp.simplify(d)
    if d != 0:  # sqrt(a - 1)*sqrt(a + 1) against sqrt(a^2 - 1): combine the roots, 1.5 as 3/2
        d = sp.simplify(sp.powsimp(sp.nsimplify(d, rational=True), force=True))
    # constants as 15-digit floats on both sides (adcli's are doubles), as they stand or over one denominator
    for over_one_denominator in (False, True):
        if d == 0:
            break
        e = d.evalf(15)
        e = sp.expand(sp.numer(sp.together(e)) if over_one_denominator else e)
        scale = max([1, *(abs(f) for f in e.atoms(sp.Float))])
        e = e.xreplace({f: 0 for f in e.atoms(sp.Float) if abs(f) < 1e-13 * scale})
        if sp.simplify(e) == 0:
            return True
    if d != 0:  # sin(pi/(y + 1/2)) against sin(3.14.../(y + 0.5)): SymPy merges 1/2 and 0.5 only as one kind
        floated = given.replace(lambda a: a.is_Rational and not a.is_Integer, lambda a: sp.Float(a))
        if sp.simplify(floated) == 0:
            return True
    if d != 0:  # (2 + sin(x))^(x - 1)·(2 + sin(x)) against (2 + sin(x))^x: SymPy combines the powers
        # only for a base it knows is positive, which a real power with such an exponent has
        # (as given: simplify may have spread a base over a sum)
        given = sp.nsimplify(given, rational=True)  # 0.5 and 1/2 as one number
        bases = {p.base for p in given.atoms(sp.Pow) if not p.exp.is_Integer and not p.base.is_number}
        if bases and sp.simplify(given.xreplace({b: sp.Dummy(positive=True) for b in bases})) == 0:
            return True
        if bases:  # real powers SymPy does not combine (x/(y + 1/2) spread over a product): unknown,
            return None  # not disproved; the caller compares 30 digits at the point instead
    if d != 0 and _vanishes_where_tried(given):  # sigmoid(t1 - t2) against logsumexp's own derivative
        return None  # SymPy cannot cancel it, yet it is 0 at every point tried: not disproved
    return d == 0


def _vanishes_where_tried(e: sp.Expr, tries: int = 6) -> bool:
    """The difference is 0 (to 1e-10) at a few random real points where it is
    defined, to 30 digits: a wrong formula would differ there."""
    import random

    rng = random.Random(str(e))
    names = sorted(e.free_symbols, key=str)
    seen = 0
    for _ in range(4 * tries):
        v = e.xreplace({s: sp.Float(rng.uniform(0.2, 1.8), 30) for s in names}).evalf(30)
        if not v.is_real or not v.is_finite:
            continue  # outside the domain there
        if abs(v) > 1e-10:
            return False
        seen += 1
        if seen == tries:
            return True
    return False


# -- every primitive ------------------------------------------------------------------


def _primitive_cases():
    cases = []
    for name in sorted(oracle.UNARY_POINTS):
        for x in oracle.UNARY_POINTS[name]:
            cases.append((f"{name}(x*y)", {"x": x, "y": 1.0}, name))
    for name in sorted(oracle.BINARY_POINTS):
        for a, b in oracle.BINARY_POINTS[name]:
            cases.append((f"{name}(x, y*x)", {"x": a, "y": b / a}, name))
    cases += [
        ("x + y", {"x": 1.0, "y": 2.0}, "add"),
        ("x - y", {"x": 1.0, "y": 2.0}, "sub"),
        ("x*y", {"x": 1.5, "y": 2.0}, "mul"),
        ("x/y", {"x": 1.5, "y": -2.0}, "div"),
        ("-x*y", {"x": 1.5, "y": 2.0}, "neg"),
        ("x^3*y^-2 + x^0.5", {"x": 1.5, "y": 2.0}, "powc"),
        ("x^y", {"x": 1.5, "y": 0.7}, "pow"),
        ("log(x, y)", {"x": 1.5, "y": 3.0}, "logb"),
        ("where(x > y, x^2*y, sin(y))", {"x": 1.5, "y": 1.0}, "where"),
        ("where(x > y, x^2*y, sin(y))", {"x": 0.5, "y": 1.0}, "where"),
        ("clip(x, y, 2*x)", {"x": 1.0, "y": 0.5}, "clip"),
        ("clip(x, y, 2*x)", {"x": 1.0, "y": 1.5}, "clip"),
        ("polygamma(1, x*y)", {"x": 1.3, "y": 1.0}, "polygamma"),
        ("polygamma(2, x*y)", {"x": 0.7, "y": 2.0}, "polygamma"),
    ]
    return cases


CASES = _primitive_cases()


def test_cases_cover_the_registry():
    covered = {op for _, _, op in CASES}
    assert covered == {n for n, o in OPS.items() if o.arity}


@pytest.mark.parametrize("text,point,op", CASES, ids=[f"{c[0]}@{list(c[1].values())}" for c in CASES])
def test_every_primitive(text, point, op):
    check_formulas(text, None, point, smooth=op not in PIECEWISE, max_ops=60)


def test_lgamma_reads_as_log_abs_gamma():
    """lgamma is log|Γ|: SymPy's loggamma is complex where Γ < 0, the reading is not."""
    x = sp.Float(-2.5, 40)
    value = float(core.run_eval(core.load("lgamma(x)", "x=-2.5")).value[0])
    reading = to_sympy("lgamma(x)", {"x": x}).evalf(30)
    assert reading.is_real and float(reading) == pytest.approx(value, rel=1e-14)
    assert value == pytest.approx(math.lgamma(-2.5), rel=1e-14)
    assert not sp.loggamma(x).evalf(30).is_real


@pytest.mark.parametrize("order", [1, 2])
def test_every_primitives_printed_formulas_type_back(order):
    """What ``adcli diff`` prints (first and second order) is adcli's language: the step
    lines and each partial's right-hand side, pasted as one program, give adcli grad's
    and adcli hessian's numbers (no internal op, no unreadable spelling)."""
    from adcli.derivatives import run_hessian

    for text, point, _ in CASES:
        g = parse(text)
        result = run_diff(g, order=order)
        lines = diff_text(result).splitlines()
        steps, rows = lines[: len(result.steps)], lines[len(result.steps) :]
        assert len(rows) == len(result.partials) and not any(s.startswith("∂") for s in steps), lines
        at = ",".join(f"{n}={point[n]!r}" for n in g.input_names)
        if order == 1:
            want = {(n,): float(v) for n, v in zip(g.input_names, core.run_grad(core.load(text, at)).gradient)}
        else:
            h = run_hessian(core.load(text, at)).hessian
            want = {(a, b): float(h[i][j]) for i, a in enumerate(g.input_names) for j, b in enumerate(g.input_names)}
        for p, row in zip(result.partials, rows):
            program = "; ".join([*steps, row.split(" = ", 1)[1]])
            assert "--" not in program, program  # -(-c*u) is c*u
            got = adcli_value(program, point)
            assert got == pytest.approx(want[p.wrt], rel=1e-12, abs=1e-12), (text, order, program)


def test_every_rule_has_a_symbolic_reading():
    """Each registry rule runs on symbols and gives one node per argument."""
    for name, o in OPS.items():
        if not o.arity:
            continue
        sg = symbolic.SymGraph()
        args = [sg.input(f"a{k}") for k in range(o.arity)]
        extra = ("<",) if name == "where" else (2.5,) if o.param else ()
        node = symbolic.apply(name, *args, *extra)
        ps = symbolic.local_partials(node)
        assert len(ps) == o.arity and all(isinstance(p, symbolic.Sym) for p in ps), name


# -- random expressions (the oracle's generator) -----------------------------------------


def _ops_in(text: str) -> set[str]:
    return {n.op.name for n in parse(text).nodes}


def _random_case(data, depth):
    point = {n: data.draw(oracle.POINT_COORD, label=n) for n in ("x", "y", "z")}
    t = data.draw(oracle.trees(point, depth), label="tree")
    if not t.vars:
        t = oracle.mul(t, oracle.var("x", point))
    ref_grad = core.run_grad(core.load(t.text, ",".join(f"{n}={point[n]!r}" for n in sorted(t.vars))))
    ok = all(abs(float(v)) < 1e6 for v in ref_grad.gradient)
    return t, point, ok


@settings(max_examples=examples(5), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_expressions_simplify_to_sympys_derivative(data):
    """Small random trees: SymPy simplifies (formula - its derivative) to 0."""
    t, point, ok = _random_case(data, 2)
    if ok:
        smooth = not (_ops_in(t.text) & (PIECEWISE | STEPS))
        check_formulas(t.text, t.sym, point, smooth=smooth, simplify=True)


@settings(max_examples=examples(20), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_expressions_agree_at_the_point(data):
    """Deeper random trees (SymPy's simplify is too slow there): agreement with
    SymPy's derivative to 30 digits, and adcli reads the formula back to its own gradient."""
    t, point, ok = _random_case(data, 4)
    if ok:
        check_formulas(t.text, t.sym, point, smooth=False)


# -- simplification and sharing ---------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("x*1 + 0", "1"),
        ("x^1 * y", "y"),
        ("--x + 0*y", "1"),
        ("x - x + y", "0"),
        ("2*3*x", "6"),
        ("x^3", "3*x^2"),
        ("x*x", "2*x"),
    ],
)
def test_simplified_on_construction(text, expected):
    result = run_diff(parse(text), "x")
    assert diff_text(result).splitlines()[-1] == f"∂f/∂x = {expected}"


def test_shared_subexpressions_are_named_once():
    result = run_diff(parse("sin(x*y)*exp(x*y)*(x*y)^2"))
    text = diff_text(result)
    lines = text.splitlines()
    assert lines[0] == "t1 = x*y"
    assert text.count("x*y") == 1  # never repeated
    assert lines[-2].startswith("∂f/∂x = ") and lines[-1].startswith("∂f/∂y = ")


def test_users_step_names_are_kept():
    text = diff_text(run_diff(parse("t1 = x1 - x2; t2 = t1^2; t3 = x1 + x2; t4 = cos(t3); t2 + t4")))
    assert "t1 = x1 - x2" in text and "t3 = x1 + x2" in text
    assert "∂f/∂x1 = " in text


def test_no_recursion_and_linear_size():
    """A chain 5,000 deep: no RecursionError, and the size grows linearly."""
    sizes = []
    for n in (500, 1000, 2000, 5000):
        text = "x"
        for _ in range(n):
            text = f"sin({text})"
        result = run_diff(parse(text))
        sizes.append(result.operations())
        assert len(diff_text(result)) < 200 * n
    assert sizes[3] / sizes[0] == pytest.approx(10, rel=0.05)


# -- second partials ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,at",
    [
        ("x^3*y + sin(x*y)", {"x": 0.7, "y": -1.2}),
        ("exp(x)*log(y) + x/y", {"x": 0.3, "y": 2.0}),
        ("tanh(x*y + z)*sqrt(z)", {"x": 0.3, "y": 2.0, "z": 1.5}),
        ("where(x > y, x^2*y, y^3) + max(x, 2*y)", {"x": 0.3, "y": 0.1}),
    ],
)
def test_second_partials_match_adcli_hessian(text, at):
    from adcli import derivatives

    g = parse(text)
    result = run_diff(g, order=2)
    got, _ = formulas(result)
    point = ",".join(f"{n}={at[n]!r}" for n in g.input_names)
    h = derivatives.hessian(core.load(text, point)) if hasattr(derivatives, "hessian") else None
    names = g.input_names
    assert len(got) == len(names) * (len(names) + 1) // 2
    hess = _hessian(text, point)
    for (a, b), (program, _) in got.items():
        want = hess[names.index(a)][names.index(b)]
        assert adcli_value(program, at) == pytest.approx(want, rel=1e-12, abs=1e-12), (a, b, program)
    del h


def _hessian(text, at):
    r = CliRunner().invoke(app, ["hessian", text, "--at", at, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["hessian"]


def test_second_partial_labels():
    lines = diff_text(run_diff(parse("x^3*y"), order=2)).splitlines()
    assert lines == ["∂²f/∂x² = 6*(y*x)", "∂²f/∂x∂y = 3*x^2", "∂²f/∂y² = 0"]


# -- the command ---------------------------------------------------------------------------


def run(*args):
    r = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "100"})
    assert "Traceback" not in r.output
    return r


def test_cli_text_json_latex_python():
    r = run("diff", "sin(x*y) + x*y")
    assert r.exit_code == 0
    assert r.stdout.splitlines() == ["t1 = 1 + cos(x*y)", "∂f/∂x = t1*y", "∂f/∂y = t1*x"]
    doc = json.loads(run("diff", "sin(x*y) + x*y", "--json").stdout)
    assert doc["inputs"] == ["x", "y"] and doc["steps"][0] == {"name": "t1", "formula": "1 + cos(x*y)"}
    assert doc["partials"][0]["label"] == "∂f/∂x" and doc["operations"] == 5
    tex = run("diff", "sin(x*y) + x*y", "--format", "latex").stdout
    assert tex.startswith("\\begin{align*}") and "\\frac{\\partial f}{\\partial x} &= " in tex
    py = run("diff", "sin(x*y) + x*y", "--format", "python").stdout
    env: dict = {}
    exec(py.replace("import numpy as np", "import numpy as np\nx, y = 0.5, 2.0"), env)
    assert env["df_dx"] == pytest.approx((math.cos(1.0) + 1) * 2.0, rel=1e-15)


def test_cli_wrt_and_errors():
    r = run("diff", "x*y^2", "--wrt", "y")
    assert r.stdout.splitlines() == ["∂f/∂y = 2*(x*y)"]
    for args in (["x+"], ["x*y", "--wrt", "z"], ["x", "--order", "3"], ["x", "--format", "rtf"]):
        bad = run("diff", *args)
        assert bad.exit_code == 2 and "error" in bad.output.lower()


def test_printer_handles_every_style():
    result = run_diff(parse("where(x >= y, atan2(x, y)^2, -log(x, 3)) / sigmoid(x)"))
    for name in ("adcli", "display", "numpy", "python", "c", "latex"):
        pr = Printer(result.sg, style(name), result.steps)
        assert all(pr.text(p.node) for p in result.partials)
    assert count_ops(result.sg, [p.node for p in result.partials]) == result.operations()
    assert diff_json(result)["operations"] == result.operations()


# -- trace --format latex|markdown (teaching notes) ---------------------------------------


def test_trace_latex_table_and_align_block():
    r = run("trace", "(x1-x2)^2 + cos(x1+x2)", "--at", "x1=1,x2=2", "--steps", "--format", "latex")
    assert r.exit_code == 0
    table, steps = r.stdout.split("\n\n")
    rows = [ln for ln in table.splitlines() if ln.startswith("$")]
    assert len(rows) == 7  # x1, x2, v1..v5
    assert rows[2].startswith("$v_{1}$ & $x_{1} - x_{2}$ & $-1$ & $-2$")
    assert rows[5].startswith(r"$v_{4}$ & $\cos\left(v_{3}\right)$")
    assert steps.startswith(r"\begin{align*}") and steps.rstrip().endswith(r"\end{align*}")
    # the textbook's contributions: v̄1 gets 1·(2·v1) = -2, x̄1 ends at -2.14112
    assert (
        r"\bar{v}_{1} &\mathrel{+}= \bar{v}_{2} \cdot \frac{\partial v_{2}}{\partial v_{1}} = 1 \cdot \left(2 \cdot v_{1}\right) = \left(-2\right)"
        in steps
    )
    assert r"(\bar{x}_{1} = \left(-2.14112\right))" in steps


def test_trace_markdown_table():
    r = run("trace", "sin(x*y) + x*y", "--at", "x=1,y=2", "--format", "markdown")
    lines = r.stdout.splitlines()
    assert lines[0] == "| node | definition | value | v̄ |  |" and lines[1].startswith("|---|")
    body = {ln.split("|")[1].strip(): ln for ln in lines[2:]}
    assert set(body) == {"`x`", "`y`", "`v1`", "`v2`", "`v3`"}
    assert "`x·y`" in body["`v1`"] and "= " not in body["`v1`"]
    assert body["`v3`"].rstrip(" |").endswith("= f")  # the output row (y is an input here)
    steps = run("trace", "x^2", "--at", "x=3", "--steps", "--format", "markdown").stdout
    assert "$$\n\\begin{aligned}" in steps and "\\end{aligned}\n$$" in steps


def test_trace_forward_latex_and_bad_format():
    r = run("trace", "exp(x)*sin(x)", "--at", "x=0", "--mode", "forward", "--steps", "--format", "latex")
    assert r"\dot{v}_{3} &= v_{2} \dot{v}_{1} + v_{1} \dot{v}_{2} = 0 \cdot 1 + 1 \cdot 1 = 1" in r.stdout
    bad = run("trace", "x", "--at", "x=1", "--format", "html")
    assert bad.exit_code == 2
