"""Issue 8: gradient descent, Newton's method, plots, and the README's pictures."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from adcli.cli import app
from adcli.descend import load_descend
from adcli.errors import AdcliError
from adcli.plot import run_plot, text_plot, text_samples

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
QUADRATIC = "(x-1)^2 + 10*(y+2)^2"


def cli(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "80"})


def no_traceback(result) -> None:
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in text
    assert result.exception is None or isinstance(result.exception, SystemExit)


# -- descend --------------------------------------------------------------------------------


def test_gradient_descent_reaches_the_minimum():
    r = cli("descend", QUADRATIC, "--at", "x=0,y=0", "--lr", "0.05", "--iters", "200", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["converged"] is True
    assert abs(doc["point"]["x"] - 1) < 1e-6 and abs(doc["point"]["y"] + 2) < 1e-6
    assert doc["iterations"][0]["point"] == {"x": 0.0, "y": 0.0}
    assert doc["iterations"][0]["value"] == 41.0
    assert doc["iterations_done"] <= 200
    # y's curvature is 20, so lr = 0.05 lands y exactly in one step; x shrinks by 0.9 a step.
    assert doc["iterations"][1]["point"] == pytest.approx({"x": 0.1, "y": -2.0})
    values = [it["value"] for it in doc["iterations"]]
    assert all(b <= a for a, b in itertools.pairwise(values))


def test_gradient_descent_text_table():
    r = cli("descend", QUADRATIC, "--at", "x=0,y=0", "--lr", "0.05", "--iters", "200")
    assert r.exit_code == 0
    out = r.stdout
    assert out.splitlines()[0].split() == ["k", "x", "y", "f", "‖∇f‖", "step"]
    assert "converged after" in out and "gradient descent (lr = 0.05)" in out
    assert "iterations not shown; --all shows every one" in out
    assert all(len(line) <= 80 for line in out.splitlines())
    full = cli("descend", QUADRATIC, "--at", "x=0,y=0", "--lr", "0.05", "--iters", "200", "--all").stdout
    assert "not shown" not in full and len(full.splitlines()) > 150


def test_newton_gets_there_in_one_step():
    r = load_descend(QUADRATIC, "x=0,y=0", method="newton")
    assert r.converged
    assert len(r.iterations) - 1 <= 2
    assert r.iterations[1].point == pytest.approx([1.0, -2.0], abs=1e-12)
    doc = json.loads(cli("descend", QUADRATIC, "--at", "x=0,y=0", "--method", "newton", "--json").stdout)
    assert doc["method"] == "newton" and doc["iterations_done"] <= 2
    assert doc["point"] == pytest.approx({"x": 1.0, "y": -2.0}, abs=1e-12)


def test_newton_on_rosenbrock_and_an_indefinite_start():
    r = load_descend("(1-x)^2 + 100*(y-x^2)^2", "x=-1.2,y=1", method="newton")
    assert r.converged and r.final.point == pytest.approx([1, 1], abs=1e-6)
    # Starting where f'' < 0 Newton would climb to the maximum; the guard goes downhill.
    r = load_descend("x^4 - 3*x^2 + x", "x=0.1", method="newton")
    assert r.converged and r.final.point[0] == pytest.approx(-1.30084, abs=1e-4)
    assert "not positive definite" in r.iterations[1].note
    assert all(b.value <= a.value for a, b in zip(r.iterations, r.iterations[1:]))


def test_momentum_and_wrt():
    r = load_descend(QUADRATIC, "x=0,y=0", lr=0.01, momentum=0.9, iters=500)
    assert r.converged and r.final.point == pytest.approx([1, -2], abs=1e-6)
    plain = load_descend(QUADRATIC, "x=0,y=0", lr=0.01, iters=500)
    assert len(r.iterations) < len(plain.iterations)
    # Only x moves; y stays at its --at value.
    r = load_descend("x*y^2 + (x-1)^2", "x=0,y=2", wrt="x", lr=0.1, iters=500)
    assert r.final.point == pytest.approx([-1.0, 2.0], abs=1e-6)


def test_iteration_limit_is_not_an_error():
    r = cli("descend", "x^2", "--at", "x=1", "--lr", "0.01", "--iters", "3")
    assert r.exit_code == 0
    assert "not converged after 3 iterations" in r.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (["x^2", "--at", "x=1", "--lr", "1.5"], ["diverged", "rose", "smaller --lr"]),
        (["x^2", "--at", "x=1", "--lr", "1.1", "--iters", "500"], ["diverged"]),
        (["log(x)", "--at", "x=1", "--lr", "3"], ["diverged", "left the domain", "log(x)"]),
        (["exp(x^2)", "--at", "x=2", "--lr", "1"], ["diverged", "the value is inf"]),
        (["-x^2", "--at", "x=1", "--lr", "0.5", "--iters", "1000"], ["unbounded below"]),
    ],
)
def test_divergence_is_a_clear_error(args, words):
    r = cli("descend", *args)
    no_traceback(r)
    assert r.exit_code == 2
    assert "\nerror: " in "\n" + r.stderr
    for w in words:
        assert w in r.stderr
    assert r.stdout.splitlines()[0].split()[0] == "k"  # the iterations so far are still shown
    doc = json.loads(cli("descend", *args, "--json").stdout)
    assert doc["converged"] is False and doc["stopped"] == "diverged"
    assert doc["error"]["kind"] == "diverged" and "diverged" in doc["error"]["message"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["x^2", "--at", "x=1", "--lr", "0"], "--lr must be a positive number"),
        (["x^2", "--at", "x=1", "--lr", "nan"], "--lr must be a positive number"),
        (["x^2", "--at", "x=1", "--momentum", "1"], "--momentum must be in [0, 1)"),
        (["x^2", "--at", "x=1", "--method", "bfgs"], "unknown method"),
        (["x^2", "--at", "x=1", "--method", "newton", "--momentum", "0.5"], "--method gd only"),
        (["x^2", "--at", "x=1", "--tol", "-1"], "--tol"),
        (["x^2, x", "--at", "x=1"], "needs a scalar expression"),
        (["x^2", "--at", "y=1"], "not an input"),
        (["x^2 +", "--at", "x=1"], "error"),
        (["x^2", "--at", "x=1", "--wrt", "z"], "not an input"),
        (["x^2", "--at", "x=1", "--plot", "path.txt"], "end the name in .png"),
        (["x^2+y^2", "--at", "x=1e300,y=1"], "cannot start here: the value is inf"),
        (["asin(x)+y", "--at", "x=-1,y=2"], "cannot start here: the gradient is not finite"),
        (["log(x)", "--at", "x=-1"], "log needs an argument > 0"),
    ],
)
def test_descend_bad_input(args, message):
    r = cli("descend", *args)
    no_traceback(r)
    assert r.exit_code == 2
    assert message in r.stderr


def test_descend_plot_writes_the_path(tmp_path):
    out = tmp_path / "path.png"
    r = cli("descend", QUADRATIC, "--at", "x=0,y=0", "--lr", "0.05", "--plot", str(out))
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and 10_000 < len(data) < 500_000
    svg = tmp_path / "path.svg"
    assert cli("descend", "x^4 - 3*x^2 + x", "--at", "x=0.3", "--plot", str(svg)).exit_code == 0
    assert svg.read_text().lstrip().startswith("<?xml")
    r = cli("descend", "x^2 + y^2 + z^2", "--at", "x=1,y=1,z=1", "--plot", str(tmp_path / "p3.png"))
    assert r.exit_code == 2 and "one or two inputs" in r.stderr


# -- plot ----------------------------------------------------------------------------------


def test_plot_png_acceptance(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "adcli", "plot", "sin(x)*x", "--wrt", "x", "--range", "-6:6", "--output", "plot.png"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    data = (tmp_path / "plot.png").read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert 15_000 < len(data) < 300_000
    # 700×420 pixels: width and height are the first fields of the IHDR chunk.
    assert int.from_bytes(data[16:20], "big") == 700 and int.from_bytes(data[20:24], "big") == 420


def test_plot_svg_has_axes_and_legend(tmp_path):
    out = tmp_path / "p.svg"
    r = cli("plot", "sin(x)*x", "--range", "-6:6", "--hessian", "--output", str(out))
    assert r.exit_code == 0, r.output
    svg = out.read_text()
    assert svg.count("<svg") == 1
    # Labels are drawn as glyph paths, with the text kept in comments for tools.
    for text in ("f(x) = sin(x)*x", "f'(x) = ∂f/∂x", "f''(x) = ∂²f/∂x²", "value"):
        assert text in svg, text


def test_terminal_plot_fits_80_columns():
    r = cli("plot", "sin(x)*x", "--wrt", "x", "--range", "-6:6")
    assert r.exit_code == 0
    lines = r.stdout.rstrip("\n").splitlines()
    assert max(len(line) for line in lines) <= 80
    assert 18 <= len(lines) <= 24
    assert any(ch in r.stdout for ch in "⠁⠂⠄⡀⠈⠐⠠⢀⣀⠉")  # Braille dots for f
    assert "f(x) = sin(x)*x" in r.stdout and "f'(x) = ∂f/∂x" in r.stdout  # the legend
    assert lines[0].lstrip().startswith("6.03")  # max |x sin x| on [-6, 6] is 4.81; f' reaches ±5.5
    assert lines[-3].lstrip().startswith("└┬")  # the x axis, then its labels, then the legend
    assert lines[-2].split() == ["-6", "0", "x", "6"]


def test_terminal_plot_narrow_and_wide_terminals():
    wide = CliRunner().invoke(app, ["plot", "x^2", "--hessian"], env={"COLUMNS": "200"})
    assert max(len(line) for line in wide.stdout.splitlines()) <= 80
    narrow = CliRunner().invoke(app, ["plot", "x^2"], env={"COLUMNS": "60"})
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 60


def test_plot_points_are_right():
    d = run_plot("sin(x)*x", "x", "-6:6", n=13)
    assert d.x.tolist() == list(range(-6, 7))
    assert d.f == pytest.approx(np.sin(d.x) * d.x)
    assert d.df == pytest.approx(np.cos(d.x) * d.x + np.sin(d.x))
    d = run_plot("x^2*y + y^3", "x", "-2:2", "y=0.5", hessian=True, n=5)
    assert d.f == pytest.approx(d.x**2 * 0.5 + 0.125)
    assert d.df == pytest.approx(d.x)
    assert d.d2f == pytest.approx(np.ones(5))


def test_undefined_points_are_gaps():
    r = cli("plot", "log(x)", "--range", "-1:2", "--hessian")
    no_traceback(r)
    assert r.exit_code == 0
    assert "gaps: f is undefined for x in [-1, " in r.stdout
    assert "log needs an argument > 0" in r.stdout
    d = run_plot("log(x)", None, "-1:2", n=31)
    neg = d.x <= 0
    assert np.all(np.isnan(d.f[neg])) and np.all(np.isnan(d.df[neg]))
    assert d.f[~neg] == pytest.approx(np.log(d.x[~neg]))
    assert d.undefined == int(neg.sum())
    doc = json.loads(cli("plot", "log(x)", "--range", "-1:2", "--json").stdout)
    assert doc["f"][0] is None and doc["f"][-1] == pytest.approx(np.log(2))
    assert doc["gaps"][0][0] == -1


def test_poles_and_sqrt_edges_do_not_crash(tmp_path):
    for expr, rng in [
        ("tan(x)", "-3:3"),
        ("1/x", "-1:1"),
        ("sqrt(1-x^2)", "-2:2"),
        ("x/x", "-1:1"),
        ("where(x > 0, log(x), 0)", "-1:1"),
        ("exp(1000*x)", "0:1"),
    ]:
        r = cli("plot", expr, "--range", rng, "--hessian")
        no_traceback(r)
        assert r.exit_code == 0, (expr, r.output)
        assert max(len(line) for line in r.stdout.splitlines()) <= 80
        img = tmp_path / "p.png"
        assert cli("plot", expr, "--range", rng, "--output", str(img)).exit_code == 0
        assert img.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(
    "args, message",
    [
        (["log(x)", "--range", "-2:-1"], "undefined on the whole range"),
        (["x*y"], "plot needs --wrt"),
        (["x*y", "--wrt", "x"], "missing value for y"),
        (["x*y", "--wrt", "x,y", "--at", "y=1"], "one input"),
        (["x^2", "--range", "3:1"], "is empty"),
        (["x^2", "--range", "1"], "two values separated by a colon"),
        (["x^2", "--range", "0:foo"], "error"),
        (["x^2", "--at", "z=1"], "not an input"),
        (["x^2", "--output", "plot.bmp"], "end the name in .png"),
        (["x^2", "--output", "/nonexistent/dir/p.png"], "does not exist"),
        (["x^2, x"], "needs a scalar expression"),
        (["2"], "needs an expression with an input"),
    ],
)
def test_plot_bad_input(args, message):
    r = cli("plot", *args)
    no_traceback(r)
    assert r.exit_code == 2
    assert message in r.stderr


def test_missing_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    r = cli("plot", "x^2", "--output", str(tmp_path / "p.png"))
    no_traceback(r)
    assert r.exit_code == 2
    assert "needs matplotlib" in r.stderr and 'pip install "adcli[plot]"' in r.stderr
    assert not (tmp_path / "p.png").exists()
    # The terminal plot needs no matplotlib.
    assert cli("plot", "x^2").exit_code == 0


def test_help_is_fast_and_imports_no_matplotlib():
    code = (
        "import sys; from typer.testing import CliRunner; from adcli.cli import app; "
        "r = CliRunner().invoke(app, ['plot', '--help']); assert r.exit_code == 0, r.output; "
        "assert 'Examples' in r.output; "
        "assert not [m for m in ('matplotlib', 'numpy') if m in sys.modules], sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_text_plot_direct_width():
    d = run_plot("sin(x)*x", "x", "-6:6", n=text_samples(80))
    assert len(d.x) == 2 * (80 - 9 - 2)
    for width in (40, 64, 80):
        assert max(len(line) for line in text_plot(d, width).splitlines()) <= width


def test_run_plot_errors_are_adcli_errors():
    with pytest.raises(AdcliError):
        run_plot("sqrt(x)", None, "-3:-1")


# -- the README's pictures ----------------------------------------------------------------------


def test_readme_image_script_runs(tmp_path):
    script = ROOT / "scripts" / "readme_images.py"
    r = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path), "--only", "textbook.svg", "plot_terminal.svg"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    svg = (tmp_path / "textbook.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<svg") and "2.14112" in svg and "(seed)" in svg
    assert (tmp_path / "plot_terminal.svg").stat().st_size > 1000


def test_readme_images_exist_and_are_small():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    import re

    linked = re.findall(r"\]\((docs/images/[^)]+)\)", readme)
    assert linked, "the README shows no pictures"
    total = 0
    for rel in linked:
        path = ROOT / rel
        assert path.is_file(), rel
        total += path.stat().st_size
    assert total < 1_000_000
