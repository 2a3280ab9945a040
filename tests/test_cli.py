"""adcli eval and adcli grad from the outside: typer's CliRunner on adcli.cli.app,
and a few real runs of the installed console script. Expected numbers are
hand-derived (math module), never adcli's own output."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys

import pytest
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from adcli.cli import app

runner = CliRunner()

EX1 = "log((x1+x2)^2+sin(x1*x2))"
EX2 = "(x1-x2)^2 + cos(x1+x2)"
G1, G2 = -2.1411200080598674, 1.8588799919401329


def cli(*args, input=None):
    r = runner.invoke(app, list(args), input=input)
    # no input of any kind may end in a Python exception or a traceback
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output and "Traceback" not in r.stderr
    return r


def ok(*args, input=None):
    r = cli(*args, input=input)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return r


def bad(*args, input=None):
    """A malformed input: exit code 2, a message on stderr, nothing on stdout."""
    r = cli(*args, input=input)
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    assert r.stderr.strip(), "an error must say something"
    assert "internal error" not in r.stderr
    return r


def bad_json(*args):
    """The same with --json: one JSON error document on stdout, exit code 2."""
    r = cli(*args, "--json")
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    doc = json.loads(r.stdout)
    assert set(doc) == {"error"}
    e = doc["error"]
    assert isinstance(e["kind"], str) and isinstance(e["message"], str) and e["message"]
    return e


def grad_json(*args):
    r = ok("grad", *args, "--json")
    return json.loads(r.stdout), r


def rows(text: str) -> dict[str, float]:
    """'∂f/∂x1  -2.14112' lines -> {'∂f/∂x1': -2.14112}."""
    out = {}
    for line in text.strip().splitlines():
        k, v = line.split()
        out[k] = float(v)
    return out


# -- the README examples ------------------------------------------------------------------


def test_readme_first_command():
    r = ok("grad", EX1, "--at", "x1=1,x2=2")
    s = 9 + math.sin(2)
    got = rows(r.stdout)
    assert got == {
        "f": round(math.log(s), 5),
        "∂f/∂x1": round((6 + 2 * math.cos(2)) / s, 6),
        "∂f/∂x2": round((6 + math.cos(2)) / s, 6),
    }
    assert r.stdout.splitlines() == ["f       2.29347", "∂f/∂x1  0.521501", "∂f/∂x2  0.563496"]


def test_readme_second_example():
    r = ok("grad", EX2, "--at", "x1=1,x2=2")
    assert rows(r.stdout) == {"f": 0.0100075, "∂f/∂x1": -2.14112, "∂f/∂x2": 1.85888}
    assert r.stdout.splitlines() == ["f        0.0100075", "∂f/∂x1  -2.14112", "∂f/∂x2   1.85888"]


def test_readme_forward_example():
    r = ok("grad", "exp(x)*sin(x)", "--at", "x=0", "--mode", "forward")
    assert rows(r.stdout) == {"f": 0.0, "∂f/∂x": 1.0}


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("expr", [EX2, "t1 = x1 - x2; t2 = t1^2; t3 = x1 + x2; t4 = cos(t3); t2 + t4"])
def test_acceptance_exact_gradient_json(expr, mode):
    doc, _ = grad_json(expr, "--at", "x1=1,x2=2", "--mode", mode)
    assert doc["gradient"] == {"x1": G1, "x2": G2}
    assert doc["value"] == pytest.approx(1 + math.cos(3), rel=1e-15)
    assert doc["mode"] == mode
    assert doc["inputs"] == ["x1", "x2"] and doc["point"] == {"x1": 1.0, "x2": 2.0}
    assert doc["warnings"] == []
    assert doc["sweeps"] == (1 if mode == "reverse" else 2)


def test_readme_stdin_json_example():
    r = ok(
        "grad",
        "-",
        "--at",
        "x1=1,x2=2",
        "--json",
        input="t1 = x1 - x2; t2 = t1^2; t3 = x1 + x2; t4 = cos(t3); t2 + t4\n",
    )
    doc = json.loads(r.stdout)
    assert doc["gradient"] == {"x1": G1, "x2": G2}
    assert list(doc)[:6] == ["inputs", "point", "mode", "value", "gradient", "sweeps"]


def _readme_example(command: str) -> tuple[list[str], str]:
    """The README's ``$ COMMAND`` example: its argv and the output it shows."""
    import shlex
    from pathlib import Path

    lines = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8").split("\n")
    start = lines.index("    $ " + command)
    out = []
    for line in lines[start + 1 :]:
        if (not line.startswith("    ") and line) or line.startswith("    $ "):
            break
        out.append(line[4:])
    while out and not out[-1]:
        out.pop()
    return shlex.split(command)[1:], "\n".join(out)


@pytest.mark.parametrize(
    "command",
    [
        'adcli hessian "100*(y - x^2)^2 + (1 - x)^2" --at x=1,y=1',
        'adcli hessian "100*(x2-x1^2)^2 + (1-x1)^2 + 100*(x3-x2^2)^2 + (1-x2)^2 + 100*(x4-x3^2)^2 + (1-x3)^2"'
        " --at x1=1,x2=1,x3=1,x4=1 --format coo",
    ],
)
def test_readme_hessian_examples_print_what_the_readme_shows(command):
    """The README showed these with the inputs in first-appearance order (y, x),
    where --at's order (x, y) is the one used (SPEC section 1)."""
    argv, want = _readme_example(command)
    assert ok(*argv).stdout.rstrip("\n") == want


# -- JSON shapes (SPEC section 4) -----------------------------------------------------------


def test_eval_json_shape():
    r = ok("eval", "x*y", "--at", "x=pi/4,y=2", "--json")
    doc = json.loads(r.stdout)
    assert {"inputs", "point", "value"} <= set(doc)
    assert doc["inputs"] == ["x", "y"]
    assert doc["point"] == {"x": math.pi / 4, "y": 2.0}
    assert doc["value"] == math.pi / 2
    assert r.stdout.count("\n") == 1  # one document, one line


def test_eval_json_several_outputs_is_a_list():
    doc = json.loads(ok("eval", "x*y, x+y, sin(x)", "--at", "x=0.5,y=2", "--json").stdout)
    assert doc["value"] == [1.0, 2.5, math.sin(0.5)]


def test_eval_text_one_value_per_line():
    r = ok("eval", "x*y, x+y", "--at", "x=0.5,y=2")
    assert [float(v) for v in r.stdout.split()] == [1.0, 2.5]


def test_grad_json_shape():
    doc, _ = grad_json("x^2*y", "--at", "x=3,y=-1")
    assert {"inputs", "point", "mode", "value", "gradient"} <= set(doc)
    assert doc["mode"] == "reverse"
    assert doc["value"] == -9.0
    assert doc["gradient"] == {"x": -6.0, "y": 9.0}
    assert isinstance(doc["warnings"], list)


def test_json_non_finite_as_strings():
    doc, _ = grad_json("exp(x)", "--at", "x=1000")
    assert doc["value"] == "Infinity" and doc["gradient"] == {"x": "Infinity"}
    assert doc["warnings"]  # overflow is announced
    doc, _ = grad_json("(-exp(x))", "--at", "x=1000")
    assert doc["value"] == "-Infinity"
    doc, _ = grad_json("sqrt(x)", "--at", "x=0")
    assert doc["gradient"] == {"x": "Infinity"}
    doc, _ = grad_json("exp(x) - exp(x)*2", "--at", "x=1000")  # inf - inf
    assert doc["value"] in ("NaN", "-Infinity")
    doc = json.loads(ok("eval", "exp(x) - exp(x)/2", "--at", "x=800", "--json").stdout)
    assert doc["value"] == "NaN"
    for text in (ok("eval", "exp(x) - exp(x)/2", "--at", "x=800", "--json").stdout,):
        assert "NaN" in text and "Infinity" not in text.replace('"Infinity"', "")
        json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))


def test_json_error_shape():
    e = bad_json("grad", "log((x1+x2", "--at", "x1=1,x2=2")
    assert e["kind"] == "parse" and e["line"] == 1 and e["column"] == 11
    e = bad_json("grad", "log(x-3)", "--at", "x=1")
    assert e["kind"] == "domain" and e["column"] == 1
    e = bad_json("grad", "sinn(x)", "--at", "x=1")
    assert e["kind"] == "name" and "sin" in e["hint"]
    e = bad_json("grad", "x+y", "--at", "x=1")
    assert e["kind"] == "input"
    e = bad_json("grad", "@/nonexistent/file.txt", "--at", "x=1")
    assert e["kind"] == "file"


# -- the acceptance errors ---------------------------------------------------------------------


def test_parse_error_located():
    r = bad("grad", "log((x1+x2", "--at", "x1=1,x2=2")
    err = r.stderr
    assert err.startswith("error: unexpected end of input")
    assert "expected an operator or ')'" in err
    lines = err.splitlines()
    src = next(k for k, ln in enumerate(lines) if ln.strip() == "log((x1+x2")
    caret = lines[src + 1]
    assert caret.strip() == "^"
    assert caret.index("^") == lines[src].index("log((x1+x2") + len("log((x1+x2")  # just past the end
    assert "column 11" in err
    assert r.stdout == ""


def test_domain_error_located():
    r = bad("grad", "log(x-3)", "--at", "x=1")
    err = r.stderr
    assert "log(x-3)" in err.splitlines()[0] and "-2" in err.splitlines()[0] and "x=1" in err.splitlines()[0]
    lines = err.splitlines()
    src = next(k for k, ln in enumerate(lines) if ln.strip() == "log(x-3)")
    assert lines[src + 1].strip() == "^" * len("log(x-3)")
    assert lines[src + 1].index("^") == lines[src].index("l")


def test_domain_error_inner_node_located():
    r = bad("eval", "x + sqrt(x - 5)", "--at", "x=1")
    lines = r.stderr.splitlines()
    assert "sqrt(x - 5)" in lines[0] and "-4" in lines[0]
    src = next(k for k, ln in enumerate(lines) if ln.strip() == "x + sqrt(x - 5)")
    caret = lines[src + 1]
    assert caret.index("^") == lines[src].index("sqrt") and caret.count("^") == len("sqrt(x - 5)")


# -- malformed inputs: exit 2, a message, no traceback -------------------------------------------


@pytest.mark.parametrize(
    "args,needle",
    [
        (["grad", "x +* y", "--at", "x=1,y=2"], "error"),
        (["grad", "2x", "--at", "x=1"], "2*x"),
        (["grad", "sinn(x)", "--at", "x=1"], "did you mean"),
        (["grad", "x^2 + y", "--at", "x=1"], "y"),  # missing value
        (["grad", "x^2"], "x"),  # no --at at all
        (["grad", "x^2", "--at", "x=1,y=2"], "y"),  # extra value
        (["grad", "x^2", "--at", "x=1,x=2"], "twice"),  # duplicate value
        (["grad", "x1+x2", "--at", "x1=1,,x2=2"], "empty"),
        (["grad", "x1", "--at", "x1=abc"], "abc"),
        (["grad", "x1", "--at", "x1="], "x1"),
        (["grad", "x1", "--at", "x1"], "x1"),
        (["grad", "x1", "--at", "=1"], "error"),
        (["grad", "x1", "--at", ""], "error"),
        (["grad", "x1", "--at", "x1=1e400"], "too large"),
        (["grad", "x1", "--at", "x1=log(0)"], "log"),
        (["grad", "x1", "--at", "x1=(1"], "')'"),
        (["grad", "log(x-3)", "--at", "x=1"], "log(x-3)"),
        (["grad", "1/x", "--at", "x=0"], "division"),
        (["eval", "x/(x-x)", "--at", "x=2"], "division"),
        (["grad", "@/nonexistent/file.expr", "--at", "x=1"], "nonexistent"),
        (["grad", "", "--at", "x=1"], "empty"),
        (["grad", "   ", "--at", "x=1"], "empty"),
        (["grad", "x, x^2", "--at", "x=1"], "jacobian"),
        (["grad", "x^2", "--at", "x=1", "--wrt", "y"], "y"),
        (["grad", "x^2", "--at", "x=1", "--wrt", "x,x"], "twice"),
        (["grad", "x^2", "--at", "x=1", "--mode", "sideways"], "sideways"),
        (["grad", "x^2", "--at", "x=1", "--digits", "0"], "digits"),
        (["grad", "x^2", "--at", "x=1", "--bogus"], "bogus"),
        (["grad"], "EXPR"),
        (["frobnicate", "x"], "frobnicate"),
        (["eval", "(-8)^(1/3)*x", "--at", "x=1"], "error"),
        (["eval", "x^0.5", "--at", "x=-4"], "x^0.5"),
        (["eval", "asin(x)", "--at", "x=2"], "asin"),
        (["eval", "log(x, 1)", "--at", "x=2"], "base"),
        (["eval", "x^y", "--at", "x=-2,y=0.5"], "base"),
    ],
)
def test_malformed_input_exit_2(args, needle):
    r = bad(*args)
    assert needle.lower() in r.stderr.lower()


def test_directory_and_binary_file(tmp_path):
    r = bad("grad", f"@{tmp_path}", "--at", "x=1")
    assert "directory" in r.stderr
    binary = tmp_path / "data.bin"
    binary.write_bytes(b"\x7fELF\x00\x01\x02\xff\xfe")
    r = bad("grad", f"@{binary}", "--at", "x=1")
    assert "binary" in r.stderr
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("x*caf\xe9".encode("latin-1"))
    bad("grad", f"@{latin}", "--at", "x=1")
    bad("grad", "@", "--at", "x=1")  # '@' alone is an expression and a bad one


def test_file_error_json(tmp_path):
    e = bad_json("eval", f"@{tmp_path}", "--at", "x=1")
    assert e["kind"] == "file"


# -- reading the expression ---------------------------------------------------------------------


def test_stdin_dash():
    r = ok("grad", "-", "--at", "x=2", input="x^3\n")
    assert rows(r.stdout) == {"f": 8.0, "∂f/∂x": 12.0}
    r = ok("eval", "-", "--at", "x=2", input="a = x*x  # square\nb = a + 1\nb\n")
    assert float(r.stdout) == 5.0
    bad("eval", "-", "--at", "x=2", input="")


def test_at_file(tmp_path):
    f = tmp_path / "f.expr"
    f.write_text("t1 = x1 - x2\nt2 = t1^2   # square\nt3 = x1 + x2\nt4 = cos(t3)\nt2 + t4\n", encoding="utf-8")
    doc, _ = grad_json(f"@{f}", "--at", "x1=1,x2=2")
    assert doc["gradient"] == {"x1": G1, "x2": G2}
    # errors point into the file's text, on the right line
    g = tmp_path / "g.expr"
    g.write_text("a = x + 1\nb = log(a - 5)\nb\n", encoding="utf-8")
    r = bad("eval", f"@{g}", "--at", "x=1")
    assert "line 2" in r.stderr and "log(a - 5)" in r.stderr


def test_at_values_are_constant_expressions():
    doc, _ = grad_json("sin(x)*y", "--at", "x=pi/4,y=-2^0.5")
    assert doc["point"] == {"x": math.pi / 4, "y": -(2**0.5)}
    assert doc["value"] == pytest.approx(-1.0, rel=1e-15)
    assert doc["gradient"]["x"] == pytest.approx(-1.0, rel=1e-15)
    doc, _ = grad_json("x", "--at", " x = 2*e ")
    assert doc["point"] == {"x": 2 * math.e}


# -- options ----------------------------------------------------------------------------------


def test_wrt_reorders_and_selects():
    doc, _ = grad_json(EX2, "--at", "x1=1,x2=2", "--wrt", "x2,x1")
    assert list(doc["gradient"].items()) == [("x2", G2), ("x1", G1)]
    r = ok("grad", EX2, "--at", "x1=1,x2=2", "--wrt", "x2,x1")
    assert [ln.split()[0] for ln in r.stdout.splitlines()] == ["f", "∂f/∂x2", "∂f/∂x1"]
    doc, _ = grad_json(EX2, "--at", "x1=1,x2=2", "--wrt", "x2", "--mode", "forward")
    assert doc["gradient"] == {"x2": G2}
    assert doc["sweeps"] == 1  # forward mode: one sweep per requested input


def test_wrt_unknown_name():
    r = bad("grad", EX2, "--at", "x1=1,x2=2", "--wrt", "x1,x3")
    assert "x3" in r.stderr and "x1, x2" in r.stderr


def test_digits():
    r = ok("grad", EX2, "--at", "x1=1,x2=2", "--digits", "10")
    assert rows(r.stdout) == {"f": 0.0100075034, "∂f/∂x1": -2.141120008, "∂f/∂x2": 1.858879992}
    r = ok("eval", "pi", "--digits", "3")
    assert r.stdout.strip() == "3.14"
    r = ok("eval", "2/3", "--digits", "17")
    assert float(r.stdout) == 2 / 3
    # --json always carries full precision
    doc, _ = grad_json(EX2, "--at", "x1=1,x2=2", "--digits", "2")
    assert doc["gradient"]["x1"] == G1


def test_expression_starting_with_minus():
    # SPEC section 1's own example -x^2 must be usable as the expression argument
    r = ok("grad", "--at", "x=3", "--", "-x^2")  # the Unix way always works
    assert rows(r.stdout) == {"f": -9.0, "∂f/∂x": -6.0}
    r = ok("grad", "-x^2", "--at", "x=3")  # and so does the obvious way
    assert rows(r.stdout) == {"f": -9.0, "∂f/∂x": -6.0}
    r = ok("eval", "-2*x, x", "--at", "x=1.5")
    assert [float(v) for v in r.stdout.split()] == [-3.0, 1.5]


@pytest.mark.parametrize("expr", ["-sinh(x)", "-tanh(x)*1", "-h*x"])
def test_leading_minus_expression_containing_h_is_not_help(expr):
    # click clusters short options: "-sinh(x)" must not be read as "-s -i -n -h"
    r = ok("grad", expr, "--at", "x=0.5,h=2" if "h*" in expr else "x=0.5", "--json")
    doc = json.loads(r.stdout)
    want = {
        "-sinh(x)": (-math.sinh(0.5), -math.cosh(0.5)),
        "-tanh(x)*1": (-math.tanh(0.5), math.tanh(0.5) ** 2 - 1),
        "-h*x": (-1.0, -2.0),
    }[expr]
    assert doc["value"] == pytest.approx(want[0], rel=1e-15)
    assert doc["gradient"]["x"] == pytest.approx(want[1], rel=1e-15)


def test_version():
    r = ok("--version")
    assert r.stdout.strip() == "adcli 0.1.0"


@pytest.mark.parametrize("command", ["eval", "grad"])
def test_command_help_has_examples(command):
    r = ok(command, "--help")
    assert "Examples" in r.stdout
    assert f"adcli {command} " in r.stdout
    assert "--at" in r.stdout


def test_top_level_help():
    r = ok("--help")
    assert "eval" in r.stdout and "grad" in r.stdout


# -- conventions at awkward points (README table) ----------------------------------------------


def conv(expr, at, mode):
    """gradient dict and the warnings, in JSON and on stderr in text mode."""
    doc, _ = grad_json(expr, "--at", at, "--mode", mode)
    r = ok("grad", expr, "--at", at, "--mode", mode)
    warned = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warned) == len(doc["warnings"])
    for v in doc["gradient"].values():
        assert v != "NaN"  # never a silent (or loud) NaN at these points
    return doc["gradient"], doc["warnings"], doc["value"]


MODES = ["reverse", "forward"]


@pytest.mark.parametrize("mode", MODES)
def test_abs_relu_sign_at_zero(mode):
    g, w, v = conv("abs(x)", "x=0", mode)
    assert g == {"x": 0.0} and w and "abs" in w[0]
    g, w, v = conv("relu(x)", "x=0", mode)
    assert g == {"x": 0.0} and w and "relu" in w[0]
    g, w, v = conv("sign(x) + x", "x=0", mode)
    assert g == {"x": 1.0} and w
    g, w, _v = conv("abs(x)", "x=-3", mode)  # away from the kink: no warning
    assert g == {"x": -1.0} and w == []


@pytest.mark.parametrize("mode", MODES)
def test_max_min_tie(mode):
    g, w, v = conv("max(x, y)", "x=1,y=1", mode)
    assert g == {"x": 0.5, "y": 0.5} and w and "tie" in w[0]
    g, w, v = conv("min(x, y)", "x=2,y=2", mode)
    assert g == {"x": 0.5, "y": 0.5} and w
    g, w, _v = conv("max(x, y)", "x=2,y=1", mode)
    assert g == {"x": 1.0, "y": 0.0} and w == []


@pytest.mark.parametrize("mode", MODES)
def test_where_at_switch(mode):
    # at the switch the comparison decides; the selected branch's derivative is used
    g, w, v = conv("where(x >= 0, 2*x, -3*x)", "x=0", mode)
    assert g == {"x": 2.0} and w and "where" in w[0]
    g, w, v = conv("where(x > 0, 2*x, -3*x)", "x=0", mode)
    assert g == {"x": -3.0} and w
    g, w, _v = conv("where(x == 1, 5*x, x^2)", "x=1", mode)
    assert g == {"x": 5.0} and w


@pytest.mark.parametrize("mode", MODES)
def test_sqrt_at_zero_is_inf_with_warning(mode):
    doc, r = grad_json("sqrt(x)", "--at", "x=0", "--mode", mode)
    assert doc["value"] == 0.0 and doc["gradient"] == {"x": "Infinity"}
    assert doc["warnings"] and "sqrt" in doc["warnings"][0]
    r = ok("grad", "sqrt(x)", "--at", "x=0", "--mode", mode)
    assert "warning:" in r.stderr and "sqrt" in r.stderr
    assert rows(r.stdout)["∂f/∂x"] == math.inf


@pytest.mark.parametrize("mode", MODES)
def test_powers_of_negative_numbers(mode):
    g, w, v = conv("x^3", "x=-2", mode)
    assert g == {"x": 12.0} and v == -8.0 and w == []
    g, w, v = conv("x^2", "x=0", mode)
    assert g == {"x": 0.0} and w == []
    g, w, v = conv("x^-1", "x=-2", mode)
    assert g == {"x": -0.25} and w == []
    g, w, v = conv("pow(x, 4)", "x=-1", mode)
    assert g == {"x": -4.0}


@pytest.mark.parametrize("mode", MODES)
def test_where_drops_the_other_branch_exactly(mode):
    g, w, v = conv("where(x > 0, sqrt(x), 0)", "x=0", mode)
    assert g == {"x": 0.0} and v == 0.0
    g, w, v = conv("where(x > 0, log(x), 0)", "x=-1", mode)
    assert g == {"x": 0.0} and v == 0.0
    g, w, v = conv("where(x > 0, log(x), x^2)", "x=-1", mode)
    assert g == {"x": -2.0} and v == 1.0 and w == []
    g, w, v = conv("y*where(x < 0, sqrt(-x), sqrt(x))", "x=4,y=3", mode)
    assert g == {"x": 0.75, "y": 2.0}


@pytest.mark.parametrize("mode", MODES)
def test_hypot_origin_and_pow_zero_base(mode):
    g, w, v = conv("hypot(x, y)", "x=0,y=0", mode)
    assert g == {"x": 0.0, "y": 0.0} and w
    g, w, _v = conv("x^y", "x=0,y=2", mode)
    assert g == {"x": 0.0, "y": 0.0} and w


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "expr,at,want",
    [
        ("asin(x)", "x=1", "Infinity"),
        ("asin(x)", "x=-1", "Infinity"),
        ("acos(x)", "x=1", "-Infinity"),
        ("cbrt(x)", "x=0", "Infinity"),
        ("x^0.5", "x=0", "Infinity"),
        ("acosh(x)", "x=1", "Infinity"),
        ("-sqrt(x)", "x=0", "-Infinity"),
    ],
)
def test_infinite_derivatives_are_announced(expr, at, want, mode):
    doc = json.loads(ok("grad", "--json", "--mode", mode, "--at", at, "--", expr).stdout)
    assert doc["gradient"] == {"x": want}
    assert len(doc["warnings"]) >= 1


@pytest.mark.parametrize("mode", MODES)
def test_dead_path_with_infinite_partial_stays_zero(mode):
    # 0 * inf = 0: y multiplies a sqrt at 0 by 0
    g, w, v = conv("0*sqrt(x) + y", "x=0,y=2", mode)
    assert g == {"x": 0.0, "y": 1.0}
    g, _w, _v = conv("where(y > 0, y, sqrt(x))", "x=0,y=2", mode)
    assert g == {"x": 0.0, "y": 1.0}


def test_untaken_branch_domain_error_is_not_an_error():
    r = ok("eval", "where(x > 0, log(x), 0)", "--at", "x=-1")
    assert float(r.stdout) == 0.0
    r = bad("eval", "where(x > 0, 0, log(x))", "--at", "x=-1")
    assert "log(x)" in r.stderr


# -- real processes: the console script ----------------------------------------------------------


def _adcli() -> list[str]:
    exe = shutil.which("adcli")
    assert exe, "the adcli console script is installed with the package"
    return [exe]


def _run(args, cwd, input=None):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.run(_adcli() + args, input=input, capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def test_subprocess_readme_examples(tmp_path):
    p = _run(["grad", EX1, "--at", "x1=1,x2=2"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["f       2.29347", "∂f/∂x1  0.521501", "∂f/∂x2  0.563496"]
    for mode in MODES:
        p = _run(["grad", EX2, "--at", "x1=1,x2=2", "--json", "--mode", mode], tmp_path)
        assert p.returncode == 0
        assert json.loads(p.stdout)["gradient"] == {"x1": G1, "x2": G2}


def test_subprocess_stdin_and_errors(tmp_path):
    p = _run(
        ["grad", "-", "--at", "x1=1,x2=2", "--json"],
        tmp_path,
        input="t1 = x1 - x2; t2 = t1^2; t3 = x1 + x2; t4 = cos(t3); t2 + t4",
    )
    assert p.returncode == 0 and json.loads(p.stdout)["gradient"] == {"x1": G1, "x2": G2}
    for args in (
        ["grad", "log((x1+x2", "--at", "x1=1,x2=2"],
        ["grad", "log(x-3)", "--at", "x=1"],
        ["grad", "x", "--at", "x=1", "--digits", "x"],
        ["nope"],
    ):
        p = _run(args, tmp_path)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert "Traceback" not in p.stderr and p.stderr.strip()
    p = _run(["--version"], tmp_path)
    assert p.returncode == 0 and p.stdout.strip() == "adcli 0.1.0"


def test_python_dash_m(tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "adcli", "grad", "x^3", "--at", "x=-2", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["gradient"] == {"x": 12.0}


# -- fuzzing through the CLI -----------------------------------------------------------------------

GARBAGE_ALPHABET = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
TOKENS = [
    "x",
    "y",
    "x1",
    "=",
    ",",
    ",,",
    "(",
    ")",
    "1",
    "-1",
    "1e400",
    "pi",
    "e",
    "log(",
    "sqrt(",
    "/",
    "0",
    "^",
    "where(",
    ">",
    "==",
    ";",
    "\n",
    " ",
    "abc",
    "@",
    "-",
    "nan",
    "inf",
    "#",
]
garbage = st.one_of(st.text(GARBAGE_ALPHABET, max_size=25), st.lists(st.sampled_from(TOKENS), max_size=12).map("".join))


@settings(max_examples=examples(150), deadline=None)
@given(
    expr=garbage,
    at=garbage,
    command=st.sampled_from(["eval", "grad"]),
    extra=st.sampled_from([[], ["--json"], ["--mode", "forward"], ["--wrt", "x"]]),
)
def test_fuzz_cli_garbage(expr, at, command, extra):
    if expr.startswith("@/dev") or expr == "-":
        expr = " " + expr
    r = runner.invoke(app, [command, expr, "--at", at, *extra])
    assert r.exit_code in (0, 2), (r.exit_code, r.stdout, r.stderr, repr(r.exception))
    assert "Traceback" not in r.output and "Traceback" not in r.stderr
    assert "internal error" not in r.stderr
    if r.exit_code == 2 and "--json" not in extra:
        assert r.stderr.strip()
    if "--json" in extra and r.stdout.strip():
        json.loads(r.stdout)  # always valid JSON, whatever happened


def test_fast_top_level_help_is_the_full_help():
    """`adcli --help` is adcli's own page (no Typer, no click imported): it lists every
    command and every top-level option of the Typer app, whatever click's version."""
    import click
    from typer.main import get_command

    from adcli import helppage

    group = get_command(app)
    ctx = click.Context(group, info_name="adcli")
    env = {**os.environ, "COLUMNS": "80"}
    page = subprocess.run([sys.executable, "-m", "adcli", "--help"], capture_output=True, text=True, env=env).stdout
    assert page == helppage.text(80)
    commands = page.split("Commands:\n")[1].split("\n\n")[0].splitlines()
    listed = [line.split()[0] for line in commands if line.startswith("  ") and not line.startswith("   ")]
    assert sorted(listed) == sorted(group.list_commands(ctx))
    options = page.split("Options:\n")[1].split("\n\n")[0]
    for param in group.get_params(ctx):
        for opt in param.opts:
            assert opt in options, opt
    code = "import sys, adcli; sys.argv = ['adcli', '--help']\ntry: adcli.main()\nexcept SystemExit: pass\n"
    code += "assert not {'typer', 'click', 'rich', 'numpy'} & set(sys.modules), sorted(sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_a_direction_or_cotangent_can_come_from_a_file(tmp_path):
    """--dir @FILE and --cotangent @FILE, as --at @FILE: values by commas or new lines
    (what a program writing 10^4 of them writes), errors located in the file."""
    n = 50
    expr = " + ".join(f"x{i}*x{i + 1}" for i in range(n - 1))
    at = ",".join(f"x{i}={i % 5}" for i in range(n))
    v = [(i % 3) - 1 for i in range(n)]
    f = tmp_path / "v.txt"
    f.write_text("\n".join(map(str, v)) + "\n\n", encoding="utf-8")
    from_file = json.loads(ok("jvp", expr, "--at", at, "--dir", f"@{f}", "--json").stdout)
    inline = json.loads(ok("jvp", expr, "--at", at, "--dir", ",".join(map(str, v)), "--json").stdout)
    assert from_file == inline
    x = [i % 5 for i in range(n)]
    want = sum(x[i + 1] * v[i] + x[i] * v[i + 1] for i in range(n - 1))  # the directional derivative
    assert from_file["jvp"] == [want]
    hv = json.loads(ok("hvp", expr, "--at", at, "--dir", f"@{f}", "--json").stdout)["hvp"]
    assert [hv[f"x{i}"] for i in range(n)] == [
        (v[i - 1] if i else 0) + (v[i + 1] if i < n - 1 else 0) for i in range(n)
    ]
    u = tmp_path / "u.txt"
    u.write_text("2\n-1\n", encoding="utf-8")
    doc = json.loads(ok("vjp", "x*y, x + y", "--at", "x=3,y=5", "--cotangent", f"@{u}", "--json").stdout)
    assert doc["vjp"] == {"x": 2 * 5 - 1, "y": 2 * 3 - 1}
    f.write_text("1\n2\nfoo\n", encoding="utf-8")
    r = cli("jvp", "x*y*z", "--at", "x=1,y=2,z=3", "--dir", f"@{f}")
    assert r.exit_code == 2
    assert f"--dir @{f}, line 3, column 1" in r.stderr and "foo" in r.stderr
    r = cli("jvp", "x*y", "--at", "x=1,y=2", "--dir", f"@{tmp_path / 'none.txt'}")
    assert r.exit_code == 2 and "no such file" in r.stderr


def test_the_output_is_named_after_its_step_and_never_after_an_input_or_another_step():
    def labels(text, at, command="grad"):
        return [line.split()[0] for line in ok(command, text, "--at", at).stdout.splitlines() if line.strip()]

    assert labels("f = x^2*y\ng = x*f\ng", "x=1,y=2") == ["g", "∂g/∂x", "∂g/∂y"]
    # an input called f: the output is y, in grad as in hessian (grad used to print ∂f/∂f)
    assert labels("f*x", "f=1,x=2") == ["y", "∂y/∂f", "∂y/∂x"]
    assert labels("f*x", "f=1,x=2", "hessian")[:3] == ["y", "∂y/∂f", "∂y/∂x"]
    # a step called f, and the output is not that step: neither f nor the input's name y
    assert labels("f = x^2*y\nf + 1", "x=1,y=2") == ["out", "∂out/∂x", "∂out/∂y"]
    assert labels(EX1, "x1=1,x2=2") == ["f", "∂f/∂x1", "∂f/∂x2"]


def test_check_names_its_rows_as_grad_does():
    def rows(text, at):
        out = ok("check", text, "--at", at).stdout.splitlines()
        return [line.split()[0] for line in out if line.startswith("∂")]

    assert rows("f*x", "f=1,x=2") == ["∂y/∂f", "∂y/∂x"]
    assert rows("g = x*y\nh = 2*g\ng, h", "x=1,y=2") == ["∂g/∂x", "∂g/∂y", "∂h/∂x", "∂h/∂y"]
    assert rows(EX1, "x1=1,x2=2") == ["∂f/∂x1", "∂f/∂x2"]
