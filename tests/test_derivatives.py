"""Issue 5: jvp, vjp, jacobian, hessian, hvp, implicit differentiation, dual numbers.

Oracles are independent of adcli: hand-derived values, scipy.optimize's
Rosenbrock Hessian, SymPy differentiating expressions built here in SymPy
(not parsed from adcli's text), and the adjoint identity <u, J v> = <uᵀJ, v>.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy as sp
from budget import examples
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import rosen, rosen_der, rosen_hess, rosen_hess_prod
from typer.testing import CliRunner

from adcli import core
from adcli.cli import app
from adcli.derivatives import (
    run_hessian,
    run_hvp,
    run_implicit,
    run_jacobian,
    run_jvp,
    run_vjp,
)
from adcli.dual import Dual, DualNS
from adcli.errors import AdcliError
from adcli.evaluate import evaluate, resolve, times
from adcli.ops import OPS, NumpyNS
from adcli.parse import parse


def cli(*args):
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


def cli_json(*args):
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


TWO_OUT = "x1*x2 + sin(x1), exp(x2) + x1^2"


# -- acceptance: jvp -----------------------------------------------------------------------


def test_jvp_acceptance_value():
    # J = [[x2 + cos x1, x1], [2 x1, exp x2]] at (1, 0); J (2, -1) = (2 cos 1 - 1, 4 - 1)
    doc = cli_json("jvp", TWO_OUT, "--at", "x1=1,x2=0", "--dir", "2,-1")
    assert doc["jvp"] == pytest.approx([-1 + 2 * math.cos(1), 3.0], rel=1e-15)
    assert round(doc["jvp"][0], 7) == 0.0806046
    assert doc["value"] == pytest.approx([math.sin(1), 2.0])
    assert doc["sweeps"] == 1


def test_jvp_text_shows_both_components():
    out = cli("jvp", TWO_OUT, "--at", "x1=1,x2=0", "--dir", "2,-1").stdout
    assert "0.0806046" in out and "J·v" in out
    assert "1 forward sweep" in out


def test_jvp_direction_accepts_constant_expressions():
    r = run_jvp(core.load("x*y", "x=2,y=3"), "pi/4, -2^0.5")
    assert float(r.jvp[0]) == pytest.approx(3 * math.pi / 4 - 2 * math.sqrt(2), rel=1e-15)


def test_jvp_with_wrt_takes_one_value_per_listed_input():
    r = run_jvp(core.load("x*y + y^2", "x=2,y=3"), "1", wrt="y")
    assert float(r.jvp[0]) == pytest.approx(2 + 6)


def test_vjp_one_reverse_sweep():
    # uᵀJ with u = (1, -2): row1 - 2 row2 = (cos 1 - 4, 1 - 2)
    doc = cli_json("vjp", TWO_OUT, "--at", "x1=1,x2=0", "--cotangent", "1,-2")
    assert doc["vjp"] == pytest.approx({"x1": math.cos(1) - 4, "x2": 1 - 2}, rel=1e-15)
    assert doc["sweeps"] == 1
    assert set(doc) >= {"value", "vjp"}


# -- acceptance: Jacobian ------------------------------------------------------------------

THREE = "x*y*z, x + y + z, x^2 - y"


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_3x3_jacobian_both_modes_three_sweeps(mode):
    doc = cli_json("jacobian", THREE, "--at", "x=1,y=2,z=3", "--mode", mode)
    assert doc["sweeps"] == 3 and doc["mode"] == mode
    assert doc["jacobian"] == [[6.0, 3.0, 2.0], [1.0, 1.0, 1.0], [2.0, -1.0, 0.0]]
    assert doc["value"] == [6.0, 6.0, -1.0]
    assert doc["inputs"] == ["x", "y", "z"]


def test_1x5_jacobian_sweeps_forward_5_reverse_1_auto_reverse():
    expr, at = "a*b + c*d + w^2", "a=1,b=2,c=3,d=4,w=5"
    fwd = cli_json("jacobian", expr, "--at", at, "--mode", "forward")
    rev = cli_json("jacobian", expr, "--at", at, "--mode", "reverse")
    auto = cli_json("jacobian", expr, "--at", at)
    assert (fwd["sweeps"], rev["sweeps"], auto["sweeps"]) == (5, 1, 1)
    assert auto["mode"] == "reverse" and "1 output < 5 inputs" in auto["reason"]
    assert fwd["jacobian"] == rev["jacobian"] == auto["jacobian"] == [[2.0, 1.0, 4.0, 3.0, 10.0]]
    text = cli("jacobian", expr, "--at", at).stdout
    assert "reverse mode: 1 sweep" in text and "forward 5" in text


def test_auto_picks_forward_for_tall_jacobians():
    r = run_jacobian(core.load("x, x^2, x^3, sin(x)", "x=0.5"))
    assert (r.mode, r.sweeps) == ("forward", 1)
    assert [float(row[0]) for row in r.jacobian] == pytest.approx([1, 1, 0.75, math.cos(0.5)])


def test_jacobian_text_is_a_labelled_table_within_80_columns():
    expr = ", ".join(f"sin(x{i})*x{i % 9 + 1}" for i in range(1, 10))
    at = ",".join(f"x{i}={i / 7}" for i in range(1, 10))
    out = cli("jacobian", expr, "--at", at).stdout
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "∂/∂x1" in out and "∂/∂x9" in out and "\nf9 " in out
    assert "9 sweeps" in out


# -- acceptance: Hessian and HVP against scipy's Rosenbrock -------------------------------------


def rosenbrock(n: int) -> str:
    return " + ".join(f"100*(x{i + 1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(1, n))


def at_text(x) -> str:
    return ",".join(f"x{i + 1}={float(v)!r}" for i, v in enumerate(x))


def WRT(n):
    return ",".join(f"x{i}" for i in range(1, n + 1))


@pytest.mark.parametrize("n, seed", [(2, 0), (5, 1), (10, 2)])
def test_rosenbrock_hessian_matches_scipy(n, seed):
    x = np.random.default_rng(seed).uniform(-2, 2, n)
    r = run_hessian(core.load(rosenbrock(n), at_text(x)), wrt=WRT(n))
    H, ref = r.matrix, rosen_hess(x)
    # tridiagonal: a star colouring compresses the n sweeps to 3 (n = 2 stays uncoloured)
    assert (r.sweeps, r.colours, r.uncompressed) == ((3, 3, n) if n >= 3 else (n, None, None))
    nz = ref != 0
    assert np.all(np.abs(H[nz] - ref[nz]) <= 1e-10 * np.abs(ref[nz]))
    assert np.all(H[~nz] == 0)
    assert float(r.value) == pytest.approx(rosen(x), rel=1e-12)
    assert np.allclose(r.gradient, rosen_der(x), rtol=1e-12, atol=1e-12)


def test_rosenbrock_hessian_cli_json():
    n, x = 4, np.array([0.3, -1.1, 0.7, 1.9])
    doc = cli_json("hessian", rosenbrock(n), "--at", at_text(x), "--wrt", WRT(n))
    assert np.allclose(np.array(doc["hessian"]), rosen_hess(x), rtol=1e-10, atol=0)
    assert list(doc["gradient"]) == [f"x{i}" for i in range(1, n + 1)]
    assert (doc["sweeps"], doc["colours"], doc["uncompressed_sweeps"]) == (3, 3, n)


def test_hessian_at_the_minimum_where_the_gradient_is_zero():
    # Adjoints whose value is 0 must still pass their tangents back.
    n = 4
    x = np.ones(n)
    r = run_hessian(core.load(rosenbrock(n), at_text(x)), wrt=WRT(n))
    assert np.allclose(r.matrix, rosen_hess(x), rtol=1e-12, atol=0)
    assert np.all(np.asarray(r.gradient) == 0)
    r = run_hessian(core.load("(x-1)^2*y", "x=1,y=2"))
    assert r.matrix.tolist() == [[4.0, 0.0], [0.0, 0.0]]


@pytest.mark.parametrize("seed", [3, 4])
def test_rosenbrock_hvp_matches_scipy(seed):
    n = 7
    rng = np.random.default_rng(seed)
    x, v = rng.uniform(-2, 2, n), rng.normal(size=n)
    r = run_hvp(core.load(rosenbrock(n), at_text(x)), ",".join(repr(float(t)) for t in v), wrt=WRT(n))
    ref = rosen_hess_prod(x, v)
    assert np.allclose(r.hvp, ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())
    assert r.sweeps == 1


def test_hvp_cli():
    doc = cli_json("hvp", "x^2*y + sin(x*y)", "--at", "x=1,y=2", "--dir", "1,0")
    # H[:, 0] = (2y - y^2 sin xy, 2x + cos xy - xy sin xy)
    s, c = math.sin(2), math.cos(2)
    assert doc["hvp"] == pytest.approx({"x": 4 - 4 * s, "y": 2 + c - 2 * s}, rel=1e-14)


def test_hessian_vectorised_over_points():
    """Inputs that are arrays of N points: one pass per direction serves all points."""
    n, N = 3, 6
    rng = np.random.default_rng(7)
    X = rng.uniform(-2, 2, (N, n))
    X[0] = 1.0  # the minimum: zero gradient
    g = parse(rosenbrock(n))
    cols = [X[:, int(name[1:]) - 1].copy() for name in g.input_names]
    problem = core.Problem(g, cols, evaluate(g, cols))
    r = run_hessian(problem, wrt=WRT(n))
    H = r.matrix
    assert H.shape == (N, n, n)
    for p in range(N):
        assert np.allclose(H[p], rosen_hess(X[p]), rtol=1e-12, atol=1e-12)
        assert np.allclose([gk[p] for gk in r.gradient], rosen_der(X[p]), rtol=1e-12, atol=1e-9)
    h = run_hvp(problem, [np.float64(1.0), X[:, 1], np.float64(0.0)], wrt=WRT(n))
    for p in range(N):
        ref = rosen_hess_prod(X[p], np.array([1.0, X[p, 1], 0.0]))
        assert np.allclose([hk[p] for hk in h.hvp], ref, rtol=1e-12, atol=1e-9)


def test_jacobian_jvp_vjp_vectorised_over_points():
    g = parse(TWO_OUT)
    x1, x2 = np.array([1.0, 0.5, -2.0]), np.array([0.0, 1.5, 0.25])
    problem = core.Problem(g, [x1, x2], evaluate(g, [x1, x2]))
    J = run_jacobian(problem, "forward").matrix
    assert J.shape == (3, 2, 2)
    ref = np.stack([np.stack([x2 + np.cos(x1), x1], -1), np.stack([2 * x1, np.exp(x2)], -1)], -2)
    assert np.allclose(J, ref, rtol=1e-15)
    assert np.allclose(run_jacobian(problem, "reverse").matrix, ref, rtol=1e-15)
    jv = run_jvp(problem, "2,-1").jvp
    assert np.allclose(jv[0], 2 * (x2 + np.cos(x1)) - x1) and np.allclose(jv[1], 4 * x1 - np.exp(x2))
    uj = run_vjp(problem, "1,1").vjp
    assert np.allclose(uj[0], x2 + np.cos(x1) + 2 * x1) and np.allclose(uj[1], x1 + np.exp(x2))


# -- random expressions: SymPy and the adjoint identity ----------------------------------------

NAMES = ("x", "y", "z")
SYM = {n: sp.Symbol(n, real=True) for n in NAMES}

UNARY = [
    ("sin({})", sp.sin),
    ("cos({})", sp.cos),
    ("exp({})", sp.exp),
    ("tanh({})", sp.tanh),
    ("atan({})", sp.atan),
    ("asinh({})", sp.asinh),
    ("sigmoid({})", lambda a: 1 / (1 + sp.exp(-a))),
    ("softplus({})", lambda a: sp.log(1 + sp.exp(a))),
    ("sqrt(({})^2 + 1)", lambda a: sp.sqrt(a**2 + 1)),
    ("log(({})^2 + 1)", lambda a: sp.log(a**2 + 1)),
    ("({})^2", lambda a: a**2),
    ("({})^3", lambda a: a**3),
    ("-({})", lambda a: -a),
    ("cbrt(({})^2 + 2)", lambda a: sp.cbrt(a**2 + 2)),
]
BINARY = [
    ("({}) + ({})", lambda a, b: a + b),
    ("({}) - ({})", lambda a, b: a - b),
    ("({})*({})", lambda a, b: a * b),
    ("({})/(({})^2 + 1)", lambda a, b: a / (b**2 + 1)),
    ("pow(({})^2 + 1, {})", lambda a, b: (a**2 + 1) ** b),
    ("atan2({}, ({})^2 + 1)", lambda a, b: sp.atan2(a, b**2 + 1)),
    ("log(({})^2 + 2, ({})^2 + 2)", lambda a, b: sp.log(a**2 + 2) / sp.log(b**2 + 2)),
]

leaf = st.one_of(
    st.sampled_from(NAMES).map(lambda n: (n, SYM[n])),
    st.sampled_from([2, 3, -1, 0.5, -1.5]).map(lambda c: (f"({c})" if c < 0 else str(c), sp.Rational(str(c)))),
)


def _extend(children):
    return st.one_of(
        st.tuples(st.sampled_from(UNARY), children).map(lambda t: (t[0][0].format(t[1][0]), t[0][1](t[1][1]))),
        st.tuples(st.sampled_from(BINARY), children, children).map(
            lambda t: (t[0][0].format(t[1][0], t[2][0]), t[0][1](t[1][1], t[2][1]))
        ),
    )


expressions = st.recursive(leaf, _extend, max_leaves=6)
coords = st.floats(0.2, 1.3).flatmap(lambda m: st.sampled_from([m, -m]))
points = st.tuples(coords, coords, coords).map(lambda t: dict(zip(NAMES, t)))


def _load(texts: list[str], point: dict):
    g = parse(", ".join(texts))
    names = g.input_names
    assume(names)
    return core.load(", ".join(texts), ",".join(f"{n}={point[n]!r}" for n in names)), names


def _finite(*arrays) -> bool:
    return all(np.all(np.isfinite(np.asarray(a, dtype=float))) for a in arrays)


@settings(max_examples=examples(40), deadline=None)
@given(st.lists(expressions, min_size=1, max_size=3), points)
def test_jacobian_forward_equals_reverse(exprs, point):
    problem, names = _load([e[0] for e in exprs], point)
    fwd = run_jacobian(problem, "forward")
    rev = run_jacobian(problem, "reverse")
    # one sweep per input / output, or fewer when a colouring compresses them
    assert (fwd.uncompressed or fwd.sweeps, rev.uncompressed or rev.sweeps) == (len(names), len(exprs))
    assert fwd.sweeps <= len(names) and rev.sweeps <= len(exprs)
    F, R = fwd.matrix, rev.matrix
    assume(_finite(F, R))
    assert np.allclose(F, R, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(F).max()))
    # and both equal SymPy's Jacobian
    for i, (_, sym) in enumerate(exprs):
        for j, n in enumerate(names):
            ref = float(sp.diff(sym, SYM[n]).evalf(30, subs={SYM[k]: point[k] for k in names}))
            assert F[i, j] == pytest.approx(ref, rel=1e-9, abs=1e-9 * max(1.0, np.abs(F).max()))


@settings(max_examples=examples(40), deadline=None)
@given(expressions, points)
def test_hessian_symmetric_and_equal_to_sympy(expr, point):
    problem, names = _load([expr[0]], point)
    r = run_hessian(problem)
    H = r.matrix
    assume(_finite(H))
    scale = max(1.0, np.abs(H).max())
    assert np.allclose(H, H.T, rtol=0, atol=1e-12 * scale)
    vars_ = [SYM[n] for n in names]
    subs = {SYM[k]: point[k] for k in names}
    ref = np.array(sp.hessian(expr[1], vars_).evalf(30, subs=subs).tolist(), dtype=float)
    assert np.allclose(H, ref, rtol=1e-9, atol=1e-9 * scale)
    # each column is one HVP: hvp along e_j agrees with the Hessian's column j
    j = len(names) - 1
    e = ["1" if q == j else "0" for q in range(len(names))]
    hv = run_hvp(problem, ",".join(e)).hvp
    assert np.allclose(hv, H[:, j], rtol=1e-13, atol=1e-13 * scale)


vectors = st.lists(st.floats(-2, 2), min_size=3, max_size=3)


@settings(max_examples=examples(40), deadline=None)
@given(st.lists(expressions, min_size=1, max_size=3), points, vectors, vectors)
def test_dot_product_identity(exprs, point, u, v):
    problem, names = _load([e[0] for e in exprs], point)
    m, n = len(exprs), len(names)
    u, v = u[:m], v[:n]
    jv = run_jvp(problem, [np.float64(t) for t in v]).jvp
    uj = run_vjp(problem, [np.float64(t) for t in u]).vjp
    assume(_finite(jv, uj))
    lhs = float(np.dot(u, np.asarray(jv, dtype=float)))
    rhs = float(np.dot(np.asarray(uj, dtype=float), v))
    J = run_jacobian(problem).matrix
    bound = 1e-12 * (1 + np.abs(u) @ np.abs(J) @ np.abs(v))
    assert abs(lhs - rhs) <= bound


# -- implicit differentiation -------------------------------------------------------------------


def test_implicit_circle():
    out = cli("implicit", "x^2 + y^2 - 1", "--solve", "y", "--at", "x=0.6,y=0.8")
    assert out.exit_code == 0
    assert "dy/dx = -F_x/F_y = -0.75" in out.stdout
    assert out.stderr == ""
    doc = cli_json("implicit", "x^2 + y^2 - 1", "--solve", "y", "--at", "x=0.6,y=0.8")
    assert doc["derivative"]["y"]["x"] == pytest.approx(-0.75, rel=1e-15)
    assert doc["F_x"] == [[pytest.approx(1.2)]] and doc["F_y"] == [[pytest.approx(1.6)]]
    assert doc["warnings"] == []


def test_implicit_warns_off_the_curve():
    out = cli("implicit", "x^2 + y^2 - 1", "--solve", "y", "--at", "x=0.6,y=1")
    assert out.exit_code == 0
    assert "warning: F = 0.36" in out.stderr and "--newton" in out.stderr
    assert "-0.6" in out.stdout  # -F_x/F_y = -1.2/2


def test_implicit_newton_solves_first():
    doc = cli_json("implicit", "x^2 + y^2 - 1", "--solve", "y", "--at", "x=0.6,y=2", "--newton")
    assert doc["point"]["y"] == pytest.approx(0.8, rel=1e-15)
    assert doc["derivative"]["y"]["x"] == pytest.approx(-0.75, rel=1e-14)
    assert doc["newton"]["start"] == {"y": 2.0} and 1 <= doc["newton"]["iterations"] <= 10
    assert doc["warnings"] == []
    text = cli("implicit", "x^2 + y^2 - 1", "--solve", "y", "--at", "x=0.6,y=2", "--newton").stdout
    assert "Newton: y = 0.8" in text and "dy/dx = -F_x/F_y = -0.75" in text


def test_implicit_two_equations():
    # sphere x^2 + y^2 + z^2 = 1 cut by the plane z = x + y, solved for (y, z) as functions of x.
    x = 0.3
    doc = cli_json(
        "implicit", "x^2 + y^2 + z^2 - 1, x + y - z", "--solve", "y,z", "--at", f"x={x},y=0.5,z=0.8", "--newton"
    )
    y, z = doc["point"]["y"], doc["point"]["z"]
    assert x**2 + y**2 + z**2 == pytest.approx(1, abs=1e-14) and z == pytest.approx(x + y, abs=1e-14)
    # by hand: z = x + y, so x^2 + y^2 + (x+y)^2 = 1 -> 2x + 2y y' + 2(x+y)(1 + y') = 0
    dy = -(x + (x + y)) / (y + (x + y))
    assert doc["derivative"]["y"]["x"] == pytest.approx(dy, rel=1e-12)
    assert doc["derivative"]["z"]["x"] == pytest.approx(1 + dy, rel=1e-12)

    # independently: a finite difference of the exact solution y(x) of the quadratic 2y^2 + 2xy + 2x^2 - 1 = 0
    def ysol(t):
        return (-t + math.sqrt(t * t - 2 * (2 * t * t - 1))) / 2

    h = 1e-6
    assert doc["derivative"]["y"]["x"] == pytest.approx((ysol(x + h) - ysol(x - h)) / (2 * h), rel=1e-7)


def test_implicit_several_free_inputs_text():
    out = cli("implicit", "x*y + z*y^3 - 3", "--solve", "y", "--at", "x=1,y=1,z=2").stdout
    # F_x = y = 1, F_z = y^3 = 1, F_y = x + 3 z y^2 = 7
    assert "∂y/∂x = -F_x/F_y = -0.142857" in out
    assert "∂y/∂z = -F_z/F_y = -0.142857" in out


def test_implicit_newton_vectorised_over_points():
    g = parse("x^2 + y^2 - 1")
    xs, ys = np.array([0.0, 0.6, -0.8, 0.99]), np.array([2.0, 1.0, 0.5, 0.1])
    problem = core.Problem(g, [xs, ys], evaluate(g, [xs, ys]))
    r = run_implicit(problem, "y", newton=True)
    yv = r.problem.values.vals[g.inputs[1]]
    assert np.allclose(yv, np.sqrt(1 - xs**2), rtol=1e-14)
    assert np.allclose(r.derivative[0][0], -xs / yv, rtol=1e-13, atol=1e-15)


# -- errors: clear messages, exit 2, no traceback -----------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["hessian", "x*y, x+y", "--at", "x=1,y=2"], "hessian needs a scalar expression"),
        (["hvp", "x*y, x+y", "--at", "x=1,y=2", "--dir", "1,0"], "hvp needs a scalar expression"),
        (["grad", "x*y, x+y", "--at", "x=1,y=2"], "grad needs a scalar expression"),
        (["jvp", "x*y", "--at", "x=1,y=2", "--dir", "1,2,3"], "--dir has 3 values, but it needs 2"),
        (["jvp", "x*y", "--at", "x=1,y=2", "--dir", "1"], "--dir has 1 value, but it needs 2"),
        (["jvp", "x*y", "--at", "x=1,y=2"], "jvp needs --dir"),
        (["hvp", "x*y", "--at", "x=1,y=2", "--dir", "1,,2"], "empty item"),
        (["jvp", "x*y", "--at", "x=1,y=2", "--dir", "1,q"], "must be a constant"),
        (["jvp", "x*y", "--at", "x=1,y=2", "--dir", "x=1,y=2"], "not name=value"),
        (["vjp", "x*y, x", "--at", "x=1,y=2", "--cotangent", "1"], "--cotangent has 1 value, but it needs 2"),
        (["jacobian", "x*y", "--at", "x=1,y=2", "--mode", "sideways"], "unknown mode"),
        (["implicit", "x^2 + y^2 - 1", "--solve", "y", "--at", "x=1,y=0"], "∂F/∂y is 0"),
        (["implicit", "y + z + x, 2*y + 2*z - x", "--solve", "y,z", "--at", "x=0,y=0,z=0"], "is singular"),
        (["implicit", "x^2 + y^2 - 1", "--solve", "x,y", "--at", "x=1,y=0"], "but there is 1 equation"),
        (["implicit", "x^2 + y^2 - 1", "--solve", "q", "--at", "x=1,y=0"], "not an input"),
        (["implicit", "x^2 + y^2 - 1", "--at", "x=1,y=0"], "--solve"),
        (["implicit", "y^2 + 1", "--solve", "y", "--at", "y=0.5", "--newton"], "did not converge"),
        (
            ["implicit", "x^2 + y^2 + 1", "--solve", "y", "--at", "x=0,y=1", "--newton"],
            "Newton iteration 2: ∂F/∂y is 0",
        ),
        (["implicit", "log(y) - 5", "--solve", "y", "--at", "y=1000", "--newton"], "left the domain"),
    ],
)
def test_errors_exit_2(args, message):
    r = cli(*args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr
    assert r.stdout == ""
    doc = json.loads(cli(*args, "--json").stdout)
    assert message in doc["error"]["message"] or message in doc["error"].get("hint", "")


def test_singular_error_is_a_json_error_with_kind():
    r = cli("implicit", "x^2 + y^2 - 1", "--solve", "y", "--at", "x=1,y=0", "--json")
    assert r.exit_code == 2
    assert json.loads(r.stdout)["error"]["kind"] == "domain"


# -- trace and steps on the new commands ----------------------------------------------------------


def DOT(name):
    return name[0] + "\u0307" + name[1:]


def BAR(name):
    return name[0] + "\u0304" + name[1:]


def test_jvp_steps_show_the_tangent_rule():
    out = cli("jvp", TWO_OUT, "--at", "x1=1,x2=0", "--dir", "2,-1", "--steps").stdout
    assert f"seed {DOT('x1')} = 2, {DOT('x2')} = -1" in out
    assert f"{DOT('v1')} = x2·{DOT('x1')} + x1·{DOT('x2')} = 0·2 + 1·(-1) = -1" in out


def test_jacobian_reverse_steps_one_sweep_per_output():
    out = cli("jacobian", "x*y, x+y", "--at", "x=1,y=2", "--mode", "reverse", "--steps", "--trace").stdout
    assert "sweep 1 of 2" in out and "sweep 2 of 2" in out
    assert f"{BAR('v')} (f1)" in out and "for f2:" in out  # y is an input, so the outputs are f1, f2


def test_vjp_steps_skip_adjoints_of_constants():
    # x - 1 passes an adjoint to the constant 1 too; it is never shown (and never crashes).
    r = cli("vjp", "(x-1)^2", "--at", "x=2", "--cotangent", "1", "--steps")
    assert r.exit_code == 0
    assert f"{BAR('x')} += {BAR('v1')} · ∂v1/∂x = 2 · 1 = 2" in r.stdout
    doc = cli_json("vjp", "(x-1)^2", "--at", "x=2", "--cotangent", "1", "--steps")
    assert [s["target"] for s in doc["steps"]] == ["v2", "v1", "x"]


def test_hvp_steps_show_dual_numbers():
    out = cli("hvp", "(x-1)^2*y", "--at", "x=1,y=2", "--dir", "1,0", "--steps", "--trace").stdout
    # (x-1)^2 y at x = 1: v̄1 = 2y·v1 = 0 in value but 2y = 4 in tangent along x: H_xx = 4
    assert f"{BAR('x')} += {BAR('v1')} · ∂v1/∂x = {BAR('v1')} · 1 = (0 + 4ε) · (1 + 0ε) = (0 + 4ε)" in out
    doc = cli_json("hvp", "(x-1)^2*y", "--at", "x=1,y=2", "--dir", "1,0", "--steps", "--trace")
    assert doc["hvp"] == {"x": 4.0, "y": 0.0}
    assert doc["trace"]["nodes"][0]["adjoint_tangent"] == 4.0


def test_hessian_trace_shows_each_sweep():
    out = cli("hessian", "x*exp(y)", "--at", "x=2,y=0", "--trace").stdout
    assert "sweep 1 of 2" in out and "sweep 2 of 2" in out
    doc = cli_json("hessian", "x*exp(y)", "--at", "x=2,y=0", "--steps")
    assert doc["hessian"] == [[0.0, 1.0], [1.0, 2.0]]
    assert len(doc["steps"]) == 2


def test_hessian_trace_of_a_sparse_hessian_shows_one_sweep_per_input():
    # a sparse pattern would be coloured (fewer sweeps); --trace shows the n sweeps e_j instead
    r = cli("hessian", "x1^2*x2 + x2^2 + x3^2 + x4^2", "--at", "x1=1,x2=2,x3=3,x4=4", "--trace")
    assert r.exit_code == 0, r.output
    assert "sweep 4 of 4" in r.stdout and "internal error" not in r.output


# -- conventions carry through -----------------------------------------------------------------


def test_hessian_kink_is_stated():
    r = cli("hessian", "abs(x)*y", "--at", "x=0,y=1")
    assert r.exit_code == 0 and "warning: abs(x)" in r.stderr


def test_hessian_of_where_uses_the_selected_branch():
    r = run_hessian(core.load("where(x > 0, x^3, log(-x))", "x=2"))
    assert float(r.matrix[0, 0]) == 12.0


# -- dual numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(n for n, o in OPS.items() if o.d is not None and o.arity == 1 and not o.param))
def test_dual_ops_are_the_registry(name):
    """DualNS.<op>(Dual(x, 1)) has the registry's value and partial (one source of truth)."""
    x = 1.37 if name == "acosh" else 0.37
    d = getattr(DualNS, name)(Dual(np.float64(x), np.float64(1.0)))
    assert d.primal == OPS[name].ev(x)
    (p,) = OPS[name].d(NumpyNS, OPS[name].ev(x), x)
    assert d.tangent == pytest.approx(p, rel=1e-15)


def test_dual_tangent_matches_finite_differences():
    for name, o in OPS.items():
        if o.d is None or o.param or o.arity != 1:
            continue
        x, h = (1.41 if name == "acosh" else 0.41), 1e-6
        d = getattr(DualNS, name)(Dual(x, 1.0))
        fd = (o.ev(x + h) - o.ev(x - h)) / (2 * h)
        assert d.tangent == pytest.approx(fd, rel=1e-6, abs=1e-8), name


def test_dual_arithmetic_and_comparisons():
    a, b = Dual(2.0, 1.0), Dual(3.0, -1.0)
    for got, want in [
        (a * b, (6.0, 1.0)),
        (a / b, (2 / 3, 1 / 3 + 2 / 9)),
        (a - 1, (1.0, 1.0)),
        (1 - a, (-1.0, -1.0)),
        (2 / a, (1.0, -0.5)),
        (-a, (-2.0, -1.0)),
        (a**3, (8.0, 12.0)),
        (2**a, (4.0, 4 * math.log(2))),
        (a**b, (8.0, 12 * 1 - 8 * math.log(2))),
        (np.sin(a), (math.sin(2), math.cos(2))),
        (np.float64(3) * a, (6.0, 3.0)),
    ]:
        assert (float(got.primal), float(got.tangent)) == pytest.approx(want, rel=1e-15)
    assert (a < b) is np.True_ and bool(np.any(a > 2)) is False and bool(a == Dual(2.0, 5.0))
    arr = Dual(np.array([-1.0, 1.0]), np.array([1.0, 1.0]))
    assert np.any(arr < 0) and np.asarray(arr).tolist() == [-1.0, 1.0]


@np.errstate(all="ignore")
def test_times_keeps_zero_times_inf_zero_for_duals():
    r = times(Dual(np.float64(0.0), np.float64(0.0)), Dual(np.float64(np.inf), np.float64(1.0)))
    assert (r.primal, r.tangent) == (0.0, 0.0)
    # an infinite product is carried as an Omega inside the sweep; resolved, it is inf
    r = resolve(times(Dual(np.array([0.0, 2.0]), np.array([1.0, 0.0])), np.array([np.inf, 3.0])))
    assert r.primal.tolist() == [0.0, 6.0] and r.tangent.tolist() == [np.inf, 0.0]


def test_nested_duals_give_third_derivatives():
    # sin'''(x) = -cos(x): a dual of duals of duals.
    x = 0.7
    d = Dual(Dual(Dual(x, 1.0), Dual(1.0, 0.0)), Dual(Dual(1.0, 0.0), Dual(0.0, 0.0)))
    y = DualNS.sin(d)
    assert float(y.tangent.tangent.tangent) == pytest.approx(-math.cos(x), rel=1e-15)


def test_dual_flows_through_evaluate_and_reports_domain_errors():
    g = parse("log(x - 3)")
    with pytest.raises(AdcliError, match="argument is -2"):
        evaluate(g, [Dual(np.float64(1.0), np.float64(1.0))], xp=DualNS)
