"""Thin Typer commands: read options, call :mod:`adcli.core`, print through
:mod:`adcli.render`. Heavy modules (numpy, lark, the engines) are imported
inside the commands so that ``adcli --help`` and ``--version`` start fast."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from . import __version__

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Exact derivatives from the command line: values, gradients, and how they were computed.",
)

# Exit codes (SPEC section 4).
OK, CHECK_FAILED, BAD_INPUT, INTERNAL = 0, 1, 2, 70

ExprArg = Annotated[
    str, typer.Argument(help="The expression; - reads standard input, @FILE reads a file.", show_default=False)
]
AtOpt = Annotated[
    str | None,
    typer.Option("--at", help="The point: x1=1,x2=2 (values may be constant expressions, x=pi/4).", show_default=False),
]
ModeOpt = Annotated[str, typer.Option("--mode", help="Engine: reverse (adjoints) or forward (tangents).")]
WrtOpt = Annotated[
    str | None,
    typer.Option("--wrt", help="Differentiate with respect to these inputs, in this order.", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document (SPEC section 4).")]
DigitsOpt = Annotated[int, typer.Option("--digits", min=1, max=17, help="Significant digits shown.")]
TraceOpt = Annotated[bool, typer.Option("--trace", help="Also show the trace table: one row per node.")]
StepsOpt = Annotated[bool, typer.Option("--steps", help="Also show the accumulation steps (adjoint or tangent).")]
PointsOpt = Annotated[
    str | None,
    typer.Option(
        "--points", help="Many points: a CSV file whose header names the inputs (- = stdin).", show_default=False
    ),
]
FormatOpt = Annotated[
    str,
    typer.Option(
        "--format", help="Output for --points: jsonl (JSON Lines) or csv; coo: a jacobian's or hessian's non-zeros."
    ),
]
DirOpt = Annotated[
    str | None,
    typer.Option(
        "--dir", help="The direction v: one value per input (per --wrt input), in order: 2,-1.", show_default=False
    ),
]
CotangentOpt = Annotated[
    str | None,
    typer.Option("--cotangent", help="The cotangent u: one value per output, in order: 1,0.", show_default=False),
]
JacobianModeOpt = Annotated[
    str, typer.Option("--mode", help="forward (a sweep per input), reverse (a sweep per output) or auto (fewer).")
]
SolveOpt = Annotated[
    str | None,
    typer.Option(
        "--solve", help="The unknowns y, one per equation: y or y,z. The other inputs are x.", show_default=False
    ),
]
NewtonOpt = Annotated[
    bool, typer.Option("--newton", help="First solve F = 0 for the unknowns by Newton's method from their --at values.")
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"adcli {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Exact derivatives from the command line: values, gradients, and how they were computed.

    With no command on a terminal, adcli opens the REPL (adcli repl).
    """
    if ctx.invoked_subcommand is not None:
        return
    if sys.stdin.isatty() and sys.stdout.isatty():
        from .repl import main as repl_main

        run(repl_main, False)
        return
    sys.stderr.write(ctx.get_help() + "\n")
    raise typer.Exit(BAD_INPUT)


def _emit(text: str) -> None:
    if text:
        sys.stdout.write(text + "\n")


def run(action: Callable[[], Any], as_json: bool) -> None:
    """The error boundary: every failure becomes a message and an exit code."""
    from .errors import AdcliError

    try:
        code = action()
    except AdcliError as err:
        from . import render

        if as_json:
            _emit(render.dumps(render.error_json(err)))
        else:
            sys.stderr.write(render.error_text(err) + "\n")
        raise typer.Exit(BAD_INPUT) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except RecursionError:  # pragma: no cover - nothing recurses; a last line of defence
        sys.stderr.write("error: internal recursion limit reached; please report this expression\n")
        raise typer.Exit(INTERNAL) from None
    except Exception as exc:  # pragma: no cover - a bug, reported without a traceback
        sys.stderr.write(
            f"adcli: internal error: {type(exc).__name__}: {exc}\nplease report this with the command line\n"
        )
        raise typer.Exit(INTERNAL) from None
    if code:
        raise typer.Exit(code)


def _warn(warnings, as_json: bool) -> None:
    if as_json:
        return
    from .render import warning_text

    for w in warnings:
        sys.stderr.write(warning_text(w) + "\n")


@app.command("eval")
def eval_cmd(
    expr: ExprArg,
    at: AtOpt = None,
    points: PointsOpt = None,
    trace: TraceOpt = False,
    steps: StepsOpt = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "jsonl",
    digits: DigitsOpt = 6,
) -> None:
    """Print the value(s) of EXPR at a point.

    --steps shows the forward pass (v1 = x1 - x2 = 1 - 2 = -1), --trace the
    table of every intermediate value.

    Examples:

      adcli eval "log((x1+x2)^2+sin(x1*x2))" --at x1=1,x2=2

      adcli eval "x*y, x+y" --at x=pi/4,y=2 --json

      adcli eval "hypot(x, y)" --points points.csv --format csv
    """

    def action():
        from . import core, render

        text = core.read_expression(expr)
        if points is not None:
            problem = core.load_many(text, points, at, expr_from_stdin=expr == "-")
            result = core.run_eval(problem)
            _warn(result.warnings, as_json)
            _emit(render.points_output("eval", result, fmt))
            return core.points_exit_code(problem)
        result = core.run_eval(core.load(text, at))
        _warn(result.warnings, as_json)
        if as_json:
            _emit(render.dumps(render.eval_explained_json(result, trace, steps)))
        else:
            _emit(render.eval_explained_text(result, digits, trace, steps))
        return 0

    run(action, as_json)


@app.command("grad")
def grad_cmd(
    expr: ExprArg,
    at: AtOpt = None,
    points: PointsOpt = None,
    mode: ModeOpt = "reverse",
    wrt: WrtOpt = None,
    trace: TraceOpt = False,
    steps: StepsOpt = False,
    check_it: Annotated[
        bool, typer.Option("--check", help="Also check the gradient against finite differences (exit 1 on a mismatch).")
    ] = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "jsonl",
    digits: DigitsOpt = 6,
) -> None:
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

    def action():
        from . import core, render

        text = core.read_expression(expr)
        if points is not None:
            problem = core.load_many(text, points, at, expr_from_stdin=expr == "-")
            result = core.run_grad(problem, mode, wrt)
            _warn(result.warnings, as_json)
            _emit(render.points_output("grad", result, fmt))
            return core.points_exit_code(problem)
        problem = core.load(text, at)
        result = core.run_grad(problem, mode, wrt, record=steps)
        checked = None
        if check_it:
            from . import check

            checked = check.run_check(problem, mode=mode, wrt=wrt)
        _warn(result.warnings, as_json)
        if as_json:
            doc = render.grad_explained_json(result, trace, steps)
            if checked is not None:
                doc["check"] = render.check_json(checked)
            _emit(render.dumps(doc))
        else:
            out = render.grad_explained_text(result, digits, trace, steps)
            if checked is not None:
                out += "\n\n" + render.check_text(checked, digits)
            _emit(out)
        return checked.exit_code() if checked is not None else 0

    run(action, as_json)


@app.command("trace")
def trace_cmd(
    expr: ExprArg,
    at: AtOpt = None,
    mode: ModeOpt = "reverse",
    wrt: WrtOpt = None,
    steps: StepsOpt = False,
    as_json: JsonOpt = False,
    digits: DigitsOpt = 6,
) -> None:
    """Print the trace table of EXPR at a point: one row per node, in evaluation
    order, with its definition, value, and adjoint (reverse mode, one column per
    output) or tangent (forward mode, one column per input).

    Examples:

      adcli trace "(x1-x2)^2 + cos(x1+x2)" --at x1=1,x2=2

      adcli trace "t1 = x1 - x2; t2 = t1^2; t3 = x1 + x2; t4 = cos(t3); t2 + t4" --at x1=1,x2=2

      adcli trace "x*y + sin(x)" --at x=1,y=2 --mode forward --json
    """

    def action():
        from . import core, render

        result = core.run_trace(core.load(core.read_expression(expr), at), mode, wrt, record=steps)
        _warn(result.warnings, as_json)
        _emit(
            render.dumps(render.trace_result_json(result, steps))
            if as_json
            else render.trace_result_text(result, digits, steps)
        )
        return 0

    run(action, as_json)


@app.command("graph")
def graph_cmd(
    expr: ExprArg,
    at: AtOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="text (a tree), dot (Graphviz) or mermaid.")] = "text",
    digits: DigitsOpt = 6,
) -> None:
    """Draw the DAG of EXPR: a text tree in the terminal (shared nodes drawn once
    and referred to), or Graphviz dot / Mermaid source. With --at, nodes carry
    their values and adjoints.

    Examples:

      adcli graph "sin(x*y) + x*y"

      adcli graph "(x1-x2)^2 + cos(x1+x2)" --at x1=1,x2=2 --format dot | dot -Tsvg > g.svg
    """

    def action():
        from . import core, render

        text = core.read_expression(expr)
        drawing = core.run_graph(text, at)
        _warn(drawing.warnings, False)
        _emit(render.graph_output(drawing, fmt, digits))
        return 0

    run(action, False)


@app.command("repl")
def repl_cmd(
    file: Annotated[
        str | None,
        typer.Option("--file", "-f", help="Run the lines of this session file, then exit.", show_default=False),
    ] = None,
) -> None:
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
    from .repl import main as repl_main

    run(lambda: repl_main(file), False)


# -- beyond the gradient: jvp, vjp, jacobian, hessian, hvp, implicit -----------------------


def _usage(message: str):
    from .errors import USAGE, AdcliError

    return AdcliError(USAGE, message)


def _derivative(
    kind: str,
    expr: str,
    at: str | None,
    compute: Callable[[Any], Any],
    as_json: bool,
    digits: int,
    trace: bool = False,
    steps: bool = False,
    points: str | None = None,
    fmt: str = "jsonl",
) -> None:
    """The shared body of the derivative commands: load, compute, print."""

    def action():
        from . import core, render

        if points is not None:
            if trace or steps:
                raise _usage("--trace and --steps show one point: use --at, not --points")
            if fmt == "coo":
                raise _usage("--format coo shows one point's sparse matrix: use --at, not --points")
            problem = core.load_many(core.read_expression(expr), points, at, expr_from_stdin=expr == "-")
            result = compute(problem)
            _warn(result.warnings, as_json)
            doc = render.derivative_json(kind, result)
            _emit(render.points_docs_output(doc, problem, fmt))
            return core.points_exit_code(problem)
        if fmt == "coo" and kind not in ("jacobian", "hessian"):
            raise _usage("--format coo lists the non-zero entries of a jacobian or hessian")
        result = compute(core.load(core.read_expression(expr), at))
        _warn(result.warnings, as_json)
        if fmt == "coo":
            _emit(render.dumps(render.coo_json(kind, result)) if as_json else render.coo_text(kind, result, digits))
        elif as_json:
            _emit(render.dumps(render.derivative_json(kind, result, trace, steps)))
        else:
            _emit(render.derivative_text(kind, result, digits, trace, steps))
        return 0

    run(action, as_json)


@app.command("jvp")
def jvp_cmd(
    expr: ExprArg,
    at: AtOpt = None,
    direction: DirOpt = None,
    wrt: WrtOpt = None,
    trace: TraceOpt = False,
    steps: StepsOpt = False,
    points: PointsOpt = None,
    fmt: FormatOpt = "jsonl",
    as_json: JsonOpt = False,
    digits: DigitsOpt = 6,
) -> None:
    """Print J·v, the Jacobian of EXPR times a direction v, in one forward sweep
    (EXPR may have several outputs, separated by commas).

    Examples:

      adcli jvp "x1*x2 + sin(x1), exp(x2) + x1^2" --at x1=1,x2=0 --dir 2,-1

      adcli jvp "x*y*z" --at x=1,y=2,z=3 --dir 1,0,0 --steps

      adcli jvp "hypot(x, y)" --at x=3,y=4 --dir "1/sqrt(2),1/sqrt(2)" --json
    """

    def compute(problem):
        from .derivatives import run_jvp

        return run_jvp(problem, direction, wrt, record=steps)

    _derivative("jvp", expr, at, compute, as_json, digits, trace, steps, points, fmt)


@app.command("vjp")
def vjp_cmd(
    expr: ExprArg,
    at: AtOpt = None,
    cotangent: CotangentOpt = None,
    wrt: WrtOpt = None,
    trace: TraceOpt = False,
    steps: StepsOpt = False,
    points: PointsOpt = None,
    fmt: FormatOpt = "jsonl",
    as_json: JsonOpt = False,
    digits: DigitsOpt = 6,
) -> None:
    """Print uᵀ·J, a cotangent u times the Jacobian of EXPR, in one reverse sweep.

    Examples:

      adcli vjp "x1*x2 + sin(x1), exp(x2) + x1^2" --at x1=1,x2=0 --cotangent 1,0

      adcli vjp "x*y, x+y" --at x=1,y=2 --cotangent 1,-1 --steps

      adcli vjp "sin(x)*y" --at x=pi/3,y=2 --cotangent 1 --json
    """

    def compute(problem):
        from .derivatives import run_vjp

        return run_vjp(problem, cotangent, wrt, record=steps)

    _derivative("vjp", expr, at, compute, as_json, digits, trace, steps, points, fmt)


@app.command("jacobian")
def jacobian_cmd(
    expr: ExprArg,
    at: AtOpt = None,
    mode: JacobianModeOpt = "auto",
    wrt: WrtOpt = None,
    trace: TraceOpt = False,
    steps: StepsOpt = False,
    points: PointsOpt = None,
    fmt: FormatOpt = "jsonl",
    as_json: JsonOpt = False,
    digits: DigitsOpt = 6,
) -> None:
    """Print the m×n Jacobian of EXPR (m outputs, n inputs) and how many sweeps
    it took: forward mode needs n (one per input), reverse mode m (one per
    output); auto picks the fewer and says why.

    Examples:

      adcli jacobian "x*y*z, x+y+z, x^2-y" --at x=1,y=2,z=3

      adcli jacobian "a*b + c*d + w" --at a=1,b=2,c=3,d=4,w=5 --mode forward

      adcli jacobian "r*cos(t), r*sin(t)" --at r=2,t=pi/6 --mode reverse --steps --json
    """

    def compute(problem):
        from .derivatives import run_jacobian

        return run_jacobian(problem, mode, wrt, record=steps)

    _derivative("jacobian", expr, at, compute, as_json, digits, trace, steps, points, fmt)


@app.command("hessian")
def hessian_cmd(
    expr: ExprArg,
    at: AtOpt = None,
    wrt: WrtOpt = None,
    trace: TraceOpt = False,
    steps: StepsOpt = False,
    points: PointsOpt = None,
    fmt: FormatOpt = "jsonl",
    as_json: JsonOpt = False,
    digits: DigitsOpt = 6,
) -> None:
    """Print the exact Hessian of a scalar EXPR (with its value and gradient),
    by forward-over-reverse: one reverse sweep on dual numbers per input, each
    giving a column H·e_j. --trace and --steps show the sweeps one after another.

    Examples:

      adcli hessian "x^2*y + sin(x*y)" --at x=1,y=2

      adcli hessian "100*(y - x^2)^2 + (1 - x)^2" --at x=1,y=1 --json

      adcli hessian "x*exp(y)" --at x=2,y=0 --steps
    """

    def compute(problem):
        from .derivatives import run_hessian

        return run_hessian(problem, wrt, record=steps)

    _derivative("hessian", expr, at, compute, as_json, digits, trace, steps, points, fmt)


@app.command("hvp")
def hvp_cmd(
    expr: ExprArg,
    at: AtOpt = None,
    direction: DirOpt = None,
    wrt: WrtOpt = None,
    trace: TraceOpt = False,
    steps: StepsOpt = False,
    points: PointsOpt = None,
    fmt: FormatOpt = "jsonl",
    as_json: JsonOpt = False,
    digits: DigitsOpt = 6,
) -> None:
    """Print H·v, the Hessian of a scalar EXPR times a direction v, without
    forming H: one reverse sweep on dual numbers (forward-over-reverse).

    Examples:

      adcli hvp "x^2*y + sin(x*y)" --at x=1,y=2 --dir 1,0

      adcli hvp "100*(y - x^2)^2 + (1 - x)^2" --at x=0,y=0 --dir 1,1 --steps

      adcli hvp "x*y*z" --at x=1,y=2,z=3 --dir 0,0,1 --json
    """

    def compute(problem):
        from .derivatives import run_hvp

        return run_hvp(problem, direction, wrt, record=steps)

    _derivative("hvp", expr, at, compute, as_json, digits, trace, steps, points, fmt)


@app.command("implicit")
def implicit_cmd(
    expr: ExprArg,
    solve: SolveOpt = None,
    at: AtOpt = None,
    wrt: WrtOpt = None,
    newton: NewtonOpt = False,
    as_json: JsonOpt = False,
    digits: DigitsOpt = 6,
) -> None:
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

    def compute(problem):
        from .derivatives import run_implicit

        return run_implicit(problem, solve, wrt, newton=newton)

    _derivative("implicit", expr, at, compute, as_json, digits)


@app.command("check")
def check_cmd(
    expr: Annotated[
        str | None,
        typer.Argument(
            help="The expression; - reads standard input, @FILE reads a file. Omit it with --cases.", show_default=False
        ),
    ] = None,
    at: AtOpt = None,
    points: PointsOpt = None,
    random: Annotated[
        int | None,
        typer.Option("--random", help="Check at N random points (see --box, --seed).", show_default=False),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed for --random points and the dot-product test.", show_default=False),
    ] = None,
    box: Annotated[
        str | None,
        typer.Option(
            "--box",
            help="Where --random draws: lo:hi for every input, or x=0:1,y=-1:1 [default: -2:2].",
            show_default=False,
        ),
    ] = None,
    cases: Annotated[
        str | None,
        typer.Option(
            "--cases",
            help="A file of cases, one a line: EXPR | x1=1,x2=2 [| GRADIENT] (- = stdin).",
            show_default=False,
        ),
    ] = None,
    grad: Annotated[
        list[str] | None,
        typer.Option(
            "--grad",
            help='A hand-derived gradient: "g1, g2, ..." (one per input), or x1="..." repeated.',
            show_default=False,
        ),
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="Engine checked: reverse, forward, or both (forward against reverse).")
    ] = "reverse",
    wrt: WrtOpt = None,
    method: Annotated[
        str, typer.Option("--method", help="Finite differences: central, forward or richardson.")
    ] = "central",
    step: Annotated[
        float | None,
        typer.Option(
            "--step",
            help="Fixed step for every input (default: cbrt(eps)·max(1,|x|) per input for central).",
            show_default=False,
        ),
    ] = None,
    rtol: Annotated[float, typer.Option("--rtol", help="Pass if |ad - ref| <= atol + rtol·|ref|.")] = 1e-6,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance of the pass rule.")] = 1e-8,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print nothing on success, only failing rows otherwise.")
    ] = False,
    as_json: JsonOpt = False,
    digits: DigitsOpt = 6,
) -> None:
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

    def action():
        from . import check, core, render

        opts = check.options(mode, wrt, method, step, rtol, atol, seed)
        if cases is not None:
            if expr is not None or at is not None or points is not None or random is not None or grad:
                raise check.AdcliError("usage", "--cases takes no expression, --at, --points, --random or --grad")
            text = core.read_expression(cases if cases == "-" else "@" + cases)
            res = check.run_cases(text, "standard input" if cases == "-" else cases, opts)
            if as_json:
                _emit(render.dumps(render.cases_json(res)))
            else:
                _emit(render.cases_quiet_text(res, digits) if quiet else render.cases_text(res, digits))
            return res.exit_code()
        if expr is None:
            raise check.AdcliError(
                "usage", "missing the expression (or --cases FILE)", hint='adcli check "x^2*sin(x)" --at x=1.3'
            )
        text = core.read_expression(expr)
        if box is not None and random is None:
            raise check.AdcliError("usage", "--box goes with --random N")
        if points is not None or random is not None:
            if at is not None:
                raise check.AdcliError("usage", "give either --at or --points/--random, not both")
            g, X, source, used_seed = check.load_points(text, points, random, seed, box, expr_from_stdin=expr == "-")
            opts.seed = used_seed
            result = check.check_points(g, X, opts, grad, source=source)
        else:
            result = check.run_check(core.load(text, at), mode, wrt, method, step, rtol, atol, grad, seed)
        if as_json:
            _emit(render.dumps(render.check_json(result)))
        else:
            _emit(render.check_quiet_text(result, digits) if quiet else render.check_text(result, digits))
        return result.exit_code()

    run(action, as_json)


@app.command("descend")
def descend_cmd(
    expr: ExprArg,
    at: AtOpt = None,
    lr: Annotated[
        float | None,
        typer.Option(
            "--lr",
            help="Learning rate (gd; default 0.1), or the first step length tried (newton; default 1).",
            show_default=False,
        ),
    ] = None,
    iters: Annotated[int, typer.Option("--iters", min=0, help="At most this many steps.")] = 50,
    tol: Annotated[
        float, typer.Option("--tol", help="Stop when the gradient norm or the step is at most this.")
    ] = 1e-8,
    momentum: Annotated[float, typer.Option("--momentum", help="Heavy-ball momentum in [0, 1) (gd only).")] = 0.0,
    method: Annotated[str, typer.Option("--method", help="gd (gradient descent) or newton (exact Hessian).")] = "gd",
    wrt: WrtOpt = None,
    plot: Annotated[
        str | None,
        typer.Option(
            "--plot",
            help="Also draw the path to FILE.png/.svg: on a contour plot for two inputs (needs matplotlib).",
            show_default=False,
        ),
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Show every iteration (else the first and last 10).")] = False,
    as_json: JsonOpt = False,
    digits: DigitsOpt = 6,
) -> None:
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

    def action():
        from . import core, descend, render

        result = descend.load_descend(
            core.read_expression(expr), at, lr=lr, iters=iters, tol=tol, momentum=momentum, method=method, wrt=wrt
        )
        if plot is not None:
            from .plot import write_descent_image

            write_descent_image(result, plot)
        _warn(result.warnings, as_json)
        if as_json:
            _emit(render.dumps(render.descend_json(result)))
        else:
            _emit(render.descend_text(result, digits, show_all))
            if result.error is not None:
                sys.stderr.write(render.error_text(result.error) + "\n")
        return BAD_INPUT if result.error is not None else OK

    run(action, as_json)


@app.command("plot")
def plot_cmd(
    expr: ExprArg,
    wrt: Annotated[
        str | None,
        typer.Option(
            "--wrt", help="The input on the horizontal axis (needed when there are several).", show_default=False
        ),
    ] = None,
    range_: Annotated[str, typer.Option("--range", help="The interval a:b of that input (-pi:pi is fine).")] = "-3:3",
    at: Annotated[
        str | None,
        typer.Option("--at", help="Values of the other inputs: y=2,z=pi/4.", show_default=False),
    ] = None,
    hessian: Annotated[bool, typer.Option("--hessian", help="Also draw the second derivative ∂²f/∂x².")] = False,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help='Write an image instead: FILE.png, .svg or .pdf (needs matplotlib: pip install "adcli[plot]").',
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the samples as JSON (null where f is undefined).")
    ] = False,
    digits: Annotated[int, typer.Option("--digits", min=1, max=17, help="Significant digits of the axis labels.")] = 3,
) -> None:
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

    def action():
        from . import core, render
        from .plot import IMAGE_SAMPLES, MAX_WIDTH, run_plot, text_samples, write_image

        width = min(render._width(), MAX_WIDTH)
        n = IMAGE_SAMPLES if (output is not None or as_json) else text_samples(width)
        data = run_plot(core.read_expression(expr), wrt, range_, at, hessian, n)
        _warn(data.warnings, as_json)
        if as_json:
            _emit(render.dumps(render.plot_json(data)))
        if output is not None:
            path = write_image(data, output)
            if not as_json:
                sys.stderr.write(f"wrote {path}\n")
        elif not as_json:
            _emit(render.plot_text(data, digits, width))
        return OK

    run(action, as_json)


def entry() -> None:
    """Console-script entry point. Building a click command from a Typer
    function costs a millisecond or two each; a one-shot command builds only
    itself (the REPL, which dispatches to all of them, gets every one)."""
    wanted = sys.argv[1] if len(sys.argv) > 1 else None
    chosen = [c for c in app.registered_commands if c.name == wanted]
    if chosen and wanted != "repl":
        app.registered_commands = chosen
    elif sys.argv[1:] in (["--help"], ["-h"]):
        _summaries_only()
    app(prog_name="adcli")


def _summaries_only() -> None:
    """``adcli --help`` lists each command by its docstring's summary and needs
    none of their options: give Typer parameterless stand-ins to build."""
    for info in app.registered_commands:

        def stand_in() -> None:  # pragma: no cover - never called
            pass

        stand_in.__doc__ = info.callback.__doc__ if info.callback else None
        info.callback = stand_in


class _ExprCommand(typer.core.TyperCommand):
    """An expression may begin with a minus sign (adcli grad "-x^2" --at x=3).
    An argument that starts with "-" but is neither one of the command's
    options nor an option's value is moved behind "--", so click reads it as
    the expression instead of a cluster of short options (-x, -h...)."""

    def parse_args(self, ctx, args):
        takes_value, names = set(), set()
        for param in self.params:
            if isinstance(param, typer.core.click.Option):
                names.update(param.opts + param.secondary_opts)
                if not param.is_flag and not param.count:
                    takes_value.update(param.opts)
        kept, moved, k = [], [], 0
        while k < len(args):
            a = args[k]
            if a == "--":
                kept += args[k:]
                break
            if a in takes_value and k + 1 < len(args):
                kept += [a, args[k + 1]]
                k += 2
                continue
            if a.startswith("-") and len(a) > 1 and a.split("=", 1)[0] not in names and not a.startswith("--"):
                moved.append(a)
            else:
                kept.append(a)
            k += 1
        if moved:
            kept = kept + (["--"] if "--" not in kept else []) + moved
        return super().parse_args(ctx, kept)


for _info in app.registered_commands:
    _info.cls = _ExprCommand
