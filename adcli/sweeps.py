"""One Jacobian routine: every seed direction rides one batch axis through one sweep.

:func:`adcli.forward.jvp` and :func:`adcli.reverse.vjp` are numpy arithmetic
that does not care about shapes, so k seed directions travel as arrays of
shape ``(k, *point shape)`` and one pass over the graph gives k columns
(forward) or k rows (reverse) of the Jacobian: no per-direction Python loop.
A single direction travels without the axis, so a gradient is this routine
with one row and costs exactly one plain sweep.

A direction seeds a *group*: one unit vector, or (after a colouring, see
:mod:`adcli.sparsity`) a sum of unit vectors whose columns share no row.

The explanations (``--trace``, ``--steps``) read one direction at a time:
:class:`PerDirection` slices the batch lazily and marks as absent (None) what
a sweep for that direction alone would never have reached, so they print
what one sweep per direction printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import forward, reverse
from .evaluate import Values


def unit_groups(k: int) -> list[list[int]]:
    """Direction d seeds position d alone: the uncompressed Jacobian."""
    return [[d] for d in range(k)]


def seeds(groups: list[list[int]], size: int, point_ndim: int) -> list[Any]:
    """One seed per seeded position (None where no direction seeds it).

    With one group the seed is the float 1 (a plain sweep); with k groups it
    is a 0/1 array of shape (k, 1, ...) that broadcasts against point-shaped
    values."""
    out: list[Any] = [None] * size
    if len(groups) == 1:
        for q in groups[0]:
            out[q] = np.float64(1.0)
        return out
    k = len(groups)
    for d, group in enumerate(groups):
        for q in group:
            if out[q] is None:
                out[q] = np.zeros((k,) + (1,) * point_ndim)
            out[q][d] = 1.0
    return out


@dataclass
class Batch:
    """One sweep over k seed directions."""

    values: Values
    mode: str  # forward or reverse
    groups: list[list[int]]  # direction d seeds these (forward: wrt positions; reverse: outputs)
    positions: list[int]  # forward: the wrt positions in graph.inputs
    nodes: list[Any]  # every node's tangent or adjoint; batch axis first when k > 1
    steps: list[Any] = field(default_factory=list)  # as recorded, batch axis inside
    links: list[tuple[int, int]] | None = None  # reverse: (source, target) of each contribution, in order

    @property
    def k(self) -> int:
        return len(self.groups)

    @property
    def batched(self) -> bool:
        return len(self.groups) > 1

    def entry(self, x: Any, d: int) -> Any:
        """Direction d's part of a tangent or adjoint."""
        if x is None or not self.batched:
            return x
        return x[d] if np.ndim(x) else x

    def at_outputs(self) -> list[Any]:
        """Forward: each output's tangent (zero where nothing reached it)."""
        outs = forward.output_tangents(self.values, self.nodes)
        return [self._batch_axis(t, self.nodes[o]) for t, o in zip(outs, self.values.graph.outputs)]

    def at_inputs(self) -> list[Any]:
        """Reverse: each input's adjoint (zero where nothing reached it)."""
        ins = reverse.input_adjoints(self.values, self.nodes)
        return [self._batch_axis(a, self.nodes[i]) for a, i in zip(ins, self.values.graph.inputs)]

    def _batch_axis(self, x: Any, swept: Any) -> Any:
        """A zero standing for 'not reached' gets the batch axis the swept entries have."""
        if swept is not None or not self.batched:
            return x
        return np.broadcast_to(x, (self.k,) + np.shape(x))


def run(
    values: Values, mode: str, groups: list[list[int]], positions: list[int] | None = None, record: bool = False
) -> Batch:
    """One sweep carrying every group as a direction of the batch.

    Forward: ``groups`` index ``positions`` (wrt inputs); reverse: outputs."""
    g = values.graph
    shape = np.broadcast_shapes(*[np.shape(values.vals[i]) for i in g.inputs]) if g.inputs else ()
    ndim = len(shape)
    if mode == "forward":
        pos = list(range(len(g.inputs))) if positions is None else positions
        per = seeds(groups, len(pos), ndim)
        direction: list[Any] = [None] * len(g.inputs)
        for q, s in zip(pos, per):
            direction[q] = s
        tan, tsteps = forward.jvp(values, direction, record=record)
        return Batch(values, mode, groups, pos, tan, list(tsteps))
    cot = seeds(groups, len(g.outputs), ndim)
    links: list[tuple[int, int]] | None = [] if len(groups) > 1 else None
    adj, steps = reverse.vjp(values, cot, record=record, links=links)
    return Batch(values, mode, groups, positions or [], adj, steps, links)


# -- one direction at a time, for the explanations ------------------------------------------


def _forward_reach(batch: Batch) -> list[Any]:
    """Per node, the directions whose own sweep reaches it (bool arrays of length k)."""
    g = batch.values.graph
    reach: list[Any] = [None] * len(g.nodes)
    for d, group in enumerate(batch.groups):
        for q in group:
            i = g.inputs[batch.positions[q]]
            if reach[i] is None:
                reach[i] = np.zeros(batch.k, dtype=bool)
            reach[i][d] = True
    for i, node in enumerate(g.nodes):
        if node.op.arity == 0:
            continue
        r = [reach[a] for a in node.args if reach[a] is not None]
        if r:
            reach[i] = np.logical_or.reduce(r) if len(r) > 1 else r[0]
    return reach


def _reverse_reach(batch: Batch) -> list[Any]:
    """Per node, the outputs whose own reverse sweep reaches it."""
    g = batch.values.graph
    reach: list[Any] = [None] * len(g.nodes)
    for d, group in enumerate(batch.groups):
        for o in group:
            i = g.outputs[o]
            if reach[i] is None:
                reach[i] = np.zeros(batch.k, dtype=bool)
            reach[i][d] = True
    for source, target in batch.links or []:
        p = reach[source]
        reach[target] = p.copy() if reach[target] is None else (reach[target] | p)
    return reach


class PerDirection(Sequence):
    """Direction d's node list (tangents or adjoints), computed when first read."""

    def __init__(self, batch: Batch):
        self.batch = batch
        self._reach: list[Any] | None = None

    def __len__(self) -> int:
        return self.batch.k

    def reach(self) -> list[Any]:
        if self._reach is None:
            b = self.batch
            self._reach = _forward_reach(b) if b.mode == "forward" else _reverse_reach(b)
        return self._reach

    def __getitem__(self, d):  # type: ignore[override]
        if isinstance(d, slice):
            return [self[j] for j in range(*d.indices(len(self)))]
        if d < 0:
            d += len(self)
        if not 0 <= d < len(self):
            raise IndexError(d)
        b = self.batch
        if not b.batched:
            return b.nodes
        reach = self.reach()
        return [None if (r is None or not r[d]) else b.entry(x, d) for x, r in zip(b.nodes, reach)]


class StepsPerDirection(Sequence):
    """Direction d's recorded steps, as a sweep for that direction alone recorded them."""

    def __init__(self, nodes: PerDirection):
        self.nodes = nodes

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, d):  # type: ignore[override]
        if isinstance(d, slice):
            return [self[j] for j in range(*d.indices(len(self)))]
        if d < 0:
            d += len(self)
        if not 0 <= d < len(self):
            raise IndexError(d)  # ends iteration: Sequence.__iter__ reads until IndexError
        b = self.nodes.batch
        if not b.batched:
            return b.steps
        reach = self.nodes.reach()
        e = b.entry
        out = []
        if b.mode == "forward":
            for st in b.steps:
                r = reach[st.node]
                if r is None or not r[d]:
                    continue
                terms = [(k, a, p, e(t, d)) for (k, a, p, t) in st.terms if reach[a] is not None and reach[a][d]]
                out.append(forward.TangentStep(st.node, terms, e(st.total, d)))
            return out
        mine = self.nodes[d]
        for st in b.steps:
            if st.source == -1:
                if e(st.contribution, d) == 0:
                    continue
            elif mine[st.source] is None:
                continue
            out.append(
                reverse.AdjointStep(
                    st.target, st.source, st.arg, e(st.adjoint, d), st.partial, e(st.contribution, d), e(st.total, d)
                )
            )
        return out
