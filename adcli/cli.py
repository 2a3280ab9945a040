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

from . import __version__, helppage, usage
from .commands import COMMANDS, Command, defaults, execute, guarded
from .errors import BAD_INPUT, OK, AdcliError


class _UsageError(typer.core.click.UsageError):
    """A usage error shown in adcli's error format (a JSON document on stdout
    under --json) wherever click shows one: the shell, CliRunner."""

    exit_code = BAD_INPUT

    def __init__(self, err: AdcliError, args: list[str]) -> None:
        super().__init__(err.message)
        self.err = err
        self.as_json = "--json" in (args[: args.index("--")] if "--" in args else args)

    def show(self, file: Any = None) -> None:
        from . import render

        if self.as_json:
            sys.stdout.write(render.dumps(render.error_json(self.err)) + "\n")
        else:
            sys.stderr.write(render.error_text(self.err) + "\n")


def _in_adcli_format(parse: Callable[[], Any], argv: list[str]) -> Any:
    """Run a parse step; its usage errors (click's or adcli's) as :class:`_UsageError`."""
    try:
        return parse()
    except _UsageError:
        raise
    except typer.core.click.UsageError as exc:
        raise _UsageError(usage.from_click(exc, argv), argv) from None
    except AdcliError as err:
        raise _UsageError(err, argv) from None


class _Group(typer.core.TyperGroup):
    """Usage errors in adcli's format; an unknown command has one suggestion
    (click and Typer each add their own "Did you mean")."""

    def parse_args(self, ctx, args):
        argv = list(args)
        return _in_adcli_format(lambda: super(_Group, self).parse_args(ctx, args), argv)

    def resolve_command(self, ctx, args):
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            raise _UsageError(usage.unknown_command(args[0], self.list_commands(ctx)), list(args))
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=_Group,
    add_completion=True,
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
    sys.stderr.write(helppage.text(helppage.terminal_width()))
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
        code = execute(self.cmd, kwargs)
        if code:
            raise typer.Exit(code)


for _cmd in COMMANDS.values():
    app.command(_cmd.name)(_Callback(_cmd))


def entry(argv: list[str]) -> int:
    """Run ``adcli ARGV...`` and return the exit code. Every usage error (click's
    own, a repeated option, options that do not go together) prints in adcli's
    error format, as JSON under --json. Building a click command from a Typer
    function costs a millisecond or two each; a one-shot command builds only
    itself (the REPL, which dispatches to all of them, and shell completion get
    every one)."""
    import click

    wanted = argv[0] if argv else None
    chosen = [c for c in app.registered_commands if c.name == wanted]
    if chosen and wanted != "repl":
        app.registered_commands = chosen
    try:
        rv = app(argv, prog_name="adcli", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        sys.stderr.write("aborted\n")
        return BAD_INPUT
    except click.exceptions.ClickException as exc:
        exc.show()
        return BAD_INPUT
    except SystemExit as exc:  # shell completion answers and exits
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else BAD_INPUT)
    return rv if isinstance(rv, int) else OK


class _ExprCommand(typer.core.TyperCommand):
    """An expression may begin with a minus sign (adcli grad "-x^2" --at x=3).
    An argument that starts with "-" but is neither one of the command's
    options nor an option's value is moved behind "--", so click reads it as
    the expression instead of a cluster of short options (-x, -h...).
    An option given twice, or one that does not apply with the others
    (:func:`adcli.usage.check_options`), is a usage error. The examples in the
    help are kept as written: click rewraps a paragraph unless it starts with
    its ``\\b`` marker."""

    def __init__(self, *args, **kwargs):
        kwargs["help"] = _examples_kept(kwargs.get("help"))
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx, args):
        argv = [self.name or "", *args]
        return _in_adcli_format(lambda: self._parse_args(ctx, list(args)), argv)

    def _parse_args(self, ctx, args):
        takes_value, names, main_name, multiple = set(), set(), {}, set()
        for param in self.params:
            if isinstance(param, typer.core.click.Option):
                names.update(param.opts + param.secondary_opts)
                main = max(param.opts, key=len)
                main_name.update({o: main for o in param.opts})
                if param.multiple:
                    multiple.add(main)
                if not param.is_flag and not param.count:
                    takes_value.update(param.opts)
        usage.repeated([self.name or "", *args], main_name, takes_value, multiple)
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
        rest = super().parse_args(ctx, kept)
        try:
            usage.check_options(self.name or "", _given(ctx, self.params))
        except AdcliError as err:
            option = err.extra.get("option")
            if option is not None:
                spellings = [o for p in self.params for o in getattr(p, "opts", []) if option in p.opts]
                usage.locate(err, [self.name or "", *args], spellings or [option], option in takes_value)
            raise
        return rest


def _given(ctx, params) -> dict[str, Any]:
    """The options (by their long name) and arguments (EXPR) given on the command line."""
    from click.core import ParameterSource

    given: dict[str, Any] = {}
    for param in params:
        if param.name is None or ctx.get_parameter_source(param.name) in (None, ParameterSource.DEFAULT):
            continue
        value = ctx.params.get(param.name)
        if isinstance(param, typer.core.click.Option):
            given[max(param.opts, key=len)] = value
        elif value is not None:
            given[param.name.upper()] = value
    return given


def _examples_kept(text: str | None) -> str | None:
    """Mark each paragraph after "Examples:" with click's \\b so it is never rewrapped."""
    if not text or "Examples:" not in text:
        return text
    head, tail = text.split("Examples:", 1)
    paragraphs = [p for p in tail.strip("\n").split("\n\n") if p.strip()]
    return head + "Examples:\n\n" + "\n\n".join("\b\n" + p for p in paragraphs)


for _info in app.registered_commands:
    _info.cls = _ExprCommand
    _info.short_help = helppage.SUMMARIES.get(_info.name or "")
