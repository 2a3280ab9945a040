"""Inputs are ordered as the user gave them (SPEC 1): --wrt, else a REPL
signature, else the order of --at (or the --points header), else first
appearance; every output shows the order used."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from adcli import core
from adcli.cli import app
from adcli.repl import Session, run_script


def cli(*args, input=None):
    return CliRunner().invoke(app, list(args), input=input)


def cli_json(*args):
    r = cli(*args, "--json")
    assert r.exit_code in (0, 1), r.stdout + r.stderr
    return json.loads(r.stdout)


def test_check_reads_the_gradient_in_at_order():
    r = cli("check", "y*x^2", "--at", "x=1,y=2", "--grad", "2*x*y, x^2")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert [ln.split()[0] for ln in r.stdout.splitlines()[2:4]] == ["∂f/∂x", "∂f/∂y"]


def test_jvp_direction_follows_at():
    doc = cli_json("jvp", "x2*x1^2", "--at", "x1=1,x2=2", "--dir", "1,0")
    assert doc["inputs"] == ["x1", "x2"] and doc["wrt"] == ["x1", "x2"]
    assert doc["jvp"] == [4.0]  # d/dx1 x2*x1^2 = 2*x1*x2 = 4 (seeding x2 would give 1)
    doc = cli_json("jvp", "x2*x1^2", "--at", "x2=2,x1=1", "--dir", "1,0")
    assert doc["inputs"] == ["x2", "x1"] and doc["jvp"] == [1.0]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_grad_json_and_text_show_the_order(mode):
    doc = cli_json("grad", "y*x^2", "--at", "x=1,y=2", "--mode", mode)
    assert doc["inputs"] == ["x", "y"] and list(doc["point"]) == ["x", "y"]
    assert list(doc["gradient"].items()) == [("x", 4.0), ("y", 1.0)]
    text = cli("grad", "y*x^2", "--at", "x=1,y=2", "--mode", mode).stdout
    assert [ln.split()[0] for ln in text.splitlines()] == ["f", "∂f/∂x", "∂f/∂y"]
    # --wrt comes first
    doc = cli_json("grad", "y*x^2", "--at", "x=1,y=2", "--wrt", "y,x", "--mode", mode)
    assert list(doc["gradient"]) == ["y", "x"]


def test_first_appearance_without_an_order():
    assert core.load("y*x^2", "y=2,x=1").inputs == ["y", "x"]
    assert core.parse("y*x^2").input_names == ["y", "x"]  # the graph keeps first appearance
    # an --at that names only some inputs first cannot happen (all are needed), but
    # the graph's own view keeps the unnamed ones in first-appearance order
    g = core.parse("c + b + a")
    assert g.in_order(["a"]).input_names == ["a", "c", "b"] and g.input_names == ["c", "b", "a"]


def test_jacobian_and_hessian_columns_follow_at():
    doc = cli_json("jacobian", "y*x, y", "--at", "x=3,y=2")
    assert doc["inputs"] == ["x", "y"] and doc["jacobian"] == [[2.0, 3.0], [0.0, 1.0]]
    doc = cli_json("hessian", "y*x^2", "--at", "x=3,y=2")
    assert doc["inputs"] == ["x", "y"] and doc["hessian"] == [[4.0, 6.0], [6.0, 0.0]]


def test_points_header_order(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("x,y\n1,2\n3,4\n")
    r = cli("grad", "y*x^2", "--points", str(f))
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [list(row["gradient"]) for row in rows] == [["x", "y"], ["x", "y"]]
    assert rows[1]["gradient"] == {"x": 24.0, "y": 9.0}
    r = cli("check", "y*x^2", "--points", str(f), "--grad", "2*x*y, x^2")
    assert r.exit_code == 0, r.stdout + r.stderr


def test_cases_file_reads_the_gradient_in_point_order(tmp_path):
    f = tmp_path / "c.cases"
    f.write_text("atan2(y, x) | x=1,y=1 | -y/(x^2+y^2), x/(x^2+y^2)\n")
    r = cli("check", "--cases", str(f))
    assert r.exit_code == 0, r.stdout + r.stderr


def test_descend_lists_inputs_in_at_order():
    doc = cli_json("descend", "(y-1)^2 + (x-2)^2", "--at", "x=0,y=0")
    assert list(doc["point"]) == ["x", "y"]


def test_repl_signature_then_session_point(capsys):
    def grads(text):
        assert run_script(Session(), text.splitlines(), "test") == 0
        return [ln.split()[0] for ln in capsys.readouterr().out.splitlines() if ln.startswith("∂")]

    assert grads("f(y, x) = y*x^2\nat x=1, y=2\ngrad f\n") == ["∂f/∂y", "∂f/∂x"]
    assert grads("g = y*x^2\nat x=1, y=2\ngrad g\n") == ["∂g/∂x", "∂g/∂y"]
    assert grads("g = y*x^2\nat x=1, y=2\nat y=3, x=1\ngrad g\n") == ["∂g/∂y", "∂g/∂x"]
    assert grads("g = y*x^2\nat x=1, y=2\ngrad g at y=1, x=2\n") == ["∂g/∂y", "∂g/∂x"]
