"""The Hessian pass on plain arrays (adcli/hvsweep.py): against SymPy, and to the bit
against the pass on dual numbers, which --steps shows and which redoes the work
when a result is not finite."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from adcli import core, sweeps
from adcli.derivatives import _forward_over_reverse, _hessian_fast, run_hessian

CASES = [
    ("sin(x*y) + exp(x)/y + log(x+y)^2 + sqrt(x*y)*tanh(y)", {"x": 0.7, "y": 1.3}),
    ("where(x > y, x^3*y, atan(x)*y^2) + max(x, y)^2 + abs(x-y)*x", {"x": 0.7, "y": 1.3}),
    ("x^y + cosh(x*y) + 1/(1 + exp(-x)) * log(y)", {"x": 0.7, "y": 1.3}),
    ("100*(y - x^2)^2 + (1 - x)^2 + z^2*x/y - cos(z)^3", {"x": 0.7, "y": 1.3, "z": 2.0}),
]


def _load(expr: str, at: dict[str, float]):
    return core.load(expr, ",".join(f"{k}={v!r}" for k, v in at.items()))


@pytest.mark.parametrize("expr,at", CASES)
def test_plain_pass_is_the_dual_pass_to_the_bit_and_matches_sympy(expr, at):
    p = _load(expr, at)
    positions = list(range(len(p.inputs)))
    groups = sweeps.unit_groups(len(positions))
    fast = _hessian_fast(p, positions, groups)
    assert fast is not None
    _, gradient, B, *_ = _forward_over_reverse(p, positions, None, False, groups)
    assert np.array_equal(fast[1], B)
    assert all(a == b for a, b in zip(fast[0], gradient))
    names = sorted(at, key=p.inputs.index)
    syms = sp.symbols(names)
    text = expr.replace("^", "**").replace("where(x > y, x**3*y, atan(x)*y**2)", "atan(x)*y**2")
    text = text.replace("max(x, y)", "y").replace("abs(x-y)", "(y-x)")  # the branches taken at x < y
    f = sp.sympify(text, locals=dict(zip(names, syms)))
    ref = np.array(sp.hessian(f, syms).subs(dict(zip(syms, [at[n] for n in names]))).evalf(30), dtype=float)
    assert np.allclose(B, ref, rtol=1e-13, atol=1e-13)


def test_many_points_and_colours_agree_with_the_dual_pass():
    n = 12
    expr = " + ".join(f"100*(x{i + 1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(1, n))
    rng = np.random.default_rng(3)
    X = rng.uniform(-1.5, 1.5, (5, n))
    from adcli.evaluate import evaluate
    from adcli.parse import parse

    g = parse(expr)
    values = evaluate(g, [X[:, k].copy() for k in range(n)])
    p = core.Problem(g, [X[:, k] for k in range(n)], values)
    positions = list(range(n))
    groups = [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8, 11]]  # the tridiagonal pattern's three colours
    fast = _hessian_fast(p, positions, groups)
    assert fast is not None
    _, _, B, *_ = _forward_over_reverse(p, positions, None, False, groups)
    assert fast[1].shape == (n, 3, 5) and np.array_equal(fast[1], B)


def test_a_non_finite_result_is_redone_on_dual_numbers():
    # sqrt at 0: an infinite second derivative; the dual pass states it by its convention
    p = _load("sqrt(x) * y + y^2", {"x": 0.0, "y": 2.0})
    assert _hessian_fast(p, [0, 1], sweeps.unit_groups(2)) is None
    r = run_hessian(p)
    _, _, B, *_ = _forward_over_reverse(p, [0, 1], None, False, sweeps.unit_groups(2))
    assert np.array_equal(r.matrix, B, equal_nan=True)
    assert np.isinf(r.matrix[0, 0])


def test_trace_after_the_plain_pass_still_reads_the_dual_sweeps():
    p = _load("x^2*y + sin(y)", {"x": 1.5, "y": 0.5})
    r = run_hessian(p)
    v = r.sweep_values[1]  # computed on first reading
    assert [float(np.asarray(t.tangent).reshape(-1)[0]) for t in (v.vals[i] for i in p.graph.inputs)] == [0.0, 1.0]


@pytest.mark.parametrize("expr,at", CASES)
def test_hvp_on_plain_arrays_is_the_dual_pass_to_the_bit(expr, at):
    from adcli.derivatives import run_hvp

    direction = [0.5, -1.25, 2.0][: len(at)]
    fast = run_hvp(_load(expr, at), direction)
    assert fast.dual_values is None  # it did run on plain arrays
    duals = run_hvp(_load(expr, at), direction, duals=True)
    assert duals.dual_values is not None
    assert [float(v) for v in fast.hvp] == [float(v) for v in duals.hvp]
    assert [float(v) for v in fast.gradient] == [float(v) for v in duals.gradient]
    H = run_hessian(_load(expr, at)).hessian
    want = [sum(float(H[i][j]) * direction[j] for j in range(len(direction))) for i in range(len(direction))]
    assert np.allclose([float(v) for v in fast.hvp], want, rtol=1e-13, atol=1e-13)


def test_hvp_that_meets_an_infinity_is_redone_on_dual_numbers():
    from adcli.derivatives import run_hvp

    # sqrt(x-x): the plain pass meets inf - inf; the dual pass carries weights (0·inf = 0)
    r = run_hvp(_load("sqrt(x - x) + x^3", {"x": 1.0}), [1.0])
    assert r.dual_values is not None
    assert [float(v) for v in r.hvp] == [6.0]


@settings(max_examples=examples(200), deadline=None)
@given(
    st.sampled_from([2.0, -0.5, 1e-300, 3e300, 0.0, -0.0, float("inf"), float("nan")]),
    st.lists(
        st.sampled_from([0.0, 1.5, -2.0, 1e308, float("inf"), float("-inf"), float("nan")]), min_size=4, max_size=4
    ),
    st.booleans(),
)
def test_a_constant_factor_of_a_dual_is_dualns_mul_to_the_bit(c, parts, nested):
    """Dual's shortcut for c * d and d * c gives what the registry's lifted mul gives:
    the same bits, the 0·inf convention wherever c is 0, inf or NaN (a dual of duals
    takes the lifted mul itself)."""
    from adcli.dual import Dual, DualNS

    primal, tangent = np.array(parts[:2]), np.array(parts[2:])
    d = Dual(Dual(primal, tangent), Dual(tangent, primal)) if nested else Dual(primal, tangent)

    def flat(x):
        return np.concatenate([flat(x.primal), flat(x.tangent)]) if isinstance(x, Dual) else np.asarray(x).ravel()

    with np.errstate(all="ignore"):
        for got, want in ((c * d, DualNS.mul(c, d)), (d * c, DualNS.mul(d, c))):
            assert flat(got).tobytes() == flat(want).tobytes()
