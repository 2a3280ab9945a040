"""adcli check: AD against finite differences, hand-derived formulas and the other engine.

Oracles are independent of adcli: derivatives derived by hand and evaluated
with ``math``, finite differences computed here with plain floats, points
written out in CSV files whose coordinates the test knows.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from adcli import check, core, forward, ops, render
from adcli.cli import app

ROOT = Path(__file__).resolve().parent.parent
LOG_EXPR = "log((x1+x2)^2+sin(x1*x2))"
SMOOTH5 = "sin(x1)*x2 + exp(x3/2) - log(1+x4^2)*x5 + atan(x1*x5)"


def cli(*args: str, input: str | None = None):
    result = CliRunner().invoke(app, list(args), input=input, env={"NO_COLOR": "1", "COLUMNS": "80"})
    assert "Traceback" not in result.output
    return result


def cli_json(*args: str, input: str | None = None) -> tuple[int, dict]:
    r = cli(*args, "--json", input=input)
    return r.exit_code, json.loads(r.stdout)


def wrong_rule(monkeypatch, name: str, factor: float = 1 + 1e-4) -> None:
    """Slip a wrong derivative into the registry: every partial of ``name`` times ``factor``."""
    orig = ops.OPS[name]

    def d(xp, ans, *args):
        return tuple(p * factor for p in orig.d(xp, ans, *args))

    monkeypatch.setitem(ops.OPS, name, dataclasses.replace(orig, d=d))


# -- the acceptance items ------------------------------------------------------------


def test_log_example_passes_with_tiny_errors():
    code, doc = cli_json("check", LOG_EXPR, "--at", "x1=1,x2=2")
    assert code == 0 and doc["ok"] is True
    s = 9 + math.sin(2)
    exact = {"x1": (6 + 2 * math.cos(2)) / s, "x2": (6 + math.cos(2)) / s}
    assert [r["input"] for r in doc["rows"]] == ["x1", "x2"]
    for r in doc["rows"]:
        assert r["ok"] is True and r["status"] == "pass"
        assert r["ad"] == pytest.approx(exact[r["input"]], rel=1e-14)
        assert r["abs_err"] < 1e-9 and r["rel_err"] < 1e-9
        assert r["abs_err"] == pytest.approx(abs(r["ad"] - r["fd"]), rel=1e-6, abs=1e-300)
    text = cli("check", LOG_EXPR, "--at", "x1=1,x2=2")
    assert text.exit_code == 0
    assert "∂f/∂x1" in text.stdout and "∂f/∂x2" in text.stdout
    assert text.stdout.rstrip().splitlines()[-1].startswith("ok: 2 of 2 derivatives agree")


def test_central_difference_matches_a_hand_computed_one():
    # f = x1·exp(x2) at (0.5, 0.3), central differences with the step cbrt(eps)·max(1, |x|)
    x1, x2 = 0.5, 0.3

    def f(a, b):
        return a * math.exp(b)

    h = np.finfo(float).eps ** (1 / 3)
    fd1 = (f(x1 + h, x2) - f(x1 - h, x2)) / ((x1 + h) - (x1 - h))
    fd2 = (f(x1, x2 + h) - f(x1, x2 - h)) / ((x2 + h) - (x2 - h))
    code, doc = cli_json("check", "x1*exp(x2)", "--at", f"x1={x1},x2={x2}")
    assert code == 0
    assert doc["rows"][0]["fd"] == pytest.approx(fd1, rel=1e-13)
    assert doc["rows"][1]["fd"] == pytest.approx(fd2, rel=1e-13)


def test_grad_formula_right_and_wrong():
    ok = cli("check", "x^2*sin(x)", "--at", "x=1.3", "--grad", "2*x*sin(x) + x^2*cos(x)")
    assert ok.exit_code == 0, ok.output
    bad = cli("check", "x^2*sin(x)", "--at", "x=1.3", "--grad", "2*x*sin(x)")
    assert bad.exit_code == 1
    fail_lines = [line for line in bad.stdout.splitlines() if line.startswith("FAIL ")]
    assert len(fail_lines) == 1
    assert "∂f/∂x" in fail_lines[0] and "x=1.3" in fail_lines[0]  # names the component and the point
    code, doc = cli_json("check", "x^2*sin(x)", "--at", "x=1.3", "--grad", "2*x*sin(x)")
    assert code == 1 and doc["ok"] is False and doc["against"] == "grad"
    (row,) = doc["rows"]
    assert row["expected"] == pytest.approx(2 * 1.3 * math.sin(1.3), rel=1e-15)
    assert row["ad"] == pytest.approx(2 * 1.3 * math.sin(1.3) + 1.3**2 * math.cos(1.3), rel=1e-14)
    assert row["ok"] is False and row["status"] == "fail"


def test_grad_named_per_input_and_partial():
    assert cli("check", "x*y^2", "--at", "x=1,y=2", "--grad", "x=y^2", "--grad", "y=2*x*y").exit_code == 0
    r = cli("check", "x*y^2", "--at", "x=1,y=2", "--grad", "y=2*x")
    assert r.exit_code == 1 and "∂f/∂y at x=1, y=2" in r.stdout
    code, doc = cli_json("check", "x*y^2", "--at", "x=1,y=2", "--grad", "y=2*x*y")
    assert code == 0 and [row["input"] for row in doc["rows"]] == ["y"]  # only the component given


def test_random_points_smooth_function_quiet():
    r = cli("check", SMOOTH5, "--random", "1000", "--seed", "1", "--box", "-2:2", "--quiet")
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    code, doc = cli_json("check", SMOOTH5, "--random", "1000", "--seed", "1", "--box", "-2:2")
    assert code == 0 and doc["points"] == 1000 and doc["checked"] == 1000 and doc["skipped"] == 0
    assert len(doc["rows"]) == 5000 and all(row["ok"] for row in doc["rows"])
    # the AD values are the hand-derived gradient at the very points reported
    for row in doc["rows"][:50]:
        p = row["at"]
        x1, x2, x3, x4, x5 = (p[k] for k in ("x1", "x2", "x3", "x4", "x5"))
        q = 1 / (1 + (x1 * x5) ** 2)
        grad = {
            "x1": math.cos(x1) * x2 + q * x5,
            "x2": math.sin(x1),
            "x3": math.exp(x3 / 2) / 2,
            "x4": -2 * x4 / (1 + x4**2) * x5,
            "x5": -math.log(1 + x4**2) + q * x1,
        }
        assert row["ad"] == pytest.approx(grad[row["input"]], rel=1e-12, abs=1e-14)
        assert all(-2 <= v <= 2 for v in p.values())


def test_random_points_are_reproducible_and_seed_reported():
    _, a = cli_json("check", "x*y", "--random", "5", "--seed", "42")
    _, b = cli_json("check", "x*y", "--random", "5", "--seed", "42")
    assert [r["at"] for r in a["rows"]] == [r["at"] for r in b["rows"]]
    _, c = cli_json("check", "x*y", "--random", "5")
    assert isinstance(c["seed"], int)
    _, d = cli_json("check", "x*y", "--random", "5", "--seed", str(c["seed"]))
    assert [r["at"] for r in c["rows"]] == [r["at"] for r in d["rows"]]


@pytest.mark.parametrize("name", ["sin", "mul", "exp"])
def test_monkeypatched_wrong_rule_is_caught(monkeypatch, name):
    wrong_rule(monkeypatch, name)
    r = cli("check", "sin(x)*y + exp(x/3)", "--at", "x=0.7,y=2")
    assert r.exit_code == 1, r.output
    assert any(line.startswith("FAIL ∂f/∂x") for line in r.stdout.splitlines())
    q = cli("check", "sin(x)*y + exp(x/3)", "--random", "200", "--seed", "3", "--quiet")
    assert q.exit_code == 1 and q.stdout.strip()


def test_wrong_rule_is_not_rescued_by_the_second_opinion(monkeypatch):
    # Ridders' extrapolation estimates the true derivative: it cannot agree with a wrong one.
    wrong_rule(monkeypatch, "sin")
    code, doc = cli_json("check", "sin(x)", "--at", "x=0.4")
    assert code == 1
    (row,) = doc["rows"]
    assert row["fd"] == pytest.approx(math.cos(0.4), rel=1e-9)
    assert row["ad"] == pytest.approx(math.cos(0.4) * (1 + 1e-4), rel=1e-14)
    assert "Ridders" in row["note"]


def _rosenbrock_point(tmp_path, n: int) -> str:
    x = np.random.default_rng(0).uniform(-1, 1, n)
    f = tmp_path / "x.txt"
    f.write_text("x=[" + ",".join(repr(float(v)) for v in x) + "]", encoding="utf-8")
    return f"@{f}"


ROSENBROCK = "sum(100*(x[i+1]-x[i]^2)^2 + (1-x[i])^2 for i=1..len(x)-1)"


def test_a_large_sum_passes_where_its_differences_carry_rounding(tmp_path):
    """|f| ~ 10^5 at 2,000 inputs: central differences carry ~1e-6 of rounding, more
    than rtol allows for a derivative of 0.3; Ridders' estimate says so, and a right
    gradient passes (it failed twice before). The reference: the gradient by hand."""
    at = _rosenbrock_point(tmp_path, 2000)
    code, doc = cli_json("check", ROSENBROCK, "--at", at)
    assert code == 0, [r for r in doc["rows"] if not r["ok"]][:3]
    x = np.random.default_rng(0).uniform(-1, 1, 2000)
    by_hand = np.zeros_like(x)
    by_hand[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    by_hand[1:] += 200 * (x[1:] - x[:-1] ** 2)
    ad = np.array([r["ad"] for r in doc["rows"]])
    assert np.allclose(ad, by_hand, rtol=1e-12, atol=1e-10)
    within = [r for r in doc["rows"] if "within its error estimate" in r.get("note", "")]
    assert within  # the rows the rule decides: each named, each as close as its estimate
    for r in within:
        assert abs(r["ad"] - r["fd"]) <= 2 * float(r["note"].rsplit("(", 1)[1].rstrip(")"))


def test_a_wrong_rule_still_fails_in_a_large_sum(monkeypatch, tmp_path):
    wrong_rule(monkeypatch, "sub")  # x[i+1] - x[i]^2 and 1 - x[i]: every term's partials 1e-4 off
    code, doc = cli_json("check", ROSENBROCK, "--at", _rosenbrock_point(tmp_path, 2000))
    assert code == 1
    failed = [r for r in doc["rows"] if not r["ok"]]
    assert len(failed) > 1900  # all but those whose derivative is near 0


def test_a_failure_at_a_wide_point_names_its_input_and_shortens_the_rest(tmp_path):
    r = cli("check", "sum(x[i]^3 for i=1..len(x))", "--at", _rosenbrock_point(tmp_path, 2000), "--quiet",
            "--grad", "[3*x[i]^2 + where(i == 20, 0.001, 0) for i=1..2000]")  # fmt: skip
    assert r.exit_code == 1
    (line,) = r.stdout.strip().splitlines()
    x20 = np.random.default_rng(0).uniform(-1, 1, 2000)[19]
    assert line.startswith(f"FAIL ∂f/∂x[20] at x[20]={x20:.6g} of x=[")
    assert "…" in line and "(2,000 values)" in line and len(line) < 400


# Every primitive, a point where its derivative is well away from zero.
_REGISTRY_CASES = {
    "add": ("x + y", "x=0.3,y=0.7"),
    "sub": ("x - y", "x=0.3,y=0.7"),
    "mul": ("x * y", "x=0.3,y=0.7"),
    "div": ("x / y", "x=0.3,y=0.7"),
    "neg": ("(-x)", "x=0.3"),  # a leading - would read as an option
    "powc": ("x^3", "x=0.7"),
    "pow": ("x^y", "x=1.3,y=0.7"),
    "logb": ("log(x, y)", "x=1.3,y=2.5"),
    "acosh": ("acosh(x)", "x=1.5"),
    "where": ("where(x > y, x*y, x - y)", "x=0.5,y=0.2"),
    "hypot": ("hypot(x, y)", "x=0.3,y=0.7"),
    "atan2": ("atan2(y, x)", "x=0.3,y=0.7"),
    "max": ("max(x, y)", "x=0.3,y=0.7"),
    "min": ("min(x, y)", "x=0.3,y=0.7"),
    "clip": ("clip(x, y, z)", "x=0.5,y=0.2,z=0.9"),
    "polygamma": ("polygamma(1, x)", "x=0.3"),
}
# leaves; sign and the step functions (their derivative is 0 everywhere)
_NO_DERIVATIVE = {"input", "const", "sign", "floor", "ceil", "round", "heaviside"}


def _registry_case(name: str) -> tuple[str, str]:
    op = ops.OPS[name]
    if name in _REGISTRY_CASES:
        return _REGISTRY_CASES[name]
    return (f"{name}(x)", "x=0.3") if op.arity == 1 else (f"{name}(x, y)", "x=0.3,y=0.7")


@pytest.mark.parametrize("name", [n for n in ops.OPS if n not in _NO_DERIVATIVE])
def test_every_rule_right_passes_and_wrong_by_1e4_fails(monkeypatch, name):
    expr, at = _registry_case(name)
    assert cli("check", expr, "--at", at).exit_code == 0
    assert cli("check", expr, "--at", at, "--mode", "forward").exit_code == 0
    wrong_rule(monkeypatch, name)
    r = cli("check", expr, "--at", at, "--quiet")
    assert r.exit_code == 1, f"{name}: a derivative wrong by 1e-4 relative passed"
    assert r.stdout.startswith("FAIL ")


# -- exit codes and --quiet -------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["check", "log((x1+x2", "--at", "x1=1,x2=2"],  # parse error
        ["check", "x^2", "--at", "y=1"],  # unknown name
        ["check", "x^2"],  # missing value
        ["check", "log(x)", "--at", "x=-1"],  # domain error
        ["check", "x^2", "--at", "x=1", "--method", "backward"],
        ["check", "x^2", "--at", "x=1", "--mode", "sideways"],
        ["check", "x^2", "--at", "x=1", "--step", "0"],
        ["check", "x^2", "--at", "x=1", "--rtol", "-1"],
        ["check", "x^2", "--at", "x=1", "--grad", "2*y"],  # the formula uses a name the expression lacks
        ["check", "x^2", "--at", "x=1", "--grad", "2*x, 1"],  # too many formulas
        ["check", "x^2", "--at", "x=1", "--grad", "2*(x"],
        ["check", "x^2", "--at", "x=1", "--grad", "z=2*x"],
        ["check", "x, y", "--at", "x=1,y=1", "--grad", "1, 1"],  # --grad needs a scalar
        ["check", "x^2", "--at", "x=1", "--grad", "2*x", "--mode", "both"],
        ["check", "x^2", "--at", "x=1", "--random", "3"],
        ["check", "x^2", "--random", "0"],
        ["check", "x^2", "--random", "3", "--box", "2:1"],
        ["check", "x^2", "--at", "x=1", "--box", "0:1"],
        ["check", "x^2", "--points", "no-such-file.csv"],
        ["check", "--cases", "no-such-file.cases"],
        ["check", "x", "--cases", "whatever"],
        ["check"],
        ["check", "2 + 3"],
    ],
)
def test_bad_input_exits_2_without_traceback(args):
    r = cli(*args)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ")
    j = cli(*args, "--json")
    assert j.exit_code == 2 and "error" in json.loads(j.stdout)


def test_quiet_prints_only_failing_rows():
    good = cli("check", "x*y^2", "--at", "x=1,y=2", "--grad", "y^2, 2*x*y", "-q")
    assert good.exit_code == 0 and good.stdout == ""
    bad = cli("check", "x*y^2 + z", "--at", "x=1,y=2,z=3", "--grad", "y^2, x*y, 2", "--quiet")
    assert bad.exit_code == 1
    lines = bad.stdout.splitlines()
    assert len(lines) == 2  # ∂f/∂y and ∂f/∂z are wrong; ∂f/∂x is not printed
    assert lines[0].startswith("FAIL ∂f/∂y at x=1, y=2, z=3") and lines[1].startswith("FAIL ∂f/∂z")
    loud = cli("check", "x*y^2 + z", "--at", "x=1,y=2,z=3", "--grad", "y^2, x*y, 2")
    assert "∂f/∂x" in loud.stdout and loud.stdout.count("FAIL ") == 2


def test_quiet_with_a_kink_only_is_silent():
    r = cli("check", "abs(x) + y^2", "--at", "x=0,y=1", "--quiet")
    assert r.exit_code == 0 and r.stdout == ""


# -- --json ----------------------------------------------------------------------------------


def test_json_shape():
    code, doc = cli_json("check", "x*y, sin(x)", "--at", "x=1,y=2")
    assert code == 0
    assert {"ok", "rows", "rtol", "atol"} <= set(doc)
    assert doc["rtol"] == check.RTOL and doc["atol"] == check.ATOL
    assert doc["point"] == {"x": 1.0, "y": 2.0}
    assert len(doc["rows"]) == 4  # 2 outputs × 2 inputs
    for row in doc["rows"]:
        assert {"input", "ad", "fd", "abs_err", "rel_err", "ok"} <= set(row)
        assert isinstance(row["ok"], bool) and row["input"] in ("x", "y") and row["output"] in (1, 2)
    jac = {(r["output"], r["input"]): r["ad"] for r in doc["rows"]}
    assert jac == {(1, "x"): 2.0, (1, "y"): 1.0, (2, "x"): pytest.approx(math.cos(1)), (2, "y"): 0.0}


def test_json_non_finite_numbers_are_strings():
    code, doc = cli_json("check", "sqrt(x)*y", "--at", "x=0,y=2")
    assert code == 0
    row = {r["input"]: r for r in doc["rows"]}
    assert row["x"]["ad"] == "Infinity" and row["x"]["status"] == "kink"
    assert row["y"]["ad"] == 0.0 and row["y"]["status"] == "pass"


def test_tolerances_and_step_are_used():
    # a fixed step of 0.1: the central difference of sin at 1 is off by about h²/6·cos(1)
    h = 0.1
    fd = (math.sin(1 + h) - math.sin(1 - h)) / ((1 + h) - (1 - h))
    code, doc = cli_json("check", "sin(x)", "--at", "x=1", "--step", "0.1")
    assert code == 1
    assert doc["rows"][0]["fd"] == pytest.approx(fd, rel=1e-14) and doc["step"] == 0.1
    code, doc = cli_json("check", "sin(x)", "--at", "x=1", "--step", "0.1", "--rtol", "1e-2")
    assert code == 0 and doc["rtol"] == 1e-2
    code, doc = cli_json("check", "sin(x)", "--at", "x=1", "--step", "0.1", "--rtol", "0", "--atol", "1e-3")
    assert code == 0 and doc["atol"] == 1e-3


@pytest.mark.parametrize("method", ["central", "forward", "richardson"])
def test_methods(method):
    code, doc = cli_json("check", LOG_EXPR, "--at", "x1=1,x2=2", "--method", method)
    assert code == 0 and doc["method"] == method
    s = 9 + math.sin(2)
    exact = [(6 + 2 * math.cos(2)) / s, (6 + math.cos(2)) / s]
    bound = {"central": 1e-9, "forward": 1e-6, "richardson": 1e-11}[method]
    for row, g in zip(doc["rows"], exact):
        assert abs(row["fd"] - g) < bound


# -- engines against each other ----------------------------------------------------------


def test_mode_both_scalar_and_dot_product():
    code, doc = cli_json("check", "x*y + sin(x)", "--at", "x=1,y=2", "--mode", "both")
    assert code == 0 and doc["against"] == "forward"
    assert [(r["ad"], r["forward"]) for r in doc["rows"]] == [(2 + math.cos(1), 2 + math.cos(1)), (1.0, 1.0)]
    code, doc = cli_json(
        "check", "x*y*z, sin(x) + cos(y), exp(z/2)", "--at", "x=0.5,y=-1,z=2", "--mode", "both", "--seed", "4"
    )
    assert code == 0
    (row,) = doc["rows"]
    u, v = np.array(doc["u"]), np.array(doc["v"])
    x, y, z = 0.5, -1.0, 2.0
    J = np.array([[y * z, x * z, x * y], [math.cos(x), -math.sin(y), 0], [0, 0, math.exp(z / 2) / 2]])
    assert row["input"] == "<u,Jv>"
    assert row["ad"] == pytest.approx(u @ J @ v, rel=1e-13) and row["forward"] == pytest.approx(u @ J @ v, rel=1e-13)


def test_mode_both_catches_a_forward_engine_bug(monkeypatch):
    orig = forward.output_tangents
    monkeypatch.setattr(forward, "output_tangents", lambda values, tan: [t * 1.001 for t in orig(values, tan)])
    assert cli("check", "x*y + sin(x)", "--at", "x=1,y=2", "--mode", "both").exit_code == 1
    assert cli("check", "x*y, x+y", "--at", "x=1,y=2", "--mode", "both").exit_code == 1
    assert cli("check", "x*y + sin(x)", "--at", "x=1,y=2").exit_code == 0  # reverse mode is fine


# -- kinks -------------------------------------------------------------------------------------


def test_kink_reported_not_failed():
    code, doc = cli_json("check", "abs(x) + y^2", "--at", "x=0,y=1")
    assert code == 0 and doc["ok"] is True and doc["kinks"] == 1
    row = {r["input"]: r for r in doc["rows"]}
    assert row["x"]["status"] == "kink" and "abs" in row["x"]["note"] and row["x"]["ok"] is True
    assert row["y"]["status"] == "pass" and row["y"]["ad"] == 2.0
    text = cli("check", "abs(x) + y^2", "--at", "x=0,y=1").stdout
    assert "kink" in text and "abs'(0) = 0" in text


@pytest.mark.parametrize(
    "expr, at, grad",
    [
        ("relu(x) * y", "x=0,y=3", "where(x >= 0, y, 0), relu(x)"),  # the formula picks the other side
        ("max(x, y)", "x=1,y=1", "1, 0"),
        ("where(x > 1, x^2, 2*x - 1)", "x=1", "where(x > 1, 2*x, 2) + 1"),
    ],
)
def test_kink_against_a_formula_is_not_a_wrong_gradient(expr, at, grad):
    code, doc = cli_json("check", expr, "--at", at, "--grad", grad)
    assert code == 0 and doc["kinks"] >= 1
    assert any(r["status"] == "kink" for r in doc["rows"])


def test_stencil_crossing_a_kink_is_not_a_failure():
    # abs at 1e-9 is differentiable (derivative 1), but a step of 6e-6 straddles the kink at 0
    code, doc = cli_json("check", "abs(x) + sin(y)", "--at", "x=1e-9,y=1", "--step", "6e-6")
    assert code == 0
    row = {r["input"]: r for r in doc["rows"]}
    assert row["x"]["status"] == "kink" and "near" in row["x"]["note"] and row["x"]["ad"] == 1.0
    # a derivative that is wrong there is still... not checkable by FD, but a formula catches it
    assert cli("check", "abs(x)", "--at", "x=1e-9", "--grad", "-1").exit_code == 1


def test_near_singularity_the_second_opinion_settles_it():
    # 1/x at 1e-6: central differences with the default step are far off (the step
    # is 6e-6); Ridders' extrapolation at smaller steps agrees with the exact -1e12.
    code, doc = cli_json("check", "1/x", "--at", "x=1e-6")
    assert code == 0
    (row,) = doc["rows"]
    assert row["ad"] == pytest.approx(-1e12, rel=1e-14) and row["fd"] == pytest.approx(-1e12, rel=1e-9)
    assert "Ridders" in row["note"]
    # with a fixed --step there is no second opinion: the step is what was asked for
    assert cli("check", "1/x", "--at", "x=1e-6", "--step", "6e-6").exit_code == 1


def test_near_the_edge_of_the_domain():
    code, doc = cli_json("check", "log(x)", "--at", "x=1e-9")
    assert code == 0 and doc["rows"][0]["fd"] == pytest.approx(1e9, rel=1e-8)


# -- several points ------------------------------------------------------------------------


def test_points_file_skips_undefined_points(tmp_path):
    pts = [(1.0, 2.0), (-1.0, 3.0), (0.5, -1.0), (0.0, 1.0), (2.0, 0.25)]
    f = tmp_path / "pts.csv"
    f.write_text("x,y\n" + "\n".join(f"{x},{y}" for x, y in pts) + "\n")
    code, doc = cli_json("check", "log(x)*y", "--points", str(f))
    assert code == 0
    expect_skipped = [k for k, (x, _) in enumerate(pts) if x <= 0]
    assert doc["skipped"] == len(expect_skipped) == 2
    assert [s["point_index"] for s in doc["skipped_points"]] == expect_skipped
    assert doc["checked"] == 3 and len(doc["rows"]) == 6
    for row in doc["rows"]:
        x, y = pts[row["point_index"]]
        assert row["at"] == {"x": x, "y": y}
        assert row["ad"] == pytest.approx(y / x if row["input"] == "x" else math.log(x), rel=1e-14)
    text = cli("check", "log(x)*y", "--points", str(f))
    assert text.exit_code == 0 and "2 skipped" in text.stdout and "point 2:" in text.stdout


def test_points_from_stdin():
    r = cli("check", "x*y", "--points", "-", "--quiet", input="x,y\n1,2\n3,4\n")
    assert r.exit_code == 0 and r.stdout == ""


def test_random_points_skip_where_undefined():
    code, doc = cli_json("check", "sqrt(x) + y", "--random", "200", "--seed", "5", "--box", "-1:1")
    assert code == 0
    assert 0 < doc["skipped"] < 200 and doc["checked"] + doc["skipped"] == 200
    assert all(s["at"]["x"] < 0 for s in doc["skipped_points"])
    assert all(r["at"]["x"] >= 0 for r in doc["rows"])


def test_failures_at_several_points_name_each_point(monkeypatch, tmp_path):
    wrong_rule(monkeypatch, "cos")
    f = tmp_path / "p.csv"
    f.write_text("x\n0.5\n1.5\n")
    r = cli("check", "cos(x)", "--points", str(f), "--quiet")
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert lines[0].startswith("FAIL ∂f/∂x at point 1 (x=0.5)") and lines[1].startswith("FAIL ∂f/∂x at point 2 (x=1.5)")


# -- the cases file --------------------------------------------------------------------------

CASES = """\
# gradients derived by hand
x^2*sin(x)          | x=1.3      | 2*x*sin(x) + x^2*cos(x)

(x1-x2)^2 + cos(x1+x2) | x1=1,x2=2 | 2*(x1-x2) - sin(x1+x2), -2*(x1-x2) - sin(x1+x2)   # the textbook example
exp(x)*y            | x=0,y=pi/4                  # no formula: finite differences
abs(x)              | x=0        | sign(x)
"""


def test_cases_file_passes(tmp_path):
    f = tmp_path / "ok.cases"
    f.write_text(CASES)
    r = cli("check", "--cases", str(f))
    assert r.exit_code == 0, r.output
    assert "ok: 4 cases pass" in r.stdout
    code, doc = cli_json("check", "--cases", str(f))
    assert code == 0 and [c["line"] for c in doc["cases"]] == [2, 4, 5, 6]
    assert [c["against"] for c in doc["cases"]] == ["grad", "grad", "fd", "grad"]
    assert doc["cases"][3]["kinks"] == 1
    assert {"ok", "rows", "rtol", "atol"} <= set(doc) and all("case" in r for r in doc["rows"])
    assert cli("check", "--cases", str(f), "--quiet").stdout == ""


def test_cases_file_failure_names_file_line_component_and_point(tmp_path):
    f = tmp_path / "bad.cases"
    f.write_text(CASES + "x*y | x=2,y=3 | y, y\n")
    r = cli("check", "--cases", str(f))
    assert r.exit_code == 1
    assert "FAIL: 1 of 5 cases fail" in r.stdout
    q = cli("check", "--cases", str(f), "--quiet")
    assert q.exit_code == 1
    (line,) = q.stdout.splitlines()
    assert line.startswith(f"{f}:7: FAIL ∂f/∂y at x=2, y=3: AD 2 but your formula gives 3")


@pytest.mark.parametrize(
    "line, where",
    [
        ("log((x+1) | x=1", "line 3, column"),
        ("x*y | x=1", "missing value for y"),
        ("x | x=1 | 1 | 2", "too many fields"),
        ("x^2", "needs a point"),
        ("log(x) | x=-1", "log needs an argument > 0"),
        ("x*y | x=1,y=2 | y, z", "not an input"),
    ],
)
def test_cases_file_bad_line_is_a_located_error(tmp_path, line, where):
    f = tmp_path / "c.cases"
    f.write_text("# header\nx^2 | x=1 | 2*x\n" + line + "\n")
    r = cli("check", "--cases", str(f))
    assert r.exit_code == 2 and where in r.stderr
    if "line 3" not in where:
        assert "line 3" in r.stderr


def test_cases_from_stdin():
    r = cli("check", "--cases", "-", input="x^2 | x=3 | 2*x\n")
    assert r.exit_code == 0 and "ok: 1 case pass" in r.stdout


# -- the example CI script ---------------------------------------------------------------------


def _script(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ADCLI=f"{sys.executable} -m adcli", NO_COLOR="1")
    return subprocess.run(
        ["bash", str(ROOT / "examples" / "check-gradients.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_example_script_passes_and_fails_loudly(tmp_path):
    r = _script()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "FAIL" not in r.stdout and r.stdout.count("ok ") == 4
    bad = tmp_path / "wrong.cases"
    bad.write_text("x^3 | x=2 | 3*x\n")
    r = _script(str(bad))
    assert r.returncode == 1
    assert "wrong.cases:1: FAIL ∂f/∂x at x=2" in r.stdout
    typo = tmp_path / "typo.cases"
    typo.write_text("x^3 | x=2 | 3*x^\n")
    r = _script(str(typo))
    assert r.returncode == 2 and "typo.cases, line 1" in r.stderr


# -- the API grad --check uses, and the text -----------------------------------------------------


def test_run_check_api_and_text():
    problem = core.load(LOG_EXPR, "x1=1,x2=2")
    result = check.run_check(problem)
    assert result.ok and result.exit_code() == 0 and len(result.rows) == 2
    text = render.check_text(result, 6)
    assert "∂f/∂x1" in text and "0.521501" in text
    assert all(len(line) <= 80 for line in text.splitlines())
    bad = check.run_check(core.load("x^2", "x=3"), grad=["3*x"])
    assert not bad.ok and bad.exit_code() == 1 and "FAIL ∂f/∂x at x=3" in render.check_text(bad, 6)


def test_tables_fit_80_columns(tmp_path):
    for args in (
        ["check", LOG_EXPR, "--at", "x1=1,x2=2", "--grad", "1, 2"],
        ["check", SMOOTH5, "--random", "20", "--seed", "2"],
        ["check", "x*y, x+y", "--at", "x=1,y=2", "--mode", "both"],
    ):
        out = cli(*args).stdout
        table = [line for line in out.splitlines() if not line.startswith(("FAIL", "ok", "note"))]
        assert all(len(line) <= 80 for line in table), out


# -- no false alarms on smooth functions ---------------------------------------------------------

_UNARY = [
    "sin({})",
    "cos({})",
    "exp(({})/2)",
    "tanh({})",
    "atan({})",
    "sigmoid({})",
    "softplus({})",
    "log(1 + ({})^2)",
    "({})^2",
    "1/(1 + ({})^2)",
]
_BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})"]

smooth = st.recursive(
    st.sampled_from(["x", "y", "z", "0.5", "2"]),
    lambda sub: st.one_of(
        st.builds(lambda t, a: t.format(a), st.sampled_from(_UNARY), sub),
        st.builds(lambda t, a, b: t.format(a, b), st.sampled_from(_BINARY), sub, sub),
    ),
    max_leaves=8,
)


@given(expr=smooth, point=st.lists(st.floats(-2, 2), min_size=3, max_size=3))
def test_smooth_expressions_pass(expr, point):
    expr = f"{expr} + 0*(x + y + z)"  # every input present
    g = check.parse(expr)
    X = np.array([[dict(zip("xyz", point))[n] for n in g.input_names]])
    result = check.check_points(g, X, check.options(), single=True)
    assert result.ok, render.check_text(result, 17)


def test_grad_check_appends_the_table_and_fails_on_a_wrong_rule(monkeypatch):
    from typer.testing import CliRunner

    from adcli.cli import app

    good = CliRunner().invoke(app, ["grad", "x^2*sin(x)", "--at", "x=1.3", "--check"])
    assert good.exit_code == 0
    assert "∂f/∂x" in good.stdout and "central FD" in good.stdout
    doc = json.loads(CliRunner().invoke(app, ["grad", "x^2*sin(x)", "--at", "x=1.3", "--check", "--json"]).stdout)
    assert doc["check"]["ok"] is True and doc["gradient"]["x"] == pytest.approx(
        2 * 1.3 * math.sin(1.3) + 1.3**2 * math.cos(1.3), rel=1e-14
    )
    wrong_rule(monkeypatch, "sin")
    bad = CliRunner().invoke(app, ["grad", "x^2*sin(x)", "--at", "x=1.3", "--check"])
    assert bad.exit_code == 1


def test_a_short_vector_in_a_message_is_written_component_by_component():
    """Only a vector of more than ten values is shortened to one list; a short one
    reads as before point_words (v[1]=1, v[2]=-0.5, ...), in check and in domain errors."""
    r = cli("check", "v[1]^3+x+v[2]", "--at", "x=1,v=[1,-0.5,2]", "--grad", "1, 3*v[1]^2+0.01, 1, 0", "--quiet")
    assert r.exit_code == 1
    assert r.stdout.startswith("FAIL ∂f/∂v[1] at x=1, v[1]=1, v[2]=-0.5, v[3]=2: AD 3 ")
    r = cli("eval", "sqrt(v[2])+x", "--at", "x=1,v=[1,-0.5,2]")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: sqrt(v[2]) at x=1, v[1]=1, v[2]=-0.5, v[3]=2: argument is -0.5")
