"""The Python API (SPEC section 9): adcli.compile over floats and arrays, against
closed forms and SymPy; pickling; errors; a Dask dataframe on the local scheduler."""

import math
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import adcli

EXPR = "log((x1+x2)^2+sin(x1*x2))"


def by_hand(x1, x2):
    s, p = x1 + x2, x1 * x2
    u = s * s + np.sin(p)
    c = np.cos(p)
    return np.log(u), (2 * s + x2 * c) / u, (2 * s + x1 * c) / u


def test_floats_give_scalars_matching_the_closed_form():
    f = adcli.compile(EXPR)
    assert f.inputs == ["x1", "x2"] and f.outputs == 1
    v, g1, g2 = by_hand(1.0, 2.0)
    assert isinstance(f(x1=1.0, x2=2.0), np.float64)
    assert f(x1=1.0, x2=2.0) == pytest.approx(v, rel=1e-15)
    assert f(1.0, 2.0) == f(x1=1.0, x2=2.0)
    g = f.grad(x1=1.0, x2=2.0)
    assert list(g) == ["x1", "x2"]
    assert g["x1"] == pytest.approx(g1, rel=1e-14) and g["x2"] == pytest.approx(g2, rel=1e-14)


def test_arrays_broadcast_and_keep_their_shape():
    f = adcli.compile(EXPR)
    a = np.linspace(0.1, 2.0, 7)
    b = np.linspace(0.5, 3.0, 3)[:, None]
    v = f(x1=a, x2=b)
    assert v.shape == (3, 7)
    g = f.grad(x1=a, x2=b)
    want = by_hand(a, b)
    np.testing.assert_allclose(v, want[0], rtol=1e-14)
    np.testing.assert_allclose(g["x1"], want[1], rtol=1e-13)
    np.testing.assert_allclose(g["x2"], want[2], rtol=1e-13)
    assert f.grad(x1=a, x2=2.0)["x2"].shape == (7,)


def test_hessian_against_sympy():
    sp = pytest.importorskip("sympy")
    x1, x2 = sp.symbols("x1 x2")
    F = sp.log((x1 + x2) ** 2 + sp.sin(x1 * x2))
    f = adcli.compile(EXPR)
    pts = np.array([[1.0, 2.0], [0.3, 0.7], [2.5, -0.4]])
    H = f.hessian(x1=pts[:, 0], x2=pts[:, 1])
    names = {"x1": x1, "x2": x2}
    for a in names:
        for b in names:
            d = sp.lambdify((x1, x2), sp.diff(F, names[a], names[b]))
            np.testing.assert_allclose(H[a][b], [d(*p) for p in pts], rtol=1e-12)
            assert H[a][b].shape == (3,)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0.1, 3), st.floats(0.1, 3)), min_size=1, max_size=20))
def test_array_results_equal_one_point_at_a_time(pts):
    f = adcli.compile("x1^2*exp(-x2) + sin(x1*x2)")
    a = np.array(pts)
    g = f.grad(x1=a[:, 0], x2=a[:, 1])
    for k, (p, q) in enumerate(pts):
        one = f.grad(x1=p, x2=q)
        assert g["x1"][k] == pytest.approx(one["x1"], rel=1e-15, abs=1e-300)
        assert g["x2"][k] == pytest.approx(one["x2"], rel=1e-15, abs=1e-300)


def test_several_outputs_are_a_list():
    f = adcli.compile("x*y, x+y")
    assert f.outputs == 2
    v = f(x=np.array([1.0, 2.0]), y=3.0)
    assert [list(a) for a in v] == [[3.0, 6.0], [4.0, 5.0]]
    with pytest.raises(adcli.AdcliError, match="needs a scalar expression"):
        f.grad(x=1.0, y=2.0)


def test_programs_compile_too():
    f = adcli.compile("t = x^2; u = t + 1; u*t")
    assert f(x=2.0) == 20.0 and f.grad(x=2.0)["x"] == pytest.approx(4 * 2.0**3 + 2 * 2.0)


def test_pickles_as_its_text_and_works_after():
    f = adcli.compile(EXPR)
    g = pickle.loads(pickle.dumps(f))
    assert g.text == f.text and g(x1=1.0, x2=2.0) == f(x1=1.0, x2=2.0)
    assert len(pickle.dumps(f)) < 200 + len(EXPR)


def test_errors_are_adcli_errors_and_value_errors():
    with pytest.raises(ValueError) as exc:
        adcli.compile("x +* 2")
    assert isinstance(exc.value, adcli.AdcliError) and exc.value.kind == "parse"
    f = adcli.compile(EXPR)
    with pytest.raises(adcli.AdcliError, match="x3 is not an input") as exc:
        f(x1=1.0, x3=2.0)
    assert exc.value.hint == "did you mean x2?"
    with pytest.raises(adcli.AdcliError, match="missing value for x2"):
        f(x1=1.0)
    with pytest.raises(adcli.AdcliError, match="broadcast"):
        f(x1=np.ones(3), x2=np.ones(4))
    with pytest.raises(adcli.AdcliError, match="broadcast"):
        f(x1="one", x2=1.0)
    with pytest.raises(adcli.AdcliError, match="undefined="):
        adcli.compile("x", undefined="zero")


def test_undefined_points_raise_or_are_nan_when_asked():
    f = adcli.compile("log(x)")
    with pytest.raises(adcli.AdcliError, match=r"point 2 \(x=-1\)") as exc:
        f.grad(x=np.array([1.0, -1.0, 2.0]))
    assert exc.value.kind == "domain"
    with pytest.raises(adcli.AdcliError):
        f(x=-1.0)
    e = pickle.loads(pickle.dumps(exc.value))  # a worker's error arrives whole
    assert (e.kind, e.message, e.span) == (exc.value.kind, exc.value.message, exc.value.span)
    g = adcli.compile("log(x)", undefined="nan")
    out = g.grad(x=np.array([1.0, -1.0, 2.0]))["x"]
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == 0.5
    assert pickle.loads(pickle.dumps(g)).undefined == "nan"


def test_import_adcli_imports_no_numpy():
    code = "import sys, adcli; assert 'numpy' not in sys.modules; assert 'adcli.api' not in sys.modules; print('ok')"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "ok\n"


def test_dask_dataframe_map_partitions_on_the_local_scheduler():
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    f = adcli.compile(EXPR)

    def with_gradient(part):
        g = f.grad(x1=part.x1.to_numpy(), x2=part.x2.to_numpy())
        return part.assign(value=f(part.x1.to_numpy(), part.x2.to_numpy()), d_x1=g["x1"], d_x2=g["x2"])

    rng = np.random.default_rng(0)
    pdf = pd.DataFrame({"x1": rng.uniform(0.1, 2, 1000), "x2": rng.uniform(0.1, 2, 1000)})
    df = dd.from_pandas(pdf, npartitions=4)
    meta = {**df.dtypes.to_dict(), "value": "f8", "d_x1": "f8", "d_x2": "f8"}
    # processes: the function is pickled to the worker processes and back
    out = df.map_partitions(with_gradient, meta=meta).compute(scheduler="processes", num_workers=2)
    v, g1, g2 = by_hand(pdf.x1.to_numpy(), pdf.x2.to_numpy())
    np.testing.assert_allclose(out["value"].to_numpy(), v, rtol=1e-14)
    np.testing.assert_allclose(out["d_x1"].to_numpy(), g1, rtol=1e-13)
    np.testing.assert_allclose(out["d_x2"].to_numpy(), g2, rtol=1e-13)
