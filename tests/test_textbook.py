"""The worked examples of the tutorial texts, computed by hand there."""

import math

import pytest

MODES = ["reverse", "forward"]


@pytest.mark.parametrize("mode", MODES)
def test_log_example(grad, mode):
    # seeds/000: f = log((x1+x2)^2 + sin(x1 x2)) at (1, 2)
    v, g = grad("log((x1+x2)^2+sin(x1*x2))", "x1=1,x2=2", mode)
    s = 9 + math.sin(2)
    assert v == pytest.approx(math.log(s), rel=1e-15)
    assert g[0] == pytest.approx((6 + 2 * math.cos(2)) / s, rel=1e-14)
    assert g[1] == pytest.approx((6 + math.cos(2)) / s, rel=1e-14)
    assert round(g[0], 6) == 0.521501 and round(g[1], 6) == 0.563496


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "expr",
    ["(x1-x2)^2 + cos(x1+x2)", "t1 = x1 - x2; t2 = t1^2; t3 = x1 + x2; t4 = cos(t3); t2 + t4"],
)
def test_backprop_example(grad, mode, expr):
    # seeds/002: gradient (2(x1-x2) - sin(x1+x2), -2(x1-x2) - sin(x1+x2))
    v, g = grad(expr, "x1=1,x2=2", mode)
    assert v == pytest.approx(1 + math.cos(3), rel=1e-14)
    assert g[0] == -2.1411200080598674
    assert g[1] == 1.8588799919401329


@pytest.mark.parametrize("mode", MODES)
def test_two_paths_sum(grad, mode):
    # (x*y + sin(x))^2 at (1, 2): x reaches the output along two paths
    v, g = grad("(x*y + sin(x))^2", "x=1,y=2", mode)
    u = 2 + math.sin(1)
    assert v == pytest.approx(u * u)
    assert g[0] == pytest.approx(2 * u * (2 + math.cos(1)), rel=1e-14)
    assert g[1] == pytest.approx(2 * u * 1, rel=1e-14)


@pytest.mark.parametrize("mode", MODES)
def test_product_with_shared_input(grad, mode):
    # (x*y + z) * sin(y)
    x, y, z = 0.5, 1.5, -2.0
    v, g = grad("(x*y + z)*sin(y)", f"x={x},y={y},z={z}", mode)
    assert v == pytest.approx((x * y + z) * math.sin(y))
    assert g == pytest.approx([y * math.sin(y), x * math.sin(y) + (x * y + z) * math.cos(y), math.sin(y)], rel=1e-14)


@pytest.mark.parametrize("mode", MODES)
def test_exp_product_plus_w(grad, mode):
    x, y, w = 0.3, -1.2, 4.0
    v, g = grad("e^(x*y) + w", f"x={x},y={y},w={w}", mode)
    assert v == pytest.approx(math.exp(x * y) + w)
    assert g == pytest.approx([y * math.exp(x * y), x * math.exp(x * y), 1.0], rel=1e-14)


@pytest.mark.parametrize("mode", MODES)
def test_dual_number_example(grad, mode):
    # seeds/003: f = exp(x) sin(x), f'(0) = 1
    v, g = grad("exp(x)*sin(x)", "x=0", mode)
    assert v == 0.0 and g == [1.0]
