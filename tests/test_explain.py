"""Issue 3: trace tables, adjoint and tangent steps, named steps, graph drawing.

Golden files in tests/golden/ were checked line by line against the textbook
walkthrough (seeds/002: forward values -1, 1, 3, -0.98999, 0.01001; adjoint
contributions 1, 1, -2, -0.14112, then x1 <- -2, -0.14112 and x2 <- 2,
-0.14112); the structural tests below check the same numbers independently.
"""

import json
import math
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adcli.cli import app

GOLDEN = Path(__file__).parent / "golden"
BACKPROP = "(x1-x2)^2 + cos(x1+x2)"
PROGRAM = "t1 = x1 - x2; t2 = t1^2; t3 = x1 + x2; t4 = cos(t3); t2 + t4"


def run(*args, env=None):
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80", "NO_COLOR": "1", **(env or {})})
    assert "Traceback" not in result.output
    return result


def unwrap(text):
    """Join the continuation lines of wrapped steps back onto their step."""
    return re.sub(r"\n {8}(?=[=(])", " ", text)


def numbers(line):
    return [float(x) for x in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", line)]


@pytest.mark.parametrize(
    "args, golden",
    [
        (["grad", BACKPROP, "--at", "x1=1,x2=2", "--trace", "--steps"], "backprop_reverse.txt"),
        (["grad", "exp(x)*sin(x)", "--at", "x=0", "--mode", "forward", "--trace", "--steps"], "dual_forward.txt"),
        (["graph", BACKPROP, "--at", "x1=1,x2=2"], "backprop_graph.txt"),
    ],
)
def test_golden(args, golden):
    result = run(*args)
    assert result.exit_code == 0
    assert result.stdout == (GOLDEN / golden).read_text(encoding="utf-8")


def test_textbook_forward_values_and_adjoint_contributions():
    out = run("grad", BACKPROP, "--at", "x1=1,x2=2", "--trace", "--steps").stdout
    table_part = out.split("\n\n")[0]
    table = {line.split()[0]: line.split() for line in table_part.splitlines() if re.match(r"^(x\d|v\d)\s", line)}
    assert [float(table[v][-2 if v != "v5" else -4]) for v in ("v1", "v2", "v3")] == [-1, 1, 3]
    assert float(table["v4"][2]) == pytest.approx(math.cos(3), abs=1e-6)
    assert float(table["v5"][4]) == pytest.approx(1 + math.cos(3), abs=1e-6)
    steps = [line for line in unwrap(out).splitlines() if "+=" in line]
    contributions = [numbers(line.split("   (")[0].split("=")[-1])[-1] for line in steps]
    s3 = math.sin(3)
    assert contributions == pytest.approx([1, 1, -2, -s3, -2, 2, -s3, -s3], abs=1e-5)
    x1_lines = [line for line in steps if line.strip().startswith("x̄1")]
    assert len(x1_lines) == 2  # x1 receives along two paths ...
    assert numbers(x1_lines[-1])[-1] == pytest.approx(-2 - s3, abs=1e-5)  # ... and the running total shows the sum
    x2_lines = [line for line in steps if line.strip().startswith("x̄2")]
    assert numbers(x2_lines[-1])[-1] == pytest.approx(2 - s3, abs=1e-5)
    assert "∂y/∂x1 = x̄1 = -2.14112" in out and "∂y/∂x2 = x̄2 = 1.85888" in out
    assert "v̄1 += v̄2 · ∂v2/∂v1 = 1 · (2·v1)" in out
    assert "y\u0304 = v\u03045 = 1" in out


def test_program_form_shows_step_names():
    out = run("grad", PROGRAM, "--at", "x1=1,x2=2", "--trace", "--steps").stdout
    for name, definition in [("t1", "x1 - x2"), ("t2", "t1^2"), ("t3", "x1 + x2"), ("t4", "cos(t3)")]:
        assert re.search(rf"^{name}\s+{re.escape(definition)}\s", out, re.MULTILINE), name
    assert "t̄1 += t̄2 · ∂t2/∂t1 = 1 · (2·t1)" in out
    assert "t̄3 += t̄4 · ∂t4/∂t3 = 1 · (-sin(t3))" in out
    assert not re.search(r"^v[2-5]\s", out, re.MULTILINE)  # no anonymous names for named steps


def test_two_paths_summed_into_x():
    out = run("grad", "(x*y + sin(x))^2", "--at", "x=1,y=2", "--steps").stdout
    x_lines = [line for line in unwrap(out).splitlines() if line.strip().startswith("x̄ +=")]
    assert len(x_lines) == 2
    u = 2 + math.sin(1)
    first, second = numbers(x_lines[0])[-1], numbers(x_lines[1])[-1]
    assert first == pytest.approx(2 * u * 2, rel=1e-5)  # through x*y
    assert second == pytest.approx(2 * u * (2 + math.cos(1)), rel=1e-5)  # running total after sin(x)


def test_forward_dual_number_steps_end_in_one():
    out = run("grad", "exp(x)*sin(x)", "--at", "x=0", "--mode", "forward", "--steps").stdout
    assert "v̇3 = v2·v̇1 + v1·v̇2 = 0·1 + 1·1 = 1" in out
    assert "\u2202y/\u2202x = y\u0307 = 1" in out


def test_steps_sum_to_the_gradient_json():
    doc = json.loads(run("grad", "sin(x*y) + x*y", "--at", "x=0.5,y=-1.5", "--steps", "--trace", "--json").stdout)
    x, y = 0.5, -1.5
    grad = {"x": y * math.cos(x * y) + y, "y": x * math.cos(x * y) + x}
    assert doc["gradient"] == pytest.approx(grad, rel=1e-14)
    for name, g in grad.items():
        contribs = [s["contribution"] for s in doc["steps"] if s["target"] == name and not s.get("seed")]
        assert sum(contribs) == pytest.approx(g, rel=1e-14)
        assert [s["total"] for s in doc["steps"] if s["target"] == name][-1] == pytest.approx(g, rel=1e-14)
    # x*y is one node (hash-consing): its adjoint gets two contributions, 1 and cos(x*y)
    into_v1 = [s for s in doc["steps"] if s["target"] == "v1"]
    assert sorted(s["contribution"] for s in into_v1) == pytest.approx(sorted([1.0, math.cos(x * y)]))
    names = [n["name"] for n in doc["trace"]["nodes"]]
    assert names == ["x", "y", "v1", "v2", "v3"]


def test_trace_json_structure():
    doc = json.loads(run("trace", BACKPROP, "--at", "x1=1,x2=2", "--json").stdout)
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert nodes["v1"] == {
        "name": "v1",
        "op": "sub",
        "args": ["x1", "x2"],
        "definition": "x1 - x2",
        "value": -1.0,
        "adjoint": -2.0,
    }
    assert nodes["v2"]["op"] == "powc" and nodes["v2"]["args"] == ["v1"]
    assert nodes["v4"]["op"] == "cos" and nodes["v4"]["value"] == pytest.approx(math.cos(3))
    assert nodes["x1"]["adjoint"] == -2.1411200080598674
    assert nodes["v5"]["output"] == "y"


def test_trace_forward_mode_has_a_tangent_column_per_input():
    doc = json.loads(run("trace", "x*y + sin(x)", "--at", "x=1,y=2", "--mode", "forward", "--json").stdout)
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert nodes["v3"]["tangent"] == pytest.approx([2 + math.cos(1), 1.0])
    out = run("trace", "x*y + sin(x)", "--at", "x=1,y=2", "--mode", "forward").stdout
    assert "v̇ (∂/∂x)" in out and "v̇ (∂/∂y)" in out


def test_eval_steps_show_the_forward_pass():
    out = run("eval", PROGRAM, "--at", "x1=1,x2=2", "--steps").stdout
    assert "t1 = x1 - x2 = 1 - 2 = -1" in out
    assert "t2 = t1^2 = (-1)^2 = 1" in out
    assert out.strip().splitlines()[-1] == "0.0100075"


def test_graph_draws_shared_nodes_once():
    out = run("graph", "sin(x*y) + x*y").stdout
    assert out.count("v1 = x·y") == 1
    assert "v1 (shown above)" in out
    dot = run("graph", "sin(x*y) + x*y", "--format", "dot").stdout
    assert dot.startswith("digraph") and dot.count("->") == 5 and dot.rstrip().endswith("}")
    mermaid = run("graph", "sin(x*y) + x*y", "--format", "mermaid").stdout
    assert mermaid.startswith("graph BT") and mermaid.count("-->") == 5
    assert run("graph", "x", "--format", "png").exit_code == 2


def test_readable_at_80_columns_and_plain_when_piped():
    out = run("grad", "log((x1+x2)^2+sin(x1*x2))", "--at", "x1=1,x2=2", "--trace", "--steps").stdout
    from adcli.explain import cells

    assert max(cells(line) for line in out.splitlines()) <= 80
    assert "\x1b[" not in out


def test_deep_graph_drawing_is_capped_not_recursive():
    expr = "(" * 5000 + "x" + ")" * 5000
    assert run("graph", "sin(" * 2000 + "x" + ")" * 2000).exit_code == 0
    assert run("graph", expr).exit_code == 0


@pytest.mark.parametrize("mode,outputs", [("reverse", "x*y"), ("reverse", "x*y, x+y"), ("forward", "x*y")])
def test_recorded_steps_are_one_list_per_direction(mode, outputs):
    """trace's steps are a sequence with one entry per sweep direction, and iterating it ends
    (a one-direction sweep once answered every index, and `for st in steps` never stopped)."""
    from adcli import core

    r = core.run_trace(core.load(outputs, "x=2,y=3"), mode, record=True)
    steps = r.adjoint_steps if mode == "reverse" else r.tangent_steps
    directions = len(r.problem.graph.outputs) if mode == "reverse" else len(r.wrt)
    assert len(list(steps)) == directions
    with pytest.raises(IndexError):
        steps[directions]


def test_steps_show_where_s_zero_partials_and_a_zero_where_value_as_a_factor():
    """where at one point gives its value and partials as np.where did (0-d arrays):
    the reverse sweep drops only structural zeros (a float 0.0), so these 0 lines stay."""
    bar = "\u0304"  # the combining macron of the adjoints
    r = run("grad", "where(x>0, x-x, y)*y + where(x<0, 1, 0)*x", "--at", "x=1,y=2", "--steps")
    assert r.exit_code == 0
    lines = [line.replace(bar, "~") for line in r.stdout.splitlines()]
    assert "  y~ += v~3 · ∂v3/∂y = 1 · v2 = 1 · 0 = 0   (y~ = 0)" in lines
    assert "  x~ += v~5 · ∂v5/∂x = 1 · v4 = 1 · 0 = 0   (x~ = 0)" in lines
    assert "  y~ += v~2 · ∂v2/∂y = 2 · where(x > 0, 0, 1) = 2 · 0 = 0   (y~ = 0)" in lines
    r = run("grad", "where(x>0, 0.5, y^2) + x", "--at", "x=1,y=2", "--steps")
    lines = [line.replace(bar, "~") for line in r.stdout.splitlines()]
    assert "  v~1 += v~2 · ∂v2/∂v1 = 1 · where(x > 0, 0, 1) = 1 · 0 = 0   (v~1 = 0)" in lines
