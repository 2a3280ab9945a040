"""The interactive session (SPEC section 5): definitions, a current point, an
engine mode, and every command of the registry, run by the registry's own code.

How a line is routed
--------------------
* ``f = EXPR`` / ``f(x1, x2) = EXPR`` store a definition, parsed at once into
  a graph (:mod:`adcli.definitions`); later lines splice that graph into
  theirs, so a line costs what it uses, not the number of definitions.
* A session command (``at``, ``mode``, ``vars``, ``clear``, ``reset``, ``help``
  or ``?``, ``quit``) comes from :data:`REPL_COMMANDS`, a table filled by the
  :func:`repl_command` decorator (litecli style). Handlers return a
  :class:`Reply`; they never print.
* A first word that names a command of :data:`adcli.commands.COMMANDS` runs
  that command's run function with a :class:`SessionSource`: the expression
  is parsed against the definitions, the point comes from the session as
  numbers, the options are read from the line by the command's own option
  table. Output and errors are the CLI's; error positions are on the line typed.
* Anything else is an expression: it runs ``grad`` at the current point.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from .commands import COMMANDS, Command, Out, Source, defaults, guarded
from .definitions import Definition, Scope, build, refresh
from .errors import INPUT, INTERRUPTED, NAME, OK, PARSE, USAGE, AdcliError
from .ops import CONSTANTS, FUNCTIONS

PROMPT = "adcli> "
CONTINUATION = "   ... "
MODES = ("reverse", "forward")

_NAME = r"[^\W\d]\w*"
_NAME_RE = re.compile(_NAME)
_TOKEN_RE = re.compile(r"(?P<num>(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)|(?P<name>" + _NAME + r")|(?P<comment>#.*)")
_DEF_RE = re.compile(r"\s*(" + _NAME + r")\s*(?:\(([^()]*)\))?\s*=(?!=)")
_FIRST_WORD_RE = re.compile(r"\s*(" + _NAME + r")(?=\s|$)")
_POINT_ITEM_AHEAD = re.compile(r"\s*" + _NAME + r"\s*=(?!=)")


@dataclass
class Reply:
    """What a handler gives back: text for stdout, an exit code, whether to leave."""

    text: str = ""
    code: int = 0
    quit: bool = False


@dataclass
class Line:
    """One input line and how errors in it are located (``input``, ``stdin, line 3``)."""

    text: str
    label: str = "input"


def names_in(text: str) -> list[str]:
    """The names in an expression, in order (numbers such as ``1e5`` and comments skipped)."""
    return [m.group("name") for m in _TOKEN_RE.finditer(text) if m.group("name")]


_CALLED = re.compile(r"(" + _NAME + r")\s*\(")


def used_names(text: str) -> set[str]:
    """The names ``text`` uses as values; ``f`` in ``f(1, 2)`` only calls ``f``."""
    called = [m.start(1) for m in _CALLED.finditer(text)]
    starts = {m.start("name"): m.group("name") for m in _TOKEN_RE.finditer(text) if m.group("name")}
    return {n for k, n in starts.items() if k not in set(called)}


def _padded(text: str, start: int) -> str:
    """``text`` placed at column ``start``: spans into it are spans into the line."""
    return " " * start + text


class Session:
    """Definitions (as graphs), the current point (as numbers) and the engine mode;
    runs one line at a time."""

    def __init__(self, commands: dict[str, Command] | None = None) -> None:
        self.commands = {n: c for n, c in (commands or COMMANDS).items() if c.repl}
        self.defs: dict[str, Definition] = {}
        self.order: dict[str, int] = {}  # definition order (a redefinition keeps its place)
        self.users: dict[str, set[str]] = {}  # name -> the definitions that mention it
        self.point: dict[str, float] = {}
        self.point_texts: dict[str, str] = {}  # as typed (x=pi/4), for vars and the toolbar
        self.consts: dict[str, Any] = {}  # const t = [...]: never inputs, never differentiated
        self.const_texts: dict[str, str] = {}
        self._env_key: Any = None
        self.mode = "reverse"
        self.mode_set = False  # until `mode ...`, each command keeps its own default engine
        self.confirm: Callable[[str], bool] = lambda question: True  # scripts do not ask
        self.clear_screen: Callable[[], None] = _clear_terminal

    # -- the command registry -----------------------------------------------------

    def command_names(self) -> list[str]:
        return list(self.commands)

    @staticmethod
    def option_names(cmd: Command) -> list[str]:
        return cmd.flags()

    def run_entry(self, cmd: Command, opts: Any, src: SessionSource) -> int:
        """Run one registry command (tests replace this to see what a line asks for)."""
        return guarded(lambda: cmd.run(opts, src, Out()), bool(getattr(opts, "as_json", False)))

    # -- definitions ------------------------------------------------------------

    def define(self, m: re.Match, line: Line) -> Reply:
        text = line.text
        name, params_text = m.group(1), m.group(2)
        name_span = m.span(1)
        body_start = m.end()
        body = text[body_start:].strip()
        body_start += len(text[body_start:]) - len(text[body_start:].lstrip())

        def err(kind, message, span=None, hint=None):
            return AdcliError(kind, message, text, span or name_span, hint=hint, label=line.label)

        if params_text is None and body:
            self._reject_point_assignment(text, line)
        if name in FUNCTIONS or name in CONSTANTS:
            what = "function" if name in FUNCTIONS else "constant"
            raise err(PARSE, f"cannot define {name}: it is a {what}", hint="choose another name")
        if name in REPL_COMMANDS or name in self.commands or name in COMMANDS:
            raise err(PARSE, f"cannot define {name}: it is a command", hint="choose another name")
        owner = self.declared_params().get(name)
        if owner is not None and owner != name:
            decl = self.defs[owner]
            raise err(
                NAME, f"{name} is an input of {decl.name}({', '.join(decl.params or ())})", hint="choose another name"
            )
        params, pspans = self._params(params_text, m.start(2), line) if params_text is not None else (None, ())
        if not body:
            raise err(PARSE, f"nothing after {name} =", (m.end() - 1, m.end()), hint=f"write {name} = x^2, say")
        sep = _top_level_separator(body)
        if sep >= 0:
            k = body_start + sep
            raise err(PARSE, "a definition is a single expression", (k, k + 1), hint="define each step on its own line")
        pieces = _split_top(body)
        if len(pieces) > 1:
            k = body_start + pieces[1][1] - 1
            raise err(
                PARSE,
                "a definition is a single expression",
                (k, k + 1),
                hint=f"define each output by itself, then: jacobian {name}1, {name}2",
            )
        refs = frozenset(names_in(body))
        if name in used_names(body):
            k = body_start + _find_name(body, name)
            raise err(
                NAME,
                f"{name} refers to itself",
                (k, k + len(name)),
                hint="a definition may use earlier ones; give the new one another name",
            )
        via = self._depends_on(used_names(body), name)
        if via is not None:
            k = body_start + _find_name(body, via)
            raise err(
                NAME,
                f"{name} would depend on itself through {via}",
                (k, k + len(via)),
                hint="a definition may use earlier ones, but not the other way round as well",
            )
        d = Definition(name, params, body, text, body_start, line.label, pspans, refs, used=frozenset(used_names(body)))
        order = self.order if name in self.order else {**self.order, name: len(self.order)}
        env = self.env()
        refresh(refs, self.defs, order, env)
        build(d, self.defs, order, env)  # raises before anything changes
        old = self.defs.get(name)
        self.defs[name] = d
        self.order = order
        for r in old.refs if old is not None else ():
            self.users.get(r, set()).discard(name)
        for r in refs:
            self.users.setdefault(r, set()).add(name)
        self._stale_users(name)
        return Reply()

    def _depends_on(self, names: Iterable[str], name: str) -> str | None:
        """The first of ``names`` whose definition uses ``name``, directly or not."""
        for first in names:
            stack, seen = [first], set()
            while stack:
                n = stack.pop()
                if n == name:
                    return first
                if n in seen or n not in self.defs:
                    continue
                seen.add(n)
                stack.extend(self.defs[n].used)
        return None

    def _stale_users(self, name: str) -> None:
        """The definitions that use ``name`` (directly or not) are rebuilt when next used."""
        stack = list(self.users.get(name, ()))
        seen: set[str] = set()
        while stack:
            n = stack.pop()
            if n in seen or n not in self.defs:
                continue
            seen.add(n)
            self.defs[n].graph = None
            stack.extend(self.users.get(n, ()))

    def forget(self, name: str) -> None:
        d = self.defs.pop(name)
        self.order.pop(name)
        for r in d.refs:
            self.users.get(r, set()).discard(name)
        self._stale_users(name)

    def declared_params(self) -> dict[str, str]:
        return {p: d.name for d in self.defs.values() for p in (d.params or ())}

    def _reject_point_assignment(self, text: str, line: Line) -> None:
        """``x1 = 1`` (or ``x1 = 1, x2 = 2``) gives values, not a formula: say how to set a point."""
        from . import core

        try:
            items = core.parse_point(text.strip())
        except AdcliError:
            return
        stripped = text.strip()
        lead = len(text) - len(text.lstrip())
        at = ", ".join(f"{n}={_value_text(stripped, span)}" for n, (_, span) in items.items())
        raise AdcliError(
            INPUT,
            f"{stripped} gives a value, not a formula: the point is set with at",
            text,
            (lead, lead + len(stripped)),
            hint=f"write: at {at}",
            label=line.label,
        )

    def _params(self, params_text: str, start: int, line: Line) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
        out: list[str] = []
        spans: list[tuple[int, int]] = []
        for piece, off in _split_top(params_text):
            p = piece.strip()
            k = start + off + len(piece) - len(piece.lstrip())
            span = (k, k + max(len(p), 1))
            if not re.fullmatch(_NAME, p):
                raise AdcliError(
                    PARSE,
                    f"{p!r} is not an input name" if p else "empty input name",
                    line.text,
                    span,
                    hint="write f(x1, x2) = ...",
                    label=line.label,
                )
            if p in out:
                raise AdcliError(PARSE, f"{p} is listed twice", line.text, span, label=line.label)
            if p in FUNCTIONS or p in CONSTANTS or p in self.defs:
                what = "a function" if p in FUNCTIONS else "a constant" if p in CONSTANTS else "defined"
                raise AdcliError(
                    NAME,
                    f"{p} cannot be an input: it is {what}",
                    line.text,
                    span,
                    hint="choose another name",
                    label=line.label,
                )
            out.append(p)
            spans.append(span)
        return tuple(out), tuple(spans)

    # -- graphs and the point -------------------------------------------------------

    def env(self):
        """What texts are read with (vectors.Env): the session's constants and the
        lengths of the vectors in the point (x[1], x[2]... give len(x)). When it
        changes, definitions read with the old one are rebuilt on next use."""
        from .vectors import Env

        lengths = {n: len(v) for n, v in self.point.items() if isinstance(v, list)}
        key = (tuple(sorted(lengths.items())), tuple(sorted((n, repr(v)) for n, v in self.consts.items())))
        if key != self._env_key:
            for d in self.defs.values():
                d.graph = None
            self._env_key = key
        return Env(lengths, dict(self.consts))

    def graph_of(self, text: str, start: int, line: Line):
        """The graph of ``text``, written at column ``start`` of the line, over the definitions."""
        from .parse import parse

        padded = _padded(text, start)
        env = self.env()
        refresh(names_in(text), self.defs, self.order, env)
        scope = Scope(self.defs, self.order, wanted=used_names(text), env=env)
        try:
            g = parse(padded, label=line.label, scope=scope, env=env)
        except AdcliError as exc:
            if exc.source == padded:
                exc.source = line.text
            raise
        g.source, g.display = line.text, text
        return g

    def parse_at(self, text: str, offset: int, line: Line, label: str = "at") -> dict[str, tuple[float, str, tuple]]:
        """``x1=1, x2=pi/4`` at ``offset`` of the line -> {name: (value, text, span in the line)}."""
        from . import core

        padded = _padded(text, offset)
        try:
            items = core.parse_point(padded, label=label)
        except AdcliError as exc:
            if exc.source == padded:
                exc.source, exc.label = line.text, line.label
            raise
        return {n: (v, _value_text(padded, span), span) for n, (v, span) in items.items()}  # type: ignore[misc]

    def point_text(self, sep: str = ", ") -> str:
        return sep.join(f"{n}={v}" for n, v in self.point_texts.items())

    def known_inputs(self) -> list[str]:
        seen: dict[str, None] = {}
        for d in self.defs.values():
            for n in d.inputs:
                seen.setdefault(n)
        for n in self.point:
            seen.setdefault(n)
        return list(seen)

    # -- running a line -------------------------------------------------------

    def execute(self, line: Line) -> Reply:
        """Run one line; print its output and its error, if any. Never raises."""
        reply = Reply()

        def action() -> int:
            nonlocal reply
            reply = self.dispatch(line)
            return reply.code

        code = guarded(action, False)
        if code and not reply.code:
            reply = Reply(code=code)
        if reply.text:
            sys.stdout.write(reply.text + "\n")
        sys.stdout.flush()
        sys.stderr.flush()
        return reply

    def dispatch(self, line: Line) -> Reply:
        text = line.text
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            return Reply()
        if stripped.startswith("?"):
            k = text.index("?") + 1
            rest = text[k:]
            return _help(self, rest.strip(), k + len(rest) - len(rest.lstrip()), line)
        m = _DEF_RE.match(text)
        if m:
            return self.define(m, line)
        first = _FIRST_WORD_RE.match(text)
        if first:
            word = first.group(1)
            rest_at = first.end()
            if word in REPL_COMMANDS:
                rest = text[rest_at:]
                lead = len(rest) - len(rest.lstrip())
                return REPL_COMMANDS[word].handler(self, rest.strip(), rest_at + lead, line)
            if word in self.commands:
                return self.run_command(word, rest_at, line)
            if word == "repl":
                raise AdcliError(USAGE, "you are in the REPL already", hint="`help` lists what you can do here")
            if word not in self.defs and word not in FUNCTIONS and word not in CONSTANTS:
                after = text[rest_at:].lstrip()
                close = difflib.get_close_matches(word, self.command_names() + list(REPL_COMMANDS), n=2, cutoff=0.75)
                if after and (after[0].isalnum() or after[0] in "(_") and close:
                    s = first.start(1)
                    raise AdcliError(
                        USAGE,
                        f"unknown command {word}",
                        text,
                        (s, s + len(word)),
                        hint="did you mean " + " or ".join(close) + "?",
                        label=line.label,
                    )
        return self.run_command("grad", 0, line)

    def run_command(self, name: str, start: int, line: Line) -> Reply:
        """Run the registry's ``name`` on the rest of the line (from ``start``)."""
        cmd = self.commands[name]
        expr, expr_start, at_text, at_offset, tokens = split_command(line.text, start, line)
        values, explicit, wants_help = parse_options(cmd, tokens, line)
        if wants_help:
            return Reply(self.command_help(name))
        if expr == "-":
            raise AdcliError(USAGE, "in the REPL, type the expression itself (- would read the session's input)")
        line_point: dict[str, tuple[float, str, tuple]] = {}
        if at_text is not None:
            at_span = (at_offset, at_offset + max(len(at_text), 1))
            if not cmd.has("--at"):
                raise AdcliError(USAGE, f"{name} takes no point", line.text, at_span, label=line.label)
            if explicit & {"at", "points"}:
                raise AdcliError(USAGE, "give the point once: at ... or --at", line.text, at_span, label=line.label)
            line_point = self.parse_at(at_text, at_offset, line)
        if "at" in explicit:
            text, off = values.pop("at"), tokens_value_offset(tokens, "--at")
            line_point = self.parse_at(text, off, line, label="--at")
            explicit.discard("at")
        opts = cmd.options(**{**defaults(cmd), **values, **({"expr": expr} if cmd.takes_expression else {})})
        src = SessionSource(self, line, expr_start, line_point, explicit)
        return Reply(code=self.run_entry(cmd, opts, src))

    # -- help -----------------------------------------------------------------

    def help_text(self) -> str:
        names = self.command_names()
        width = max([len(n) for n in names] + [8])
        lines = ["Commands (the same as `adcli COMMAND` on the command line; `help COMMAND` shows options):"]
        for n in names:
            lines.append(f"  {n:<{width}}  {_clip(self.commands[n].summary, 72 - width)}")
        lines += [
            "",
            "  Write them as:  grad EXPR [at x1=1, x2=2] [--option ...]",
            "  A line that is just an expression shows its value and gradient (grad) at the current point.",
            "",
            "Session:",
        ]
        entries = [(u, s) for u, s in SYNTAX] + [(c.usage, c.summary) for c in _unique(REPL_COMMANDS.values())]
        w = max(len(u) for u, _ in entries)
        lines += [f"  {u:<{w}}  {s}" for u, s in entries]
        lines += [
            "",
            "Keys: Tab completes, Up/Down recall history, Ctrl-C cancels the line, Ctrl-D leaves;",
            "an open bracket continues the line on the next.",
        ]
        return "\n".join(lines)

    def command_help(self, name: str) -> str:
        """The command's help from the registry, written the way the REPL takes it."""
        import textwrap

        cmd = self.commands[name]
        at = " [at x1=1, x2=2]" if cmd.has("--at") else ""
        expr = " EXPR" if cmd.takes_expression else ""
        lines = [f"{name}{expr}{at} [OPTIONS]", "", textwrap.dedent("    " + cmd.help.strip()).rstrip(), "", "Options:"]
        rows = []
        for _, tp, m in cmd.specs():
            if not m.flags:
                continue
            kind = _kind(tp)
            head = ", ".join(m.flags) + ("" if kind is bool else f" {kind.__name__.upper()}")
            default = defaults(cmd)[next(f for f, _, mm in cmd.specs() if mm is m)]
            tail = f" [default: {default}]" if m.show_default and kind is not bool else ""
            rows.append((head, m.help + tail))
        w = max(len(h) for h, _ in rows)
        lines += [f"  {h:<{w}}  {t}" for h, t in rows]
        notes = []
        if cmd.takes_expression:
            notes.append("EXPR may use your definitions.")
        if cmd.has("--at"):
            notes.append("Without at (or --at) the current point is used.")
        if cmd.has("--mode"):
            now = f"now {self.mode}" if self.mode_set else "not set yet, so the command's default"
            notes.append(f"Without --mode, the mode set with `mode forward|reverse` is used ({now}).")
        return "\n".join(lines) + ("\n\n" + "\n".join(notes) if notes else "")


def _elements(values: dict) -> dict:
    """A vector value ``x=[1,2]`` also as its elements ``x[1]``, ``x[2]`` (the inputs)."""
    out = dict(values)
    for n, v in values.items():
        if isinstance(v, list):
            out.update((f"{n}[{k}]", x) for k, x in enumerate(v, 1))
    return out


class SessionSource(Source):
    """The expression of a REPL line, read against the session: definitions as
    graphs, the point as numbers, the session's mode."""

    def __init__(self, session: Session, line: Line, start: int, line_point: dict, explicit: set[str]) -> None:
        self.session, self.line, self.start = session, line, start
        self.line_point = line_point
        self.explicit = explicit

    def text(self, expr: str) -> str:
        from .core import read_expression

        return read_expression(expr)

    def graph(self, expr: str, at: str | None = None):
        if not expr:
            raise AdcliError(USAGE, "missing the expression", hint="write e.g. grad x^2*sin(x)")
        if expr.startswith("@"):
            from .parse import parse

            text = self.text(expr)
            env = self.session.env()
            refresh(names_in(text), self.session.defs, self.session.order, env)
            scope = Scope(self.session.defs, self.session.order, used_names(text), env=env)
            return parse(text, label=expr[1:], scope=scope, env=env)
        return self.session.graph_of(expr, self.start, self.line)

    def _bind(self, g):
        """``g`` with its inputs in the user's order (SPEC 1): the signatures of the
        definitions it uses, then the point as given (this line's, then the
        session's), then first appearance; and their values."""
        session = self.session
        used = sorted(used_names(g.expression) & session.defs.keys(), key=session.order.__getitem__)
        declared = [p for n in used for p in session.defs[n].params or ()]
        known = set(g.input_names)
        order = [n for n in dict.fromkeys([*declared, *self.line_point, *session.point, *g.input_names]) if n in known]
        g = g.in_order(order)
        point = self._point(g)
        assert point is not None
        return g, point

    def _point(self, g, complete: bool = True) -> list[float] | None:
        """The values of ``g``'s inputs: this line's point over the session's."""
        from .core import did_you_mean, listing

        names = g.input_names
        known = set(names)
        for n, (_, _, span) in self.line_point.items():
            if n not in known and f"{n}[1]" not in known:
                raise AdcliError(
                    NAME,
                    f"{n} is not an input of the expression (its inputs: {listing(names)})",
                    self.line.text,
                    span,
                    label=self.line.label,
                    hint=did_you_mean(n, [m for m in names if m not in self.line_point]),
                )
        values = _elements({**self.session.point, **{n: v for n, (v, _, _) in self.line_point.items()}})
        missing = [n for n in names if n not in values]
        if missing:
            if not complete:
                return None
            raise AdcliError(
                INPUT,
                f"missing value{'s' if len(missing) > 1 else ''} for {listing(missing)}",
                hint=f"set the point first: at {', '.join(m + '=...' for m in missing[:5])}",
            )
        return [values[n] for n in names]

    def problem(self, expr: str, at: str | None):
        import numpy as np

        from .core import Problem
        from .evaluate import evaluate

        g, point = self._bind(self.graph(expr))
        return Problem(g, point, evaluate(g, [np.float64(v) for v in point]))

    def problem_or_graph(self, expr: str, at: str | None):
        g = self.graph(expr)
        if self.line_point or self._point(g, complete=False) is not None:
            import numpy as np

            from .core import Problem
            from .evaluate import evaluate

            g, point = self._bind(g)
            return Problem(g, point, evaluate(g, [np.float64(v) for v in point]))
        return g

    def fixed(self, g, at: str | None) -> str | None:
        self._point(g, complete=False)  # a name in this line's point that g lacks is an error here
        values = _elements({**self.session.point, **{n: v for n, (v, _, _) in self.line_point.items()}})
        known = [n for n in g.input_names if n in values]
        return ",".join(f"{n}={values[n]!r}" for n in known) if known else None

    def points_graph(self, expr: str, points: str, at: str | None):
        if self.line_point:
            raise AdcliError(USAGE, "give either at ... or --points, not both")
        return self.graph(expr)

    def from_stdin(self, expr: str | None) -> bool:
        return False

    def mode(self, given: str, default: str) -> str:
        if "mode" in self.explicit or not self.session.mode_set:
            return given
        return self.session.mode


def _clear_terminal() -> None:
    if sys.stdout.isatty():
        sys.stdout.write("\x1b[H\x1b[2J")


def _clip(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    cut = text[: width - 3].rsplit(" ", 1)[0]
    return cut + "..."


def _kind(tp: Any) -> type:
    """bool, int, float, str or list, from an option's annotation (``int | None``...)."""
    if tp in (bool, int, float, str):
        return tp
    if getattr(tp, "__origin__", None) is list:
        return list
    for a in get_args(tp):
        if a is not type(None):
            return _kind(a)
    return str


# -- options, read from the line by the command's own table -------------------------


def tokens_of(text: str, base: int, line: Line) -> list[tuple[str, int, int]]:
    """Words outside quotes, unquoted, each with its [start, end) in the line."""
    out: list[tuple[str, int, int]] = []
    k, n = 0, len(text)
    while k < n:
        if text[k].isspace():
            k += 1
            continue
        start, word = k, ""
        while k < n and not text[k].isspace():
            ch = text[k]
            if ch in "'\"":
                end = text.find(ch, k + 1)
                if end < 0:
                    raise AdcliError(
                        USAGE,
                        "the quote is not closed",
                        line.text,
                        (base + k, base + k + 1),
                        hint="close the quote",
                        label=line.label,
                    )
                word += text[k + 1 : end]
                k = end + 1
            else:
                word += ch
                k += 1
        out.append((word, base + start, base + k))
    return out


def tokens_value_offset(tokens: list[tuple[str, int, int]], flag: str) -> int:
    """Where the value of ``flag`` starts in the line (after ``--at=`` or in the next word)."""
    for k, (tok, s, _) in enumerate(tokens):
        if tok == flag and k + 1 < len(tokens):
            return tokens[k + 1][1]
        if tok.startswith(flag + "="):
            return s + len(flag) + 1
    return 0


def parse_options(cmd: Command, tokens: list[tuple[str, int, int]], line: Line) -> tuple[dict, set[str], bool]:
    """{field: value} for the options on the line, the fields given, and whether --help was asked."""
    by_flag: dict[str, tuple[str, Any, Any]] = {}
    for fname, tp, m in cmd.specs():
        for flag in m.flags:
            by_flag[flag] = (fname, tp, m)
    values: dict[str, Any] = {}
    explicit: set[str] = set()
    spans: dict[str, tuple[int, int]] = {}
    k = 0

    def err(message: str, s: int, e: int, hint: str | None = None) -> AdcliError:
        return AdcliError(USAGE, message, line.text, (s, max(e, s + 1)), hint=hint, label=line.label)

    while k < len(tokens):
        tok, s, e = tokens[k]
        k += 1
        if tok in ("--help", "-h"):
            return values, explicit, True
        flag, eq, given = tok.partition("=") if tok.startswith("--") else (tok, "", "")
        if flag not in by_flag:
            if not tok.startswith("-"):
                raise err(f"unexpected {tok!r}: options start with --", s, e, hint=f"`help {cmd.name}` lists them")
            close = difflib.get_close_matches(flag, list(by_flag), n=2, cutoff=0.6)
            hint = "did you mean " + " or ".join(close) + "?" if close else f"`help {cmd.name}` lists the options"
            raise err(f"no such option {flag} for {cmd.name}", s, s + len(flag), hint=hint)
        fname, tp, m = by_flag[flag]
        kind = _kind(tp)
        if fname in explicit and kind is not list:  # as on the command line (usage.repeated)
            raise err(f"{flag} is given twice", s, s + len(flag), hint="give each option once")
        explicit.add(fname)
        spans[fname] = (s, e)
        if kind is bool:
            if eq:
                raise err(f"{flag} takes no value", s, e)
            values[fname] = True
            continue
        if not eq:
            if k >= len(tokens):
                raise err(f"{flag} needs a value", s, e)
            given, s, e = tokens[k]
            k += 1
        else:
            s = s + len(flag) + 1
        if kind is list:
            values.setdefault(fname, []).append(given)
            continue
        if kind in (int, float):
            try:
                value: Any = kind(given)
            except ValueError:
                what = "an integer" if kind is int else "a number"
                raise err(f"{flag} needs {what}, not {given!r}", s, e) from None
            lo, hi = m.min, m.max
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                rng = (
                    f"{lo} to {hi}"
                    if lo is not None and hi is not None
                    else f">= {lo}"
                    if lo is not None
                    else f"<= {hi}"
                )
                raise err(f"{flag} must be {rng}, not {given}", s, e)
            values[fname] = value
        else:
            values[fname] = given
        spans[fname] = (spans[fname][0], e)
    _check_together(cmd, values, explicit, spans, line)
    return values, explicit, False


def _check_together(cmd, values: dict[str, Any], explicit: set[str], spans: dict, line: Line) -> None:
    """The command line's rule book (:func:`adcli.usage.check_options`) on the
    options of a REPL line, its errors located on the line as typed."""
    from .usage import check_options

    long = {f: next((x for x in m.flags if x.startswith("--")), m.flags[0]) for f, _, m in cmd.specs() if m.flags}
    given = {long[f]: values.get(f, True) for f in explicit if f in long}
    try:
        check_options(cmd.name, given)
    except AdcliError as exc:
        field = next((f for f, flag in long.items() if flag == exc.extra.get("option")), None)
        if field in spans:
            exc.source, exc.span, exc.label = line.text, spans[field], line.label
        raise


# -- session commands: one table, help is generated from it -------------------------


@dataclass(frozen=True)
class ReplCommand:
    name: str
    usage: str
    summary: str
    handler: Callable[[Session, str, int, Line], Reply]


REPL_COMMANDS: dict[str, ReplCommand] = {}

# Lines that are not commands, listed in help alongside them.
SYNTAX = [
    ("f = EXPR", "define f; definitions may use earlier ones (g = f^2 + x1)"),
    ("f(x1, x2) = EXPR", "define f with its inputs in this order; call it: f(1, 2), g = f(x, 2*x)"),
]


def repl_command(name: str, usage: str, summary: str, aliases: tuple[str, ...] = ()):
    """Register a session command (litecli's special-command table)."""

    def deco(fn: Callable[[Session, str, int, Line], Reply]):
        cmd = ReplCommand(name, usage, summary, fn)
        for n in (name, *aliases):
            REPL_COMMANDS[n] = cmd
        return fn

    return deco


def _unique(cmds: Iterable[ReplCommand]) -> list[ReplCommand]:
    seen: dict[str, ReplCommand] = {}
    for c in cmds:
        seen.setdefault(c.name, c)
    return list(seen.values())


@repl_command("at", "at x1=1, x2=2", "set the current point (at alone shows it)")
def _at(s: Session, arg: str, offset: int, line: Line) -> Reply:
    if not arg:
        return Reply(f"at {s.point_text()}" if s.point else "no point yet: set one with  at x1=1, x2=2")
    given = s.parse_at(arg, offset, line)
    if set(s.point) <= set(given):  # a whole new point: its order is the input order (SPEC 1)
        s.point.clear()
        s.point_texts.clear()
    for n, (v, text, _) in given.items():  # else new values in place, new names after the others
        s.point[n], s.point_texts[n] = v, text
    return Reply()


@repl_command("const", "const t = [0.1, 0.2], n = 10", "named constants, never differentiated (const alone lists them)")
def _const(s: Session, arg: str, offset: int, line: Line) -> Reply:
    from . import core

    if not arg:
        if not s.consts:
            return Reply("no constants yet: define one with  const t = [0.1, 0.2]")
        return Reply("\n".join(f"const {n} = {t}" for n, t in s.const_texts.items()))
    padded = _padded(arg, offset)
    try:
        items = core.parse_point(padded, label="const")
    except AdcliError as exc:
        if exc.source == padded:
            exc.source, exc.label = line.text, line.label
        raise
    for n, (_, span) in items.items():
        clash = "a definition" if n in s.defs else "an input of the point" if _in_point(s, n) else None
        if clash or n in FUNCTIONS or n in CONSTANTS:
            what = clash or ("a function" if n in FUNCTIONS else "a built-in constant")
            raise AdcliError(
                USAGE,
                f"{n} is already {what}",
                line.text,
                span,
                hint="give the constant another name",
                label=line.label,
            )
    for n, (v, span) in items.items():
        s.consts[n], s.const_texts[n] = v, _value_text(padded, span)
    return Reply()


def _in_point(s: Session, name: str) -> bool:
    return name in s.point or any(k.startswith(name + "[") for k in s.point)


@repl_command("mode", "mode forward|reverse", "switch the engine (mode alone shows it)")
def _mode(s: Session, arg: str, offset: int, line: Line) -> Reply:
    if not arg:
        return Reply(f"mode {s.mode}")
    if arg not in MODES:
        close = difflib.get_close_matches(arg, MODES, n=1, cutoff=0.3)
        raise AdcliError(
            USAGE,
            f"unknown mode {arg!r}: use forward or reverse",
            line.text,
            (offset, offset + len(arg)),
            hint=f"did you mean {close[0]}?" if close else None,
            label=line.label,
        )
    s.mode, s.mode_set = arg, True
    return Reply()


@repl_command("vars", "vars", "list the definitions, the point and the mode")
def _vars(s: Session, arg: str, offset: int, line: Line) -> Reply:
    lines = [d.text() for d in _in_dependency_order(s)]
    if s.point:
        lines.append(f"at {s.point_text()}")
    lines.append(f"mode {s.mode}" if s.mode_set else f"# mode {s.mode} (the default)")
    return Reply("\n".join(lines))


def _in_dependency_order(s: Session) -> list[Definition]:
    """Each definition after the ones it uses (a replayable listing)."""
    placed: set[str] = set()
    out: list[Definition] = []
    for root in s.defs:
        stack = [(root, False)]
        while stack:
            n, done = stack.pop()
            if n in placed or n not in s.defs:
                continue
            if done:
                placed.add(n)
                out.append(s.defs[n])
                continue
            stack.append((n, True))
            stack.extend((r, False) for r in sorted(s.defs[n].refs, reverse=True) if r in s.defs and r not in placed)
    return out


@repl_command("clear", "clear", "clear the screen (the session stays)")
def _clear(s: Session, arg: str, offset: int, line: Line) -> Reply:
    if arg:
        raise AdcliError(
            USAGE,
            "clear takes nothing: it clears the screen",
            line.text,
            (offset, offset + len(arg)),
            hint=f"to forget {arg}, write: reset {arg}",
            label=line.label,
        )
    s.clear_screen()
    return Reply()


@repl_command("reset", "reset [NAME]", "forget the session (asks first), or one definition or input")
def _reset(s: Session, arg: str, offset: int, line: Line) -> Reply:
    if not arg:
        if s.confirm("forget every definition, the point and the mode?"):
            s.defs.clear()
            s.order.clear()
            s.users.clear()
            s.point.clear()
            s.point_texts.clear()
            s.consts.clear()
            s.const_texts.clear()
            s.mode, s.mode_set = "reverse", False
        return Reply()
    for piece, off in _split_top(arg):
        name = piece.strip()
        k = offset + off + len(piece) - len(piece.lstrip())
        span = (k, k + max(len(name), 1))
        if name in s.defs:
            users = sorted(u for u in s.users.get(name, ()) if u in s.defs)
            if users:
                raise AdcliError(
                    USAGE,
                    f"{', '.join(users)} uses {name}",
                    line.text,
                    span,
                    hint=f"reset {', '.join(users)} first",
                    label=line.label,
                )
            s.forget(name)
        elif name in s.point:
            del s.point[name], s.point_texts[name]
        elif name in s.consts:
            del s.consts[name], s.const_texts[name]
        else:
            raise AdcliError(
                NAME, f"{name or 'nothing'} is neither defined nor in the point", line.text, span, label=line.label
            )
    return Reply()


@repl_command("help", "help [COMMAND]", "this list, or one command's options and examples (also ?)")
def _help(s: Session, arg: str, offset: int, line: Line) -> Reply:
    if not arg:
        return Reply(s.help_text())
    if arg in REPL_COMMANDS:
        c = REPL_COMMANDS[arg]
        return Reply(f"{c.usage}\n  {c.summary}")
    if arg in s.commands:
        return Reply(s.command_help(arg))
    close = difflib.get_close_matches(arg, s.command_names() + list(REPL_COMMANDS), n=2, cutoff=0.6)
    raise AdcliError(
        NAME,
        f"no command {arg}",
        line.text,
        (offset, offset + len(arg)),
        hint="did you mean " + " or ".join(close) + "?" if close else "`help` lists them",
        label=line.label,
    )


@repl_command("quit", "quit", "leave (Ctrl-D leaves too)", aliases=("exit",))
def _quit(s: Session, arg: str, offset: int, line: Line) -> Reply:
    return Reply(quit=True)


# -- splitting a command line -------------------------------------------------------


def _split_top(text: str) -> list[tuple[str, int]]:
    from .core import split_top_level

    return split_top_level(text)


def _find_name(text: str, name: str) -> int:
    for m in _TOKEN_RE.finditer(text):
        if m.group("name") == name:
            return m.start()
    return -1


def _value_text(source: str, span: tuple[int, int]) -> str:
    item = source[span[0] : span[1]]
    return item.partition("=")[2].strip()


def _top_level_separator(text: str) -> int:
    """Where the first ``;`` or new line outside brackets is (a program, not one expression), or -1."""
    depth = 0
    for k, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == ";" or (ch == "\n" and depth <= 0):
            return k
    return -1


def _open_brackets(text: str) -> int:
    """How many ( are still open at the end of ``text`` (outside comments)."""
    depth = 0
    for ch in re.sub(r"#[^\n]*", "", text):
        if ch == "(":
            depth += 1
        elif ch == ")" and depth > 0:
            depth -= 1
    return depth


def split_command(text: str, start: int, line: Line) -> tuple[str, int, str | None, int, list[tuple[str, int, int]]]:
    """``grad f at x1=1, x2=2 --steps`` from ``start`` -> (``f``, where it starts,
    ``x1=1, x2=2``, where that starts, the option words with their spans).

    Outside parentheses and quotes: options start at a `` --name``; the point is
    an ``at`` word followed by ``name=``, up to the next option (it may come
    before or after the options); ``#`` starts a comment. The expression may be quoted.
    """
    depth, quote, end = 0, "", len(text)
    opt_starts: list[int] = []
    at_word: int | None = None
    for k in range(start, len(text)):
        ch = text[k]
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch == "#":
            end = k
            break
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and (k == start or text[k - 1].isspace()):
            if text.startswith("--", k) and k + 2 < len(text) and text[k + 2].isalpha():
                opt_starts.append(k)
            elif (
                at_word is None
                and text.startswith("at", k)
                and k + 2 < len(text)
                and text[k + 2].isspace()
                and _POINT_ITEM_AHEAD.match(text, k + 2)
            ):
                at_word = k
    expr_end = min([end, *opt_starts] + ([at_word] if at_word is not None else []))
    opt_ranges = [(expr_end, end)]
    at_text, at_offset = None, 0
    if at_word is not None:
        at_end = min([end] + [k for k in opt_starts if k > at_word])
        raw = text[at_word + 2 : at_end]
        at_offset = at_word + 2 + len(raw) - len(raw.lstrip())
        at_text = raw.strip()
        opt_ranges = [(expr_end, at_word), (at_end, end)]
    tokens = [t for a, b in opt_ranges for t in tokens_of(text[a:b], a, line)]
    raw_expr = text[start:expr_end]
    expr_start = start + len(raw_expr) - len(raw_expr.lstrip())
    expr = raw_expr.strip()
    if expr[:1] in ("'", '"') and expr[-1:] == expr[:1] and len(expr) > 1 and expr[0] not in expr[1:-1]:
        expr, expr_start = expr[1:-1], expr_start + 1
    return expr, expr_start, at_text, at_offset, tokens


# -- scripts: adcli repl < session.txt, adcli repl --file session.adcli --------------


def logical_lines(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """Lines continued on the next by a trailing backslash or an open bracket; numbered from 1."""
    buf, start = "", 0
    for k, raw in enumerate(lines, 1):
        text = raw.rstrip("\r\n")
        if not buf:
            start = k
        if text.endswith("\\"):
            buf += text[:-1] + " "
            continue
        if _open_brackets(buf + text):
            buf += text + "\n"
            continue
        yield start, buf + text
        buf = ""
    if buf:
        yield start, buf.rstrip("\n")


def _decoded(stream) -> Iterator[str]:
    """Lines of a byte stream; bytes that are not UTF-8 become U+FFFD, which the parser locates."""
    for raw in stream:
        yield raw.decode("utf-8", errors="replace")


def run_script(session: Session, lines: Iterable[str], name: str) -> int:
    """Run every line; print results and errors; 1 if any line failed, else 0."""
    failed = False
    try:
        for lineno, text in logical_lines(lines):
            reply = session.execute(Line(text, f"{name}, line {lineno}"))
            if reply.code == INTERRUPTED:
                return INTERRUPTED
            if reply.code:
                failed = True
                if not reply.quit:
                    sys.stderr.write(f"  in {name}, line {lineno}: {text.strip()}\n")
            if reply.quit:
                break
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return INTERRUPTED
    return 1 if failed else OK


# -- the interactive session --------------------------------------------------------


def history_path() -> Path:
    """$XDG_STATE_HOME/adcli/history, else ~/.local/state/adcli/history."""
    base = os.environ.get("XDG_STATE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "adcli" / "history"


def open_history(path: Path | None = None):
    """A FileHistory whose file is readable only by its owner; in memory if that fails."""
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    path = history_path() if path is None else path
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        return FileHistory(str(path))
    except OSError as exc:
        sys.stderr.write(f"warning: history will not be saved ({path}: {exc.strerror})\n")
        return InMemoryHistory()


def make_lexer(session: Session):
    from prompt_toolkit.lexers import Lexer

    class ExpressionLexer(Lexer):
        """Colours: commands, options, numbers, functions, constants, definitions, inputs."""

        _tok = re.compile(
            r"(?P<space>\s+)|(?P<option>--[\w-]+)|(?P<number>(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)"
            r"|(?P<name>" + _NAME + r")|(?P<comment>#.*)|(?P<op>\*\*|[-+*/^=<>!,()])|(?P<other>.)"
        )

        def lex_document(self, document):
            lines = document.lines

            def get_line(i: int):
                return self.fragments(lines[i]) if i < len(lines) else []

            return get_line

        def fragments(self, text: str) -> list[tuple[str, str]]:
            out: list[tuple[str, str]] = []
            first = True
            for m in self._tok.finditer(text):
                kind, tok = m.lastgroup, m.group(0)
                style = ""
                if kind == "name":
                    if first and (tok in REPL_COMMANDS or tok in session.commands):
                        style = "class:command"
                    elif tok == "at":
                        style = "class:keyword"
                    elif tok in FUNCTIONS:
                        style = "class:function"
                    elif tok in CONSTANTS:
                        style = "class:constant"
                    elif tok in session.defs:
                        style = "class:defined"
                    else:
                        style = "class:input"
                elif kind in ("option", "number", "comment"):
                    style = f"class:{kind}"
                elif kind == "op":
                    style = "class:operator"
                if kind != "space":
                    first = False
                out.append((style, tok))
            return out

    return ExpressionLexer()


STYLE = {
    "command": "bold ansiblue",
    "keyword": "bold",
    "option": "ansimagenta",
    "number": "ansicyan",
    "function": "ansigreen",
    "constant": "ansicyan",
    "defined": "bold ansiyellow",
    "input": "",
    "operator": "",
    "comment": "italic ansibrightblack",
}


def make_completer(session: Session):
    from prompt_toolkit.completion import Completer, Completion

    class ReplCompleter(Completer):
        """Commands and session commands first; then options of the command at hand;
        then defined names, inputs, functions and constants."""

        def get_completions(self, document, complete_event):
            for text, word, meta in candidates(session, document.text_before_cursor):
                yield Completion(text, -len(word), display_meta=meta)

    return ReplCompleter()


def candidates(session: Session, before: str) -> list[tuple[str, str, str]]:
    """(completion, the word it replaces, what it is) for the text before the cursor."""
    opt = re.search(r"(?:^|\s)(--?[\w-]*)$", before)
    word = opt.group(1) if opt else re.search(r"\w*$", before).group(0)  # type: ignore[union-attr]
    head = before[: len(before) - len(word)]
    cmds = [(n, "command") for n in sorted(session.command_names())] + [(n, "session") for n in sorted(REPL_COMMANDS)]
    names = (
        [(n, "defined") for n in session.defs]
        + [(n, "input") for n in session.known_inputs()]
        + [(n, "function") for n in sorted(FUNCTIONS)]
        + [(n, "constant") for n in sorted(CONSTANTS)]
    )
    first = _FIRST_WORD_RE.match(head)
    if not head.strip():
        pool = cmds + names
    elif first and first.group(1) == "help":
        pool = cmds
    elif first and first.group(1) == "mode":
        pool = [(m, "mode") for m in MODES]
    elif first and first.group(1) == "reset":
        pool = [(n, "defined") for n in session.defs] + [(n, "point") for n in session.point]
    elif first and first.group(1) == "at":
        in_value = "=" in _split_top(head[first.end() :])[-1][0]
        pool = names[-len(FUNCTIONS) - len(CONSTANTS) :] if in_value else [(n, "input") for n in session.known_inputs()]
    elif first and first.group(1) in session.commands:
        cmd = session.commands[first.group(1)]
        prev = head.split()[-1] if head.split() else ""
        if prev == "--mode":
            pool = [(m, "mode") for m in MODES]
        elif word.startswith("-"):
            pool = [(o, "option") for o in session.option_names(cmd)]
        else:
            pool = names + [("at", "the point")]
    else:
        pool = names
    out, seen = [], set()
    for text, meta in pool:
        if text.startswith(word) and text not in seen and (word or not text.startswith("-")):
            seen.add(text)
            out.append((text, word, meta))
    return out


def toolbar_text(session: Session) -> str:
    point = session.point_text() or "none (at x1=1, x2=2)"
    defs = ", ".join(session.defs) or "none"
    return f" mode {session.mode} │ at {point} │ defined {defs} │ help · Tab · Ctrl-D quits "


def _key_bindings():
    """Tab completes at once, taking the first candidate (``gra`` -> ``grad``) while the
    menu shows the others (``graph``); Tab again moves to the next one."""
    from prompt_toolkit.key_binding import KeyBindings

    kb = KeyBindings()

    @kb.add("enter")
    @kb.add("c-j")  # a newline typed (or piped) is Enter too
    def _enter(event) -> None:
        """An open bracket continues the line (the continuation prompt); else run it."""
        buf = event.current_buffer
        if _open_brackets(buf.text) and buf.cursor_position == len(buf.text):
            buf.insert_text("\n")
        else:
            buf.validate_and_handle()

    @kb.add("tab")
    def _complete(event) -> None:
        buf = event.current_buffer
        if buf.complete_state:
            buf.complete_next()
        else:
            buf.start_completion(select_first=True)

    return kb


def run_interactive(session: Session, *, input: Any = None, output: Any = None, history: Any = None) -> int:
    """The prompt_toolkit loop. Ctrl-C cancels the line; Ctrl-D or quit leaves with 0."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.styles import Style

    prompt: PromptSession = PromptSession(
        history=open_history() if history is None else history,
        key_bindings=_key_bindings(),
        completer=make_completer(session),
        lexer=make_lexer(session),
        style=Style.from_dict(STYLE),
        bottom_toolbar=lambda: toolbar_text(session),
        complete_while_typing=False,
        enable_history_search=False,
        multiline=True,  # Enter is bound above: it runs the line unless a bracket is open
        prompt_continuation=lambda width, line_number, wrap_count: CONTINUATION,
        input=input,
        output=output,
    )

    def confirm(question: str) -> bool:
        try:
            answer = prompt.prompt(f"{question} [y/N] ", multiline=False, bottom_toolbar=None, completer=None)
        except (KeyboardInterrupt, EOFError):
            return False
        return answer.strip().lower() in ("y", "yes")

    session.confirm = confirm
    session.clear_screen = lambda: prompt.app.output.erase_screen() or prompt.app.output.cursor_goto(0, 0)
    while True:
        try:
            text = prompt.prompt(PROMPT)
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        for _, piece in logical_lines(text.split("\n")):  # a pasted block runs line by line
            if session.execute(Line(piece)).quit:
                return 0


def main(file: str | None = None) -> int:
    """``adcli repl [--file FILE]``: interactive on a terminal, a script otherwise."""
    session = Session()
    if file is not None:
        from .core import read_text_file

        text = read_text_file(file)
        return run_script(session, text.splitlines(), file)
    if sys.stdin.isatty() and sys.stdout.isatty():
        return run_interactive(session)
    return run_script(session, _decoded(sys.stdin.buffer), "stdin")


__all__ = [
    "REPL_COMMANDS",
    "Line",
    "Reply",
    "Session",
    "candidates",
    "history_path",
    "main",
    "repl_command",
    "run_interactive",
    "run_script",
]
