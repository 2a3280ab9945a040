"""Hessian-vector products in one forward and one reverse pass, without dual-number objects.

Forward-over-reverse on :class:`adcli.dual.Dual` values (the path that
``--steps`` and ``--trace`` show) wraps every node in an object and dispatches
every product through the dual namespace. This pass computes the same numbers
from plain arrays:

- forward: each node's tangent ``ṫᵢ = Σ ∂vᵢ/∂aₖ · ṫₖ`` from the primal partials,
  with all k seed directions as the leading axis of one numpy array;
- reverse: each node's adjoint ``v̄`` and its tangent ``v̄̇``, passing back
  ``v̄ · p`` and ``v̄ · ṗ + v̄̇ · p``, where ``ṗ`` (the tangent of a partial) comes
  from the registry's own rule run on dual numbers, and only for ops whose
  partials vary (``curvature`` not ``"linear"``): a sum's or a selection's
  partials are constants, so nothing second-order is built for them.

Products are plain. If any input's adjoint or its tangent comes out
non-finite, the caller redoes the work on dual numbers, which apply the
0·inf = 0 and infinity conventions (as :func:`adcli.evaluate.run_sweep` does).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .dual import Dual, DualNS
from .evaluate import Values, partials
from .reverse import sweep_order


def _sum(x: Any, c: Any) -> Any:
    return c if x is None else x + c


def _scale(t: Any, p: Any) -> Any:
    """``t · p`` (the tangent first, as the dual numbers multiply)."""
    if type(p) is float:
        if p == 1.0:
            return t
        if p == -1.0:
            return -t
    return t * p


def hvp(values: Values, seeds: dict[int, Any]) -> tuple[list[Any], list[Any]] | None:
    """Per input of the graph: (adjoint, tangent of the adjoint) of its one output,
    for input tangents ``seeds`` (input position -> tangent; absent = 0). A tangent
    of None is zero. None when a result is not finite (redo on dual numbers)."""
    g = values.graph
    nodes, vals = g.nodes, values.vals
    size = len(nodes)
    tan: list[Any] = [None] * size
    for q, t in seeds.items():
        tan[g.inputs[q]] = t
    local: list[Any] = [None] * size  # the primal partials the forward pass took, for the reverse one
    with np.errstate(all="ignore"):
        for i, node in enumerate(nodes):
            args = node.args
            if not args or all(tan[a] is None for a in args):
                continue
            total = None
            local[i] = fps = partials(values, i)
            for a, p in zip(args, fps):
                t = tan[a]
                if t is not None and not (type(p) is float and p == 0.0):
                    total = _sum(total, _scale(t, p))
            tan[i] = total
        adj: list[Any] = [None] * size
        adt: list[Any] = [None] * size
        adj[g.outputs[0]] = np.float64(1.0)
        const = [n.op.constant for n in nodes]
        for i in sweep_order(g):  # the order of every reverse sweep (and of its --steps)
            a = adj[i]
            node = nodes[i]
            if a is None or not node.args:
                continue
            at = adt[i]
            if tan[i] is None or node.op.curvature == "linear":
                ps: Any = local[i] if local[i] is not None else partials(values, i)
                dps: Any = None
            else:
                dual = [vals[j] if tan[j] is None else Dual(vals[j], tan[j]) for j in node.args]
                both = node.op.d(DualNS, Dual(vals[i], tan[i]), *dual, *node.xextra)  # type: ignore[misc]
                ps = [x.primal if type(x) is Dual else x for x in both]
                dps = [x.tangent if type(x) is Dual else None for x in both]
            for k, j in enumerate(node.args):
                p = ps[k]
                dp = None if dps is None else dps[k]
                if const[j] or (dp is None and type(p) is float and p == 0.0):
                    continue
                adj[j] = _sum(adj[j], a * p)
                c = None if dp is None else a * dp
                if at is not None:
                    c = _sum(c, _scale(at, p))
                if c is not None:
                    adt[j] = _sum(adt[j], c)
    grads = [adj[i] for i in g.inputs]
    hv = [adt[i] for i in g.inputs]
    for x in grads + hv:
        if x is not None and not np.isfinite(x).all():
            return None
    return grads, hv
