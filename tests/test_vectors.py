"""Vectors, reductions, lists and constants (SPEC 7).

Oracles: the same function written out term by term with scalar inputs (the
parser's old path), closed forms, and SymPy for gradients, Hessians and the
Jacobians of Moré–Garbow–Hillstrom data fits."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from adcli import core
from adcli.cli import app
from adcli.derivatives import run_hessian, run_jacobian
from adcli.errors import AdcliError
from adcli.parse import parse
from adcli.vectors import Env

runner = CliRunner()


def vec(values) -> str:
    return "[" + ",".join(repr(float(v)) for v in values) + "]"


def grad_of(expr: str, at: str, const: str | None = None):
    r = core.run_grad(core.load(expr, at, const))
    return float(r.value), np.array([float(g) for g in r.gradient]), r.problem.inputs


def scalar_grad(expr: str, names: list[str], point: list[float]):
    at = ",".join(f"{n}={float(v)!r}" for n, v in zip(names, point))
    r = core.run_grad(core.load(expr, at))
    by_name = dict(zip(r.problem.inputs, r.gradient))
    return float(r.value), np.array([float(by_name[n]) for n in names])


ROSENBROCK = "sum(100*(x[i+1]-x[i]^2)^2 + (1-x[i])^2 for i=1..len(x)-1)"


def rosenbrock_expanded(n: int) -> str:
    return " + ".join(f"(100*(x{i + 1}-x{i}^2)^2 + (1-x{i})^2)" for i in range(1, n))


# -- reductions against their hand expansion ----------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 7])
def test_rosenbrock_matches_its_expansion_and_sympy(n):
    rng = np.random.default_rng(n)
    x = rng.uniform(-2, 2, n)
    value, gradient, inputs = grad_of(ROSENBROCK, f"x={vec(x)}")
    assert inputs == [f"x[{k}]" for k in range(1, n + 1)]
    v2, g2 = scalar_grad(rosenbrock_expanded(n), [f"x{k}" for k in range(1, n + 1)], list(x))
    assert value == v2 and np.array_equal(gradient, g2)
    xs = sp.symbols(f"x1:{n + 1}")
    f = sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(n - 1))
    sub = dict(zip(xs, x))
    np.testing.assert_allclose(gradient, [float(sp.diff(f, s).subs(sub)) for s in xs], rtol=1e-13, atol=1e-11)
    h = run_hessian(core.load(ROSENBROCK, f"x={vec(x)}")).hessian
    ref = [[float(sp.diff(f, a, b).subs(sub)) for b in xs] for a in xs]
    np.testing.assert_allclose(np.array(h, dtype=float), ref, rtol=1e-13, atol=1e-10)


def test_nested_triangular_sum_is_the_closed_form():
    x = np.array([0.5, -1.25, 2.0, 3.5])
    value, gradient, _ = grad_of("sum(sum(x[i]*x[j] for j=1..i) for i=1..len(x))", f"x={vec(x)}")
    s = x.sum()
    assert value == pytest.approx((s * s + (x * x).sum()) / 2, rel=1e-15)
    np.testing.assert_allclose(gradient, s + x, rtol=1e-15)


def test_bounds_depending_on_two_enclosing_loops():
    # sum over i<j<k of x[i]*x[j]*x[k] is the third elementary symmetric polynomial
    x = [1.0, 2.0, 3.0, 4.0]
    src = "sum(sum(sum(x[i]*x[j]*x[k] for k=j+1..len(x)) for j=i+1..len(x)) for i=1..len(x))"
    value, gradient, _ = grad_of(src, f"x={vec(x)}")
    e3 = sum(x[a] * x[b] * x[c] for a in range(4) for b in range(a + 1, 4) for c in range(b + 1, 4))
    assert value == e3
    # d e3 / d x_m = e2 of the others
    for m in range(4):
        o = [x[k] for k in range(4) if k != m]
        assert gradient[m] == sum(o[a] * o[b] for a in range(3) for b in range(a + 1, 3))


def test_prod_max_min_and_index_arithmetic():
    x = [1.5, -2.0, 3.0, 0.5, 4.0, -1.0]
    at = f"x={vec(x)}"
    v, g, _ = grad_of("prod(x[2*i-1] for i=1..len(x)/2)", at)
    assert v == 1.5 * 3.0 * 4.0
    assert list(g) == [12.0, 0, 6.0, 0, 4.5, 0]
    v, g, _ = grad_of("max(x[i]^2 for i=1..len(x))", at)
    assert v == 16.0 and list(g) == [0, 0, 0, 0, 8.0, 0]
    v, g, _ = grad_of("min(x[i] for i=1..len(x))", at)
    assert v == -2.0 and list(g) == [0, 1.0, 0, 0, 0, 0]
    v, _, _ = grad_of("sum(i^2 for i=1..10) + x[len(x)]", at)
    assert v == 385 - 1.0


def test_logsumexp_is_stable_and_its_gradient_is_the_softmax():
    x = np.array([1000.0, 1000.0, 999.0, -1000.0])
    value, gradient, _ = grad_of("logsumexp(x[i] for i=1..len(x))", f"x={vec(x)}")
    ref = 1000.0 + math.log(2 + math.exp(-1) + math.exp(-2000))
    assert value == pytest.approx(ref, rel=1e-15)
    soft = np.exp(x - ref)
    np.testing.assert_allclose(gradient, soft, rtol=1e-13, atol=1e-300)
    assert math.isfinite(value)


def test_empty_ranges():
    assert grad_of("sum(x[i] for i=2..1) + x[1]", "x=[3]")[0] == 3.0
    assert grad_of("prod(x[i] for i=2..1) * x[1]", "x=[3]")[0] == 3.0
    for kind in ("max", "min", "logsumexp"):
        with pytest.raises(AdcliError) as ei:
            core.load(f"{kind}(x[i] for i=2..1) + x[1]", "x=[3]")
        assert f"{kind} over an empty range: i=2..1" in ei.value.message
        assert ei.value.span == (0, len(kind) + 17)


# -- lists and data fits -------------------------------------------------------------------


def test_list_step_indexed_later_is_the_least_squares_fit():
    t = [0.0, 0.5, 1.0, 2.0]
    y = [1.1, 0.8, 0.55, 0.3]
    a, b = 1.2, 0.7
    src = "r = [y[i] - a*exp(-b*t[i]) for i=1..len(t)]; sum(r[i]^2 for i=1..len(t))"
    value, gradient, inputs = grad_of(src, f"a={a},b={b}", f"t={vec(t)},y={vec(y)}")
    assert inputs == ["a", "b"]  # constants are never inputs
    r = [yi - a * math.exp(-b * ti) for ti, yi in zip(t, y)]
    assert value == pytest.approx(sum(ri * ri for ri in r), rel=1e-15)
    da = sum(2 * ri * -math.exp(-b * ti) for ri, ti in zip(r, t))
    db = sum(2 * ri * a * ti * math.exp(-b * ti) for ri, ti in zip(r, t))
    np.testing.assert_allclose(gradient, [da, db], rtol=1e-14)


KOWALIK_Y = [0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235, 0.0246]
KOWALIK_U = [4, 2, 1, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625]
BARD_Y = [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39]


def _mgh_cases():
    x1, x2, x3, x4 = sp.symbols("x1:5")
    ko = (
        "[y[i] - x[1]*(u[i]^2 + u[i]*x[2])/(u[i]^2 + u[i]*x[3] + x[4]) for i=1..len(y)]",
        f"y={vec(KOWALIK_Y)},u={vec(KOWALIK_U)}",
        [0.25, 0.39, 0.415, 0.39],
        [
            yi - x1 * (ui**2 + ui * x2) / (ui**2 + ui * x3 + x4)
            for yi, ui in zip(map(sp.Float, KOWALIK_Y), map(sp.Float, KOWALIK_U))
        ],
    )
    bard = (
        "[y[i] - (x[1] + i/((16-i)*x[2] + min(i, 16-i)*x[3])) for i=1..15]",
        f"y={vec(BARD_Y)}",
        [1.0, 1.0, 1.0],
        [sp.Float(BARD_Y[i - 1]) - (x1 + i / ((16 - i) * x2 + min(i, 16 - i) * x3)) for i in range(1, 16)],
    )
    box = (
        "[exp(-t*i*x[1]) - exp(-t*i*x[2]) - x[3]*(exp(-t*i) - exp(-10*t*i)) for i=1..m]",
        "t=0.1,m=10",
        [0.0, 10.0, 20.0],
        [
            sp.exp(-sp.Rational(i, 10) * x1)
            - sp.exp(-sp.Rational(i, 10) * x2)
            - x3 * (sp.exp(-sp.Rational(i, 10)) - sp.exp(-i))
            for i in range(1, 11)
        ],
    )
    return {"kowalik-osborne": ko, "bard": bard, "box3d": box}, (x1, x2, x3, x4)


@pytest.mark.parametrize("name", ["kowalik-osborne", "bard", "box3d"])
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_mgh_residual_lists_against_sympy_jacobians(name, mode):
    cases, xs = _mgh_cases()
    src, const, x0, residuals = cases[name]
    problem = core.load(src, f"x={vec(x0)}", const)
    result = run_jacobian(problem, mode)
    n = len(x0)
    sub = dict(zip(xs, x0))
    ref_value = [float(f.subs(sub)) for f in residuals]
    ref = [[float(sp.diff(f, xs[j]).subs(sub)) for j in range(n)] for f in residuals]
    np.testing.assert_allclose(np.array(result.value, dtype=float), ref_value, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.array(result.jacobian, dtype=float), ref, rtol=1e-12, atol=1e-14)


# -- errors -----------------------------------------------------------------------------------


def err(src: str, at: str | None = "x=[1,2,3]", const: str | None = None) -> AdcliError:
    with pytest.raises(AdcliError) as ei:
        core.load(src, at, const)
    return ei.value


def test_index_errors_name_the_index_its_value_and_the_range():
    e = err("sum(x[i+1] for i=1..len(x))")
    assert e.message == "the index i+1 of x is 4 (at i=3), outside 1..3"
    assert e.span == (6, 9)
    e = err("x[0] + x[1]")
    assert e.message == "the index 0 of x is outside 1..3" and e.hint == "indices start at 1"
    e = err("x[-1]")
    assert "the index -1 of x is outside 1..3" in e.message
    e = err("sum(x[i/2] for i=1..3)")
    assert e.message == "the index i/2 of x is 0.5 (at i=1), not a whole number"
    e = err("sum(x[i] for i=1..len(x)/2)")
    assert e.message == "the range bound len(x)/2 is 1.5, not a whole number"


def test_names_used_wrongly():
    assert "loop variable i is used outside" in err("sum(x[i] for i=1..3) + i").message
    assert "x is a vector input of length 3" in err("x + x[1]").message
    assert "not a constant (it uses an input)" in err("sum(x[i] for i=1..y)", "x=[1,2,3],y=2").message
    assert "not a constant (it uses an input)" in err("x[y]", "x=[1,2,3],y=2").message
    # an input inside an index that also uses the loop variable: found while the reduction is expanded
    e = err("sum(x[i*y] * b for i=1..2)", "x=[1,2,3],y=1,b=3")
    assert e.message == "the index i*y of x is not a constant (it uses an input)" and e.span == (6, 9)
    assert "the length of z is not known" in err("len(z)", None).message
    assert "x is a vector input" in err("sum(x[i] for i=1..3)", "x=2").message
    assert "is not a reduction" in err("sin(x[i] for i=1..3)").message
    assert "t is a vector constant" in err("t*x[1]", "x=[1,2,3]", "t=[1,2]").message
    assert "missing value for x" in err("sum(x[i] for i=1..3)", None).message
    assert "given both as a constant" in err("a*x[1]", "a=1,x=[1]", "a=2").message
    assert "pi is a constant, not a vector" in err("pi[1]").message
    assert "sin is a function, not a vector" in err("sin[1]").message


def test_no_traceback_for_vector_mistakes():
    for args in (
        ["grad", "sum(x[i] for i=1..4)", "--at", "x=[1,2,3]"],
        ["grad", "x[1]", "--at", "x=[1,2"],
        ["grad", "x[1]", "--at", "x=[]"],
        ["grad", "x[1]", "--at", "x=[1,,2]"],
        ["grad", "sum(t[i] for i=1..3)*a", "--at", "a=1", "--const", "t=[1,2]"],
        ["grad", "[x[i] for i=1..0]", "--at", "x=[1]"],
        ["grad", "x[1]", "--at", "@/nonexistent/point.txt"],
    ):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, args
        assert "error" in r.output and "Traceback" not in r.output


# -- output naming (SPEC 7) ---------------------------------------------------------------------


def test_json_groups_vector_inputs_and_flattens_axes():
    r = runner.invoke(app, ["grad", "sum(x[i]^2 for i=1..len(x)) + b", "--at", "x=[1.5,2,-1],b=2", "--json"])
    doc = json.loads(r.output)
    assert doc["inputs"] == ["x", "b"]
    assert doc["point"] == {"x": [1.5, 2.0, -1.0], "b": 2.0}
    assert doc["gradient"] == {"x": [3.0, 4.0, -2.0], "b": 1.0}
    r = runner.invoke(app, ["hessian", "x[1]*x[2]*b", "--at", "x=[1,2],b=3", "--json"])
    doc = json.loads(r.output)
    assert doc["wrt"] == ["x[1]", "x[2]", "b"]
    assert doc["hessian"] == [[0, 3, 2], [3, 0, 1], [2, 1, 0]]
    r = runner.invoke(app, ["grad", "x[1]*x[2]", "--at", "x=[1,2]", "--wrt", "x[2]", "--json"])
    assert json.loads(r.output)["gradient"] == {"x[2]": 1.0}


def test_text_rows_trace_and_points_name_elements(tmp_path):
    r = runner.invoke(app, ["grad", "sum(x[i]*x[i+1] for i=1..2)", "--at", "x=[1,2,3]", "--trace", "--steps"])
    assert r.exit_code == 0
    assert "∂f/∂x[1]" in r.output and "x̄[3] +=" in r.output and "x[1]·x[2]" in r.output
    pts = tmp_path / "p.csv"
    pts.write_text("x[1],x[2],x[3]\n1,2,3\n0,1,0\n")
    r = runner.invoke(app, ["grad", "sum(x[i]^2 for i=1..len(x))", "--points", str(pts), "--format", "csv"])
    lines = r.output.splitlines()
    assert lines[0] == "x[1],x[2],x[3],value,d_x[1],d_x[2],d_x[3],error"
    assert lines[1] == "1.0,2.0,3.0,14.0,2.0,4.0,6.0,"


def test_point_and_constants_from_files(tmp_path):
    n = 2000
    x = np.linspace(-1, 1, n)
    (tmp_path / "x.txt").write_text("x=[\n" + ",\n".join(map(repr, x.tolist())) + "\n]\n")
    t = np.linspace(0, 2, 50)
    y = 2 * np.exp(-0.5 * t)
    (tmp_path / "data.csv").write_text("t,y\n" + "\n".join(f"{a!r},{b!r}" for a, b in zip(t.tolist(), y.tolist())))
    value, gradient, _ = grad_of(ROSENBROCK, f"@{tmp_path / 'x.txt'}")
    v2, g2 = scalar_grad(rosenbrock_expanded(n), [f"x{k}" for k in range(1, n + 1)], list(x))
    assert value == v2 and np.array_equal(gradient, g2)
    src = "sum((y[i] - a*exp(-b*t[i]))^2 for i=1..len(t))"
    value, gradient, inputs = grad_of(src, "a=2,b=0.5", f"@{tmp_path / 'data.csv'}")
    assert inputs == ["a", "b"] and value == pytest.approx(0, abs=1e-28)
    np.testing.assert_allclose(gradient, [0, 0], atol=1e-13)
    (tmp_path / "c.txt").write_text("n = 3\nw = [1, 2, 3]\n")
    value, gradient, inputs = grad_of("sum(w[i]*x[i] for i=1..n)", "x=[1,1,1]", f"@{tmp_path / 'c.txt'}")
    assert value == 6 and list(gradient) == [1, 2, 3]


def test_every_command_runs_on_a_vector_expression():
    f = "sum((x[i]-i)^2 for i=1..len(x))"
    at = "x=[0.5,1,1]"
    for args in (
        ["eval", f, "--at", at],
        ["hessian", f, "--at", at],
        ["hvp", f, "--at", at, "--dir", "1,0,0"],
        ["check", f, "--at", at],
        ["trace", f, "--at", at, "--steps"],
        ["graph", f, "--at", at],
        ["descend", f, "--at", at, "--iters", "3"],
        ["plot", f, "--at", at, "--wrt", "x[2]"],
        ["jacobian", "[x[i]^2 for i=1..len(x)]", "--at", at],
        ["jvp", "[x[i]^2 for i=1..len(x)]", "--at", at, "--dir", "1,0,0"],
        ["vjp", "[x[i]^2 for i=1..len(x)]", "--at", at, "--cotangent", "1,0,0"],
    ):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, (args, r.output)
        assert "x[" in r.output or args[0] in ("eval", "vjp", "jvp"), args


# -- hypothesis: random reduction programs against their written-out expansion ----------------------

_BODIES = ["x[i]", "x[i+1]", "i*x[i]", "sin(x[i])", "exp(x[i]/4)", "x[i]*x[i+1]", "(x[i]-i)^2", "c[i]*x[i]"]


@st.composite
def programs(draw):
    n = draw(st.integers(2, 6))
    terms = draw(st.lists(st.sampled_from(_BODIES), min_size=1, max_size=3))
    ops = draw(st.lists(st.sampled_from(["+", "-", "*"]), min_size=len(terms) - 1, max_size=len(terms) - 1))
    body = terms[0]
    for o, t in zip(ops, terms[1:]):
        body = f"{body} {o} {t}"
    kind = draw(st.sampled_from(["sum", "prod", "max", "min", "logsumexp"]))
    lo = draw(st.integers(1, n - 1))
    hi = draw(st.integers(lo, n - 1))  # x[i+1] stays in range
    x = draw(st.lists(st.floats(-2, 2, allow_nan=False), min_size=n, max_size=n))
    c = draw(st.lists(st.floats(-2, 2, allow_nan=False), min_size=n, max_size=n))
    return kind, body, lo, hi, x, c


def _expand(kind: str, body: str, lo: int, hi: int, c: list[float], at: str = "") -> str:
    import re

    terms = []
    for i in range(lo, hi + 1):
        t = re.sub(r"x\[i\+1\]", f"x{i + 1}", body)
        t = re.sub(r"x\[i\]", f"x{i}", t)
        t = t.replace("c[i]", f"({c[i - 1]!r})")
        t = re.sub(r"\bi\b", str(i), t)
        terms.append(f"({t})")
    if kind in ("sum", "prod"):
        return (" + " if kind == "sum" else " * ").join(terms)
    if kind == "logsumexp":
        # the textbook formula, shifted by the largest term (a constant: the
        # gradient is unchanged) so that exp does not overflow where the
        # stable logsumexp does not
        every = " + ".join(item.split("=")[0] for item in at.split(","))
        shift = max(float(core.run_eval(core.load(f"{t} + 0*({every})", at)).value[0]) for t in terms)
        return f"log({' + '.join(f'exp({t} - ({shift!r}))' for t in terms)}) + ({shift!r})"
    acc = terms[0]
    for t in terms[1:]:
        acc = f"{kind}({acc}, {t})"
    return acc


@settings(max_examples=60, deadline=None)
@given(programs())
def test_random_reductions_match_their_expansion(prog):
    kind, body, lo, hi, x, c = prog
    src = f"{kind}({body} for i={lo}..{hi}) + 0*x[len(x)]"
    problem = core.load(src, f"x={vec(x)}", f"c={vec(c)}")
    r = core.run_grad(problem)
    names = [f"x{k}" for k in range(1, len(x) + 1)]
    at_all = ",".join(f"{n}={v!r}" for n, v in zip(names, x))
    expanded = _expand(kind, body, lo, hi, c, at_all) + f" + 0*x{len(x)}"
    g = parse(expanded)
    point = dict(zip(names, x))
    at = ",".join(f"{n}={point[n]!r}" for n in g.input_names)
    r2 = core.run_grad(core.load(expanded, at))
    by_name = dict(zip(g.input_names, r2.gradient))
    ref = [float(by_name.get(n, 0.0)) for n in names]
    assert float(r.value) == pytest.approx(float(r2.value), rel=1e-12, abs=1e-12)
    # sums may round in another order: x - x + c*x accumulates 1 - 1 + c or 1 + c - 1
    np.testing.assert_allclose(np.array(r.gradient, dtype=float), ref, rtol=1e-10, atol=1e-12)
    # both engines agree on the reduction
    rf = core.run_grad(problem, mode="forward")
    np.testing.assert_allclose(
        np.array(rf.gradient, dtype=float), np.array(r.gradient, dtype=float), rtol=1e-13, atol=1e-12
    )


def test_unknown_length_vectors_take_the_indices_they_use():
    g = parse("sum(x[i] for i=1..3) + x[5]")
    assert g.input_names == ["x[1]", "x[2]", "x[3]", "x[5]"]
    g = parse("x[3]*y + x[1]", env=Env({"x": 4}))
    assert g.input_names == ["x[1]", "x[2]", "x[3]", "x[4]", "y"]


def test_the_readme_data_fit(tmp_path):
    """The README's example, against the closed-form residual sum and its partials."""
    t = [0, 0.5, 1, 2, 3, 4]
    y = [2.01, 1.72, 1.49, 1.09, 0.82, 0.6]
    data = tmp_path / "decay.csv"
    data.write_text("t,y\n" + "\n".join(f"{a},{b}" for a, b in zip(t, y)) + "\n")
    f = "r = [y[i] - a*exp(-b*t[i]) for i=1..len(t)]; sum(r[i]^2 for i=1..len(t))"
    r = runner.invoke(app, ["grad", f, "--const", f"@{data}", "--at", "a=2,b=0.3"])
    a, b = 2.0, 0.3
    res = [yi - a * math.exp(-b * ti) for ti, yi in zip(t, y)]
    da = sum(-2 * ri * math.exp(-b * ti) for ri, ti in zip(res, t))
    db = sum(2 * ri * a * ti * math.exp(-b * ti) for ri, ti in zip(res, t))
    assert r.output.splitlines() == [
        f"f       {sum(q * q for q in res):.6g}",
        f"∂f/∂a  {da:.6g}",
        f"∂f/∂b   {db:.6g}",
    ]


def test_wrt_a_whole_vector_and_parse_messages():
    r = runner.invoke(app, ["grad", "x[1]*2*x[2] + b", "--at", "x=[1,2],b=1", "--wrt", "x", "--json"])
    doc = json.loads(r.output)
    assert doc["gradient"] == {"x": [4.0, 2.0]}
    e = err("x[1")
    assert "expected an operator or ']'" in e.message
    e = err("sum(x[i] for i=1.3)")
    assert "'..'" in e.message


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["sum", "prod", "max", "min", "logsumexp"]),
    st.sampled_from(["sum", "prod", "max", "min", "logsumexp"]),
    st.sampled_from(["x[i]*x[j]", "sin(x[j] - i)", "(x[i] + j)^2", "exp(x[j]/(i+1))"]),
    st.lists(st.floats(-1.5, 1.5, allow_nan=False), min_size=1, max_size=5),
)
def test_random_nested_reductions_with_dependent_bounds(outer, inner, body, x):
    """An inner range that depends on the outer variable (j=i..len(x)) against
    the same double loop written out."""
    src = f"{outer}({inner}({body} for j=i..len(x)) for i=1..len(x))"
    problem = core.load(src, f"x={vec(x)}")
    r = core.run_grad(problem)
    n = len(x)
    import re

    def term(i, j):
        t = re.sub(r"x\[i\]", f"x{i}", body)
        t = re.sub(r"x\[j\]", f"x{j}", t)
        return "(" + re.sub(r"\bj\b", str(j), re.sub(r"\bi\b", str(i), t)) + ")"

    def combine(kind, terms):
        if kind == "sum":
            return "(" + " + ".join(terms) + ")"
        if kind == "prod":
            return "(" + " * ".join(terms) + ")"
        if kind == "logsumexp":
            return "log(" + " + ".join(f"exp({t})" for t in terms) + ")"
        acc = terms[0]
        for t in terms[1:]:
            acc = f"{kind}({acc}, {t})"
        return acc

    expanded = combine(outer, [combine(inner, [term(i, j) for j in range(i, n + 1)]) for i in range(1, n + 1)])
    expanded += " + " + " + ".join(f"0*x{k}" for k in range(1, n + 1))
    at = ",".join(f"x{k}={v!r}" for k, v in enumerate(x, 1))
    r2 = core.run_grad(core.load(expanded, at))
    assume(math.isfinite(float(r2.value)))  # log(exp(...)) written out overflows where logsumexp does not
    by_name = dict(zip(r2.problem.inputs, r2.gradient))
    ref = [float(by_name[f"x{k}"]) for k in range(1, n + 1)]
    assert float(r.value) == pytest.approx(float(r2.value), rel=1e-11, abs=1e-12)
    np.testing.assert_allclose(np.array(r.gradient, dtype=float), ref, rtol=1e-9, atol=1e-11)


def test_the_graph_keeps_each_reduction_as_written():
    from adcli.vectors import Reduction

    src = "sum(x[i]^2 for i=1..3) * prod(y[k] for k=2..4)"
    g = parse(src)
    assert g.reductions == [
        Reduction("sum", "i", 1, 3, (0, 22), (4, 10)),
        Reduction("prod", "k", 2, 4, (25, 46), (30, 34)),
    ]
    assert src[4:10] == "x[i]^2" and src[30:34] == "y[k]"


def test_an_expansion_too_large_for_memory_is_refused(monkeypatch):
    from adcli import vectors

    monkeypatch.setattr(vectors, "MAX_COPIES", 10_000)
    e = err("sum(sum(x[i]*j for j=1..200) for i=1..len(x))", f"x={vec(range(200))}")
    assert e.message == "the reductions expand to more than 10,000 nodes"


def test_repl_vector_points(capsys):
    from adcli.repl import Session, run_script

    assert run_script(Session(), ["at x=[1, 2, 3]", "f = x[1]*x[2] + x[3]", "grad f --json"], "test") == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["gradient"] == {"x": [2.0, 1.0, 1.0]}


def test_points_json_lines_group_vectors_like_json_at_one_point(tmp_path):
    """Each --points JSON line is the command's --json document for that point:
    a vector input is one list there too, also on a row where f is undefined,
    and no spurious warning counts the undefined row's NaN."""
    pts = tmp_path / "p.csv"
    pts.write_text("b,x[1],x[2]\n3,1,2\n3,-1,2\n")
    expr = "sum(log(x[i]) for i=1..len(x))*b"
    r = CliRunner().invoke(app, ["grad", expr, "--points", str(pts)])
    assert r.exit_code == 2
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert rows[0]["point"] == {"b": 3.0, "x": [1.0, 2.0]}
    assert rows[0]["gradient"] == {"b": pytest.approx(math.log(2)), "x": [3.0, 1.5]}
    assert rows[1] == {"point": {"b": 3.0, "x": [-1.0, 2.0]}, "error": rows[1]["error"]} and "error" in rows[1]
    one = json.loads(CliRunner().invoke(app, ["grad", expr, "--at", "b=3,x=[1,2]", "--json"]).stdout)
    assert {k: one[k] for k in ("point", "gradient")} == {k: rows[0][k] for k in ("point", "gradient")}
    assert "is not finite" not in r.stderr


@pytest.mark.parametrize("vec,pieces", [("[1 - 2]", "3: '1' '-' '2'"), ("[1 2 * 3]", "4: '1' '2' '*' '3'")])
def test_a_vector_without_commas_says_spaces_separate_its_elements(vec, pieces):
    """--at x=[1 - 2] read '-' as an element of its own and said only 'unexpected
    end of input; expected an expression' (review): the hint says why."""
    with pytest.raises(core.AdcliError) as exc:
        core.load("x[1]", f"x={vec}")
    assert exc.value.span is not None
    assert exc.value.hint and f"spaces separate a vector's elements (here {pieces})" in exc.value.hint


def test_a_vector_separated_by_spaces_still_reads():
    assert core.load("x[1] + x[2]", "x=[1 -2]").values.outputs[0] == -1.0
