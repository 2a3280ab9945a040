"""Source text -> :class:`Graph`, in one LALR pass with no tree in between.

The Lark parser is built once (and cached on disk) with :class:`_Builder` as
its inline transformer: each grammar reduction appends to the graph directly,
so there is no parse tree to walk and nothing recurses however deep the
nesting. Lark's exceptions become located :class:`AdcliError` s.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from collections.abc import Container
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from .errors import INPUT, NAME, PARSE, AdcliError
from .graph import Graph, collector_paused
from .ops import CMP, CONSTANTS, FUNCTIONS, INFIX, SIGNED, VARIADIC
from .vectors import REDUCTIONS, Env, Expander, TemplateGraph

if TYPE_CHECKING:
    from pathlib import Path

_HERE = os.path.dirname(os.path.realpath(__file__))  # os.path, not pathlib: a cold start saves 4 ms
# Installed wheels carry the grammar inside the package; a source checkout
# (editable install) keeps it in the repository's grammar/ folder.
_GRAMMAR_CANDIDATES = tuple(os.path.join(d, "grammar", "adcli.lark") for d in (_HERE, os.path.dirname(_HERE)))


def grammar_path() -> Path:
    """The grammar file."""
    from pathlib import Path

    return Path(_grammar_file())


def _grammar_file() -> str:
    for p in _GRAMMAR_CANDIDATES:
        if os.path.isfile(p):
            return p
    raise FileNotFoundError("adcli.lark grammar not found next to the adcli package")


_INF = float("inf")
_WORDS = ("and", "or", "not")  # the lexer reads them as names where a condition cannot continue

_SUPERSCRIPTS = {"¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9", "⁰": "0"}


def _nonzero_digits(number: str) -> bool:
    """Whether a number's digits (before the exponent) are not all zeros."""
    return any(c in "123456789" for c in re.split("[eE]", number)[0])


class Scope(Protocol):
    """Names defined outside the text (a REPL session's definitions)."""

    @property
    def functions(self) -> Container[str]:
        """Names that may be called: f(1, 2)."""
        ...

    def enter(self, g: Graph) -> dict[str, int]:
        """Put the definitions the text uses into ``g``; their names -> node ids."""
        ...

    def call(self, g: Graph, name: str, args: list[int], span: tuple[int, int]) -> int:
        """``name(args)``, added to ``g``: the definition with its inputs replaced."""
        ...


class _Chain:
    """An operator chain being folded: its operands ``(node id, start, end)``
    and its pending operators ``(level, primitive or sign, sign's start)``."""

    __slots__ = ("ops", "vals")

    def __init__(self, vals: list, ops: list) -> None:
        self.vals, self.ops = vals, ops


class _Builder:
    """Grammar callbacks. Each returns ``(node id, start, end)`` for an expression."""

    def reset(self, source: str, scope: Scope | None = None, env: Env | None = None) -> None:
        self.g = TemplateGraph(source)
        self.source = source
        self.scope = scope
        self.steps: dict[str, int] = scope.enter(self.g) if scope is not None else {}
        self.result: tuple[list[int], list[tuple[int, int]]] | None = None
        self.vec = Expander(self.g, source, env)
        self.numbers: dict[str, int] = {}  # a number's text -> its node

    def _err(self, kind: str, message: str, start: int, end: int, hint: str | None = None) -> AdcliError:
        return AdcliError(kind, message, self.source, (start, end), hint=hint)

    # -- leaves ---------------------------------------------------------------

    def number(self, c):
        tok = c[0]
        text = tok.value
        i = self.numbers.get(text)
        if i is not None:  # checked and made already (a node per value)
            return (i, tok.start_pos, tok.end_pos)
        if not text.isascii():  # the lexer's \d also matches ٣ and １２, which float() would read
            k = next(k for k, ch in enumerate(str(tok)) if not ch.isascii())
            ascii_ = "".join(str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in str(tok))
            raise self._err(
                PARSE,
                f"{str(tok)[k]!r} is not an ASCII digit: numbers are written with 0-9",
                tok.start_pos + k,
                tok.end_pos,
                hint=f"write {ascii_}",
            )
        value = float(text)
        if value == _INF:
            raise self._err(PARSE, f"the number {tok} is too large for a double", tok.start_pos, tok.end_pos)
        if value == 0.0 and _nonzero_digits(text):
            raise self._err(
                PARSE,
                f"the number {tok} is too small for a double: it would be read as 0",
                tok.start_pos,
                tok.end_pos,
                hint="write 0 if you mean 0 (the smallest double is about 4.9e-324)",
            )
        s, e = tok.start_pos, tok.end_pos
        i = self.numbers[text] = self.g.const(value, text, (s, e))
        return (i, s, e)

    def _check_name(self, tok) -> None:
        """Names are letters, digits and _ (SPEC 1); the lexer's \\w also lets in
        superscripts and other numeric signs (x²), which are refused here."""
        text = tok.value
        if text.isascii() and text not in _WORDS:  # the lexer's NAME in ASCII is letters, digits and _
            return
        if text in _WORDS:
            raise self._err(
                PARSE,
                f"{tok} is a word of where's conditions, not a name",
                tok.start_pos,
                tok.end_pos,
                hint="and, or, not combine comparisons: where(x > 0 and y > 0, a, b)",
            )
        for k, ch in enumerate(str(tok)):
            if ch != "_" and unicodedata.category(ch)[0] not in "LM" and not ("0" <= ch <= "9" or ch.isdecimal()):
                pos = tok.start_pos + k
                sup = _SUPERSCRIPTS.get(ch)
                hint = f"write {str(tok)[:k]}^{sup}" if sup and k else "names are made of letters, digits and _"
                raise self._err(PARSE, f"unexpected character {ch!r} in the name {str(tok)!r}", pos, pos + 1, hint=hint)

    def name(self, c):
        tok = c[0]
        self._check_name(tok)
        s, e = tok.start_pos, tok.end_pos
        name = tok.value  # the plain str (str(tok) would copy it)
        i = self.steps.get(name)
        if i is not None:
            return (i, s, e)
        vec = self.vec
        if name in vec.loopvars:
            return (vec.loopvar(name, (s, e)), s, e)
        if vec.env.consts:
            c = vec.scalar_const(name, (s, e))
            if c is not None:
                return (c, s, e)
        if vec.vectors or vec.lists or vec.env.lengths:
            vec.bare_vector(name, (s, e), self.steps)
        if name in CONSTANTS:
            return (self.g.const(CONSTANTS[name], name, (s, e)), s, e)
        if name in FUNCTIONS:
            raise self._err(NAME, f"{name} is a function: call it as {name}(...)", s, e, hint=f"write {name}(x)")
        return (self.g.input(name, (s, e)), s, e)

    # -- operators ------------------------------------------------------------

    # An operator chain (grammar: ?sum) is folded by shunting-yard as the parser
    # reads it: an infix operator, reduced before its right operand is read, first
    # builds every pending operator that binds at least as tightly (more tightly,
    # for the right-associative ^), so nodes are made in the order a grammar with
    # a rule for each precedence level would make them. What stays pending is a
    # :class:`_Chain`, finished by the rule that takes the whole expression
    # (:meth:`_done`).

    def signed(self, c):
        signs, x = c
        return _Chain([x], [(SIGNED, t.type, t.start_pos) for t in signs])

    def infix(self, c):
        left, tok = c
        ch = left if left.__class__ is _Chain else _Chain([left], [])
        prim, level, right = INFIX[tok.type]
        ops = ch.ops
        while ops and (ops[-1][0] > level or (ops[-1][0] == level and not right)):
            self._build(ch)
        ops.append((level, prim, 0))
        return ch

    def chain(self, c):
        ch, x = c
        ch.vals.append(x)
        return ch

    def chain_signed(self, c):
        ch, signs, x = c
        ch.ops.extend((SIGNED, t.type, t.start_pos) for t in signs)
        ch.vals.append(x)
        return ch

    def signs(self, c):
        return c  # a fresh list from Lark: more_signs may append to it

    def more_signs(self, c):
        lst, tok = c
        lst.append(tok)
        return lst

    def _build(self, ch: _Chain) -> None:
        """Build the chain's last pending operator from its last operand(s)."""
        level, what, start = ch.ops.pop()
        vals = ch.vals
        x = vals.pop()
        if level != SIGNED:
            a = vals.pop()
            vals.append((self.g.apply(what, (a[0], x[0]), (a[1], x[2])), a[1], x[2]))
        elif what == "MINUS":
            vals.append((self.g.apply("neg", (x[0],), (start, x[2])), start, x[2]))
        else:  # a unary plus only widens the span
            vals.append((x[0], start, x[2]))

    def _done(self, x):
        """An expression as ``(node id, start, end)``, its chain folded."""
        if x.__class__ is not _Chain:
            return x
        while x.ops:
            self._build(x)
        return x.vals[0]

    def _pow(self, a, b):
        return (self.g.apply("pow", (a[0], b[0]), (a[1], b[2])), a[1], b[2])

    def paren(self, c):
        lp, x, rp = c
        return (self._done(x)[0], lp.start_pos, rp.end_pos)

    def bars(self, c):
        lb, x, rb = c
        x = self._done(x)
        s, e = lb.start_pos, rb.end_pos
        return (self.g.apply("abs", (x[0],), (s, e)), s, e)

    # -- where's condition: ("cond", kind, parts, start, end) -------------------

    def compared(self, c):
        a, op = c
        return (self._done(a), op.value)

    def compare(self, c):
        (a, op), b = c
        b = b if b.__class__ is not _Chain else self._done(b)
        return ("cond", "cmp", (op, a, b), a[1], b[2])

    def not_(self, c):
        tok, x = c
        return ("cond", "not", (x,), tok.start_pos, x[4])

    def cchain(self, c):
        a, op, b = c
        if op.type == "AND" and a[1] == "or":  # and binds tighter: it takes the or's right side
            lhs, rhs = a[2]
            return ("cond", "or", (lhs, ("cond", "and", (rhs, b), rhs[3], b[4])), a[3], b[4])
        return ("cond", "and" if op.type == "AND" else "or", (a, b), a[3], b[4])

    def cparen(self, c):
        lp, x, rp = c
        if x[1] == "or":  # closed: a later and takes no part of it
            return ("cond", "paren", (x,), lp.start_pos, rp.end_pos)
        return (*x[:3], lp.start_pos, rp.end_pos)

    def _where(self, cond, a: int, b: int, span) -> int:
        """``where(cond, a, b)`` as ``where`` nodes of single comparisons:
        ``c1 and c2`` is where(c1, where(c2, a, b), b), ``c1 or c2`` is
        where(c1, a, where(c2, a, b)), ``not c`` swaps the branches. An explicit
        stack, so a long chain of conditions does not recurse."""
        if cond[1] == "cmp":  # the usual single comparison
            cmp, lhs, rhs = cond[2]
            return self.g.apply("where", (lhs[0], rhs[0], a, b), span, cmp)
        results: list[int] = []
        todo: list[tuple] = [("build", cond, a, b)]
        while todo:
            task = todo.pop()
            if task[0] == "then":  # the inner where is built: it becomes one branch of c1
                _, c1, kind, other = task
                inner = results.pop()
                todo.append(("build", c1, *((inner, other) if kind == "and" else (other, inner))))
                continue
            _, c, a, b = task
            kind, parts = c[1], c[2]
            if kind == "cmp":
                cmp, lhs, rhs = parts
                results.append(self.g.apply("where", (lhs[0], rhs[0], a, b), span, cmp))
            elif kind == "not":
                todo.append(("build", parts[0], b, a))
            elif kind == "paren":
                todo.append(("build", parts[0], a, b))
            else:  # and: the inner where falls back to b; or: it is reached when c1 fails
                c1, c2 = parts
                todo.append(("then", c1, kind, b if kind == "and" else a))
                todo.append(("build", c2, a, b))
        return results.pop()

    def args(self, c):
        x = c[0]
        return [x if x.__class__ is not _Chain else self._done(x)]

    def more_args(self, c):
        lst, _, x = c
        lst.append(x if x.__class__ is not _Chain else self._done(x))  # _done inlined: one call an argument less
        return lst

    def call(self, c):
        tok, _, args, rp = c
        self._check_name(tok)
        args = args or []
        name = tok.value
        s, e = tok.start_pos, rp.end_pos
        if self.scope is not None and name in self.scope.functions:
            return (self.scope.call(self.g, name, [a[0] for a in args], (s, e)), s, e)
        arities = FUNCTIONS.get(name)
        if arities is None:
            if name in CONSTANTS or name in self.steps:
                hint = f"write {name}*(...) to multiply"
                raise self._err(NAME, f"{name} is not a function", s, tok.end_pos, hint=hint)
            import difflib  # only for this message

            close = difflib.get_close_matches(name, list(FUNCTIONS), n=3, cutoff=0.5)
            hint = "did you mean " + " or ".join(close) + "?" if close else "see `adcli --help` for the functions"
            raise self._err(NAME, f"unknown function {name}", s, tok.end_pos, hint=hint)
        if name in VARIADIC and args:
            ids = [a[0] for a in args if a[0] != "cond"]
            if len(args) == 1 and len(ids) == 1:
                one = ids[0] if name != "hypot" else self.g.apply("abs", (ids[0],), (s, e))
                return (one, s, e)
            arities = (len(args),)
        if len(args) not in arities:
            want = "1 or more" if name in VARIADIC else " or ".join(str(k) for k in arities)
            plural = "s" if arities[-1] != 1 else ""
            raise self._err(
                PARSE,
                f"{name} takes {want} argument{plural}, got {len(args)}",
                s,
                e,
            )
        for k, a in enumerate(args):
            if a[0] == "cond" and not (name == "where" and k == 0):
                what = f"a comparison ({a[2][0]})" if a[1] == "cmp" else "a condition"
                raise self._err(PARSE, f"{what} is only allowed as the first argument of where(...)", a[3], a[4])
        if name == "where":
            cond = args[0]
            if cond[0] != "cond":
                raise self._err(
                    PARSE,
                    "the first argument of where must be a comparison",
                    cond[1],
                    cond[2],
                    hint="write where(x > 0, a, b)",
                )
            return (self._where(cond, args[1][0], args[2][0], (s, e)), s, e)
        if name == "pow":
            return self._pow(args[0], args[1])
        if name == "polygamma":
            n, x = args
            order = self.g.nodes[n[0]].param if self.g.is_const(n[0]) else -1.0
            if order < 0 or not float(order).is_integer():
                hint = "write polygamma(1, x) for the trigamma function"
                raise self._err(
                    PARSE, "the order n of polygamma(n, x) must be a whole constant >= 0", n[1], n[2], hint=hint
                )
            return (self.g.apply("polygamma", (x[0],), (s, e), order), s, e)
        if name in VARIADIC and len(args) > 2:
            return (self.g.fold(name, [a[0] for a in args], (s, e)), s, e)
        if name == "log" and len(args) == 2:
            name = "logb"
        return (self.g.apply(name, tuple(a[0] for a in args), (s, e)), s, e)

    # -- vectors and reductions (adcli/vectors.py) ------------------------------

    def index(self, c):
        tok, _, idx, rb = c
        idx = self._done(idx)
        self._check_name(tok)
        span = (tok.start_pos, rb.end_pos)
        return (self.vec.index(str(tok), idx[0], span, (idx[1], idx[2]), self.steps), span[0], span[1])

    def length(self, c):
        ltok, _, tok, rp = c
        span = (ltok.start_pos, rp.end_pos)
        return (self.vec.length(str(tok), span), span[0], span[1])

    def _range(self, c, kind: str):
        """The parts of ``kind(body for var=lo..hi)`` -> one node."""
        head, _, body, var, lo, _, hi, close = c
        lo, hi = self._done(lo), self._done(hi)
        self._check_name(var)
        s, e = head.start_pos, close.end_pos
        name = str(var)
        if name in self.steps or name in CONSTANTS or name in FUNCTIONS:
            raise self._err(PARSE, f"the loop variable {name} is already a name", var.start_pos, var.end_pos)
        spans = ((s, e), (body[1], body[2]), (lo[1], lo[2]), (hi[1], hi[2]))
        return self.vec.reduce(kind, name, lo[0], hi[0], body[0], spans, {}), s, e

    def reduce(self, c):
        tok = c[0]
        name = str(tok)
        if name not in REDUCTIONS:
            raise self._err(
                PARSE,
                f"{name}(... for ...) is not a reduction",
                tok.start_pos,
                tok.end_pos,
                hint="the reductions are " + ", ".join(REDUCTIONS),
            )
        i, s, e = self._range(c, name)
        return (i, s, e)

    def body(self, c):
        return self._done(c[0])

    def listcomp(self, c):
        i, s, e = self._range([c[0], *c], "list")
        return ("list", i, s, e)

    def assign_list(self, c):
        tok, lst = c
        self.assign((tok, (lst[1][0], lst[2], lst[3])), items=lst[1])  # lists are never empty

    # -- program --------------------------------------------------------------

    def assign(self, c, items: list[int] | None = None):
        tok, x = c
        x = self._done(x)
        self._check_name(tok)
        name = str(tok)
        s, e = tok.start_pos, tok.end_pos
        if name in CONSTANTS or name in FUNCTIONS:
            what = "constant" if name in CONSTANTS else "function"
            raise self._err(PARSE, f"cannot assign to the {what} {name}", s, e, hint="choose another name")
        if name in self.steps or name in self.vec.lists:
            raise self._err(PARSE, f"{name} is assigned twice", s, e, hint="give each step its own name")
        if ("input", (), name) in self.g.index or name in self.vec.vectors:
            raise self._err(PARSE, f"{name} is used before it is assigned", s, e)
        if name in self.vec.loopvars or name in self.vec.env.consts:
            what = "a loop variable" if name in self.vec.loopvars else "a constant"
            raise self._err(PARSE, f"{name} is {what}: it cannot be assigned", s, e, hint="choose another name")
        if items is not None:
            for k, i in enumerate(items, 1):
                self.vec.check_closed(i, (s, e))
                node = self.g.nodes[i]
                if node.name is None and not node.is_leaf:
                    node.name = f"{name}[{k}]"
            self.vec.lists[name] = items
            return
        self.vec.check_closed(x[0], (x[1], x[2]))
        self.steps[name] = x[0]
        node = self.g.nodes[x[0]]
        if node.name is None and not node.is_leaf:
            node.name = name

    def outputs(self, c):
        return [self._done(c[0])]

    def more_outputs(self, c):
        lst, _, x = c
        lst.append(self._done(x))
        return lst

    def start(self, c):
        outs = []
        for o in c[-1]:
            if o[0] == "list":  # a list is several outputs
                outs.extend((i, o[2], o[3]) for i in o[1])
            else:
                outs.append(o)
        for o in outs:
            self.vec.check_closed(o[0], (o[1], o[2]))
        if not outs:
            raise self._err(PARSE, "the list is empty: the expression has no outputs", 0, len(self.source))
        self.vec.order_inputs()
        self.g.free = {}  # templates are all expanded: the graph is plain from here on
        self.g.__dict__.pop("apply", None)
        self.result = ([o[0] for o in outs], [(o[1], o[2]) for o in outs])
        named = [self.source[o[1] : o[2]] for o in outs]
        if len(set(named)) == len(named) and all(n in self.steps for n in named):
            self.g.output_labels = named  # grad g: g and ∂g/∂x; jacobian f, g: rows f and g


def _cache_path(grammar: str, version: str) -> str | None:
    """Where Lark keeps the analysed grammar between runs (XDG cache dir).

    The file is named after the grammar's hash, so checkouts with different
    grammars do not keep rebuilding one file; Lark also checks the hash stored
    inside, so a stale or damaged cache is rebuilt, never used. An unwritable
    directory just means no cache."""
    import hashlib

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "adcli")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    digest = hashlib.sha256(grammar.encode("utf-8")).hexdigest()[:16]
    return os.path.join(folder, f"parser-{digest}-lark{version}.cache")


@lru_cache(maxsize=1)
def _parser():
    """The LALR parser of grammar/adcli.lark through Lark's public API, with
    :class:`_Builder` inlined as its transformer. Lark's ``cache=`` keeps the
    analysed tables on disk, so a cold start loads them instead of compiling
    the grammar."""
    import lark

    from .lexer import OneRegexLexer

    builder = _Builder()
    with open(_grammar_file(), encoding="utf-8") as f:
        grammar = f.read()
    cache = _cache_path(grammar, lark.__version__)
    parser = lark.Lark(
        grammar,
        parser="lalr",
        lexer=OneRegexLexer,
        maybe_placeholders=True,
        transformer=builder,
        cache=cache if cache is not None else False,
    )
    return parser, builder


# Terminal names -> what a person would call them, for "expected ..." messages.
_TERMINALS = {
    "NUMBER": "a number",
    "NAME": "a name",
    "LPAR": "'('",
    "RPAR": "')'",
    "BAR": "'|'",
    "AND": "'and'",
    "OR": "'or'",
    "NOT": "'not'",
    "MINUS": "'-'",
    "PLUS": "'+'",
    "POW": "'^'",
    "COMMA": "','",
    "SEMICOLON": "';'",
    "EQUAL": "'='",
    "STAR": "'*'",
    "SLASH": "'/'",
    "CMP": "a comparison",
    "LSQB": "'['",
    "RSQB": "']'",
    "DOTS": "'..'",
    "FOR": "'for'",
    "LEN": "'len'",
    "_NL": "a new line",
    "$END": "the end of the input",
}
_OPERAND = {"NUMBER", "NAME", "LPAR", "MINUS", "PLUS", "BAR"}


_BINARY = {"STAR", "SLASH", "POW"}


def _describe_expected(expected: set[str]) -> str:
    """What may come next, in words. After a complete operand LALR accepts every
    operator and every closer that any enclosing context might need; say
    "an operator" for the lot instead of listing them."""
    expected = set(expected) - {"_NL"}
    if expected >= _OPERAND:
        # len(...) and a list [...] start an expression too
        parts = ["an expression"] + sorted(_TERMINALS.get(t, t) for t in expected - _OPERAND - {"LEN", "LSQB"})
    elif expected >= _BINARY or (expected & {"PLUS", "MINUS"} and not expected & {"NUMBER", "NAME", "LPAR"}):
        # after a complete operand (LALR may have reduced it to a sum already,
        # leaving only '+' and '-' in its expected set): any operator may follow
        closers = [_TERMINALS[t] for t in ("RPAR", "RSQB", "COMMA", "DOTS", "BAR") if t in expected]
        parts = ["an operator"] + closers
        if "$END" in expected:
            parts.append("the end of the input")
    else:
        parts = sorted(_TERMINALS.get(t, t) for t in expected)
    if len(parts) > 1:
        return ", ".join(parts[:-1]) + " or " + parts[-1]
    return parts[0] if parts else "something else"


def parse(
    source: str, label: str = "expression", scope: Scope | None = None, finalize: bool = True, env: Env | None = None
) -> Graph:
    """Parse ``source`` into a finalized :class:`Graph`; names in ``scope`` refer to
    its definitions, ``env`` gives vector lengths and constants (adcli/vectors.py).
    Unfinalized, the graph keeps its node ids and names only inputs and steps
    (what splicing it into another graph needs)."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

    if not source.strip() or not re.sub(r"#[^\n]*", "", source).strip():  # blank, or only comments
        raise AdcliError(PARSE, f"empty {label}", source, (0, 0), label=label)
    lark, builder = _parser()
    with collector_paused():  # a deep parse makes millions of objects and no cycles
        try:
            builder.reset(source, scope, env)
            lark.parse(source)
            g = builder.g
            assert builder.result is not None
            outs, spans = builder.result
            if finalize:
                g.finalize(outs, spans)  # with the collector still off: it rebuilds every node's args
            else:
                g.outputs, g.output_spans = outs, spans
        except VisitError as exc:  # pragma: no cover - callbacks raise AdcliError directly
            raise exc.orig_exc from None
        except AdcliError as exc:
            if exc.source is None or exc.source == source:  # not one raised in a definition it uses
                exc.label = label
            raise
        except UnexpectedCharacters as exc:
            pos = exc.pos_in_stream or 0
            ch = source[pos]
            raise AdcliError(
                PARSE,
                f"unexpected character {ch!r}",
                source,
                (pos, pos + 1),
                label=label,
                hint=_char_hint(ch),
            ) from None
        except UnexpectedToken as exc:
            raise _token_error(exc, source, label) from None
        except UnexpectedInput as exc:  # pragma: no cover - other lark input errors
            pos = getattr(exc, "pos_in_stream", None) or len(source)
            raise AdcliError(PARSE, "cannot parse this", source, (pos, pos + 1), label=label) from None
    builder.reset("")  # release the graph held by the shared builder
    return g


def _char_hint(ch: str) -> str | None:
    return {
        "{": "use ( ) for grouping",
        "×": "write * for multiplication",
        "·": "write * for multiplication",
        "÷": "write / for division",
        "−": "write - (ASCII minus)",
        "'": "names are written without quotes",
        "!": "there is no factorial operator"
        + ("; for x! write gamma(x + 1)" if "gamma" in FUNCTIONS else "")
        + " (!= compares, inside where)",
        '"': "names are written without quotes",
    }.get(ch)


def _token_error(exc, source: str, label: str) -> AdcliError:
    tok = exc.token
    expected = set(exc.expected)
    if tok.type == "$END":
        pos = len(source.rstrip())
        what = "unexpected end of input"
        span = (pos, pos + 1)
    else:
        pos = tok.start_pos
        # show the token as the user typed it ('**', '<='), a new line by name
        what = "unexpected new line" if tok.type == "_NL" else f"unexpected {str(tok)!r}"
        span = (pos, max(tok.end_pos, pos + 1))
    hint = None
    prev = exc.token_history[-1] if getattr(exc, "token_history", None) else None
    if tok.type in ("NAME", "NUMBER", "LPAR") and prev is not None and prev.type in ("NUMBER", "NAME", "RPAR"):
        a, b = str(prev), str(tok)
        span = (prev.start_pos, max(tok.end_pos, prev.end_pos))
        if prev.type == "NAME" and a in FUNCTIONS and tok.type != "LPAR":
            return AdcliError(
                PARSE,
                f"{a} is a function: its argument goes in parentheses",
                source,
                span,
                hint=f"write {a}({b})",
                label=label,
            )
        if prev.type == "NUMBER" and re.fullmatch(r"_[\d_]*", b) and prev.end_pos == tok.start_pos:
            return AdcliError(
                PARSE,
                f"digit separators are not supported: {a}{b}",
                source,
                span,
                hint=f"write {a}{b.replace('_', '')}",
                label=label,
            )
        call = "(...)" if b in FUNCTIONS else ""
        hint = f"implicit multiplication is not supported: write {a}*{b}{call}"
        return AdcliError(PARSE, f"missing operator between {a!r} and {b!r}", source, span, hint=hint, label=label)
    last = re.split(r"[;\n]", source.rstrip())[-1]
    if tok.type == "$END" and re.match(r"\s*[^\W\d]\w*\s*=(?!=)", last):
        name = last.split("=")[0].strip()
        return AdcliError(
            PARSE,
            "the program ends with an assignment: a program ends with its output expression",
            source,
            span,
            hint=f"add the output after a ';', e.g. {last.strip()}; {name}^2",
            label=label,
        )
    if tok.type == "EQUAL" or str(tok) == "=":
        hint = "write == to compare (inside where), or name a step as: name = expression; output"
    elif tok.type == "CMP":
        hint = "a comparison is only allowed as the condition of where(cond, a, b)"
    elif tok.type in ("AND", "OR", "NOT"):
        hint = "and, or, not combine comparisons in the condition of where(cond, a, b)"
    elif tok.type in ("$END", "RPAR", "COMMA", "_NL") and "BAR" in expected and "NUMBER" not in expected:
        hint = "a | is left open: |x| is abs(x)"
    elif tok.type == "BAR":
        hint = "|x| is abs(x): this | closes none that is open"
    msg = f"{what}; expected {_describe_expected(expected)}"
    return AdcliError(PARSE, msg, source, span, hint=hint, label=label)


# A signed number exactly as the grammar's NUMBER writes it (ASCII digits only).
_PLAIN_NUMBER = re.compile(r"[ \t]*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t]*\Z")


def parse_constant(text: str, label: str) -> float:
    """A value such as ``pi/4`` in ``--at x=pi/4``: an expression with no inputs."""
    if _PLAIN_NUMBER.match(text):  # fast path: 100,000 plain values need no parser
        value = float(text)
        if math.isfinite(value) and (value != 0.0 or not _nonzero_digits(text)):
            return value + 0.0  # -0.0 -> 0.0, as the parser's constants
    g = parse(text, label=label)
    if g.inputs:
        name = g.nodes[g.inputs[0]].name
        s, e = g.nodes[g.inputs[0]].span
        raise AdcliError(NAME, f"a value must be a constant, but it uses the name {name}", text, (s, e), label=label)
    if len(g.outputs) != 1:
        raise AdcliError(PARSE, "a value must be a single number", text, (0, len(text)), label=label)
    node = g.nodes[g.outputs[0]]
    if not node.op.constant:  # a constant that overflows is left unfolded (graph.apply)
        raise AdcliError(
            INPUT,
            f"{text.strip()} overflows: a value must be a finite number",
            text,
            node.span,
            label=label,
            hint="the largest double is about 1.8e308",
        )
    return float(node.param)


__all__ = ["CMP", "grammar_path", "parse", "parse_constant"]


def constant_at(source: str, start: int, end: int, label: str, what: str) -> float:
    """The constant written at ``source[start:end]`` (an --at value, a --dir
    entry); an error in it is anchored in the whole ``source`` text."""
    try:
        return parse_constant(source[start:end], label=what)
    except AdcliError as exc:
        if exc.span is not None:
            exc.span = (start + exc.span[0], start + exc.span[1])
        else:
            exc.span = (start, max(end, start + 1))
        exc.source, exc.label = source, label
        raise
