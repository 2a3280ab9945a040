"""Many points at once: --points files, JSON Lines and CSV output, undefined points."""

import csv
import io
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from adcli.cli import app

EXPR = "log((x1+x2)^2+sin(x1*x2))"


def grad_by_hand(x1, x2):
    s = x1 + x2
    u = s * s + math.sin(x1 * x2)
    return math.log(u), (2 * s + x2 * math.cos(x1 * x2)) / u, (2 * s + x1 * math.cos(x1 * x2)) / u


def run(*args, stdin=None):
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_jsonl_matches_the_closed_form_at_every_point(tmp_path, mode):
    rng = np.random.default_rng(3)
    pts = rng.uniform(0.1, 2.0, size=(50, 2)).tolist()
    f = tmp_path / "p.csv"
    f.write_text("x1,x2\n" + "\n".join(f"{a!r},{b!r}" for a, b in pts) + "\n")
    r = run("grad", EXPR, "--points", str(f), "--mode", mode)
    assert r.exit_code == 0
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 50
    for (a, b), line in zip(pts, lines):
        doc = json.loads(line)
        v, g1, g2 = grad_by_hand(a, b)
        assert doc["point"] == {"x1": a, "x2": b}
        assert doc["value"] == pytest.approx(v, rel=1e-14)
        assert doc["gradient"]["x1"] == pytest.approx(g1, rel=1e-13)
        assert doc["gradient"]["x2"] == pytest.approx(g2, rel=1e-13)


def test_csv_output_and_column_order_from_header(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("x2,x1\n2,1\n3,0.5\n")  # columns in another order than the inputs
    r = run("grad", EXPR, "--points", str(f), "--format", "csv")
    assert r.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [float(rows[0]["x1"]), float(rows[0]["x2"])] == [1.0, 2.0]
    v, g1, _g2 = grad_by_hand(1.0, 2.0)
    assert float(rows[0]["value"]) == pytest.approx(v, rel=1e-15)
    assert float(rows[0]["d_x1"]) == pytest.approx(g1, rel=1e-14)
    assert float(rows[1]["d_x2"]) == pytest.approx(grad_by_hand(0.5, 3.0)[2], rel=1e-14)
    assert rows[0]["error"] == ""


def test_points_from_stdin_and_eval_several_outputs():
    r = run("eval", "x*y, x+y", "--points", "-", stdin="x,y\n2,3\n-1,4\n")
    assert r.exit_code == 0
    docs = [json.loads(line) for line in r.stdout.strip().splitlines()]
    assert [d["value"] for d in docs] == [[6.0, 5.0], [-4.0, 3.0]]


def test_undefined_points_are_reported_per_row_with_exit_2(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("x\n2\n-1\n0.5\n")
    r = run("grad", "log(x)", "--points", str(f))
    assert r.exit_code == 2
    docs = [json.loads(line) for line in r.stdout.strip().splitlines()]
    assert docs[0]["gradient"]["x"] == 0.5 and docs[2]["gradient"]["x"] == 2.0
    assert docs[1]["error"]["kind"] == "domain" and "value" not in docs[1]
    assert "undefined at 1 of 3 points" in r.stderr and "point 2" in r.stderr
    assert "NaN" not in r.stdout


def test_where_masks_domain_per_point(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("x\n4\n-1\n0\n")
    r = run("grad", "where(x > 0, sqrt(x), 0)", "--points", str(f), "--format", "csv")
    assert r.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [float(row["d_x"]) for row in rows] == [0.25, 0.0, 0.0]


@pytest.mark.parametrize(
    "content, needle",
    [
        ("", "empty"),
        ("x1,x2\n", "no points"),
        ("x1\n1\n", "no column for x2"),
        ("x1,x2,z\n1,2,3\n", "'z' is not an input"),
        ("x1,x1\n1,2\n", "twice"),
        ("x1,x2\n1,abc\n", "'abc' is not a number"),
        ("x1,x2\n1,2,3\n", "expected 2 values"),
        ("x1,x2\n1,inf\n", "not a finite number"),
        ("x1,x2\n1,nan\n", "not a finite number"),
    ],
)
def test_malformed_points_files(tmp_path, content, needle):
    f = tmp_path / "p.csv"
    f.write_text(content)
    r = run("grad", EXPR, "--points", str(f))
    assert r.exit_code == 2
    assert needle in r.stderr


def test_points_file_errors(tmp_path):
    assert run("grad", EXPR, "--points", str(tmp_path / "missing.csv")).exit_code == 2
    assert run("grad", EXPR, "--points", str(tmp_path)).exit_code == 2
    b = tmp_path / "b.csv"
    b.write_bytes(b"x1,x2\n\x00\x01\x02")
    assert "binary" in run("grad", EXPR, "--points", str(b)).stderr
    assert run("grad", EXPR, "--points", str(b), "--at", "x1=1,x2=2").exit_code == 2
    assert run("grad", "-", "--points", "-", stdin="x\n1\n").exit_code == 2
    f = tmp_path / "p.csv"
    f.write_text("x1,x2\n1,2\n")
    assert run("grad", EXPR, "--points", str(f), "--format", "xml").exit_code == 2


@given(st.text(alphabet="x12,.-e\n abc#", max_size=60))
def test_random_points_files_never_crash(tmp_path_factory, content):
    f = tmp_path_factory.mktemp("pts") / "p.csv"
    f.write_text(content)
    r = run("grad", EXPR, "--points", str(f))
    assert r.exit_code in (0, 2)


def test_points_on_jvp_vjp_jacobian_hessian(tmp_path):
    f = tmp_path / "p.csv"
    pts = [(1.0, 0.0), (0.5, 2.0), (-1.5, 0.25)]
    f.write_text("x1,x2\n" + "\n".join(f"{a},{b}" for a, b in pts) + "\n")
    expr = "x1*x2 + sin(x1), exp(x2) + x1^2"
    jvp = [json.loads(s) for s in run("jvp", expr, "--points", str(f), "--dir", "2,-1").stdout.splitlines()]
    jac = [json.loads(s) for s in run("jacobian", expr, "--points", str(f), "--mode", "reverse").stdout.splitlines()]
    vjp = [json.loads(s) for s in run("vjp", expr, "--points", str(f), "--cotangent", "1,-1").stdout.splitlines()]
    hes = list(
        csv.DictReader(io.StringIO(run("hessian", "x1^2*x2 + sin(x2)", "--points", str(f), "--format", "csv").stdout))
    )
    for k, (a, b) in enumerate(pts):
        J = [[b + math.cos(a), a], [2 * a, math.exp(b)]]
        assert jvp[k]["point"] == {"x1": a, "x2": b}
        assert jvp[k]["jvp"] == pytest.approx([2 * J[0][0] - J[0][1], 2 * J[1][0] - J[1][1]], rel=1e-14)
        assert np.allclose(jac[k]["jacobian"], J, rtol=1e-14, atol=0)
        assert list(vjp[k]["vjp"].values()) == pytest.approx([J[0][0] - J[1][0], J[0][1] - J[1][1]], rel=1e-14)
        H = [[2 * b, 2 * a], [2 * a, -math.sin(b)]]
        got = [[float(hes[k][f"hessian_{i}_{j}"]) for j in (1, 2)] for i in (1, 2)]
        assert np.allclose(got, H, rtol=1e-14, atol=1e-15)
    assert run("hessian", "x1*x2", "--points", str(f), "--steps").exit_code == 2


def test_overflow_over_many_points_with_a_constant_argument():
    r = run("eval", "1/x", "--points", "-", stdin="x\n1e-320\n2\n")
    assert r.exit_code == 0
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert docs[0]["value"] == "Infinity" and docs[1]["value"] == 0.5
    assert "1/x: the value is inf" in r.stderr


def test_misspelt_point_name_gets_a_suggestion():
    r = run("grad", "alpha*x + y", "--at", "x=1,y=2,alpah=3")
    assert r.exit_code == 2
    assert "alpah is not an input" in r.stderr and "did you mean alpha?" in r.stderr
