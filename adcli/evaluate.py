"""The primal pass (values, domain checks) and the local partials both engines use.

Values are numpy float64 scalars or arrays, so one pass serves one point or a
million. Domain checks come from the registry; a violation in a branch that
``where`` does not select is not an error, which is why, when the graph has a
``where``, violations are only reported after a liveness pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .dual import Dual, dual_times, plain_times, primal
from .errors import DOMAIN, AdcliError, Warning_
from .graph import Graph, fmt_value, point_words
from .ops import CMP, NumpyNS


@dataclass
class Values:
    graph: Graph
    vals: list[Any]
    xp: Any = NumpyNS  # the namespace the values live in (numpy, or dual numbers)
    warnings: list[Warning_] = field(default_factory=list)
    _warned: set = field(default_factory=set)
    _live: list[Any] | None = None
    undefined: Any = False  # with mask_undefined: where the expression is undefined
    first_error: AdcliError | None = None
    kinks_announced: bool = False

    def live(self, i: int) -> Any:
        """Where node ``i`` reaches an output through the branches ``where`` selects."""
        if not self.graph.has_where:
            return True
        if self._live is None:
            self._live = _liveness(self.graph, self.vals)
        return self._live[i]

    def warn(self, key, message: str, span=None) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.warnings.append(Warning_(message, span, self.graph.source if span is not None else None))

    @property
    def outputs(self) -> list[Any]:
        return [self.vals[o] for o in self.graph.outputs]

    def point_text(self, idx: int | None = None) -> str:
        g = self.graph
        pairs = []
        for i in g.inputs:
            v = np.asarray(self.vals[i])
            pairs.append((g.nodes[i].name or "", v.flat[idx] if (idx is not None and v.ndim) else v.flat[0]))
        where = point_words(pairs)
        if idx is not None:
            return f"point {idx + 1} ({where})"
        return where


def anywhere(mask: Any) -> bool:
    """``np.any`` with a fast path for the one-point case (a plain bool)."""
    t = type(mask)
    if t is np.bool_ or t is bool:
        return bool(mask)
    return bool(np.any(mask))


def evaluate(g: Graph, inputs: list[Any], xp: Any = NumpyNS, mask_undefined: bool = False) -> Values:
    """Evaluate every node; raise a located domain error at the first live violation.

    ``xp`` supplies each primitive by name; passing a dual-number namespace
    makes this same pass carry tangents (forward-over-reverse Hessians).
    With ``mask_undefined`` (many points at once) a violation does not raise:
    the points where the expression is undefined are marked in
    ``Values.undefined`` (a boolean array) and the first one is described in
    ``Values.first_error``."""
    nodes = g.nodes
    vals: list[Any] = [None] * len(nodes)
    for i, v in zip(g.inputs, inputs):
        vals[i] = v
    result = Values(g, vals, xp)
    violations: list[tuple[int, Any]] = []
    has_where = g.has_where
    with np.errstate(all="ignore"):
        for i, node in enumerate(nodes):
            op = node.op
            if not op.arity:
                if op.constant:
                    vals[i] = node.param
                continue
            args = [vals[a] for a in node.args]
            extra = node.xextra
            if op.dom is not None:
                bad = op.dom[0](*args, *extra)
                if anywhere(bad):
                    if not has_where and not mask_undefined:
                        raise domain_error(result, i, bad)
                    violations.append((i, bad))
            vals[i] = getattr(xp, op.name)(*args, *extra)
    for i, bad in violations:
        hit = np.logical_and(bad, result.live(i))
        if np.any(hit):
            if not mask_undefined:
                raise domain_error(result, i, hit)
            if result.first_error is None:
                result.first_error = domain_error(result, i, hit)
            result.undefined = np.logical_or(result.undefined, hit)
    _diagnose_nonfinite(result)
    if xp is NumpyNS and not is_batch(result):
        _diagnose_precision(result)
    return result


def _liveness(g: Graph, vals: list[Any]) -> list[Any]:
    """Per node: where (at which points) its value reaches an output through
    the branches that ``where`` selects."""
    n = len(g.nodes)
    live: list[Any] = [False] * n
    for o in g.outputs:
        live[o] = True
    for i in range(n - 1, -1, -1):
        li = live[i]
        if li is False:
            continue
        node = g.nodes[i]
        if node.op.selects:  # where(lhs CMP rhs, a, b): only the branch taken is live
            lhs, rhs, a, b = node.args
            cond = CMP[node.param](vals[lhs], vals[rhs])
            for j, m in ((lhs, li), (rhs, li), (a, np.logical_and(li, cond)), (b, np.logical_and(li, ~cond))):
                live[j] = np.logical_or(live[j], m)
        else:
            for j in node.args:
                live[j] = np.logical_or(live[j], li)
    return live


def domain_error(values: Values, i: int, bad: Any) -> AdcliError:
    g = values.graph
    node = g.nodes[i]
    args = [values.vals[a] for a in node.args]
    bad = np.asarray(bad)
    idx = int(np.flatnonzero(bad)[0]) if bad.ndim else None
    shown = []
    for v in args:
        a = np.asarray(v)
        shown.append(fmt_value(a.flat[idx] if (idx is not None and a.ndim) else a.flat[0], 10))
    assert node.op.dom is not None
    msg = node.op.dom[1].format(*shown)
    text = f"{g.snippet(i)} at {values.point_text(idx)}: {msg}"
    source, span, label = g.locate(i)
    return AdcliError(DOMAIN, text, source, span, label=label, extra={"node": node.name, "point_index": idx})


def _diagnose_nonfinite(values: Values) -> None:
    """Name the node where an output first became inf or NaN (overflow, inf - inf);
    points already known to be outside the domain are not mentioned again."""
    g, vals = values.graph, values.vals
    if values.undefined is False and all_finite(values.outputs):
        return
    ok = np.logical_not(values.undefined)
    if all(np.all(np.isfinite(v) | ~ok) for v in values.outputs):
        return
    for i, node in enumerate(g.nodes):
        if node.op.arity == 0:
            continue
        v = vals[i]
        if np.all(np.isfinite(v)):
            continue
        shape = np.shape(v)
        args_ok = np.logical_and.reduce([np.broadcast_to(np.isfinite(vals[a]), shape) for a in node.args]) & ok
        fresh = ~np.isfinite(v) & args_ok
        if np.any(fresh):
            shown = fmt_value(np.broadcast_to(v, np.shape(fresh))[fresh].flat[0] if np.ndim(fresh) else v)
            values.warn(
                ("nonfinite", i),
                f"{g.snippet(i)}: the value is {shown} (overflow or an undefined operation)",
                node.span,
            )
            return


def is_batch(values: Values) -> bool:
    """Values over many points (numpy arrays) rather than at one point."""
    vals = values.vals
    return any(isinstance(v, np.ndarray) and v.ndim for v in (primal(vals[i]) for i in values.graph.inputs))


def all_finite(xs: list[Any]) -> bool:
    """No inf or NaN anywhere. A sum is one pass with no temporary array and is
    finite exactly when every term is, short of the sum itself overflowing
    (then the slower exact test decides)."""
    for x in xs:
        if isinstance(x, Dual):
            if not all_finite([x.primal, x.tangent]):
                return False
            continue
        if x is None:
            continue
        if math.isfinite(float(np.sum(x))):
            continue
        if not np.all(np.isfinite(x)):
            return False
    return True


def run_sweep(sweep, values: Values, seeds: list[Any], record: bool, watched: list[int]):
    """Run a derivative sweep. Over many points it first runs with plain products
    and is redone carefully (0·inf = 0, infinities carried as :class:`Omega`) only
    if a ``watched`` result is not finite. Nothing that leaves here is an Omega."""
    with np.errstate(all="ignore"):
        if record or not is_batch(values):
            out, steps = sweep(values, seeds, record, careful=True)
        else:
            out, steps = sweep(values, seeds, False, careful=False)
            if not all_finite([out[i] for i in watched]):
                out, steps = sweep(values, seeds, False, careful=True)
        if any(
            type(x) is Omega or (type(x) is Dual and (type(x.primal) is Omega or type(x.tangent) is Omega)) for x in out
        ):
            out = [resolve(x) for x in out]
            steps = [_resolve_step(st) for st in steps]
        return out, steps


def _resolve_step(step: Any) -> Any:
    """A recorded step with its Omega quantities resolved (for ``--steps``)."""
    import dataclasses

    changes = {}
    for f in dataclasses.fields(step):
        v = getattr(step, f.name)
        if type(v) is Omega or type(v) is Dual:
            changes[f.name] = resolve(v)
        elif isinstance(v, list):
            changes[f.name] = [tuple(resolve(x) for x in t) if isinstance(t, tuple) else resolve(t) for t in v]
    return dataclasses.replace(step, **changes) if changes else step


KINK_PLACES = 3  # a kink convention is announced at most at this many nodes per op
_LOST_DIGITS = 1e-10  # warn when a sum keeps less than this fraction of its terms' size


def _diagnose_precision(values: Values) -> None:
    """At one point: name the first sum that cancels catastrophically (most of
    its digits lost) and the first product or exponential that underflows to 0."""
    g, vals = values.graph, values.vals
    cancel = underflow = False
    for i, node in enumerate(g.nodes):
        if node.op.cancels and not cancel:
            a, b = (vals[j] for j in node.args)
            r = vals[i]
            big = max(abs(a), abs(b))
            if not math.isfinite(big):
                continue
            if r != 0 and abs(r) < _LOST_DIGITS * big:
                cancel = True
                values.warn(
                    ("cancel", i),
                    f"{g.snippet(i)}: catastrophic cancellation: "
                    f"{fmt_value(a, 17)} and {fmt_value(b, 17)} leave {fmt_value(r)}, "
                    f"with few correct digits",
                    node.span,
                )
            elif a != 0 and b != 0 and r in (a, node.op.cancels * b):
                small = node.args[1] if r == a else node.args[0]
                if not g.nodes[small].op.constant:
                    cancel = True
                    values.warn(
                        ("absorb", i),
                        f"{g.snippet(i)}: {g.snippet(small)} = {fmt_value(vals[small])} "
                        f"is lost entirely next to {fmt_value(r, 17)}",
                        node.span,
                    )
        elif node.op.underflows and not underflow and vals[i] == 0 and all(vals[j] != 0 for j in node.args):
            # 0 from arguments none of which is 0 (a constant 0 too: x*0 is exactly 0)
            underflow = True
            values.warn(("underflow", i), f"{g.snippet(i)}: the value underflows to 0", node.span)


def partials(values: Values, i: int, through: list[Any] | None = None) -> tuple:
    """Local partials of node ``i`` w.r.t. its arguments.

    The first call on a set of values announces every kink (a convention) the
    point sits on, once, whichever engine asks and whatever flows through it, so
    forward and reverse mode warn alike. ``through`` is accepted for callers
    that pass the tangents or adjoints; the announcement no longer depends on it.
    Callers run under ``np.errstate(all="ignore")``: a sweep is one context."""
    if not values.kinks_announced:
        announce_kinks(values)
    node = values.graph.nodes[i]
    vals = values.vals
    return node.op.d(values.xp, vals[i], *[vals[a] for a in node.args], *node.xextra)  # type: ignore[misc]


def announce_kinks(values: Values) -> None:
    """Warn at each primitive that sits exactly on its kink on a live path (a
    branch ``where`` drops stays quiet). It depends on the point only."""
    values.kinks_announced = True
    g, vals = values.graph, values.vals
    places: dict[str, int] = {}  # a convention is stated at its first few places, not at 10^5 nested ones
    users: dict[int, set[str]] | None = None  # node -> the ops that read it, built at the first nest
    with np.errstate(all="ignore"):
        for i, node in enumerate(g.nodes):
            kink = node.op.kink
            if kink is None or places.get(node.op.name, 0) >= KINK_PLACES:
                continue
            hit = kink[0](*[vals[a] for a in node.args], *node.xextra)
            if not anywhere(hit):
                continue
            if node.op.kink_nests and i not in g.outputs:
                if users is None:
                    users = {}
                    for n in g.nodes:
                        for a in n.args:
                            users.setdefault(a, set()).add(n.op.name)
                if users.get(i) == {node.op.name}:  # only read by its own kind: the outer one speaks
                    continue
            if np.any(hit & np.asarray(values.live(i))):
                places[node.op.name] = places.get(node.op.name, 0) + 1
                said = kink[1] + ("; where it meets a zero, 0·inf is taken as 0" if kink[1].endswith("inf") else "")
                values.warn(("kink", i), f"{g.snippet(i)}: {said}", node.span)


class Omega:
    """``fin + inf·Ω``: a chain-rule quantity that met an infinite local partial
    (``sqrt'(0)``, ``asin'(1)``) or an overflow, with Ω one positive infinity.

    Carrying the infinity's finite weight instead of a float ``inf`` makes the
    sum over paths the same in both engines: reverse mode adding ``+Ω`` and
    ``-Ω`` from two paths (``sqrt(x-x)``) gets weight 0, exactly as forward
    mode multiplying a zero tangent by ``inf`` does. 0·Ω = 0; Ω·Ω is taken as
    Ω (only the sign of a product of infinities is kept). :func:`resolve`
    turns it back into a float: ``fin`` if the weight is 0, else ±inf."""

    __slots__ = ("fin", "inf")
    __array_ufunc__ = None  # numpy defers to our __radd__ instead of making object arrays

    def __init__(self, fin: Any, inf: Any):
        self.fin = fin
        self.inf = inf

    def __add__(self, o: Any) -> Omega:
        o = o if type(o) is Omega else _split(o)
        return Omega(self.fin + o.fin, self.inf + o.inf)

    __radd__ = __add__

    def __neg__(self) -> Omega:
        return Omega(-self.fin, -self.inf)

    def __sub__(self, o: Any) -> Omega:
        return self + (-o)

    def __rsub__(self, o: Any) -> Omega:
        return (-self) + o

    def times(self, p: Any) -> Any:
        fin = _times_split(self.fin, p)
        w = self.inf
        # 0·Ω = 0 on either side: a zero partial (a branch where drops) zeroes even a weight
        # that is NaN (an infinite tangent times an undefined partial, -Ω·NaN)
        weight = np.where((w == 0) | (p == 0), 0.0, np.where(np.isinf(p), w * np.sign(p), w * p))
        return fin + Omega(_zero(weight), _scalar(weight))

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Omega({self.fin!r}, {self.inf!r})"


def _scalar(x: Any) -> Any:
    """np.where gives 0-d arrays for scalars: keep one point's numbers np.float64."""
    return np.float64(x) if np.ndim(x) == 0 else x


def _zero(like: Any) -> Any:
    return np.zeros(np.shape(like)) if np.ndim(like) else np.float64(0.0)


def _split(x: Any) -> Omega:
    """A plain number as ``fin + inf·Ω``: an infinity (an overflowed sum) is ±Ω."""
    big = np.isinf(x)
    return Omega(_scalar(np.where(big, 0.0, x)), _scalar(np.where(big, np.sign(x), 0.0)))


def resolve(x: Any) -> Any:
    """An Omega back to a float: its finite part if the infinite weight is 0,
    else ±inf (NaN only if a NaN came in); anything else unchanged."""
    if type(x) is Dual:
        return Dual(resolve(x.primal), resolve(x.tangent)) if type(x.primal) is Omega or type(x.tangent) is Omega else x
    if type(x) is not Omega:
        return x
    w = x.inf
    return _scalar(np.where(w == 0, x.fin, np.where(np.isnan(w), np.nan, np.sign(w) * np.inf)))


def zero_times(a: Any, p: Any) -> Any:
    """``a · p`` with 0 · (inf or NaN) = 0, for plain numbers and arrays (the
    dual numbers' products use this too)."""
    r = a * p
    if np.ndim(r) == 0:
        if not math.isfinite(r) and (a == 0 or p == 0):
            return np.float64(0.0)
        return r
    if not np.isfinite(r).all():  # the method: np.all costs a Python-level dispatch a call
        shape = r.shape
        zero = (np.broadcast_to(a, shape) == 0) | (np.broadcast_to(p, shape) == 0)
        r = np.where(zero, 0.0, r)
    return r


def _times_split(a: Any, p: Any) -> Any:
    """``a · p`` for plain ``a``: a finite product as it is, an infinite one as an Omega
    whose weight is the finite factor (times the sign of the infinite one)."""
    r = zero_times(a, p)
    if np.ndim(r) == 0:
        if math.isfinite(r) or math.isnan(r):
            return r
    elif np.all(np.isfinite(r)) or not np.any(np.isinf(r)):
        return r
    ia, ip = np.isinf(a), np.isinf(p)
    weight = np.where(
        ~np.isinf(r),
        0.0,
        np.where(
            ia & ip, np.sign(a) * np.sign(p), np.where(ip, a * np.sign(p), np.where(ia, p * np.sign(a), np.sign(r)))
        ),
    )
    fin = np.where(np.isinf(r), 0.0, r)
    return Omega(_scalar(fin), _scalar(weight))


def times(a: Any, p: Any, careful: bool = True) -> Any:
    """``a · p`` for a chain-rule term, the one place both engines multiply.

    Careful products follow the convention of the README's "Conventions at
    awkward points": 0 · (inf or NaN) = 0 (a zero adjoint or tangent
    contributes nothing, so a branch ``where`` drops stays exactly zero), and
    an infinite product is carried as an :class:`Omega` so that infinities
    reaching one node by several paths add up by their weights.

    Over many points the sweeps first run with ``careful=False`` (a plain
    product, no extra pass over the arrays) and are redone carefully only if a
    result came out non-finite."""
    if isinstance(p, float):
        if p == 1.0:
            return a
        if p == -1.0:
            return -a
    if type(a) is np.float64 and a == 1.0 and (not careful or (type(p) in (float, np.float64) and math.isfinite(p))):
        return p  # the seed: nothing to multiply
    if not careful:
        if isinstance(a, Dual) or isinstance(p, Dual):
            return dual_times(a, p, plain_times)  # plain products on each part, no operator dispatch
        return a * p
    if type(a) is np.float64 and (type(p) is np.float64 or type(p) is float):
        r = a * p
        if math.isfinite(r):
            return r  # a finite product of two numbers: what _times_split gives it
    if type(a) is Omega:
        return a.times(p)
    if isinstance(a, Dual) or isinstance(p, Dual):
        return dual_times(a, p, times)  # the convention applied to each part of the product
    return _times_split(a, p)
