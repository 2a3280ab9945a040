"""Which options go together, and usage errors in adcli's own format.

:func:`check_options` is the one place that knows which options a command's
other options rule out; every command's options pass through it (the Typer
commands from :class:`adcli.cli._ExprCommand`). :func:`from_click` turns
click's own usage errors into :class:`AdcliError` (kind ``usage``) pointing
into the command line, so that they print like every other error and as a
JSON document under ``--json``. Nothing here imports click or numpy; difflib and shlex only for an error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import USAGE, AdcliError

# --format values. graph draws; the commands that take --points print its rows.
GRAPH_FORMATS = ("text", "dot", "mermaid")
POINTS_FORMATS = ("jsonl", "csv", "parquet")  # the --points output formats (tabular.py writes them)
# commands whose --format chooses how one result is written (not --points rows)
OWN_FORMATS = {"graph": GRAPH_FORMATS, "trace": ("text", "latex", "markdown"), "diff": ("text", "latex", "python")}
# Options that only make sense at one point: with --points they do not apply.
ONE_POINT_ONLY = {
    "--trace": "--trace shows one point",
    "--steps": "--steps shows one point",
    "--digits": "--digits rounds text output; --points prints every number in full",
    "--check": "--check checks one point (adcli check --points checks many)",
}


def _error(message: str, hint: str | None = None, option: str | None = None) -> AdcliError:
    return AdcliError(USAGE, message, hint=hint, extra={"option": option} if option else {})


def check_options(command: str, given: Mapping[str, Any]) -> None:
    """Raise a usage error if an option the user gave does not apply with the others.

    ``given`` maps each option given on the command line (``"--points"``) to its
    value; options left at their defaults are not in it.
    """
    if given.get("--format") == "coo" and command in ("jacobian", "hessian"):
        if "--points" in given:
            raise _error("--format coo shows one point's sparse matrix", "use --at, not --points", "--format")
        given = {k: v for k, v in given.items() if k != "--format"}  # one point: the non-zeros as coordinates
    if "--format" in given:
        fmt = given["--format"]
        allowed = OWN_FORMATS.get(command, POINTS_FORMATS)
        if fmt not in allowed:
            raise _error(
                f"unknown --format {fmt!r} for {command}", f"--format is one of {', '.join(allowed)}", "--format"
            )
        if command not in OWN_FORMATS and "--points" not in given:
            raise _error(f"--format {fmt} goes with --points", "one point prints text, or JSON with --json", "--format")
    if "--points" in given and command != "check":
        for option, why in ONE_POINT_ONLY.items():
            if option in given:
                raise _error(f"{option} does not apply with --points: {why}", "use --at for one point", option)
        if "--json" in given and given.get("--format", "jsonl") != "jsonl":
            raise _error("--json does not apply with --format csv", "--points prints JSON Lines by default", "--json")
    if command == "check":
        _check_check(given)
    if command == "descend" and "--momentum" in given and given.get("--method", "gd") != "gd":
        raise _error("--momentum applies to --method gd only", None, "--momentum")


def _check_check(given: Mapping[str, Any]) -> None:
    if "--cases" in given:
        extra = [o for o in ("EXPR", "--at", "--points", "--random", "--grad", "--box") if o in given]
        if extra:
            raise _error(f"--cases takes no {' or '.join(extra)}: each case line has its own", None, extra[0])
    if "--box" in given and "--random" not in given:
        raise _error("--box goes with --random N", None, "--box")
    if "--at" in given and ("--points" in given or "--random" in given):
        raise _error("give either --at or --points/--random, not both", None, "--at")
    if "--points" in given and "--random" in given:
        raise _error("give either --points or --random, not both", None, "--random")


def repeated(args: Sequence[str], names: Mapping[str, str], takes_value: set[str], multiple: set[str]) -> None:
    """Raise a usage error for an option given twice (click would keep the last).

    ``names`` maps every spelling (``-q``, ``--quiet``) to the option's main
    name; options in ``multiple`` may repeat (``--grad x=... --grad y=...``).
    """
    seen: dict[str, int] = {}
    k = 0
    while k < len(args):
        a = args[k]
        if a == "--":
            break
        spelled = a.split("=", 1)[0] if a.startswith("--") else a
        main = names.get(spelled)
        step = 2 if (a in takes_value and "=" not in a) else 1
        if main is not None and main not in multiple:
            if main in seen:
                hint = "give every value in one --at: --at x=1,y=2" if main == "--at" else f"give {main} once"
                err = _error(f"{main} given twice (the second would replace the first)", hint, main)
                raise _point(err, args, k, min(k + step, len(args)))
            seen[main] = k
        k += step


def unknown_command(name: str, commands: Sequence[str]) -> AdcliError:
    import difflib

    close = difflib.get_close_matches(name, list(commands), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else "adcli --help lists the commands"
    return _error(f"no such command {name!r}", hint)


def _sentence(message: str) -> str:
    message = message.strip().rstrip(".")
    return message[:1].lower() + message[1:] if message[1:2].islower() or message[1:2] == " " else message


def from_click(exc: Any, argv: Sequence[str]) -> AdcliError:
    """A click ``UsageError`` as an AdcliError whose span is the offending option
    in the command line ``adcli ARGV...``."""
    import difflib

    param = getattr(exc, "param", None)
    spellings: list[str] = []
    option = getattr(exc, "option_name", None)
    if option:
        spellings = [option]
    elif param is not None and getattr(param, "param_type_name", "") == "option":
        spellings = list(param.opts) + list(getattr(param, "secondary_opts", []))
    message = _sentence(exc.format_message())
    hint = None
    possibilities = getattr(exc, "possibilities", None)
    if option and possibilities:
        close = difflib.get_close_matches(option, list(possibilities), n=1, cutoff=0.5) or sorted(possibilities)[:1]
        message = f"no such option {option!r}"
        hint = f"did you mean {close[0]!r}?"
    ctx = getattr(exc, "ctx", None)
    command = " ".join(ctx.command_path.split()) if ctx is not None else "adcli"
    if hint is None and param is not None and getattr(param, "param_type_name", "") == "argument" and ctx is not None:
        hint = f"{ctx.get_usage().replace('Usage:', 'usage:', 1)}; {command} --help shows examples"
    if hint is None:
        hint = f"{command} --help lists the options"
    err = _error(message, hint, spellings[0] if spellings else None)
    with_value = option is None and param is not None and not getattr(param, "is_flag", False)
    return locate(err, argv, spellings, with_value)


def locate(err: AdcliError, argv: Sequence[str], spellings: Sequence[str], with_value: bool) -> AdcliError:
    """Point ``err`` at the last occurrence of an option (and its value, if it
    takes one) in the command line ``adcli ARGV...``."""
    found = None
    for k, a in enumerate(argv):
        if a == "--":
            break
        if a in spellings:
            found = (k, min(k + 2 if with_value else k + 1, len(argv)))
        elif any(a.startswith(s + "=") for s in spellings if s.startswith("--")):
            found = (k, k + 1)
    return err if found is None else _point(err, argv, *found)


def _point(err: AdcliError, argv: Sequence[str], first: int, last: int) -> AdcliError:
    """Set err's span to argv[first:last] within the command line ``adcli ARGV...``."""
    import shlex

    start = len("adcli ") + len(shlex.join(argv[:first])) + (1 if first else 0)
    end = start + len(shlex.join(argv[first:last]))
    err.source, err.span, err.label = shlex.join(["adcli", *argv]), (start, end), "command line"
    return err
