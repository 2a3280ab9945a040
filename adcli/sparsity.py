"""Sparsity patterns of Jacobians and Hessians, read off the graph, and the colourings that compress them.

A node depends on the inputs its arguments depend on: one pass in node
order propagates index sets. A set whose node has a single consumer is
extended in place rather than copied, so a long sum (the usual shape of an
objective) costs time linear in its length. The Hessian pattern comes from
the nonlinear interactions: each op declares in the registry how its second
derivatives couple its arguments (``Op.curvature``): ``linear`` ops couple
nothing, ``bilinear`` ones (a product) couple one argument's inputs with the
other's, ``full`` ones couple all their arguments' inputs with each other.

Colourings group seed directions that can share one sweep:

- Jacobian columns (forward) or rows (reverse): greedy distance-2 colouring;
  two columns get one colour only if no row has both, so each entry is read
  back directly from the compressed product.
- Hessians: greedy star colouring (a distance-1 colouring in which every
  path on four vertices uses at least three colours). Symmetry then lets
  each entry be read from the column group of one of its two indices, which
  needs fewer colours than distance-2 (an arrowhead takes 2, not n).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .graph import Graph


@dataclass
class Coo:
    """A sparse result as coordinates: entry (rows[t], cols[t]) is values[t]
    (a number, or an array over the points); every other entry is 0."""

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray  # (nnz, *point shape)
    shape: tuple[int, int]

    def dense(self) -> np.ndarray:
        """The full matrix, shape (*shape, *point shape)."""
        out = np.zeros(self.shape + self.values.shape[1:])
        out[self.rows, self.cols] = self.values
        return out


def _dependencies(g: Graph, positions: list[int], keep: set[int]) -> list[set[int] | None]:
    """Per node, the set of wrt columns (indices into ``positions``) it depends on.

    Sets of nodes in ``keep`` are never reused in place; others are handed to
    their only consumer."""
    column = {g.inputs[p]: c for c, p in enumerate(positions)}
    uses = [0] * len(g.nodes)
    for node in g.nodes:
        for a in node.args:
            uses[a] += 1
    deps: list[set[int] | None] = [None] * len(g.nodes)
    for i, node in enumerate(g.nodes):
        if node.op.arity == 0:
            c = column.get(i)
            deps[i] = {c} if c is not None else None
            continue
        args = [a for a in dict.fromkeys(node.args) if deps[a]]
        if not args:
            continue
        # reuse the largest argument set if this node is its only consumer
        big = max(args, key=lambda a: len(deps[a]))  # type: ignore[arg-type]
        mine = deps[big]
        assert mine is not None
        if uses[big] != 1 or big in keep:
            mine = set(mine)
        for a in args:
            if a != big:
                mine |= deps[a] or set()
        deps[i] = mine
    return deps


def jacobian_pattern(g: Graph, positions: list[int]) -> list[list[int]]:
    """Per output, the sorted wrt columns its derivative can be non-zero in."""
    deps = _dependencies(g, positions, set(g.outputs))
    return [sorted(deps[o] or ()) for o in g.outputs]


def hessian_pattern(g: Graph, positions: list[int]) -> list[set[int]]:
    """Per wrt column, the columns its Hessian row can be non-zero in (symmetric)."""
    n = len(positions)
    nbr: list[set[int]] = [set() for _ in range(n)]
    # the arguments of nonlinear ops must keep their own sets until their consumers are seen
    keep: set[int] = set()
    for node in g.nodes:
        if node.op.curvature != "linear":
            keep.update(node.args)
    deps = _dependencies(g, positions, keep)

    def couple(a: set[int], b: set[int]) -> None:
        for i in a:
            nbr[i] |= b
        for j in b:
            nbr[j] |= a

    for node in g.nodes:
        curv = node.op.curvature
        if curv == "linear" or node.op.arity == 0:
            continue
        sets = [deps[a] for a in node.args if deps[a]]
        if not sets:
            continue
        if curv == "bilinear":
            if len(sets) == 2:
                couple(sets[0], sets[1])  # type: ignore[arg-type]
            continue
        union: set[int] = set().union(*sets)  # type: ignore[arg-type]
        for i in union:
            nbr[i] |= union
    return nbr


def colour_columns(rows: list[list[int]], n: int) -> list[int]:
    """Greedy distance-2 colouring: columns sharing a row get different colours."""
    cols_rows: list[list[int]] = [[] for _ in range(n)]
    for r, cols in enumerate(rows):
        for c in cols:
            cols_rows[c].append(r)
    colour = [-1] * n
    for j in range(n):
        forbidden = {colour[c] for r in cols_rows[j] for c in rows[r] if colour[c] >= 0}
        k = 0
        while k in forbidden:
            k += 1
        colour[j] = k
    return colour


def transpose(rows: list[list[int]], n: int) -> list[list[int]]:
    """The pattern's columns as rows."""
    cols: list[list[int]] = [[] for _ in range(n)]
    for r, cs in enumerate(rows):
        for c in cs:
            cols[c].append(r)
    return cols


def star_colouring(nbr: list[set[int]]) -> list[int]:
    """Greedy star colouring of the Hessian's adjacency graph (diagonal ignored).

    Colour v avoids its neighbours' colours (distance 1) and, for each
    coloured neighbour w, the colour of any x two steps away that would make
    the path v-w-x-y two-coloured (x, y coloured with y having w's colour)."""
    n = len(nbr)
    adj = [sorted(s - {i}) for i, s in enumerate(nbr)]
    colour = [-1] * n
    for v in range(n):
        forbidden: set[int] = set()
        for w in adj[v]:
            cw = colour[w]
            if cw >= 0:
                forbidden.add(cw)
            for x in adj[w]:
                cx = colour[x]
                if x == v or cx < 0:
                    continue
                if cw < 0:
                    forbidden.add(cx)  # v-w-x with w uncoloured: v and x must differ (distance 2)
                    continue
                for y in adj[x]:
                    if y != w and colour[y] == cw:
                        forbidden.add(cx)  # v-w-x-y would be bicoloured
                        break
        k = 0
        while k in forbidden:
            k += 1
        colour[v] = k
    return colour


def groups_of(colour: list[int]) -> list[list[int]]:
    """Colour classes: group c lists the columns coloured c."""
    k = max(colour) + 1 if colour else 0
    groups: list[list[int]] = [[] for _ in range(k)]
    for j, c in enumerate(colour):
        groups[c].append(j)
    return groups


def hessian_recovery(nbr: list[set[int]], colour: list[int]) -> list[tuple[int, int, int, int]]:
    """How to read each non-zero H[i][j] (i <= j) from the compressed B = H·S.

    Returns (i, j, row, group): H[i][j] = B[row][group]. Row i of group c(j)
    holds H[i][j] alone when no other neighbour of i has j's colour; else row
    j of group c(i) does (a star colouring guarantees one of the two)."""
    out = []
    for i, s in enumerate(nbr):
        for j in s:
            if j < i:
                continue
            if j == i or _alone(nbr[i], colour, j):
                out.append((i, j, i, colour[j]))
            elif _alone(nbr[j], colour, i):
                out.append((i, j, j, colour[i]))
            else:  # not a star colouring: cannot happen, but never read a mixed sum
                raise AssertionError(f"colouring does not separate H[{i}][{j}]")
    return out


@dataclass(frozen=True)
class HessianPlan:
    """What a coloured Hessian needs besides the point: its pattern, a star
    colouring with fewer colours than columns (else None: the plain sweep), its
    colour groups and where each entry is read back (i, j, row, group)."""

    pattern: list[set[int]]
    colour: list[int] | None
    groups: list[list[int]] | None
    recovery: np.ndarray | None


def hessian_plan(g: Graph, positions: list[int]) -> HessianPlan:
    """The :class:`HessianPlan` for these wrt columns, made once per graph (it depends
    on the graph only, as the sweep order does): Hessians at many points of one
    graph, in a session or a benchmark, colour it once."""
    # by the wrt inputs' nodes, not their positions: a view in another input order shares the cache
    key = (len(g.nodes), tuple(g.outputs), tuple(g.inputs[p] for p in positions))
    plans = g.__dict__.setdefault("_hessian_plans", {})
    plan = plans.get(key)
    if plan is None:
        pattern = hessian_pattern(g, positions)
        colour: list[int] | None = star_colouring(pattern)
        if colour is not None and max(colour, default=-1) + 1 >= len(positions):
            colour = None
        if colour is None:
            plan = HessianPlan(pattern, None, None, None)
        else:
            rec = np.array(hessian_recovery(pattern, colour), dtype=np.intp).reshape(-1, 4)
            plan = HessianPlan(pattern, colour, groups_of(colour), rec)
        plans[key] = plan
    return plan


def _alone(row: set[int], colour: list[int], j: int) -> bool:
    c = colour[j]
    return all(colour[x] != c for x in row if x != j)


def summary(kind: str, shape: tuple[int, int], colours: int, instead: int) -> str:
    """The line the output prints: ``200×200 Hessian, 3 colours: 3 sweeps instead of 200``."""
    s = "s" if colours != 1 else ""
    return f"{shape[0]}×{shape[1]} {kind}, {colours} colour{s}: {colours} sweep{s} instead of {instead}"


__all__: list[Any] = [
    "HessianPlan",
    "colour_columns",
    "groups_of",
    "hessian_pattern",
    "hessian_plan",
    "hessian_recovery",
    "jacobian_pattern",
    "star_colouring",
    "summary",
    "transpose",
]
