"""--steps records the reverse sweep that computes the result (issue 12): one order,
the same in-place sums, whether or not it records."""

from __future__ import annotations

import numpy as np

from adcli import reverse, sweeps
from adcli.evaluate import evaluate
from adcli.parse import parse

EXPR = "(x1-x2)^2 + cos(x1+x2) + x1*x1*exp(x2) + sin(x1*x2)/(1 + x2^2)"


def _values(points: int = 7):
    g = parse(EXPR)
    rng = np.random.default_rng(5)
    return evaluate(g, [rng.uniform(0.5, 2.0, points) for _ in g.inputs])


def test_recording_changes_nothing_and_each_step_is_the_running_sum():
    values = _values()
    plain, _ = reverse.vjp(values, [np.float64(1.0)])
    adj, steps = reverse.vjp(values, [np.float64(1.0)], record=True)
    for a, b in zip(plain, adj):
        assert (a is None and b is None) or np.array_equal(a, b)
    running: dict[int, object] = {}
    for st in steps:
        expect = st.contribution if st.target not in running else running[st.target] + st.contribution
        assert np.array_equal(st.total, expect)  # bit for bit: the sweep's own sum, in its order
        running[st.target] = st.total
    for i, total in running.items():
        assert np.array_equal(adj[i], total)


def test_steps_follow_the_sweep_order_and_it_is_reverse_topological():
    values = _values(1)
    g = values.graph
    order = reverse.sweep_order(g)
    where = {i: k for k, i in enumerate(order)}
    for i, node in enumerate(g.nodes):
        for a in node.args:
            assert where[i] < where[a]  # a consumer is visited before what it uses
    _, steps = reverse.vjp(values, [np.float64(1.0)], record=True)
    sources = list(dict.fromkeys(st.source for st in steps if st.source != -1))
    assert sources == [i for i in order if i in set(sources)]
    assert [where[s] for s in sources] == sorted(where[s] for s in sources)


def test_batched_directions_record_the_same_sweep():
    g = parse("x*y + sin(x), x^2*y, exp(y) - x")
    values = evaluate(g, [np.float64(0.3), np.float64(1.7)])
    groups = sweeps.unit_groups(3)
    plain = sweeps.run(values, "reverse", groups)
    rec = sweeps.run(values, "reverse", groups, record=True)
    for a, b in zip(plain.at_inputs(), rec.at_inputs()):
        assert np.array_equal(a, b)
    for d in range(3):  # each direction's steps end at that output's gradient
        mine = {st.target: st.total for st in sweeps.StepsPerDirection(sweeps.PerDirection(rec))[d]}
        for q, i in enumerate(g.inputs):
            assert np.array_equal(mine[i], rec.at_inputs()[q][d])
