"""The command registry: every command declared once, for the CLI and the REPL.

A command is an options dataclass (each field carries its flag, help text and
default in ``metadata``), a run function that calls the core and hands the
result to :mod:`adcli.render`, and the run function's docstring as its help
(with examples). :mod:`adcli.cli` generates the Typer commands from
:data:`COMMANDS`; :mod:`adcli.repl` routes lines, completes options and shows
``help`` from the same table, and calls the run function itself with a
:class:`Source` that reads the expression from the session.

Adding a command is one ``@command`` entry here plus its compute function
(core) and its renderer (render). Nothing heavy is imported at module level:
the CLI imports this module on every start.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from inspect import get_annotations  # dataclasses imports inspect anyway
from typing import Any, get_type_hints

from .errors import BAD_INPUT, INTERNAL, INTERRUPTED, OK, USAGE, AdcliError
from .stdio import WriteFailed

META = "adcli"


@dataclass(frozen=True, eq=False, repr=False)  # cheap to create: imported on every start
class Meta:
    """How one option (or the expression argument) is written and explained."""

    flags: tuple[str, ...]  # ("--quiet", "-q"); empty for the argument
    help: str
    show_default: bool = True
    min: int | None = None
    max: int | None = None
    required: bool = False  # the argument must be given

    @property
    def flag(self) -> str:
        return self.flags[0] if self.flags else ""


def option(*flags: str, help: str, default: Any = None, show_default: bool | None = None, **kw: Any) -> Any:
    """A dataclass field for ``--flag``; ``show_default`` defaults to "is there one"."""
    shown = default is not None if show_default is None else show_default
    return field(default=default, metadata={META: Meta(tuple(flags), help, shown, **kw)})


def argument(help: str, required: bool = True) -> Any:
    return field(default=None, metadata={META: Meta((), help, False, required=required)})


def options(cls: type) -> type:
    """Mark an options class; :attr:`Command.options` makes it a dataclass when
    first used. Each dataclass costs a few ``exec`` s, the CLI imports this module
    on every start, and a one-shot command needs one of them."""
    return cls


def meta(f) -> Meta:
    return f.metadata[META]


class Lead:
    """Options several commands share, in a mixin whose fields come before the
    command's own (a command may redefine one, in its place)."""


class Trail:
    """Shared options whose fields come after the command's own."""


def _spliced(cls: type) -> dict[str, Any]:
    """The fields of ``cls`` in --help order: its Lead mixins', its own, its Trail
    mixins' (in MRO order). The mixins are plain classes (no dataclass is made for
    them): their fields are spliced into each command's dataclass."""
    mixins = [b for b in cls.__mro__[1:] if b not in (Lead, Trail, object)]
    fields_: dict[str, Any] = {}
    for lead in reversed([b for b in mixins if issubclass(b, Lead)]):
        fields_.update(get_annotations(lead))
    fields_.update(get_annotations(cls))
    for trail in [b for b in mixins if issubclass(b, Trail)]:
        for name, tp in get_annotations(trail).items():
            fields_.setdefault(name, tp)
    return fields_


# -- the options every command shares, written once ------------------------------------

EXPR_HELP = "The expression; - reads standard input, @FILE reads a file."


def EXPR() -> Any:
    return argument(EXPR_HELP)


def AT() -> Any:
    return option(
        "--at",
        help="The point: x1=1,x2=2 (values may be constant expressions, x=pi/4; a vector x=[1,2,3]); @FILE reads it.",
        show_default=False,
    )


def CONST() -> Any:
    return option(
        "--const",
        help="Named constants, never differentiated: t=[0.1,0.2],n=10, or @FILE (@data.csv: each column a vector).",
        show_default=False,
    )


def MODE(default: str = "reverse", help: str = "Engine: reverse (adjoints) or forward (tangents).") -> Any:
    return option("--mode", help=help, default=default)


def WRT() -> Any:
    return option("--wrt", help="Differentiate with respect to these inputs, in this order.", show_default=False)


def JSON() -> Any:
    return option("--json", help="Print one JSON document (errors too).", default=False)


def DIGITS(default: int = 6, help: str = "Significant digits shown.") -> Any:
    return option("--digits", help=help, default=default, min=1, max=17)


def TRACE() -> Any:
    return option("--trace", help="Also show the trace table: one row per node.", default=False)


def STEPS() -> Any:
    return option("--steps", help="Also show the accumulation steps (adjoint or tangent).", default=False)


def POINTS() -> Any:
    return option(
        "--points",
        help="Many points: a CSV (or .parquet) file whose header names the inputs (- = stdin).",
        show_default=False,
    )


def FORMAT() -> Any:
    return option(
        "--format",
        help="Output for --points: jsonl (JSON Lines), csv or parquet (to a file or pipe); "
        "coo: a jacobian's or hessian's non-zeros at one point.",
        default="jsonl",
    )


def DIR() -> Any:
    return option(
        "--dir",
        help="The direction v: one value per input (per --wrt input), in order: 2,-1; @FILE reads it.",
        show_default=False,
    )


class AtPoint(Lead):
    """The expression, its point and its constants: first in every command at a point."""

    expr: str = EXPR()
    at: str | None = AT()
    const: str | None = CONST()


class Shown(Trail):
    """JSON or text, and its digits: last in most commands."""

    as_json: bool = JSON()
    digits: int = DIGITS()


class Printed(Trail):
    """eval's and grad's last options: JSON, the --points format, digits."""

    as_json: bool = JSON()
    fmt: str = FORMAT()
    digits: int = DIGITS()


class Explained(Shown):
    """The derivative commands' last options (before JSON and digits)."""

    wrt: str | None = WRT()
    trace: bool = TRACE()
    steps: bool = STEPS()
    points: str | None = POINTS()
    fmt: str = FORMAT()


# -- where the expression comes from -----------------------------------------------------


class Source:
    """The expression and the point as the command line gives them: text.
    The REPL's session is another Source (definitions as graphs, the point as numbers)."""

    def text(self, expr: str) -> str:
        from .core import read_expression

        return read_expression(expr)

    const: str | None = None  # --const, set from the command's options

    def graph(self, expr: str, at: str | None = None):
        """The parsed expression (no point; ``at`` only gives vector lengths)."""
        from .core import parse_consts, parse_point, point_env
        from .parse import parse

        point = parse_point(at) if at is not None else {}
        return parse(self.text(expr), env=point_env(point, parse_consts(self.const)))

    def problem(self, expr: str, at: str | None):
        """The expression bound to one point."""
        from .core import load

        return load(self.text(expr), at, self.const)

    def problem_or_graph(self, expr: str, at: str | None):
        """A problem when there is a point, else just the graph (``graph`` draws either)."""
        return self.graph(expr) if at is None else self.problem(expr, at)

    def fixed(self, g, at: str | None) -> str | None:
        """The --at text for inputs held fixed (plot); the REPL writes its point as one."""
        return at

    def points_graph(self, expr: str, points: str, at: str | None):
        """The graph that --points runs at every row (streamed by :mod:`adcli.batch`)."""
        from .errors import USAGE, AdcliError
        from .parse import parse

        if at is not None:
            raise AdcliError(USAGE, "give either --at or --points, not both")
        from .core import header_lengths, parse_consts
        from .vectors import Env

        return parse(self.text(expr), env=Env(header_lengths(points), parse_consts(self.const)))

    def from_stdin(self, expr: str | None) -> bool:
        return expr == "-"

    def mode(self, given: str, default: str) -> str:
        """The engine: the option as given (the REPL's ``mode`` fills in one not given)."""
        return given


class Out:
    """Where a command writes: stdout for results, stderr for warnings and notes."""

    def emit(self, text: str) -> None:
        if text:
            sys.stdout.write(text + "\n")

    def note(self, text: str) -> None:
        sys.stderr.write(text + "\n")

    def warn(self, warnings, as_json: bool) -> None:
        if as_json:
            return
        from .render import warning_text

        for w in warnings:
            self.note(warning_text(w))


def guarded(action: Callable[[], int | None], as_json: bool, out: Out | None = None) -> int:
    """The error boundary of the CLI and the REPL: every failure becomes a
    message (or a JSON error document) and an exit code; nothing escapes."""
    out = out or Out()
    try:
        return action() or OK
    except AdcliError as err:
        from . import render

        sys.stdout.flush()
        if as_json:
            out.emit(render.dumps(render.error_json(err)))
        else:
            out.note(render.error_text(err))
        return BAD_INPUT
    except KeyboardInterrupt:
        out.note("interrupted")
        return INTERRUPTED
    except WriteFailed:  # a closed pipe or a full disk: adcli.main ends the process
        raise
    except ModuleNotFoundError:  # a dependency this Python lacks: adcli.main says which, in one line
        raise
    except RecursionError:  # pragma: no cover - nothing recurses; a last line of defence
        out.note("error: internal recursion limit reached; please report this expression")
        return INTERNAL
    except Exception as exc:  # pragma: no cover - a bug, reported without a traceback
        out.note(f"adcli: internal error: {type(exc).__name__}: {exc}\nplease report this with the command line")
        return INTERNAL


# -- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class Command:
    name: str
    declared: type  # the options class as written (see :func:`options`)
    run: Callable[[Any, Source, Out], int]
    help: str  # the run function's docstring: summary, details, examples
    repl: bool = True  # offered in the REPL

    @property
    def options(self) -> type:
        """The options dataclass."""
        cls = self.declared
        if not is_dataclass(cls):
            cls.__annotations__ = _spliced(cls)
            dataclass(repr=False, eq=False)(cls)
        return cls

    def specs(self) -> list[tuple[str, Any, Meta]]:
        """(field name, type, metadata) in the order the help lists them."""
        hints = _hints(self.options)
        return [(f.name, hints[f.name], meta(f)) for f in fields(self.options)]

    @property
    def takes_expression(self) -> bool:
        return any(not m.flags for _, _, m in self.specs())

    def flags(self) -> list[str]:
        """The long option names, for completion and routing."""
        return [m.flags[0] for _, _, m in self.specs() if m.flags] + ["--help"]

    def has(self, flag: str) -> bool:
        return flag in self.flags()

    @property
    def summary(self) -> str:
        return self.help.strip().split("\n\n")[0].replace("\n", " ")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


COMMANDS: dict[str, Command] = {}


def command(name: str, options: type, repl: bool = True):
    """Register ``fn(options, source, out) -> exit code`` as the command ``name``."""

    def deco(fn: Callable[[Any, Source, Out], int]):
        COMMANDS[name] = Command(name, options, fn, fn.__doc__ or "", repl)
        return fn

    return deco


def defaults(cmd: Command) -> dict[str, Any]:
    out = {}
    for f in fields(cmd.options):
        out[f.name] = f.default if f.default is not MISSING else None
    return out


def execute(cmd: Command, values: dict[str, Any]) -> int:
    """Run one command from its option values (one per field) behind the error
    boundary: the one body of the Typer callbacks and :mod:`adcli.fastpath`."""
    opts = cmd.options(**values)
    src = Source()
    src.const = getattr(opts, "const", None)
    return guarded(lambda: cmd.run(opts, src, Out()), bool(values.get("as_json")))


def usage(message: str, hint: str | None = None) -> AdcliError:
    return AdcliError(USAGE, message, hint=hint)


# -- the commands ------------------------------------------------------------------------------


@options
class EvalOptions(AtPoint, Printed):
    points: str | None = POINTS()
    trace: bool = TRACE()
    steps: bool = STEPS()


@command("eval", EvalOptions)
def run_eval(o: EvalOptions, src: Source, out: Out) -> int:
    """Print the value(s) of EXPR at a point.

    --steps shows the forward pass (v1 = x1 - x2 = 1 - 2 = -1), --trace the
    table of every intermediate value.

    Examples:

      adcli eval "log((x1+x2)^2+sin(x1*x2))" --at x1=1,x2=2

      adcli eval "x*y, x+y" --at x=pi/4,y=2 --json

      adcli eval "hypot(x, y)" --points points.csv --format csv
    """
    from . import core

    return _value_and_gradient("eval", o, src, out, lambda problem, record: core.run_eval(problem))


@options
class GradOptions(AtPoint, Printed):
    points: str | None = POINTS()
    mode: str = MODE()
    wrt: str | None = WRT()
    trace: bool = TRACE()
    steps: bool = STEPS()
    check_it: bool = option(
        "--check", help="Also check the gradient against finite differences (exit 1 on a mismatch).", default=False
    )


@command("grad", GradOptions)
def run_grad(o: GradOptions, src: Source, out: Out) -> int:
    """Print the value and the gradient of a scalar EXPR at a point.

    --trace adds the trace table (values and adjoints, or tangents in forward
    mode); --steps adds the accumulation steps, v̄1 += v̄2 · ∂v2/∂v1, or the
    dual-number tangent steps in forward mode.

    Examples:

      adcli grad "log((x1+x2)^2+sin(x1*x2))" --at x1=1,x2=2

      adcli grad "(x1-x2)^2 + cos(x1+x2)" --at x1=1,x2=2 --trace --steps

      adcli grad "exp(x)*sin(x)" --at x=0 --mode forward --steps

      adcli grad "x^2*sin(x)" --at x=1.3 --check

      echo "x^2*sin(x)" | adcli grad - --at x=1.3 --json

      adcli grad "log((x1+x2)^2+sin(x1*x2))" --points points.csv --format csv
    """
    from . import core

    mode = src.mode(o.mode, "reverse")
    return _value_and_gradient("grad", o, src, out, lambda problem, record: core.run_grad(problem, mode, o.wrt, record))


def _value_and_gradient(kind: str, o: Any, src: Source, out: Out, compute: Callable[[Any, bool], Any]) -> int:
    """The one body of eval and grad: many points or one; text or JSON; grad --check."""
    from . import render

    if o.points is not None:
        return _many_points(kind, o, o.points, src, lambda problem: compute(problem, False))
    problem = src.problem(o.expr, o.at)
    result = compute(problem, o.steps)
    checked = None
    if getattr(o, "check_it", False):
        from . import check

        checked = check.run_check(problem, mode=result.mode, wrt=o.wrt)
    out.warn(result.warnings, o.as_json)
    if o.as_json:
        doc = render.result_json(result, o.trace, o.steps)
        if checked is not None:
            doc["check"] = render.check_json(checked)
        out.emit(render.dumps(doc))
    else:
        text = render.result_text(result, o.digits, o.trace, o.steps)
        if checked is not None:
            text += "\n\n" + render.check_text(checked, o.digits)
        out.emit(text)
    return checked.exit_code() if checked is not None else OK


@options
class TraceOptions(AtPoint):
    mode: str = MODE()
    wrt: str | None = WRT()
    steps: bool = STEPS()
    as_json: bool = JSON()
    digits: int = DIGITS()
    fmt: str = option(
        "--format", help="text, latex (tabular + align*) or markdown (a table), for notes.", default="text"
    )


@command("trace", TraceOptions)
def run_trace(o: TraceOptions, src: Source, out: Out) -> int:
    """Print the trace table of EXPR at a point: one row per node, in evaluation
    order, with its definition, value, and adjoint (reverse mode, one column per
    output) or tangent (forward mode, one column per input).

    Examples:

      adcli trace "(x1-x2)^2 + cos(x1+x2)" --at x1=1,x2=2

      adcli trace "t1 = x1 - x2; t2 = t1^2; t3 = x1 + x2; t4 = cos(t3); t2 + t4" --at x1=1,x2=2

      adcli trace "x*y + sin(x)" --at x=1,y=2 --mode forward --json
    """
    from . import core, render

    if o.fmt not in ("text", "latex", "markdown"):
        raise usage(f"unknown --format {o.fmt!r}: use text, latex or markdown")
    result = core.run_trace(src.problem(o.expr, o.at), src.mode(o.mode, "reverse"), o.wrt, record=o.steps)
    out.warn(result.warnings, o.as_json)
    if o.as_json:
        out.emit(render.dumps(render.result_json(result, steps=o.steps)))
    elif o.fmt != "text":
        out.emit(render.trace_result_doc(result, o.digits, o.steps, o.fmt))
    else:
        out.emit(render.result_text(result, o.digits, steps=o.steps))
    return OK


GRAPH_FORMATS = ("text", "dot", "mermaid")


@options
class GraphOptions(AtPoint):
    fmt: str = option("--format", help="text (a tree), dot (Graphviz) or mermaid.", default="text")
    digits: int = DIGITS()


@command("graph", GraphOptions)
def run_graph(o: GraphOptions, src: Source, out: Out) -> int:
    """Draw the DAG of EXPR: a text tree in the terminal (shared nodes drawn once
    and referred to), or Graphviz dot / Mermaid source. With --at, nodes carry
    their values and adjoints.

    Examples:

      adcli graph "sin(x*y) + x*y"

      adcli graph "(x1-x2)^2 + cos(x1+x2)" --at x1=1,x2=2 --format dot | dot -Tsvg > g.svg
    """
    from . import core, render

    if o.fmt not in GRAPH_FORMATS:
        raise usage(f"unknown --format {o.fmt!r}: use text, dot or mermaid")
    drawing = core.draw(src.problem_or_graph(o.expr, o.at))
    out.warn(drawing.warnings, False)
    out.emit(render.graph_output(drawing, o.fmt, o.digits))
    return OK


@options
class ReplOptions:
    file: str | None = option("--file", "-f", help="Run the lines of this session file, then exit.", show_default=False)


@command("repl", ReplOptions, repl=False)
def run_repl(o: ReplOptions, src: Source, out: Out) -> int:
    """Open the interactive session: definitions (f = ...), a current point
    (at x1=1, x2=2), the engine mode, and every command with the same options
    and output. Type help inside it. With standard input not a terminal, or
    with --file, the lines run as a script: results are printed, and the exit
    code is 1 if any line failed.

    Examples:

      adcli repl

      adcli repl --file examples/backprop.adcli

      printf 'f = x^2*sin(x)\\nat x=1.3\\ngrad f\\n' | adcli repl
    """
    from .repl import main

    return main(o.file)


# -- beyond the gradient: jvp, vjp, jacobian, hessian, hvp, implicit --------------------


def _many_points(kind: str, o: Any, points: str, src: Source, compute: Callable[[Any], Any]) -> int:
    """Command ``kind`` at every row of --points, streamed in chunks (:mod:`adcli.batch`)."""
    from .batch import run_points
    from .errors import USAGE, AdcliError

    if points == "-" and src.from_stdin(o.expr):
        raise AdcliError(USAGE, "the expression and --points cannot both come from standard input")
    g = src.points_graph(o.expr, points, o.at)
    return run_points(kind, g, points, compute, o.fmt, quiet=o.as_json)


def _derivative(kind: str, o: Any, src: Source, out: Out, compute: Callable[[Any], Any]) -> int:
    """The shared body of the derivative commands: load, compute, print."""
    from . import render

    trace, steps = getattr(o, "trace", False), getattr(o, "steps", False)
    points = getattr(o, "points", None)
    if points is not None:  # --trace, --steps, --digits with --points: usage.check_options
        if getattr(o, "fmt", None) == "coo":
            raise usage("--format coo shows one point's sparse matrix: use --at, not --points")
        return _many_points(kind, o, points, src, compute)
    coo = getattr(o, "fmt", None) == "coo"
    if coo and kind not in ("jacobian", "hessian"):
        raise usage("--format coo lists the non-zero entries of a jacobian or hessian")
    result = compute(src.problem(o.expr, o.at))
    out.warn(result.warnings, o.as_json)
    if coo:
        out.emit(render.dumps(render.coo_json(result)) if o.as_json else render.coo_text(result, o.digits))
    elif o.as_json:
        out.emit(render.dumps(render.result_json(result, trace, steps)))
    else:
        out.emit(render.result_text(result, o.digits, trace, steps))
    return OK


@options
class JvpOptions(AtPoint, Explained):
    direction: str | None = DIR()


@command("jvp", JvpOptions)
def run_jvp(o: JvpOptions, src: Source, out: Out) -> int:
    """Print J·v, the Jacobian of EXPR times a direction v, in one forward sweep
    (EXPR may have several outputs, separated by commas).

    Examples:

      adcli jvp "x1*x2 + sin(x1), exp(x2) + x1^2" --at x1=1,x2=0 --dir 2,-1

      adcli jvp "x*y*z" --at x=1,y=2,z=3 --dir 1,0,0 --steps

      adcli jvp "hypot(x, y)" --at x=3,y=4 --dir "1/sqrt(2),1/sqrt(2)" --json
    """
    from .derivatives import run_jvp as compute

    return _derivative("jvp", o, src, out, lambda p: compute(p, o.direction, o.wrt, record=o.steps))


@options
class VjpOptions(AtPoint, Explained):
    cotangent: str | None = option(
        "--cotangent", help="The cotangent u: one value per output, in order: 1,0; @FILE reads it.", show_default=False
    )


@command("vjp", VjpOptions)
def run_vjp(o: VjpOptions, src: Source, out: Out) -> int:
    """Print uᵀ·J, a cotangent u times the Jacobian of EXPR, in one reverse sweep.

    Examples:

      adcli vjp "x1*x2 + sin(x1), exp(x2) + x1^2" --at x1=1,x2=0 --cotangent 1,0

      adcli vjp "x*y, x+y" --at x=1,y=2 --cotangent 1,-1 --steps

      adcli vjp "sin(x)*y" --at x=pi/3,y=2 --cotangent 1 --json
    """
    from .derivatives import run_vjp as compute

    return _derivative("vjp", o, src, out, lambda p: compute(p, o.cotangent, o.wrt, record=o.steps))


@options
class JacobianOptions(AtPoint, Explained):
    mode: str = MODE("auto", "forward (a sweep per input), reverse (a sweep per output) or auto (fewer).")


@command("jacobian", JacobianOptions)
def run_jacobian(o: JacobianOptions, src: Source, out: Out) -> int:
    """Print the m×n Jacobian of EXPR (m outputs, n inputs) and how many sweeps
    it took: forward mode needs n (one per input), reverse mode m (one per
    output); auto picks the fewer and says why.

    Examples:

      adcli jacobian "x*y*z, x+y+z, x^2-y" --at x=1,y=2,z=3

      adcli jacobian "a*b + c*d + w" --at a=1,b=2,c=3,d=4,w=5 --mode forward

      adcli jacobian "r*cos(t), r*sin(t)" --at r=2,t=pi/6 --mode reverse --steps --json
    """
    from .derivatives import run_jacobian as compute

    mode = src.mode(o.mode, "auto")
    return _derivative("jacobian", o, src, out, lambda p: compute(p, mode, o.wrt, record=o.steps))


@options
class HessianOptions(AtPoint, Explained):
    pass


@command("hessian", HessianOptions)
def run_hessian(o: HessianOptions, src: Source, out: Out) -> int:
    """Print the exact Hessian of a scalar EXPR (with its value and gradient),
    by forward-over-reverse: one reverse sweep on dual numbers per input, each
    giving a column H·e_j. --trace and --steps show the sweeps one after another.

    Examples:

      adcli hessian "x^2*y + sin(x*y)" --at x=1,y=2

      adcli hessian "100*(y - x^2)^2 + (1 - x)^2" --at x=1,y=1 --json

      adcli hessian "x*exp(y)" --at x=2,y=0 --steps
    """
    from .derivatives import run_hessian as compute

    # --trace shows one sweep per input (e_j), so it runs them uncompressed, as --steps does
    return _derivative("hessian", o, src, out, lambda p: compute(p, o.wrt, record=o.steps or o.trace))


@command("hvp", JvpOptions)
def run_hvp(o: JvpOptions, src: Source, out: Out) -> int:
    """Print H·v, the Hessian of a scalar EXPR times a direction v, without
    forming H: one forward pass of tangents and one reverse sweep (forward-over-reverse).

    Examples:

      adcli hvp "x^2*y + sin(x*y)" --at x=1,y=2 --dir 1,0

      adcli hvp "100*(y - x^2)^2 + (1 - x)^2" --at x=0,y=0 --dir 1,1 --steps

      adcli hvp "x*y*z" --at x=1,y=2,z=3 --dir 0,0,1 --json
    """
    from .derivatives import run_hvp as compute

    return _derivative("hvp", o, src, out, lambda p: compute(p, o.direction, o.wrt, record=o.steps, duals=o.trace))


@options
class ImplicitOptions(Shown):
    expr: str = EXPR()
    solve: str | None = option(
        "--solve", help="The unknowns y, one per equation: y or y,z. The other inputs are x.", show_default=False
    )
    at: str | None = AT()
    const: str | None = CONST()
    wrt: str | None = WRT()
    newton: bool = option(
        "--newton", help="First solve F = 0 for the unknowns by Newton's method from their --at values.", default=False
    )


@command("implicit", ImplicitOptions)
def run_implicit(o: ImplicitOptions, src: Source, out: Out) -> int:
    """Implicit differentiation: EXPR is F(x, y) = 0 (several equations separated
    by commas); print dy/dx = -F_y⁻¹ F_x at the point, for the unknowns y named
    by --solve (one per equation) as functions of the other inputs x. Warns when
    F is not 0 at the point; --newton first solves F = 0 for y, starting from
    the --at values of y. A singular F_y is an error.

    Examples:

      adcli implicit "x^2 + y^2 - 1" --solve y --at x=0.6,y=0.8

      adcli implicit "x^2 + y^2 - 1" --solve y --at x=0.6,y=1 --newton

      adcli implicit "x*y - z, x + y + z - 5" --solve y,z --at x=1,y=2,z=2
    """
    from .derivatives import run_implicit as compute

    return _derivative("implicit", o, src, out, lambda p: compute(p, o.solve, o.wrt, newton=o.newton))


@options
class CheckOptions(AtPoint, Shown):
    expr: str | None = argument(  # type: ignore[assignment]  # optional here: --cases needs none
        "The expression; - reads standard input, @FILE reads a file. Omit it with --cases.", required=False
    )
    points: str | None = POINTS()
    random: int | None = option("--random", help="Check at N random points (see --box, --seed).", show_default=False)
    seed: int | None = option("--seed", help="Seed for --random points and the dot-product test.", show_default=False)
    box: str | None = option(
        "--box",
        help="Where --random draws: lo:hi for every input, or x=0:1,y=-1:1 [default: -2:2].",
        show_default=False,
    )
    cases: str | None = option(
        "--cases", help="A file of cases, one a line: EXPR | x1=1,x2=2 [| GRADIENT] (- = stdin).", show_default=False
    )
    grad: list[str] | None = option(
        "--grad",
        help='A hand-derived gradient: "g1, g2, ..." (one per input), or x1="..." repeated.',
        show_default=False,
    )
    mode: str = MODE(help="Engine checked: reverse, forward, or both (forward against reverse).")
    wrt: str | None = WRT()
    method: str = option("--method", help="Finite differences: central, forward or richardson.", default="central")
    step: float | None = option(
        "--step",
        help="Fixed step for every input (default: cbrt(eps)·max(1,|x|) per input for central).",
        show_default=False,
    )
    rtol: float = option("--rtol", help="Pass if |ad - ref| <= atol + rtol·|ref|.", default=1e-6)
    atol: float = option("--atol", help="Absolute tolerance of the pass rule.", default=1e-8)
    quiet: bool = option("--quiet", "-q", help="Print nothing on success, only failing rows otherwise.", default=False)


@command("check", CheckOptions)
def run_check(o: CheckOptions, src: Source, out: Out) -> int:
    """Check derivatives: AD against finite differences (default), against a
    hand-derived gradient (--grad), or forward against reverse (--mode both).
    Exit code 0 when everything passes, 1 when a check fails, 2 for bad input.
    Points where the expression is undefined are skipped and counted; a point
    where it is not differentiable (abs at 0...) is reported as a kink.

    Examples:

      adcli check "log((x1+x2)^2+sin(x1*x2))" --at x1=1,x2=2

      adcli check "x^2*sin(x)" --at x=1.3 --grad "2*x*sin(x) + x^2*cos(x)"

      adcli check "x*y^2" --at x=1,y=2 --grad x="y^2" --grad y="2*x*y"

      adcli check "sin(x1)*x2 + exp(x3)" --random 1000 --seed 1 --quiet

      adcli check "x*y, x+y" --at x=1,y=2 --mode both

      adcli check --cases examples/gradients.cases
    """
    from . import check, core, render

    mode = src.mode(o.mode, "reverse")
    opts = check.options(mode, o.wrt, o.method, o.step, o.rtol, o.atol, o.seed)
    if o.cases is not None:
        if o.expr is not None or o.at is not None or o.points is not None or o.random is not None or o.grad:
            raise usage("--cases takes no expression, --at, --points, --random or --grad")
        text = core.read_expression(o.cases if o.cases == "-" else "@" + o.cases)
        res = check.run_cases(text, "standard input" if o.cases == "-" else o.cases, opts)
        if o.as_json:
            out.emit(render.dumps(render.cases_json(res)))
        else:
            out.emit(render.cases_quiet_text(res, o.digits) if o.quiet else render.cases_text(res, o.digits))
        return res.exit_code()
    if o.expr is None:
        raise usage("missing the expression (or --cases FILE)", hint='adcli check "x^2*sin(x)" --at x=1.3')
    if o.points is not None or o.random is not None:
        if o.at is not None:
            raise usage("give either --at or --points/--random, not both")
        g, X, source, used_seed = check.load_points(
            src.graph(o.expr), o.points, o.random, o.seed, o.box, expr_from_stdin=src.from_stdin(o.expr)
        )
        opts.seed = used_seed
        result = check.check_points(g, X, opts, o.grad, source=source)
    else:
        problem = src.problem(o.expr, o.at)
        result = check.run_check(problem, mode, o.wrt, o.method, o.step, o.rtol, o.atol, o.grad, o.seed)
    if o.as_json:
        out.emit(render.dumps(render.check_json(result)))
    else:
        out.emit(render.check_quiet_text(result, o.digits) if o.quiet else render.check_text(result, o.digits))
    return result.exit_code()


@options
class DescendOptions(AtPoint, Shown):
    lr: float | None = option(
        "--lr",
        help="Learning rate (gd; default 0.1), or the first step length tried (newton; default 1).",
        show_default=False,
    )
    iters: int = option("--iters", help="At most this many steps.", default=50, min=0)
    tol: float = option("--tol", help="Stop when the gradient norm or the step is at most this.", default=1e-8)
    momentum: float = option("--momentum", help="Heavy-ball momentum in [0, 1) (gd only).", default=0.0)
    method: str = option("--method", help="gd (gradient descent) or newton (exact Hessian).", default="gd")
    wrt: str | None = WRT()
    plot: str | None = option(
        "--plot",
        help="Also draw the path to FILE.png/.svg: on a contour plot for two inputs (needs matplotlib).",
        show_default=False,
    )
    show_all: bool = option("--all", help="Show every iteration (else the first and last 10).", default=False)


@command("descend", DescendOptions)
def run_descend(o: DescendOptions, src: Source, out: Out) -> int:
    """Gradient descent (or Newton's method) on a scalar EXPR from the point --at:
    a table of the iterations (point, value, gradient norm, step).

    gd updates x <- x - lr·∇f (with --momentum, v <- momentum·v - lr·∇f; x <- x + v);
    newton takes x <- x - t·H⁻¹∇f with the exact Hessian, t halved until f
    decreases. --wrt moves only these inputs; the others stay at their --at
    values. It stops when ‖∇f‖ or the step is at most --tol, or after --iters
    steps. A descent that diverges (a value that keeps growing, inf or NaN, a
    point outside the domain) stops with an error and exit code 2.

    Examples:

      adcli descend "(x-1)^2 + 10*(y+2)^2" --at x=0,y=0 --lr 0.05 --iters 200

      adcli descend "(x-1)^2 + 10*(y+2)^2" --at x=0,y=0 --method newton

      adcli descend "(1-x)^2 + 100*(y-x^2)^2" --at x=-1.2,y=1 --lr 0.001 --momentum 0.9 --iters 2000

      adcli descend "x^2" --at x=1 --lr 1.1          (diverges: lr too large)

      adcli descend "(x-1)^2 + 10*(y+2)^2" --at x=0,y=0 --lr 0.05 --plot path.png
    """
    from . import descend, render

    result = descend.run_descend(
        src.problem(o.expr, o.at),
        lr=o.lr,
        iters=o.iters,
        tol=o.tol,
        momentum=o.momentum,
        method=o.method,
        wrt=o.wrt,
    )
    if o.plot is not None:
        from .plot import write_descent_image

        write_descent_image(result, o.plot)
    out.warn(result.warnings, o.as_json)
    if o.as_json:
        out.emit(render.dumps(render.descend_json(result)))
    else:
        out.emit(render.descend_text(result, o.digits, o.show_all))
        if result.error is not None:
            out.note(render.error_text(result.error))
    return BAD_INPUT if result.error is not None else OK


@options
class PlotOptions:
    expr: str = EXPR()
    wrt: str | None = option(
        "--wrt", help="The input on the horizontal axis (needed when there are several).", show_default=False
    )
    range_: str = option("--range", help="The interval a:b of that input (-pi:pi is fine).", default="-3:3")
    at: str | None = option("--at", help="Values of the other inputs: y=2,z=pi/4.", show_default=False)
    hessian: bool = option("--hessian", help="Also draw the second derivative ∂²f/∂x².", default=False)
    output: str | None = option(
        "--output",
        "-o",
        help='Write an image instead: FILE.png, .svg or .pdf (needs matplotlib: pip install "adcli[plot]").',
        show_default=False,
    )
    as_json: bool = option("--json", help="Print the samples as JSON (null where f is undefined).", default=False)
    digits: int = DIGITS(3, "Significant digits of the axis labels.")


@command("plot", PlotOptions)
def run_plot(o: PlotOptions, src: Source, out: Out) -> int:
    """Plot f and ∂f/∂x (with --hessian also ∂²f/∂x²) over --range, the other
    inputs fixed by --at. In the terminal (at most 80 columns: f in Braille
    dots, f' as ·, f'' as +) unless --output writes a PNG/SVG/PDF image.
    Points where f is undefined are gaps; their place is reported under the plot.

    Examples:

      adcli plot "sin(x)*x" --range -6:6

      adcli plot "sin(x)*x" --wrt x --range -6:6 --output plot.png

      adcli plot "log(x)" --range -1:2 --hessian

      adcli plot "x^2*y + y^3" --wrt x --at y=0.5 --range=-2:2
    """
    from . import render
    from .plot import IMAGE_SAMPLES, MAX_WIDTH, run_plot, text_samples, write_image

    width = min(render._width(), MAX_WIDTH)
    n = IMAGE_SAMPLES if (o.output is not None or o.as_json) else text_samples(width)
    g = src.graph(o.expr, o.at)
    data = run_plot(g, o.wrt, o.range_, src.fixed(g, o.at), o.hessian, n)
    out.warn(data.warnings, o.as_json)
    if o.as_json:
        out.emit(render.dumps(render.plot_json(data)))
    if o.output is not None:
        path = write_image(data, o.output)
        if not o.as_json:
            out.note(f"wrote {path}")
    elif not o.as_json:
        out.emit(render.plot_text(data, o.digits, width))
    return OK


@options
class DiffOptions:
    expr: str = EXPR()
    wrt: str | None = WRT()
    order: int = option("--order", help="1: first partials; 2: second partials.", default=1)
    fmt: str = option("--format", help="text (adcli's language), latex or python (numpy).", default="text")
    as_json: bool = JSON()


@command("diff", DiffOptions)
def run_diff(o: DiffOptions, src: Source, out: Out) -> int:
    """Print each partial derivative of EXPR as a formula: simplified, with
    shared subexpressions as named steps (t1 = ...), pasteable back into adcli.
    The rules are the registry's own, interpreted on symbols.

    Examples:

      adcli diff "sin(x*y)*exp(x*y)*(x*y)^2"

      adcli diff "x^3*y" --order 2

      adcli diff "(x1-x2)^2 + cos(x1+x2)" --format latex
    """
    from . import diff, render

    if o.fmt not in diff.FORMATS:
        raise usage(f"unknown --format {o.fmt!r}: use text, latex or python")
    result = diff.run_diff(src.graph(o.expr), o.wrt, o.order)
    out.emit(render.dumps(render.diff_json(result)) if o.as_json else render.diff_text(result, o.fmt))
    return OK


@options
class ExportOptions:
    expr: str = EXPR()
    lang: str = option("--lang", help="python (math only), numpy, c (C99, math.h) or jax.", default="python")
    hessian: bool = option("--hessian", help="Also return the Hessian.", default=False)
    name: str = option("--name", help="The function's name.", default="f")
    at: str | None = option(
        "--at", help="A point whose vectors give the lengths the code is written for (x=[1,2,3]).", show_default=False
    )
    const: str | None = CONST()
    lengths: str | None = option(
        "--len", help="Vector lengths without values: x=10000,y=3 (reductions become loops over them).",
        show_default=False,
    )  # fmt: skip


def _lengths_as_point(text: str) -> str:
    """``--len x=3`` as the point ``x=[0,0,0]`` (only its length is read)."""
    import re

    from .errors import INPUT

    items = []
    for m in re.finditer(r"[^,]+", text):
        item = re.fullmatch(r"\s*([^\W\d]\w*)\s*=\s*(\d+)\s*", m.group(0))
        if item is None or int(item.group(2)) < 1:
            raise AdcliError(INPUT, f"--len wants NAME=LENGTH (a whole number >= 1), not {m.group(0).strip()!r}",
                             text, m.span(), hint="e.g. --len x=10000", label="--len")  # fmt: skip
        items.append(f"{item.group(1)}=[{','.join(['0'] * int(item.group(2)))}]")
    if not items:
        raise AdcliError(INPUT, "--len is empty", text, (0, 0), hint="e.g. --len x=10000", label="--len")
    return ",".join(items)


@command("export", ExportOptions)
def run_export(o: ExportOptions, src: Source, out: Out) -> int:
    """Print a self-contained function computing EXPR's value and gradient (and
    Hessian): the forward pass, then the adjoint sweep as v_bar += ... lines,
    one statement per node of the trace.

    Examples:

      adcli export "(x1-x2)^2 + cos(x1+x2)"

      adcli export "x*y + sin(x)" --lang c --name fg > fg.c

      adcli export "tanh(x*y)" --lang numpy --hessian

      adcli export "sum(100*(x[i+1]-x[i]^2)^2 + (1-x[i])^2 for i=1..len(x)-1)" --len x=10000 --lang c
    """
    from .export import export

    if o.lengths is not None and o.at is not None:
        raise usage("give vector lengths with --len or with --at, not both")
    at = _lengths_as_point(o.lengths) if o.lengths is not None else o.at
    out.emit(export(src.graph(o.expr, at), o.lang, o.name, o.hessian).rstrip("\n"))
    return OK


def repl_commands() -> list[Command]:
    return [c for c in COMMANDS.values() if c.repl]
