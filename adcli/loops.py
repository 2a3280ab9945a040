"""Reductions exported as loops (``adcli export``, SPEC §7-8).

The parser expands ``sum(EXPR for i=1..n)`` into n copies of EXPR, but keeps
the template (:class:`adcli.vectors.Reduction`). Here that template becomes a
loop: the forward pass folds the terms into an accumulator exactly as the
expansion does (``((t1 + t2) + t3)...``, the same rounding), and the adjoint is
a reverse loop that recomputes each term and runs its local sweep, adding into
``x_bar[k]``. Only ``sum`` needs no storage; ``prod``/``max``/``min``/
``logsumexp`` keep the running accumulator per term (one array of n numbers),
since their partials need the prefix. Nested reductions are nested loops
(recursion depth: the textual nesting, capped by the parser at 64); a list
step indexed in a loop is inlined at its index. Anything else a loop cannot
express (an index that is not affine in the loop variables, a template input
the final graph dropped) raises :class:`Unloopable` and export unrolls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .symbolic import Sym, SymGraph

INIT = {"sum": 0.0, "prod": 1.0}


class Unloopable(Exception):
    """This reduction cannot be written as a loop: export unrolls it."""


@dataclass
class Leaf:
    text: str  # how the code reads it
    bar: str | None  # where its adjoint accumulates (None: a constant)
    array: bool = False  # an array element: always +=, jax .at[].add
    base: str | None = None  # the array (or the loop variable) it reads, for slices
    aff: tuple | None = None  # its index: coefficients of the loop variables, constant


@dataclass
class Local:
    """One node of a loop body: an op on refs, or a nested reduction."""

    op: str
    args: tuple  # refs: int (a Local) or Leaf or float (a constant)
    param: Any = None
    loop: Loop | None = None
    varying: bool = False


@dataclass
class Loop:
    kind: str
    var: str  # the loop variable's identifier in the code
    lo: str  # integer expressions (constants at the top level)
    hi: str
    body: list[Local] = field(default_factory=list)
    root: Any = None  # a ref
    leaves: list[int] = field(default_factory=list)  # graph ids the body reads
    span: tuple[int, int] = (0, 0)
    inlined: bool = False  # a list step inlined: its indices are not in this loop's variable
    top: bool = False  # a top-level reduction: constant bounds


def pre_name(loop: Loop, acc: str) -> str | None:
    """The prefix array a fold other than sum keeps (its partials need it)."""
    return None if loop.kind == "sum" else acc + "_pre"


def zeroing(loop: Loop, ops: set[str]) -> bool:
    """Does the loop (or one inside it) hold an op whose partial can be exactly 0?"""
    todo = [loop]
    while todo:
        lp = todo.pop()
        if lp.kind in ("max", "min") or any(loc.op in ops for loc in lp.body):
            return True
        todo += [loc.loop for loc in lp.body if loc.loop is not None]
    return False


def _affine(nodes, free, root: int) -> tuple[dict[str, int], int]:
    """An index or bound as integer coefficients of loop variables."""
    from .vectors import LOOPVAR

    todo, seen = [root], {root}
    while todo:
        n = todo.pop()
        if n in free:
            for a in nodes[n].args:
                if a not in seen:
                    seen.add(a)
                    todo.append(a)
    val: dict[int, tuple[dict[str, int], int]] = {}
    for n in sorted(seen):
        node = nodes[n]
        if n not in free:
            if not node.op.constant or node.param != int(node.param):
                raise Unloopable("an index that is not a whole number")
            val[n] = ({}, int(node.param))
            continue
        if node.op is LOOPVAR:
            val[n] = ({node.param: 1}, 0)
            continue
        a = [val[x] for x in node.args]
        op = node.op.name
        if op in ("add", "sub"):
            s = 1 if op == "add" else -1
            co = dict(a[0][0])
            for v, c in a[1][0].items():
                co[v] = co.get(v, 0) + s * c
            val[n] = (co, a[0][1] + s * a[1][1])
        elif op == "neg":
            val[n] = ({v: -c for v, c in a[0][0].items()}, -a[0][1])
        elif op == "mul" and (not a[0][0] or not a[1][0]):
            (k, _), (co, c0) = (a[0], a[1]) if not a[0][0] else (a[1], a[0])
            m = a[0][1] if not a[0][0] else a[1][1]
            val[n] = ({v: m * c for v, c in co.items()}, m * c0)
        else:
            raise Unloopable(f"an index computed with {op}")
    return val[root]


def int_text(aff: tuple[dict[str, int], int], env: dict[str, str], shift: int = 0) -> str:
    co, c0 = aff
    parts = []
    for v, c in co.items():
        if c == 0:
            continue
        t = env[v]
        t = t if t.isidentifier() else f"({t})"
        parts.append(("+ " if c > 0 else "- ") + (t if abs(c) == 1 else f"{abs(c)} * {t}"))
    c0 += shift
    if c0 or not parts:
        parts.append(("+ " if c0 >= 0 else "- ") + str(abs(c0)))
    text = " ".join(parts)
    return text[2:] if text.startswith("+ ") else "-" + text[2:]


class Builder:
    """Turns a reduction's template into a :class:`Loop` (names via ``ident``)."""

    def __init__(self, red, final_id: dict[int, int], var: dict[int, str], bars: dict[int, str],
                 arrays: dict[str, tuple[str, str]], consts: dict[str, str], ident, lang: str):  # fmt: skip
        self.red = red
        self.nodes = red.nodes
        self.free = red.free
        self.final_id = final_id
        self.var = var
        self.bars = bars
        self.arrays = arrays  # vector input -> (its identifier, its adjoint's)
        self.consts = consts  # vector constant -> its identifier
        self.ident = ident
        self.lang = lang
        self.depth = 0
        self.used_consts: set[str] = set()

    def top(self) -> Loop:
        r = self.red
        v = self.ident(r.var)
        loop = Loop(r.kind, v, str(r.lo), str(r.hi), span=r.span, top=True)
        loop.root = self.flatten(loop, r.body, {r.var: v})
        return loop

    def value_of_loopvar(self, text: str) -> str:
        return f"(double)({text})" if self.lang == "c" else text

    def flatten(self, loop: Loop, root: int, env: dict[str, str]):
        """Append the template under ``root`` to ``loop.body``; its ref."""
        from .vectors import INDEX, LOOPVAR, REDUCE

        self.depth += 1
        if self.depth > 64:
            raise Unloopable("reductions nested too deep")
        nodes, free = self.nodes, self.free
        todo, seen = [root], {root}
        while todo:
            n = todo.pop()
            if n in free and nodes[n].op not in (INDEX, REDUCE):
                for a in nodes[n].args:
                    if a not in seen:
                        seen.add(a)
                        todo.append(a)
        ref: dict[int, Any] = {}
        for n in sorted(seen):
            node = nodes[n]
            if n not in free:
                ref[n] = self.outer(loop, node)
            elif node.op is LOOPVAR:
                ref[n] = Leaf(self.value_of_loopvar(env[node.param]), None, base=node.param)
            elif node.op is INDEX:
                ref[n] = self.index(loop, node, env)
            elif node.op is REDUCE:
                lo, hi, body = node.args
                kind, var = node.param[0], node.param[1]
                v = self.ident(var)
                inner = Loop(kind, v, int_text(_affine(nodes, free, lo), env), int_text(_affine(nodes, free, hi), env))
                inner.root = self.flatten(inner, body, {**env, var: v})
                loop.leaves += inner.leaves
                loop.body.append(Local("loop", (), None, inner, any(x.varying for x in inner.body) or _var(inner.root)))
                ref[n] = len(loop.body) - 1
            else:
                args = tuple(ref[a] for a in node.args)
                alt = node.op.const_last
                if alt is not None and not self._varying(loop, args[-1]) and isinstance(args[-1], float):
                    loop.body.append(Local(alt, args[:-1], args[-1]))
                else:
                    loop.body.append(Local(node.op.name, args, node.param))
                loop.body[-1].varying = any(self._varying(loop, a) for a in loop.body[-1].args)
                ref[n] = len(loop.body) - 1
        self.depth -= 1
        return ref[root]

    @staticmethod
    def _varying(loop: Loop, a) -> bool:
        if isinstance(a, int):
            return loop.body[a].varying
        return _var(a)

    def outer(self, loop: Loop, node):
        if node.op.constant:
            return float(node.param)
        j = self.final_id.get(id(node))
        if j is None:
            raise Unloopable("a term reads a node the expansion dropped")
        if j in self.var and self.var[j].endswith("]"):  # a vector element outside the loop
            return Leaf(self.var[j], self.bars[j], True)
        loop.leaves.append(j)
        return Leaf(self.var[j], self.bars[j])

    def index(self, loop: Loop, node, env):
        name = node.param[0]
        aff = _affine(self.nodes, self.free, node.args[0])
        if name in self.arrays:
            k = int_text(aff, env, -1)
            a, ab = self.arrays[name]
            return Leaf(f"{a}[{k}]", f"{ab}[{k}]", True, a, aff)
        if name in self.consts:
            self.used_consts.add(name)
            c = self.consts[name]
            return Leaf(f"{c}[{int_text(aff, env, -1)}]", None, False, c, aff)
        tmpl = self.red.lists.get(name)
        if tmpl is None:
            raise Unloopable(f"{name} is indexed but is not a vector")
        var, _lo, _hi, body = tmpl
        loop.inlined = True
        return self.flatten(loop, body, {**env, var: int_text(aff, env)})


def _var(a) -> bool:
    return isinstance(a, Leaf) and a.bar is not None


# -- writing code -------------------------------------------------------------------------


class Writer:
    """Code for a :class:`Loop` in one language: forward and reverse."""

    def __init__(self, lang: str, printer_for, partials, careful: bool, guard: bool, fresh):
        self.lang = lang
        self.printer_for = printer_for  # SymGraph -> Printer
        self.partials = partials  # (sg, sym, own) -> partial syms
        self.careful = careful
        self.blows = lambda op, param: False  # ops whose products are careful anyway
        self.guard = guard
        self.fresh = fresh  # a new identifier from a stem
        self.names: dict[int, list[str]] = {}  # id(loop) -> local names
        self.slices: dict[int, str] = {}  # id(leaf) -> its text over all terms at once (vectorised)
        self.summed: str | None = None  # vectorised: the terms' shape, summed into a scalar's adjoint

    # helpers on text
    def decl(self, name: str, expr: str, const: bool = False) -> str:
        if self.lang == "c":
            return f"{'const ' if const else ''}double {name} = {expr};"
        return f"{name} = {expr}"

    def add_to(self, target: str, expr: str, array: bool) -> str:
        if self.lang == "jax" and array:
            arr, _, k = target.partition("[")
            return f"{arr} = {arr}.at[{k[:-1]}].add({expr})"
        return f"{target} += {expr};" if self.lang == "c" else f"{target} += {expr}"

    def block(self, head: str, lines: list[str]) -> list[str]:
        inner = ["    " + ln for ln in lines] or ["    pass"]
        if self.lang == "c":
            return [head + " {", *inner, "}"]
        return [head + ":", *inner]

    def for_head(self, v: str, lo: str, hi: str, reverse: bool) -> str:
        if self.lang == "c":
            if reverse:
                return f"for (int {v} = {hi}; {v} >= {lo}; {v}--)"
            return f"for (int {v} = {lo}; {v} <= {hi}; {v}++)"
        return f"for {v} in range({hi}, {lo} - 1, -1)" if reverse else f"for {v} in range({lo}, {hi} + 1)"

    def local_names(self, loop: Loop) -> list[str]:
        if id(loop) not in self.names:
            self.names[id(loop)] = [self.fresh("w") for _ in loop.body]
        return self.names[id(loop)]

    # the pieces
    def _sym(self, sg: SymGraph, subs: dict[str, str], a, names) -> Sym:
        if isinstance(a, float):
            return sg.const(a)
        key = f"_L{len(subs)}_"
        subs[key] = names[a] if isinstance(a, int) else self.slices.get(id(a), a.text)
        return sg.atom(key)

    def _print(self, sg, s: Sym, subs: dict[str, str]) -> str:
        import re

        text = self.printer_for(sg).text(s.i)
        return re.sub(r"_L(?:\d+|bar|own)_", lambda m: subs[m.group(0)], text)

    def vectorisable(self, loop: Loop) -> bool:
        """numpy/JAX: a sum whose indices are i + c is whole-array slices, not a loop."""
        if self.lang not in ("numpy", "jax") or loop.kind != "sum" or loop.inlined or not loop.top:
            return False
        for loc in loop.body:
            if loc.loop is not None:
                return False
            for a in loc.args:
                if isinstance(a, Leaf) and a.aff is not None and any(c not in (0, 1) for c in a.aff[0].values()):
                    return False
        return True

    def _slice_leaves(self, loop: Loop) -> None:
        """Each term's leaf as the slice holding it for every i (a column over the points)."""
        mod = "np" if self.lang == "numpy" else "jnp"
        col = "reshape((-1,) + (1,) * len(points))"
        for loc in loop.body:
            for a in (*loc.args, loop.root):
                if not isinstance(a, Leaf) or a.base is None:
                    continue
                if a.aff is None:  # the loop variable's value
                    self.slices[id(a)] = f"{mod}.arange({loop.lo}, {loop.hi} + 1.0).{col}"
                elif not any(a.aff[0].values()):
                    continue  # a constant index: one element, as in the loop
                else:
                    c = a.aff[1] - 1
                    lo, hi = int(loop.lo) + c, int(loop.hi) + c + 1
                    sl = f"{a.base}[{lo}:{hi}]"
                    self.slices[id(a)] = sl if a.array else f"{sl}.{col}"
                    if a.bar is not None:
                        self.slices[id(a.bar)] = a.bar.partition("[")[0] + f"[{lo}:{hi}]"

    def forward(self, loop: Loop, acc: str, pre: str | None, acc_decl: bool = True) -> list[str]:
        """``acc`` = the reduction, computed by a loop (``pre`` keeps prefixes)."""
        names = self.local_names(loop)
        if self.vectorisable(loop):
            self._slice_leaves(loop)
            mod = "np" if self.lang == "numpy" else "jnp"
            out: list[str] = [f"# vectorised over {loop.var} = {loop.lo}..{loop.hi}: each line is every term at once"]
            out += self.body_forward(loop, names)
            m = f"({int(loop.hi) - int(loop.lo) + 1},) + points"
            out.append(f"{acc} = {mod}.sum({mod}.broadcast_to({self.ref_text(loop.root, names)}, {m}), axis=0)")
            return out
        out = []
        size = f"({loop.hi}) - ({loop.lo}) + 1"
        if acc_decl:
            out.append(self.decl(acc, _num(self.lang, INIT.get(loop.kind, 0.0))))
        if pre:
            if self.lang == "c":
                out.append(f"double {pre}[{_c_size(size)}];")
            else:
                n = _c_size(size)
                out.append(f"{pre} = [0.0] * {n if n.isdigit() else '(' + size + ')'}")
        body = self.body_forward(loop, names)
        t = self.ref_text(loop.root, names)
        if pre:
            body.append(f"{pre}[{_offset(loop)}] = {acc}" + (";" if self.lang == "c" else ""))
        body.append(self.fold(loop, acc, t))
        out += self.block(self.for_head(loop.var, loop.lo, loop.hi, False), self._void_unused(body))
        return out

    def ref_text(self, a, names) -> str:
        if isinstance(a, float):
            return _num(self.lang, a)
        return names[a] if isinstance(a, int) else self.slices.get(id(a), a.text)

    def fold(self, loop: Loop, acc: str, t: str) -> str:
        end = ";" if self.lang == "c" else ""
        if loop.kind == "sum":
            return f"{acc} = {acc} + {t}{end}"
        sg = SymGraph()
        a, b = sg.atom("_L0_"), sg.atom("_L1_")
        s = self._combine(sg, loop.kind, a, b)
        text = self._print(sg, s, {"_L0_": acc, "_L1_": t})
        if self.lang == "c":
            return f"{acc} = {loop.var} == {loop.lo} ? {t} : {text};"
        return f"{acc} = {t} if {loop.var} == {loop.lo} else {text}"

    @staticmethod
    def _combine(sg, kind, a: Sym, b: Sym) -> Sym:
        if kind == "logsumexp":  # as the expansion: a + softplus(b - a)
            return sg.intern("add", (a.i, sg.intern("softplus", (sg.intern("sub", (b.i, a.i)).i,)).i))
        return sg.intern({"prod": "mul", "max": "max", "min": "min"}[kind], (a.i, b.i))

    def body_forward(self, loop: Loop, names: list[str]) -> list[str]:
        out: list[str] = []
        for k, loc in enumerate(loop.body):
            if loc.loop is not None:
                inner = loc.loop
                out += self.forward(inner, names[k], self._pre_name(inner, names[k]))
                continue
            sg = SymGraph()
            subs: dict[str, str] = {}
            args = [self._sym(sg, subs, a, names) for a in loc.args]
            s = sg.intern(loc.op, tuple(x.i for x in args), loc.param)
            text = self._print(sg, s, subs)
            if self.guard and loc.op not in ("add", "sub", "mul", "neg"):
                text = f"_live(lambda: {text})"
            out.append(self.decl(names[k], text, const=True))
        return out

    def _pre_name(self, loop: Loop, acc: str) -> str | None:
        return pre_name(loop, acc)

    def reverse(self, loop: Loop, acc: str, acc_bar: str, pre: str | None) -> list[str]:
        """Add the reduction's adjoint ``acc_bar`` into what its terms read."""
        names = self.local_names(loop)
        if self.vectorisable(loop):  # the forward's arrays are still there: no recomputation
            self.summed = f"({int(loop.hi) - int(loop.lo) + 1},) + points"
            try:
                return ["# vectorised adjoint: a scalar's adjoint sums over the terms"] + self.body_reverse(
                    loop, names, acc_bar
                )
            finally:
                self.summed = None
        out: list[str] = []
        run = self.fresh(acc + "_run")  # the adjoint of the running accumulator
        out.append(self.decl(run, acc_bar))
        body = self.body_forward(loop, names)
        t = self.ref_text(loop.root, names)
        tb = self.fresh("t_bar")
        if loop.kind == "sum":
            body.append(self.decl(tb, run, const=True))
        else:
            sg = SymGraph()
            prev, term, now = sg.atom("_L0_"), sg.atom("_L1_"), sg.atom("_L2_")
            s = self._combine(sg, loop.kind, prev, term)
            subs = {"_L0_": f"{pre}[{_offset(loop)}]", "_L1_": t, "_L2_": self.fresh("now")}
            now_text = self._print(sg, s, {**subs})
            dprev, dterm = self._combine_partials(sg, loop.kind, s, now, prev, term)
            runv = sg.atom("_L3_")
            subs["_L3_"] = run
            dt = self._print(sg, self._times(sg, runv, dterm), subs)
            dp = self._print(sg, self._times(sg, runv, dprev), subs)
            first = [f"{tb} = {run}"]
            rest = [f"{subs['_L2_']} = {now_text}", f"{tb} = {dt}", f"{run} = {dp}"]
            if self.lang == "c":
                body.append(f"double {tb};")
                body.append(f"if ({loop.var} == {loop.lo}) {{ {tb} = {run}; }}")
                body += self.block("else", [f"const double {rest[0]};", rest[1] + ";", rest[2] + ";"])
            else:
                body += self.block(f"if {loop.var} == {loop.lo}", first)
                body += self.block("else", rest)
        body += self.body_reverse(loop, names, tb)
        out += self.block(self.for_head(loop.var, loop.lo, loop.hi, True), self._void_unused(body))
        return out

    def _times(self, sg, a: Sym, p: Sym) -> Sym:
        if p.const_value() == 1.0:
            return a
        return sg.intern("mul", (a.i, p.i))

    def _combine_partials(self, sg, kind, s: Sym, now: Sym, prev: Sym, term: Sym):
        """The registry's partials of one fold step, with ans the step's value.
        logsumexp's step is prev + softplus(term - prev): the softplus rule's
        partial p gives (1 - p, p)."""
        if kind == "logsumexp":
            softplus = sg.sym(sg.args[s.i][1])
            p = self.partials(sg, softplus, softplus)[0]
            return sg.intern("sub", (sg.const(1.0).i, p.i)), p
        ps = self.partials(sg, s, now)
        return ps[0], ps[1]

    def body_reverse(self, loop: Loop, names: list[str], seed: str) -> list[str]:
        out: list[str] = []
        bar: dict[int, str] = {}
        root = loop.root
        if isinstance(root, Leaf):
            if root.bar is not None:
                out.append(self.leaf_add(root, seed))
            return out
        if isinstance(root, float):
            return out
        bar[root] = seed
        for k in range(len(loop.body) - 1, -1, -1):
            loc = loop.body[k]
            if k not in bar or not loc.varying:
                continue
            if loc.loop is not None:
                inner = loc.loop
                out += self.reverse(inner, names[k], bar[k], self._pre_name(inner, names[k]))
                continue
            sg = SymGraph()
            subs: dict[str, str] = {}
            args = [self._sym(sg, subs, a, names) for a in loc.args]
            s = sg.intern(loc.op, tuple(x.i for x in args), loc.param)
            own = sg.atom("_Lown_")
            subs["_Lown_"] = names[k]
            barsym = sg.atom("_Lbar_")
            subs["_Lbar_"] = bar[k]
            ps = self.partials(sg, s, own)
            for a, p in zip(loc.args, ps):
                if isinstance(a, float) or not self._is_varying(loop, a) or p.const_value() == 0:
                    continue
                pv = p.const_value()
                if pv == 1.0:
                    text = bar[k]
                elif pv == -1.0:
                    text = f"-{bar[k]}"
                elif (self.careful or self.blows(loc.op, loc.param)) and pv is None:
                    fn = "adcli_times" if self.lang == "c" else "_times"
                    text = f"{fn}({bar[k]}, {self._print(sg, p, subs)})"
                else:
                    text = self._print(sg, sg.intern("mul", (barsym.i, p.i)), subs)
                if self.guard:
                    text = f"_live(lambda: {text})"
                if isinstance(a, Leaf):
                    out.append(self.leaf_add(a, text))
                elif a in bar:
                    out.append(self.add_to(bar[a], text, False))
                else:
                    bar[a] = names[a] + "_bar"
                    out.append(self.decl(bar[a], text))
        return out

    def leaf_add(self, a: Leaf, text: str) -> str:
        """``a``'s adjoint += text; vectorised, a slice of an array or a sum into a scalar."""
        assert a.bar is not None
        if self.summed is None:
            return self.add_to(a.bar, text, a.array)
        sl = self.slices.get(id(a.bar))
        mod = "np" if self.lang == "numpy" else "jnp"
        if sl is not None:
            return self.add_to(sl, f"{mod}.broadcast_to({text}, {self.summed})", True)
        return self.add_to(a.bar, f"{mod}.sum({mod}.broadcast_to({text}, {self.summed}), axis=0)", a.array)

    def _is_varying(self, loop: Loop, a) -> bool:
        return loop.body[a].varying if isinstance(a, int) else _var(a)

    def _void_unused(self, lines: list[str]) -> list[str]:
        """C's -Wall: a recomputed value the sweep does not read is (void)-ed."""
        if self.lang != "c":
            return lines
        import re

        text = "\n".join(lines)
        out = []
        for ln in lines:
            out.append(ln)
            m = re.match(r"(\s*)(?:const )?double (\w+)(?: =|;)", ln)
            if (m and len(re.findall(rf"\b{m.group(2)}\b", text)) == 1) or re.match(r"\s*double \w+\[", ln):
                m = m or re.match(r"(\s*)double (\w+)\[", ln)
                assert m is not None
                out.append(f"{m.group(1)}(void){m.group(2)};")
        return out


def _offset(loop: Loop) -> str:
    """The term's position from 0: i - lo."""
    lo = loop.lo if loop.lo.lstrip("-").isdigit() else f"({loop.lo})"
    return loop.var if lo == "0" else f"{loop.var} - {lo}"


def _num(lang: str, v: float) -> str:
    return repr(float(v))


def _c_size(size: str) -> str:
    try:
        return str(max(1, eval(size, {"__builtins__": {}})))  # constant bounds: a literal
    except NameError:
        return f"({size}) > 0 ? ({size}) : 1"
