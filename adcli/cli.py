"""The Typer app, generated from the command registry (:mod:`adcli.commands`):
one Typer command per registry entry, its options read from the entry's
dataclass. Heavy modules (numpy, lark, the engines) are imported inside the
commands so that ``adcli --help`` and ``--version`` start fast."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from . import __version__
from .commands import COMMANDS, Command, Out, Source, defaults, guarded
from .errors import BAD_INPUT

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Exact derivatives from the command line: values, gradients, and how they were computed.",
)


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


def run(action: Callable[[], Any], as_json: bool) -> None:
    """The CLI side of the shared error boundary (:func:`adcli.commands.guarded`)."""
    code = guarded(action, as_json)
    if code:
        raise typer.Exit(code)


class _Callback:
    """The Typer callback of one registry command. Its signature (one parameter
    per field of the command's options dataclass) is built when Typer asks for
    it, which it does only for the command that runs."""

    def __init__(self, cmd: Command) -> None:
        self.cmd = cmd
        self.__doc__ = cmd.help
        self.__name__ = self.__qualname__ = f"{cmd.name}_cmd"
        self.__module__ = __name__

    @property
    def __signature__(self) -> inspect.Signature:
        params = []
        for name, tp, m in self.cmd.specs():
            default = defaults(self.cmd)[name]
            if not m.flags:
                info: Any = typer.Argument(help=m.help, show_default=False)
                default = inspect.Parameter.empty if m.required else default
            else:
                info = typer.Option(m.flags[0], *m.flags[1:], help=m.help, show_default=m.show_default)
                info.min, info.max = m.min, m.max
            kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
            params.append(inspect.Parameter(name, kind, default=default, annotation=Annotated[tp, info]))
        return inspect.Signature(params)

    @property
    def __annotations__(self) -> dict[str, Any]:  # type: ignore[override]
        return {p.name: p.annotation for p in self.__signature__.parameters.values()}

    def __call__(self, **kwargs: Any) -> None:
        cmd = self.cmd
        opts = cmd.options(**kwargs)
        run(lambda: cmd.run(opts, Source(), Out()), bool(kwargs.get("as_json")))


for _cmd in COMMANDS.values():
    app.command(_cmd.name)(_Callback(_cmd))


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
