"""Issue 15: reductions exported as loops, not unrolled (SPEC §7-8).

Each case's exported C, Python, numpy and JAX (numpy standing in for
``jax.numpy``, as in test_export) must agree with ``adcli grad`` to 1e-12 --
the engine is the oracle, and Rosenbrock's gradient is checked against its
closed form too -- and the code's size must not depend on the vector's length.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import types

import numpy as np
import pytest
from test_export import close, load_python

from adcli import core
from adcli.export import export

ROSEN = "sum(100*(x[i+1]-x[i]^2)^2 + (1-x[i])^2 for i=1..len(x)-1)"
CASES = [
    ROSEN,
    "prod(1 + x[i]^2/4 for i=1..len(x))",
    "prod(x[i] for i=1..len(x)) + b",  # a zero term: the prefix products, not a division
    "max(x[i]*x[i+1] for i=1..len(x)-1) - min(x[i] - b for i=1..len(x))",
    "logsumexp(b*x[i] for i=1..len(x))",
    "sum(sum(x[i]*x[j] for j=1..i) for i=1..len(x))",
    "sum(max(x[j] for j=1..i)*x[i] for i=1..len(x))",
    "sum((y[i] - b*exp(-x[i]*t[i]))^2 for i=1..len(t))",
    "r = [y[i] - b*exp(-b*t[i]) - x[i] for i=1..len(t)]; sum(r[i]^2 for i=1..len(t))",
    "sum(sqrt(x[i]^2 + 1) * i for i=1..len(x)) + x[1]*b",
    "s = b^2; sum(s*sin(x[i]) for i=1..len(x)) + s",
]
N = 5
X = [0.7, -1.3, 1.9, 0.0, 0.4]
CONST = f"t=[{','.join(str(0.1 * k) for k in range(1, N + 1))}],y=[1,2,0.5,-1,3]"


def reference(text: str):
    import re

    at = f"x=[{','.join(map(repr, X))}]" + (",b=0.8" if re.search(r"\bb\b", text) else "")
    p = core.load(text, at, CONST)
    grad = core.run_grad(p)
    return p.graph, float(grad.value), [float(v) for v in grad.gradient]


def args_for(g):
    names = g.input_names
    return [X if n == "x" else 0.8 for n in dict.fromkeys(n.partition("[")[0] for n in names)]


@pytest.mark.parametrize("text", CASES)
def test_python_numpy_jax_loops_agree_with_adcli(text):
    g, value, grad = reference(text)
    args = args_for(g)
    for lang in ("python", "numpy", "jax"):
        src = export(g, lang)
        assert ("for " in src or "vectorised" in src) and "unrolled" not in src, src
        if lang == "jax":
            jax = types.ModuleType("jax")
            jax.numpy = np  # type: ignore[attr-defined]
            env = load_python(src.replace("jnp.zeros(", "_zeros("), {"jax": jax, "jax.numpy": np})
            env["_zeros"] = _at_zeros
            f = env["f"]
        else:
            f = load_python(src)["f"]
        v, gr = f(*args)
        close(v, value, (lang, "value"))
        close(np.array(gr, dtype=float), grad, (lang, "gradient"))


def _at_zeros(shape):
    return _AtArray(np.zeros(shape))


class _AtArray(np.ndarray):
    """numpy with jax's functional update ``a.at[k].add(v)`` (JAX is not installed)."""

    def __new__(cls, a):
        return np.asarray(a).view(cls)

    @property
    def at(self):
        arr = self

        class _At:
            def __getitem__(self, k):
                class _Add:
                    def add(self, v):
                        out = np.array(arr).view(_AtArray)
                        out[k] += v
                        return out

                return _Add()

        return _At()


def test_size_does_not_grow_with_n():
    sizes = set()
    for n in (10, 10_000):
        p = core.load(ROSEN, f"x=[{','.join(['0.5'] * n)}]")
        sizes.add(tuple(len(export(p.graph, lang).splitlines()) for lang in ("python", "numpy", "c", "jax")))
    assert len(sizes) == 1, sizes


@pytest.mark.parametrize("text", CASES[1:])
def test_every_case_has_the_same_size_at_two_lengths(text):
    """Only the data lines of --const vectors grow with n: the code does not."""
    import re

    sizes = set()
    for n in (6, 12):
        at = f"x=[{','.join(['0.5'] * n)}]" + (",b=0.8" if re.search(r"\bb\b", text) else "")
        consts = f"t=[{','.join(['0.1'] * n)}],y=[{','.join(['1'] * n)}]"
        g = core.load(text, at, consts).graph
        codes = (re.sub(r"\d+", "N", export(g, lang)) for lang in ("python", "numpy", "c", "jax"))
        sizes.add(tuple("\n".join(ln for ln in c.splitlines() if "N.N, N.N" not in ln) for c in codes))
    assert len(sizes) == 1


def test_a_vector_with_gaps_stays_scalars():
    """x[1]*x[3] with no length given: x[2] is no input, so x is not an array (x_1, x_3)."""
    from adcli.parse import parse

    src = export(parse("x[1]*x[3]"), "python")
    assert "def f(x_1, x_3):" in src
    v, gr = load_python(src)["f"](2.0, 7.0)
    assert v == 14.0 and gr == [7.0, 2.0]


def test_rosenbrock_closed_form_in_numpy():
    n = 50
    x = np.linspace(-1.2, 1.1, n)
    p = core.load(ROSEN, f"x=[{','.join(repr(float(v)) for v in x)}]")
    f = load_python(export(p.graph, "numpy"))["f"]
    v, g = f(x)
    want = np.zeros(n)
    want[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    want[1:] += 200 * (x[1:] - x[:-1] ** 2)
    close(v, np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2), "value")
    close(np.array(g), want, "gradient")


def test_numpy_loops_run_over_points():
    g, value, grad = reference(CASES[1])
    f = load_python(export(g, "numpy"))["f"]
    xs = np.tile(np.array(X)[:, None], (1, 3))
    v, gr = f(xs)
    close(v, [value] * 3, "value")
    close(np.array(gr).T, [grad] * 3, "gradient")


def test_c_loops_compile_and_agree(tmp_path):
    cc = shutil.which("cc")
    if cc is None:
        pytest.fail("no C compiler (cc): the generated loops cannot be checked")
    for k, text in enumerate(CASES):
        g, value, grad = reference(text)
        src = export(g, "c", name="f")
        assert "for (int " in src
        c = tmp_path / f"f{k}.c"
        c.write_text(src)
        so = tmp_path / f"f{k}.so"
        r = subprocess.run([cc, "-std=c99", "-Wall", "-Werror", "-O2", "-fPIC", "-shared", str(c), "-o", str(so), "-lm"],
                           capture_output=True, text=True)  # fmt: skip
        assert r.returncode == 0, (text, r.stderr, src)
        fn = ctypes.CDLL(str(so)).f
        flat = [a for arg in args_for(g) for a in (arg if isinstance(arg, list) else [arg])]
        inp = (ctypes.c_double * len(flat))(*flat)
        val = ctypes.c_double()
        gr = (ctypes.c_double * len(flat))()
        fn(inp, ctypes.byref(val), gr)
        close(val.value, value, (text, "c value"))
        close(list(gr), grad, (text, "c gradient"))


# special points: kinks, ties, infinite partials meeting zero adjoints (0·inf = 0)
SPECIAL = [
    ("sqrt(x)", "x=0"),
    ("sqrt(x)*y", "x=0,y=0"),
    ("abs(x)*y", "x=0,y=2"),
    ("max(x, y)", "x=1,y=1"),
    ("min(x, y)*x", "x=1,y=1"),
    ("where(x > 0, sqrt(x), 0)", "x=0"),
    ("x^0.5", "x=0"),
    ("x^y", "x=0,y=2"),
    ("x^y", "x=0,y=0.5"),
    ("hypot(x, y)", "x=0,y=0"),
    ("sign(x)*x", "x=0"),
    ("heaviside(x)*y", "x=0,y=1"),
    ("clip(x, 0, 1)", "x=0"),
    ("clip(x, 0, 1)", "x=1"),
    ("cbrt(x)", "x=0"),
    ("abs(x)", "x=0"),
    ("max(x,y,z)", "x=1,y=1,z=1"),
    ("logsumexp(x, y)", "x=1,y=1"),
    ("sum(max(x[i], 0) for i=1..len(x))", "x=[0,1,0]"),
    ("max(x[i] for i=1..len(x))", "x=[1,1,1]"),
    ("min(x[i]^2 for i=1..len(x))", "x=[1,-1,1]"),
    ("prod(x[i] for i=1..len(x))", "x=[0,0,2]"),
    ("sum(sqrt(x[i]) for i=1..len(x))", "x=[0,1,4]"),
    ("logsumexp(x[i] for i=1..len(x))", "x=[1,1,1]"),
    ("sum(abs(x[i]) for i=1..len(x))", "x=[0,1,-1]"),
    ("sum(t[i]*sqrt(x[i]) for i=1..len(x)) - sqrt(x[1])", "x=[0,1,4]"),
]


def _special_reference(text, at):
    p = core.load(text, at, "t=[0,1,2]" if "t[" in text else None)
    r = core.run_grad(p)
    pt = core.parse_point(at)
    args = [pt[n][0] for n in dict.fromkeys(n.partition("[")[0] for n in p.graph.input_names)]
    args = [[float(z) for z in a] if isinstance(a, list) else float(a) for a in args]
    return p.graph, args, [float(r.value)] + [float(v) for v in r.gradient]


def _same(got, want, what):
    got, want = np.array(got, dtype=float), np.array(want, dtype=float)
    assert np.array_equal(np.isinf(got), np.isinf(want)) and np.array_equal(np.isnan(got), np.isnan(want)), what
    fin = np.isfinite(want)
    close(got[fin], want[fin], what)
    assert np.all(got[~fin] == want[~fin]) or not np.any(np.isinf(want)), what


@pytest.mark.parametrize("text,at", SPECIAL)
def test_special_points_follow_the_engines_python_numpy(text, at):
    """Exported code at kinks and ties gives adcli grad's numbers, infinities included."""
    import warnings

    g, args, want = _special_reference(text, at)
    for lang in ("python", "numpy"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy's divide-by-zero warning at sqrt(0)
            v, gr = load_python(export(g, lang))["f"](*args)
        _same([float(v)] + [float(z) for z in gr], want, (lang, text, at))


def test_special_points_follow_the_engines_c(tmp_path):
    cc = shutil.which("cc")
    if cc is None:
        pytest.fail("no C compiler (cc)")
    for k, (text, at) in enumerate(SPECIAL):
        g, args, want = _special_reference(text, at)
        if "sinc" in text:
            continue  # math.h has no spherical_j1 (sinc's derivative): refused, see test_export
        c = tmp_path / f"s{k}.c"
        c.write_text(export(g, "c"))
        so = tmp_path / f"s{k}.so"
        r = subprocess.run([cc, "-std=c99", "-Wall", "-Werror", "-O2", "-fPIC", "-shared", str(c), "-o", str(so), "-lm"],
                           capture_output=True, text=True)  # fmt: skip
        assert r.returncode == 0, r.stderr
        flat = [a for v in args for a in (v if isinstance(v, list) else [v])]
        inp = (ctypes.c_double * len(flat))(*flat)
        val = ctypes.c_double()
        gr = (ctypes.c_double * len(flat))()
        ctypes.CDLL(str(so)).f(inp, ctypes.byref(val), gr)
        _same([val.value, *gr], want, ("c", text, at))


def test_weighted_infinities_are_the_documented_difference():
    """adcli's engines add infinities by their weights (2·sqrt'(0) - 2·sqrt'(0)·... = -inf
    here); straight-line code gets inf - inf = NaN, as the README says."""
    g, args, want = _special_reference("sqrt(x)*2 - sqrt(4*x)", "x=0")
    assert want[1] == -np.inf
    for lang in ("python", "numpy"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, gr = load_python(export(g, lang))["f"](*args)
        assert np.isnan(float(gr[0])), lang


def test_what_a_loop_cannot_write_is_unrolled_and_says_so():
    """An index that is not affine in the loop variable (x[i*i]) is unrolled, with a comment."""
    text = "sum(x[i*i] * b for i=1..2)"
    g, value, grad = reference(text)
    for lang in ("python", "numpy"):
        src = export(g, lang)
        assert "is unrolled: an index computed with mul" in src
        v, gr = load_python(src)["f"](*args_for(g))
        close(v, value, lang)
        close(np.array(gr, dtype=float), grad, lang)


def test_hessian_with_reductions_is_unrolled_and_says_so():
    from adcli.derivatives import run_hessian

    at = "x=[0.7,-1.3,1.9]"
    p = core.load(ROSEN, at)
    want = run_hessian(core.load(ROSEN, at)).hessian
    src = export(p.graph, "python", hessian=True)
    assert "the reductions are unrolled: --hessian" in src
    _, _, h = load_python(src)["f"]([0.7, -1.3, 1.9])
    close(h, [[float(v) for v in row] for row in want], "hessian")


def test_cli_len_and_errors():
    from typer.testing import CliRunner

    from adcli.cli import app

    r = CliRunner().invoke(app, ["export", ROSEN, "--len", "x=10000", "--lang", "c"])
    assert r.exit_code == 0 and "for (int i = 1; i <= 9999; i++)" in r.stdout
    assert len(r.stdout.splitlines()) < 80
    for bad in (["--len", "x=0"], ["--len", "x"], ["--len", "x=3", "--at", "x=[1,2,3]"]):
        out = CliRunner().invoke(app, ["export", ROSEN, *bad])
        assert out.exit_code == 2 and "Traceback" not in out.output, out.output
    r = CliRunner().invoke(app, ["export", ROSEN, "--at", "x=[1,2,3]", "--lang", "numpy"])
    assert r.exit_code == 0 and "x_bar = np.zeros((3,) + points)" in r.stdout
