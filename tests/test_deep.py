"""Very long and very deep expressions (SPEC section 6, issue 2): nothing
recurses, so 100,000 terms, 100,000 nested parentheses and 10,000 nested
function calls all parse, evaluate and differentiate in both modes. Expected
values are computed independently with plain Python loops."""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from contextlib import contextmanager

import numpy as np
import pytest
from typer.testing import CliRunner

from adcli import core, forward, reverse
from adcli.cli import app
from adcli.errors import AdcliError
from adcli.evaluate import evaluate
from adcli.parse import parse

N = 100_000
MODES = ("reverse", "forward")


@pytest.fixture(autouse=True)
def low_recursion_limit():
    """Run with a small recursion limit: anything that recursed per node would fail."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


@contextmanager
def time_limit(seconds: int, what: str):
    """Fail (rather than hang the suite) if ``what`` takes more than ``seconds``."""

    def _alarm(signum, frame):
        raise TimeoutError(f"{what} took more than {seconds} s: something is quadratic")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def grad_both(text: str, at: str, wrt: str | None = None):
    problem = core.load(text, at)
    out = {}
    for mode in MODES:
        r = core.run_grad(problem, mode, wrt)
        out[mode] = (float(r.value), [float(g) for g in r.gradient])
    assert problem.values.warnings == []
    return out


def test_sum_of_100000_terms():
    text = " + ".join(f"{k}*x" for k in range(1, N + 1))
    with time_limit(60, "a sum of 100,000 terms"):
        res = grad_both(text, "x=0.5")
    s = N * (N + 1) // 2  # sum of k, exact in a double
    for mode in MODES:
        assert res[mode] == (0.5 * s, [float(s)]), mode


def test_sum_of_100000_distinct_inputs_engines():
    """The engines on 100,000 inputs (bypassing --at handling)."""
    text = " + ".join(f"x{k}" for k in range(1, N + 1))
    g = parse(text)
    assert len(g.inputs) == N and g.input_names[:3] == ["x1", "x2", "x3"]
    point = [np.float64(k % 7) for k in range(1, N + 1)]
    values = evaluate(g, point)
    assert float(values.outputs[0]) == float(sum(k % 7 for k in range(1, N + 1)))
    adj, _ = reverse.vjp(values, [np.float64(1.0)])
    grads = reverse.input_adjoints(values, adj)
    assert len(grads) == N and all(float(v) == 1.0 for v in grads)
    direction = [None] * N
    direction[N // 2] = np.float64(1.0)
    tan, _ = forward.jvp(values, direction)
    assert float(forward.output_tangents(values, tan)[0]) == 1.0


def test_sum_of_100000_distinct_inputs_grad():
    """The same through adcli grad's core, with 100,000 --at values."""
    text = " + ".join(f"x{k}*x{k}" for k in range(1, N + 1))
    at = ",".join(f"x{k}={k % 5 - 2}" for k in range(1, N + 1))
    with time_limit(60, "grad with 100,000 inputs in --at"):
        problem = core.load(text, at)
        r = core.run_grad(problem, "reverse")
        assert [float(g) for g in r.gradient] == [2.0 * (k % 5 - 2) for k in range(1, N + 1)]
        r = core.run_grad(problem, "forward", wrt=f"x{N},x1")
        assert [float(g) for g in r.gradient] == [2.0 * (N % 5 - 2), 2.0 * (1 % 5 - 2)]


def test_100000_nested_parentheses():
    text = "(" * N + "x" + ")" * N
    res = grad_both(text, "x=0.25")
    for mode in MODES:
        assert res[mode] == (0.25, [1.0])
    # parentheses around a computation, and inside one
    text = "(" * N + "x*y + 1" + ")" * N + "^2 / (" + "(" * N + "y" + ")" * N + ")"
    x, y = 0.5, 3.0
    res = grad_both(text, f"x={x},y={y}")
    u = x * y + 1
    for mode in MODES:
        v, g = res[mode]
        assert v == pytest.approx(u * u / y, rel=1e-15)
        assert g == pytest.approx([2 * u * y / y, 2 * u * x / y - u * u / y**2], rel=1e-14)


def test_10000_nested_sin():
    m = 10_000
    text = "sin(" * m + "x" + ")" * m
    x0 = 0.7
    # independent reference: the chain rule as a loop
    v, d = x0, 1.0
    for _ in range(m):
        d *= math.cos(v)
        v = math.sin(v)
    res = grad_both(text, f"x={x0}")
    for mode in MODES:
        val, g = res[mode]
        assert val == v
        assert g[0] == pytest.approx(d, rel=1e-12)
    assert res["reverse"][1][0] == pytest.approx(res["forward"][1][0], rel=1e-12)


def test_10000_nested_mixed_functions():
    m = 10_000
    text = (
        "".join("exp(tanh(" if k % 2 else "log(1 + " for k in range(m))
        + "x"
        + "".join("))" if k % 2 else ")" for k in reversed(range(m)))
    )
    x0 = 0.3
    # f_k(u) = log(1 + u) for even k, exp(tanh(u)) for odd k, innermost applied first
    v, d = x0, 1.0
    for k in reversed(range(m)):
        if k % 2:
            t = math.tanh(v)
            d *= math.exp(t) * (1 - t * t)
            v = math.exp(t)
        else:
            d *= 1 / (1 + v)
            v = math.log(1 + v)
    res = grad_both(text, f"x={x0}")
    for mode in MODES:
        val, g = res[mode]
        assert val == pytest.approx(v, rel=1e-12)
        assert g[0] == pytest.approx(d, rel=1e-9)


def test_50000_unary_minus_and_long_power_tower():
    m = N // 2
    res = grad_both("-" * m + "x", "x=1.5")  # m is even
    for mode in MODES:
        assert res[mode] == (1.5, [1.0])
    res = grad_both("-" * (m - 1) + "x", "x=1.5")
    for mode in MODES:
        assert res[mode] == (-1.5, [-1.0])
    # ^ is right-associative: x^2^1^1^...^1 = x^(2^(1^(...))) = x^2
    text = "x^2" + "^1" * m
    res = grad_both(text, "x=3")
    for mode in MODES:
        assert res[mode] == (9.0, [6.0])


def test_10000_named_steps():
    m = 10_000
    lines = ["t0 = x"] + [f"t{k} = t{k - 1} * y + 1" for k in range(1, m + 1)] + [f"t{m} / {m}"]
    text = "\n".join(lines)
    x0, y0 = 0.5, 0.999
    # t_k = t_{k-1} y + 1: dt/dx = y^m, dt/dy by the recurrence
    t, dtdy = x0, 0.0
    for _ in range(m):
        dtdy = dtdy * y0 + t
        t = t * y0 + 1
    res = grad_both(text, f"x={x0},y={y0}")
    for mode in MODES:
        val, g = res[mode]
        assert val == pytest.approx(t / m, rel=1e-12)
        assert g == pytest.approx([y0**m / m, dtdy / m], rel=1e-9)


def test_deep_cli_json_and_errors(tmp_path):
    runner = CliRunner()
    f = tmp_path / "deep.expr"
    f.write_text(
        "(" * N + "sin(" * 1000 + "x" + ")" * 1000 + ")" * N + " + " + " + ".join(["x"] * 1000), encoding="utf-8"
    )
    r = runner.invoke(app, ["grad", f"@{f}", "--at", "x=0.5", "--json"])
    assert r.exit_code == 0, r.output
    v, d = 0.5, 1.0
    for _ in range(1000):
        d *= math.cos(v)
        v = math.sin(v)
    doc = json.loads(r.stdout)
    assert doc["value"] == pytest.approx(v + 500.0, rel=1e-14)
    assert doc["gradient"]["x"] == pytest.approx(d + 1000.0, rel=1e-14)
    # a missing ')' after 100,000 '(': a located parse error, exit 2, a short message
    g = tmp_path / "unbalanced.expr"
    g.write_text("(" * N + "x" + ")" * (N - 1), encoding="utf-8")
    t0 = time.perf_counter()
    r = runner.invoke(app, ["grad", f"@{g}", "--at", "x=1"])
    assert r.exit_code == 2
    assert "Traceback" not in r.output and "Traceback" not in r.stderr
    assert "')'" in r.stderr and f"column {2 * N + 1}" in r.stderr
    assert len(r.stderr) < 2000  # the caret line is clipped, not 200,000 characters
    assert time.perf_counter() - t0 < 30
    # a domain error at the end of a very long sum is located there
    text = " + ".join(["x"] * N) + " + log(x - 5)"
    with pytest.raises(AdcliError) as ei:
        core.load(text, "x=1")
    assert ei.value.kind == "domain"
    s, e = ei.value.span
    assert text[s:e] == "log(x - 5)"
