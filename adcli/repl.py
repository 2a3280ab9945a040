"""The interactive session (SPEC section 5): definitions, a current point, an
engine mode, and every CLI command, with the CLI's own code and rendering.

How a line is routed
--------------------
* ``f = EXPR`` / ``f(x1, x2) = EXPR`` store a definition (checked at once).
* A session command (``at``, ``mode``, ``vars``, ``clear``, ``help``, ``quit``)
  comes from :data:`REPL_COMMANDS`, a table filled by the :func:`repl_command`
  decorator (litecli style). Handlers return a :class:`Reply`; they never print.
* Any other first word that names a command of the Typer app (``grad``,
  ``check``, ``hessian``... whatever ``adcli --help`` lists today) is run *through
  the Typer app itself*: the line becomes an argument list
  ``[COMMAND, PROGRAM, --at P, --mode M, user options...]`` handed to
  ``click_group.main(..., standalone_mode=False)``. So the REPL runs exactly the
  code of ``adcli COMMAND ...`` and prints exactly what it prints; a command
  added to ``cli.py`` tomorrow works here (and in ``help`` and Tab completion)
  without a change to this file.
* Anything else is an expression: it runs ``grad`` at the current point.

Definitions compose as a DAG, not as text: ``PROGRAM`` is a program of named
steps holding the definitions the expression needs, in dependency order,
followed by the expression itself, e.g. ``f = log(...)\\ng = f^2 + x1\\ng``.
The parser hash-conses it into one graph, so traces show ``f`` and ``g`` by
name. A declared input order ``f(x2, x1) = ...`` becomes leading leaf steps
(``_in_x2 = x2``) which fix the order in which inputs first appear; the steps
name input nodes, which are never renamed, so they leave no trace in the graph.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .errors import INPUT, NAME, PARSE, USAGE, AdcliError
from .ops import CONSTANTS, FUNCTIONS

PROMPT = "adcli> "
MODES = ("reverse", "forward")
DECLARED_PREFIX = "_in_"  # leaf steps that fix a declared input order

_NAME = r"[^\W\d]\w*"
_NAME_RE = re.compile(_NAME)
_TOKEN_RE = re.compile(r"(?P<num>(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)|(?P<name>" + _NAME + r")|(?P<comment>#.*)")
_DEF_RE = re.compile(r"\s*(" + _NAME + r")\s*(?:\(([^()]*)\))?\s*=(?!=)")
_FIRST_WORD_RE = re.compile(r"\s*(" + _NAME + r")(?=\s|$)")
_POINT_ITEM_AHEAD = re.compile(r"\s*" + _NAME + r"\s*=(?!=)")


# -- the session state --------------------------------------------------------------


@dataclass
class Definition:
    name: str
    params: tuple[str, ...] | None  # declared input order, or None
    body: str
    refs: frozenset[str] = frozenset()  # every name the body mentions
    inputs: tuple[str, ...] = ()  # its inputs, when it was defined

    def text(self) -> str:
        head = f"{self.name}({', '.join(self.params)})" if self.params is not None else self.name
        return f"{head} = {self.body}"


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


def needed(names: Iterable[str], defs: dict[str, Definition]) -> set[str]:
    """The definitions reachable from ``names``."""
    need: set[str] = set()
    stack = [n for n in names if n in defs]
    while stack:
        n = stack.pop()
        if n not in need:
            need.add(n)
            stack.extend(r for r in defs[n].refs if r in defs)
    return need


def names_in(text: str) -> list[str]:
    """The names in an expression, in order (numbers such as ``1e5`` and comments skipped)."""
    return [m.group("name") for m in _TOKEN_RE.finditer(text) if m.group("name")]


def click_group(app=None) -> click.Group:
    import typer.main

    if app is None:
        from .cli import app
    return typer.main.get_command(app)  # type: ignore[return-value]


class Session:
    """Definitions, the current point and the engine mode; runs one line at a time."""

    def __init__(self, app=None) -> None:
        self.group = click_group(app)
        self.defs: dict[str, Definition] = {}
        self.point: dict[str, str] = {}  # name -> value text, as typed (x=pi/4)
        self.mode = "reverse"
        self.mode_set = False  # until `mode ...`, each command keeps its own default engine

    # -- commands of the Typer app ----------------------------------------------

    def command_names(self) -> list[str]:
        """The app's commands, as ``adcli --help`` lists them (``repl`` itself excluded)."""
        return [n for n, c in self.group.commands.items() if not c.hidden and n != "repl"]

    def command(self, name: str) -> click.Command | None:
        return self.group.commands.get(name)

    @staticmethod
    def option_names(cmd: click.Command) -> list[str]:
        out: list[str] = []
        for p in cmd.params:
            if isinstance(p, click.Option):
                out += [o for o in (*p.opts, *p.secondary_opts) if o.startswith("--")]
        return out + ["--help"]

    @staticmethod
    def takes_expression(cmd: click.Command) -> bool:
        return bool(cmd.params) and isinstance(cmd.params[0], click.Argument)

    def command_help(self, name: str) -> str:
        """Exactly ``adcli NAME --help``, plus how the REPL fills the options in."""
        cmd = self.group.commands[name]
        parent = self.group.make_context("adcli", [name], resilient_parsing=True)
        ctx = click.Context(cmd, info_name=name, parent=parent, **(cmd.context_settings or {}))
        text = cmd.get_help(ctx)
        if name == "repl":
            return text + "\n\nYou are in the REPL already."
        opts = self.option_names(cmd)
        notes = []
        if self.takes_expression(cmd):
            at = " [at x1=1, x2=2]" if "--at" in opts else ""
            notes.append(f"In the REPL: {name} EXPR{at} [OPTIONS]; EXPR may use your definitions.")
        if "--at" in opts:
            notes.append("Without --at (or at ...) the current point is used.")
        if "--mode" in opts:
            now = f"now {self.mode}" if self.mode_set else "not set yet, so the command's default"
            notes.append(f"Without --mode, the mode set with `mode forward|reverse` is used ({now}).")
        return text + ("\n\n" + "\n".join(notes) if notes else "")

    def help_text(self) -> str:
        names = self.command_names()
        width = max([len(n) for n in names] + [8])
        lines = ["Commands (the same as `adcli COMMAND` on the command line; `help COMMAND` shows options):"]
        for n in names:
            lines.append(f"  {n:<{width}}  {self.group.commands[n].get_short_help_str(limit=72 - width)}")
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
        lines += ["", "Keys: Tab completes, Up/Down recall history, Ctrl-C cancels the line, Ctrl-D leaves."]
        return "\n".join(lines)

    # -- definitions ----------------------------------------------------------

    def closure(self, names: Iterable[str], defs: dict[str, Definition] | None = None) -> list[Definition]:
        """The definitions ``names`` need, each after the ones it uses."""
        defs = self.defs if defs is None else defs
        need = needed(names, defs)
        order: list[Definition] = []
        placed: set[str] = set()
        pending = [n for n in defs if n in need]
        while pending:
            rest = [n for n in pending if not {r for r in defs[n].refs if r in defs} <= placed]
            ready = [n for n in pending if n not in rest]
            if not ready:
                raise AdcliError(USAGE, f"the definitions {', '.join(rest)} refer to each other in a circle")
            for n in ready:
                order.append(defs[n])
                placed.add(n)
            pending = rest
        return order

    def program(self, expr: str, defs: dict[str, Definition] | None = None) -> tuple[str, int]:
        """``expr`` preceded by the definitions it needs, as named steps; and where ``expr`` starts."""
        order = self.closure(names_in(expr), defs)
        if not order:
            return expr, 0
        lines: list[str] = []
        declared: set[str] = set()
        for d in order:
            for p in d.params or ():
                if p not in declared:
                    declared.add(p)
                    lines.append(f"{DECLARED_PREFIX}{p} = {p}")
        lines += [f"{d.name} = {d.body}" for d in order]
        prefix = "\n".join(lines) + "\n"
        return prefix + expr, len(prefix)

    def declared_params(self) -> dict[str, str]:
        return {p: d.name for d in self.defs.values() for p in (d.params or ())}

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
        if name in REPL_COMMANDS or name in self.group.commands:
            raise err(PARSE, f"cannot define {name}: it is a command", hint="choose another name")
        if name.startswith(DECLARED_PREFIX):
            raise err(PARSE, f"names starting with {DECLARED_PREFIX} are reserved", hint="choose another name")
        owner = self.declared_params().get(name)
        if owner is not None and owner != name:
            decl = self.defs[owner]
            raise err(
                NAME, f"{name} is an input of {decl.name}({', '.join(decl.params or ())})", hint="choose another name"
            )
        params = self._params(params_text, m.start(2), line) if params_text is not None else None
        if not body:
            raise err(PARSE, f"nothing after {name} =", (m.end() - 1, m.end()), hint=f"write {name} = x^2, say")
        if ";" in body or "\n" in body:
            k = body_start + min(i for i in (body.find(";"), body.find("\n")) if i >= 0)
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
        if name in refs:
            k = body_start + _find_name(body, name)
            raise err(
                NAME,
                f"{name} refers to itself",
                (k, k + len(name)),
                hint="a definition may use earlier ones; give the new one another name",
            )
        defs = dict(self.defs)
        defs[name] = Definition(name, params, body, refs)
        if name in needed(refs, defs):
            via = [r for r in names_in(body) if r in defs and name in needed([r], defs)]
            k = body_start + _find_name(body, via[0])
            raise err(
                NAME,
                f"{name} would depend on itself through {via[0]}",
                (k, k + len(via[0])),
                hint="a definition may use earlier ones, but not the other way round as well",
            )
        from .parse import parse

        prog, base = self.program(body, defs)
        try:
            g = parse(prog)
        except AdcliError as exc:
            raise _relocate(exc, prog, base, text, body_start, line.label) from None
        inputs = tuple(g.input_names)
        if params is not None:
            extra = [n for n in inputs if n not in params]
            if extra:
                k = _find_name(body, extra[0])
                span = (body_start + k, body_start + k + len(extra[0])) if k >= 0 else name_span
                raise err(
                    NAME,
                    f"{extra[0]} is not among the inputs of {name}({', '.join(params)})",
                    span,
                    hint=f"add it: {name}({', '.join(params + (extra[0],))}) = ...",
                )
            inputs = params
        defs[name].inputs = inputs
        self.defs[name] = defs[name]  # a redefinition keeps its place
        return Reply()

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

    def _params(self, params_text: str, start: int, line: Line) -> tuple[str, ...]:
        out: list[str] = []
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
        return tuple(out)

    # -- the point ------------------------------------------------------------

    def parse_at(self, text: str, offset: int, line: Line) -> dict[str, str]:
        """``x1=1, x2=pi/4`` -> {name: value text}; errors point into the line."""
        from . import core

        try:
            items = core.parse_point(text, label="at")
        except AdcliError as exc:
            raise _relocate(exc, text, 0, line.text, offset, line.label) from None
        return {n: _value_text(text, span) for n, (_, span) in items.items()}

    def point_text(self, point: dict[str, str] | None = None, sep: str = ", ") -> str:
        point = self.point if point is None else point
        return sep.join(f"{n}={v}" for n, v in point.items())

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
        try:
            reply = self.dispatch(line)
        except AdcliError as exc:
            from . import render

            sys.stdout.flush()
            sys.stderr.write(render.error_text(exc) + "\n")
            reply = Reply(code=2)
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
            reply = Reply(code=130)
        except Exception as exc:
            sys.stderr.write(f"adcli: internal error: {type(exc).__name__}: {exc}\nplease report this line\n")
            reply = Reply(code=70)
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
            if word in self.group.commands:
                return self.run_command(word, text[rest_at:], line)
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
        return self.run_command("grad", text, line)

    def run_command(self, name: str, rest: str, line: Line) -> Reply:
        """Run ``adcli NAME ...`` through the Typer app, filling in the point and the mode."""
        cmd = self.group.commands[name]
        if name == "repl":
            raise AdcliError(USAGE, "you are in the REPL already", hint="`help` lists what you can do here")
        if not self.takes_expression(cmd):
            return Reply(code=self.invoke(name, _shlex(rest, line)))
        expr, at_text, at_offset, opts = split_command(rest, line)
        rest_offset = len(line.text) - len(rest)
        opt_names = {o.split("=", 1)[0] for o in opts if o.startswith("--")}
        has = set(self.option_names(cmd))
        program = None
        if expr:
            if expr == "-":
                raise AdcliError(USAGE, "in the REPL, type the expression itself (- would read the session's input)")
            program = expr if expr.startswith("@") else self.program(expr)[0]
        line_point: dict[str, str] = {}
        if at_text is not None:
            at_span = (rest_offset + at_offset, rest_offset + at_offset + max(len(at_text), 1))
            if "--at" not in has:
                raise AdcliError(USAGE, f"{name} takes no point", line.text, at_span, label=line.label)
            if opt_names & {"--at", "--points"}:
                raise AdcliError(USAGE, "give the point once: at ... or --at", line.text, at_span, label=line.label)
            line_point = self.parse_at(at_text, rest_offset + at_offset, line)
        args: list[str] = []
        missing: list[str] = []
        if "--at" in has and not opt_names & {"--at", "--points"}:
            inputs = _inputs_of(program) if program is not None else None
            if inputs is None:
                chosen = dict(line_point)
            else:
                point = {**self.point, **line_point}
                missing = [n for n in inputs if n not in point]
                # An incomplete point is not passed on its own: graph then draws without
                # values, and grad says which values are missing.
                order = self._input_order(expr, inputs, line_point)
                chosen = {n: point[n] for n in order if n in point} if (line_point or not missing) else {}
                chosen.update(line_point)
            if chosen:
                args += ["--at", self.point_text(chosen, sep=",")]
        if self.mode_set and "--mode" in has and "--mode" not in opt_names:
            args += ["--mode", self.mode]
        args += opts
        if program is not None:
            # An expression that starts with - must not be taken for an option.
            args = [*args, "--", program] if program.startswith("-") else [program, *args]
        code = self.invoke(name, args)
        if code == 2 and missing and at_text is None:
            sys.stderr.write(f"hint: set the point first: at {', '.join(m + '=...' for m in missing)}\n")
        return Reply(code=code)

    def _input_order(self, expr: str, inputs: list[str], line_point: dict[str, str]) -> list[str]:
        """The inputs in the user's order (SPEC 1): the signatures of the definitions
        used (``f(x, y) = ...``), else the point as given (this line's, then the
        session's ``at``), else first appearance. The --at passed on carries it."""
        declared = [p for d in self.closure(names_in(expr)) for p in d.params or ()]
        known = set(inputs)
        return [n for n in dict.fromkeys([*declared, *line_point, *self.point, *inputs]) if n in known]

    def invoke(self, name: str, args: list[str]) -> int:
        """``adcli NAME ARGS...``, in this process, exactly as the shell would run it."""
        try:
            rv = self.group.main([name, *args], prog_name="adcli", standalone_mode=False)
        except click.exceptions.ClickException as exc:
            exc.show()
            return exc.exit_code
        except click.exceptions.Exit as exc:
            return exc.exit_code
        except click.exceptions.Abort:
            sys.stderr.write("Aborted!\n")
            return 1
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
            return 130
        return rv if isinstance(rv, int) else 0


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
    ("f(x1, x2) = EXPR", "define f with its inputs in this order"),
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
    if set(s.point) <= set(given):
        s.point = given  # a whole new point: its order is the input order (SPEC 1)
    else:
        s.point.update(given)  # new values in place, new names after the others
    return Reply()


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
    lines = [d.text() for d in s.closure(s.defs)]
    if s.point:
        lines.append(f"at {s.point_text()}")
    lines.append(f"mode {s.mode}" if s.mode_set else f"# mode {s.mode} (the default)")
    return Reply("\n".join(lines))


@repl_command("clear", "clear [NAME]", "forget the definitions, the point and the mode, or one name")
def _clear(s: Session, arg: str, offset: int, line: Line) -> Reply:
    if not arg:
        s.defs.clear()
        s.point.clear()
        s.mode, s.mode_set = "reverse", False
        return Reply()
    for piece, off in _split_top(arg):
        name = piece.strip()
        k = offset + off + len(piece) - len(piece.lstrip())
        span = (k, k + max(len(name), 1))
        if name in s.defs:
            users = [d.name for d in s.defs.values() if name in d.refs]
            if users:
                raise AdcliError(
                    USAGE,
                    f"{', '.join(users)} uses {name}",
                    line.text,
                    span,
                    hint=f"clear {', '.join(users)} first",
                    label=line.label,
                )
            del s.defs[name]
        elif name in s.point:
            del s.point[name]
        else:
            raise AdcliError(
                NAME, f"{name or 'nothing'} is neither defined nor in the point", line.text, span, label=line.label
            )
    return Reply()


@repl_command("help", "help [COMMAND]", "this list, or one command's options and examples")
def _help(s: Session, arg: str, offset: int, line: Line) -> Reply:
    if not arg:
        return Reply(s.help_text())
    if arg in REPL_COMMANDS:
        c = REPL_COMMANDS[arg]
        return Reply(f"{c.usage}\n  {c.summary}")
    if arg in s.group.commands:
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


def _shlex(text: str, line: Line) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise AdcliError(
            USAGE,
            f"cannot split the options: {exc}",
            line.text,
            (len(line.text), len(line.text) + 1),
            hint="close the quote",
            label=line.label,
        ) from None


def split_command(rest: str, line: Line) -> tuple[str, str | None, int, list[str]]:
    """``f at x1=1, x2=2 --steps`` -> (``f``, ``x1=1, x2=2``, offset of the point in rest, [``--steps``]).

    Outside parentheses and quotes: options start at a `` --name``; the point is
    an ``at`` word followed by ``name=``, up to the next option (it may come
    before or after the options); ``#`` starts a comment. The expression may be quoted.
    """
    depth, quote, end = 0, "", len(rest)
    opt_starts: list[int] = []
    at_word: int | None = None
    for k, ch in enumerate(rest):
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
        elif depth == 0 and (k == 0 or rest[k - 1].isspace()):
            if rest.startswith("--", k) and k + 2 < len(rest) and rest[k + 2].isalpha():
                opt_starts.append(k)
            elif (
                at_word is None
                and rest.startswith("at", k)
                and k + 2 < len(rest)
                and rest[k + 2].isspace()
                and _POINT_ITEM_AHEAD.match(rest, k + 2)
            ):
                at_word = k
    expr_end = min([end, *opt_starts] + ([at_word] if at_word is not None else []))
    opts_text = rest[expr_end:end]
    at_text, at_offset = None, 0
    if at_word is not None:
        at_end = min([end] + [k for k in opt_starts if k > at_word])
        raw = rest[at_word + 2 : at_end]
        at_offset = at_word + 2 + len(raw) - len(raw.lstrip())
        at_text = raw.strip()
        opts_text = rest[expr_end:at_word] + " " + rest[at_end:end]
    opts = _shlex(opts_text, line)
    expr = rest[:expr_end].strip()
    if expr[:1] in ("'", '"'):
        parts = _shlex(expr, line)
        if len(parts) == 1:
            expr = parts[0]
    return expr, at_text, at_offset, opts


def _inputs_of(program: str) -> list[str] | None:
    """The inputs of a program, or None if it does not parse (the command will say why)."""
    from .parse import parse

    if program.startswith("@"):
        return None
    try:
        return parse(program).input_names
    except AdcliError:
        return None


def _relocate(exc: AdcliError, source: str, base: int, line: str, offset: int, label: str) -> AdcliError:
    """Move an error located in ``source[base:]`` onto the user's line, which holds it at ``offset``."""
    if exc.source == source and exc.span is not None and exc.span[0] >= base:
        s, e = exc.span
        exc.source, exc.span = line, (s - base + offset, e - base + offset)
        exc.label = label
    return exc


# -- scripts: adcli repl < session.txt, adcli repl --file session.adcli --------------


def logical_lines(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """Lines with a trailing backslash continued on the next; numbered from 1."""
    buf, start = "", 0
    for k, raw in enumerate(lines, 1):
        text = raw.rstrip("\r\n")
        if not buf:
            start = k
        if text.endswith("\\"):
            buf += text[:-1] + " "
            continue
        yield start, buf + text
        buf = ""
    if buf:
        yield start, buf


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
            if reply.code:
                failed = True
                if not reply.quit:
                    sys.stderr.write(f"  in {name}, line {lineno}: {text.strip()}\n")
            if reply.quit:
                break
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    return 1 if failed else 0


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
                    if first and (tok in REPL_COMMANDS or tok in session.group.commands):
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
    elif first and first.group(1) == "clear":
        pool = [(n, "defined") for n in session.defs] + [(n, "point") for n in session.point]
    elif first and first.group(1) == "at":
        in_value = "=" in _split_top(head[first.end() :])[-1][0]
        pool = names[-len(FUNCTIONS) - len(CONSTANTS) :] if in_value else [(n, "input") for n in session.known_inputs()]
    elif first and first.group(1) in session.group.commands:
        cmd = session.group.commands[first.group(1)]
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
        input=input,
        output=output,
    )
    while True:
        try:
            text = prompt.prompt(PROMPT)
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        if session.execute(Line(text)).quit:
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
