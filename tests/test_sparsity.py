"""Sparsity patterns, colourings and compressed sweeps: against SciPy, SymPy and the uncompressed batch."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import sympy as sp
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import rosen_hess

from adcli import core, evaluate, sparsity
from adcli.derivatives import run_hessian, run_jacobian
from adcli.parse import parse


def rosenbrock(n: int) -> str:
    return " + ".join(f"100*(x{i + 1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(1, n))


def at_text(x) -> str:
    return ",".join(f"x{i + 1}={float(v)!r}" for i, v in enumerate(x))


def wrt(n: int) -> str:
    return ",".join(f"x{i}" for i in range(1, n + 1))


def test_rosenbrock_pattern_is_tridiagonal_and_takes_three_colours():
    n = 40
    g = parse(rosenbrock(n))
    positions = core.resolve_wrt(g, wrt(n))
    nbr = sparsity.hessian_pattern(g, positions)
    assert nbr == [{j for j in (i - 1, i, i + 1) if 0 <= j < n} for i in range(n)]
    colour = sparsity.star_colouring(nbr)
    assert max(colour) + 1 == 3


@pytest.mark.parametrize("n", [5, 25, 200])
def test_compressed_rosenbrock_hessian_matches_scipy(n):
    x = np.random.default_rng(n).uniform(-2, 2, n)
    r = run_hessian(core.load(rosenbrock(n), at_text(x)), wrt=wrt(n))
    assert (r.colours, r.sweeps, r.uncompressed) == (3, 3, n)
    H, ref = r.matrix, rosen_hess(x)
    nz = ref != 0
    assert np.all(np.abs(H[nz] - ref[nz]) <= 1e-10 * np.abs(ref[nz]))
    assert np.all(H[~nz] == 0)
    assert r.coo is not None and len(r.coo.values) == np.count_nonzero(ref)


def test_arrowhead_hessian_star_colouring_beats_distance_two():
    # x0 couples with every other input: distance-2 colouring needs n colours, a star colouring 2
    n = 12
    expr = " + ".join(f"x0*x{i}^2" for i in range(1, n))
    at = ",".join(f"x{i}={0.5 + i / 10}" for i in range(n))
    r = run_hessian(core.load(expr, at))
    assert r.colours == 2
    full = run_hessian(core.load(expr, at), record=True)  # recorded sweeps stay one per input
    assert full.colours is None and full.sweeps == n
    assert np.array_equal(r.matrix, full.matrix)


def test_star_colouring_separates_every_entry_of_random_patterns():
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(3, 30))
        nbr = [{i} for i in range(n)]
        for _ in range(int(rng.integers(0, 3 * n))):
            i, j = (int(v) for v in rng.integers(0, n, 2))
            nbr[i].add(j)
            nbr[j].add(i)
        colour = sparsity.star_colouring(nbr)
        for i in range(n):  # distance 1
            assert all(colour[i] != colour[j] for j in nbr[i] if j != i)
        # every entry is read back from a group where it is alone in its row
        H = rng.normal(size=(n, n))
        H = H + H.T
        mask = np.array([[j in nbr[i] for j in range(n)] for i in range(n)])
        H[~mask] = 0
        S = np.zeros((n, max(colour) + 1))
        S[np.arange(n), colour] = 1
        B = H @ S
        got = np.zeros_like(H)
        for i, j, row, c in sparsity.hessian_recovery(nbr, colour):
            got[i, j] = got[j, i] = B[row, c]
        assert np.allclose(got, H, rtol=1e-12, atol=1e-12)


SYMS = sp.symbols("x0:8")

terms = st.tuples(
    st.sampled_from(["sin({a}*{b})", "{a}^2*{b}", "exp({a})", "{a}*{b}", "log(2 + {a}^2)", "({a} - {b})^3"]),
    st.integers(0, 7),
    st.integers(0, 7),
)


@settings(max_examples=examples(30), deadline=None)
@given(st.lists(terms, min_size=1, max_size=6), st.lists(st.floats(-1.5, 1.5), min_size=8, max_size=8))
def test_compressed_hessian_equals_sympy(ts, xs):
    expr = " + ".join(t.format(a=f"x{a}", b=f"x{b}") for t, a, b in ts) + " + " + " + ".join(f"x{i}" for i in range(8))
    at = ",".join(f"x{i}={v!r}" for i, v in enumerate(xs))
    r = run_hessian(core.load(expr, at))
    names = r.problem.inputs
    f = sp.sympify(expr.replace("^", "**"), locals={f"x{i}": SYMS[i] for i in range(8)})
    subs = {SYMS[i]: xs[i] for i in range(8)}
    H = r.matrix
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            ref = float(sp.diff(f, SYMS[int(a[1:])], SYMS[int(b[1:])]).evalf(30, subs=subs))
            assert H[i, j] == pytest.approx(ref, rel=1e-9, abs=1e-9)


def test_compressed_jacobian_equals_uncompressed_and_sympy():
    # a banded 30×30 Jacobian: y_i = x_i * x_(i+1) + sin(x_i)
    n = 30
    exprs = [f"x{i}*x{i + 1} + sin(x{i})" for i in range(n - 1)] + [f"x{n - 1}^2"]
    at = ",".join(f"x{i}={0.1 * i - 1}" for i in range(n))
    problem = core.load(", ".join(exprs), at)
    for mode in ("forward", "reverse"):
        r = run_jacobian(problem, mode)
        assert r.colours is not None and r.colours <= 3 and r.uncompressed == n
        x = [0.1 * i - 1 for i in range(n)]
        ref = np.zeros((n, n))
        for i in range(n - 1):
            ref[i, i] = x[i + 1] + np.cos(x[i])
            ref[i, i + 1] = x[i]
        ref[n - 1, n - 1] = 2 * x[n - 1]
        assert np.allclose(r.matrix, ref, rtol=1e-14, atol=1e-14)


def test_dense_jacobian_is_not_coloured():
    r = run_jacobian(core.load("x*y*z, x+y+z, x^2-y", "x=1,y=2,z=3"))
    assert r.colours is None and r.sweeps == 3


def test_format_coo_text_and_json():
    from typer.testing import CliRunner

    from adcli.cli import app

    n = 6
    x = np.linspace(-1, 1, n)
    args = ["hessian", rosenbrock(n), "--at", at_text(x), "--wrt", wrt(n)]
    runner = CliRunner()
    doc = json.loads(runner.invoke(app, [*args, "--format", "coo", "--json"]).stdout)
    assert doc["shape"] == [n, n] and doc["colours"] == 3
    dense = np.zeros((n, n))
    dense[doc["rows"], doc["cols"]] = doc["values"]
    assert np.allclose(dense, rosen_hess(x), rtol=1e-12, atol=0)
    assert len(doc["values"]) == 3 * n - 2
    text = runner.invoke(app, [*args, "--format", "coo"]).stdout
    assert text.splitlines()[0] == f"{n}×{n} Hessian, {3 * n - 2} non-zero entries"
    assert f"{n}×{n} Hessian, 3 colours: 3 sweeps instead of {n}" in text
    bad = runner.invoke(app, ["grad", "x*y", "--at", "x=1,y=2", "--format", "coo"])
    assert bad.exit_code in (0, 2)  # grad's --format is for --points; never a traceback
    assert "Traceback" not in bad.output


def _seconds(f) -> float:
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def test_pattern_detection_is_linear_in_the_length_of_a_sum():
    # a long sum hands its index set along in place: 4× the terms costs ~4× (quadratic would be 16×)
    small, large = parse(rosenbrock(500)), parse(rosenbrock(2000))
    t_small = _seconds(lambda: sparsity.hessian_pattern(small, list(range(len(small.inputs)))))
    t_large = _seconds(lambda: sparsity.hessian_pattern(large, list(range(len(large.inputs)))))
    assert t_large < 9 * t_small


def test_a_hessian_plan_made_once_serves_a_view_in_another_input_order():
    """The plan is cached on the graph, and a view in another input order shares that
    cache: it is keyed by the inputs' nodes, so each order gets its own, right one.
    The oracle: the Hessian by hand, f = a²b + bc² + d³."""
    text = "a^2*b + b*c^2 + d^3"
    p = core.load(text, "a=1,b=2,c=3,d=4")
    a, b, c, d = 1.0, 2.0, 3.0, 4.0
    by_hand = np.array([[2 * b, 2 * a, 0, 0], [2 * a, 0, 2 * c, 0], [0, 2 * c, 2 * b, 0], [0, 0, 0, 6 * d]])
    point = np.array([a, b, c, d])

    def hessian(g, order):
        values = evaluate.evaluate(g, [np.float64(v) for v in point[order]])
        h = run_hessian(core.Problem(g, [float(v) for v in point[order]], values))
        assert h.colours is not None  # coloured: the plan is what is read back
        return np.array(h.hessian, dtype=float)

    assert np.array_equal(hessian(p.graph, [0, 1, 2, 3]), by_hand)
    view = p.graph.in_order(["d", "c", "b", "a"])  # made after the plan: it shares the cache
    assert view is not p.graph and view.__dict__["_hessian_plans"] is p.graph.__dict__["_hessian_plans"]
    assert np.array_equal(hessian(view, [3, 2, 1, 0]), by_hand[np.ix_([3, 2, 1, 0], [3, 2, 1, 0])])
    assert np.array_equal(hessian(p.graph, [0, 1, 2, 3]), by_hand)
