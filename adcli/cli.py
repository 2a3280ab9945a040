"""Thin Typer commands: read options, call :mod:`adcli.core`, print through
:mod:`adcli.render`. Heavy modules (numpy, lark, the engines) are imported
inside the commands so that ``adcli --help`` and ``--version`` start fast."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any, Optional

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

ExprArg = Annotated[str, typer.Argument(help="The expression; - reads standard input, @FILE reads a file.", show_default=False)]
AtOpt = Annotated[
    Optional[str],
    typer.Option("--at", help="The point: x1=1,x2=2 (values may be constant expressions, x=pi/4).", show_default=False),
]
ModeOpt = Annotated[str, typer.Option("--mode", help="Engine: reverse (adjoints) or forward (tangents).")]
WrtOpt = Annotated[
    Optional[str], typer.Option("--wrt", help="Differentiate with respect to these inputs, in this order.", show_default=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document (SPEC section 4).")]
DigitsOpt = Annotated[int, typer.Option("--digits", min=1, max=17, help="Significant digits shown.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"adcli {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Exact derivatives from the command line: values, gradients, and how they were computed."""


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
        sys.stderr.write(f"adcli: internal error: {type(exc).__name__}: {exc}\nplease report this with the command line\n")
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
    as_json: JsonOpt = False,
    digits: DigitsOpt = 6,
) -> None:
    """Print the value(s) of EXPR at a point.

    Examples:

      adcli eval "log((x1+x2)^2+sin(x1*x2))" --at x1=1,x2=2

      adcli eval "x*y, x+y" --at x=pi/4,y=2 --json
    """

    def action():
        from . import core, render

        result = core.run_eval(core.load(core.read_expression(expr), at))
        _warn(result.warnings, as_json)
        _emit(render.dumps(render.eval_json(result)) if as_json else render.eval_text(result, digits))

    run(action, as_json)


@app.command("grad")
def grad_cmd(
    expr: ExprArg,
    at: AtOpt = None,
    mode: ModeOpt = "reverse",
    wrt: WrtOpt = None,
    as_json: JsonOpt = False,
    digits: DigitsOpt = 6,
) -> None:
    """Print the value and the gradient of a scalar EXPR at a point.

    Examples:

      adcli grad "log((x1+x2)^2+sin(x1*x2))" --at x1=1,x2=2

      adcli grad "(x1-x2)^2 + cos(x1+x2)" --at x1=1,x2=2 --mode forward --json

      echo "x^2*sin(x)" | adcli grad - --at x=1.3
    """

    def action():
        from . import core, render

        result = core.run_grad(core.load(core.read_expression(expr), at), mode, wrt)
        _warn(result.warnings, as_json)
        _emit(render.dumps(render.grad_json(result)) if as_json else render.grad_text(result, digits))

    run(action, as_json)


def entry() -> None:
    """Console-script entry point."""
    app()
