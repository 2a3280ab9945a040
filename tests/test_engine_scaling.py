"""The engines stay linear in the size of the graph: nested where/max, long programs, long products.

Graphs are built directly (no parser) so the test times the engines alone; 4× the
size must cost well under 16× (what a quadratic step would cost), with room for a noisy machine."""

from __future__ import annotations

import time

import numpy as np

from adcli import core, sweeps
from adcli.evaluate import evaluate
from adcli.graph import Graph

S = (0, 1)


def nested_where(n: int) -> Graph:
    g = Graph("w")
    x = g.input("x", S)
    acc = x
    for i in range(n):
        acc = g.apply(
            "where", (x, g.const(float(i % 7), "c", S), acc, g.apply("add", (x, g.const(1.0, "1", S)), S)), S, ">"
        )
    g.finalize([acc], [S])
    return g


def nested_max(n: int) -> Graph:
    g = Graph("m")
    x = g.input("x", S)
    acc = x
    for i in range(n):
        acc = g.apply("max", (acc, g.apply("mul", (x, g.const(float(i % 5 + 1), "c", S)), S)), S)
    g.finalize([acc], [S])
    return g


def program(n: int) -> Graph:
    g = Graph("p")
    t = g.input("x", S)
    for _ in range(n):
        t = g.apply("add", (t, t), S)
    g.finalize([t], [S])
    return g


def product(n: int) -> Graph:
    g = Graph("q")
    acc = None
    for i in range(n):
        t = g.apply("sin", (g.apply("add", (g.input(f"x{i}", S), g.const(1.0, "1", S)), S),), S)
        acc = t if acc is None else g.apply("mul", (acc, t), S)
    g.finalize([acc], [S])
    return g


def _cost(build, n: int) -> float:
    g = build(n)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        values = evaluate(g, [np.float64(0.5)] * len(g.inputs))
        core.run_trace(core.Problem(g, [0.5] * len(g.inputs), values), "reverse")
        sweeps.run(values, "reverse", [[0]])
        best = min(best, time.perf_counter() - t)
    return best


def test_engines_are_linear_in_depth_and_length():
    for build in (nested_where, nested_max, program, product):
        small, large = _cost(build, 2000), _cost(build, 8000)
        assert large < 9 * small, (build.__name__, small, large)


def _hvp_cost(n: int) -> float:
    from adcli import derivatives

    g = product(n)
    direction = [1.0] * n
    best = float("inf")
    for _ in range(3):
        values = evaluate(g, [np.float64(0.5)] * n)
        t = time.perf_counter()
        derivatives.run_hvp(core.Problem(g, [0.5] * n, values), direction)
        best = min(best, time.perf_counter() - t)
    return best


def test_hvp_is_linear_in_the_number_of_inputs():
    """H·v over n inputs: one forward and one reverse pass (naming the direction's inputs
    once per input, not once per input per input, as it did)."""
    small, large = _hvp_cost(2000), _hvp_cost(8000)
    assert large < 9 * small, (small, large)
