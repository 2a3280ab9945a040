"""A Typer-free route for the command lines it fully understands.

Importing Typer and click costs about 20 ms of every cold start. This module
reads the options of a command from its registry entry (:mod:`adcli.commands`)
and parses the plain shapes of a command line: the command, then options each
given once (a flag, or a long/short option and its value as the next word)
and the expression. Anything else (``--help``, ``--opt=value``, ``--``, an
unknown or repeated option, an expression that starts with "-", a value click
would reject or convert differently, options that do not go together, shell
completion) returns ``None`` and goes to the Typer app unchanged, so every
help, usage and error message stays Typer's and adcli's own. The run itself
is :func:`adcli.commands.execute`, the same one the Typer callbacks call.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any, get_args

from .commands import COMMANDS, Command, Meta, defaults, execute
from .errors import AdcliError

# Shell completion (click's _ADCLI_COMPLETE) and the interactive REPL stay with Typer.
_COMPLETION_VAR = "_ADCLI_COMPLETE"
_TYPER_ONLY = {"repl"}

# The values whose conversion the fast path does itself, exactly as click's INT
# and FLOAT do; any other spelling (+5, 1_000, nan, 0x10, " 3") goes to click.
_INT = re.compile(r"[0-9]+\Z")
_FLOAT = re.compile(r"([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\Z")


def _kind(tp: Any) -> type | None:
    """str, bool, int or float for a field of type ``T`` or ``T | None``; None otherwise (lists)."""
    if tp in (str, bool, int, float):
        return tp
    args = get_args(tp)
    if len(args) == 2 and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        if inner in (str, int, float):
            return inner
    return None


def _convert(kind: type, text: str, m: Meta) -> Any:
    """The option value as click would pass it, or None for anything left to click."""
    if kind is str:
        return text
    if not (_INT if kind is int else _FLOAT).match(text):
        return None
    value = kind(text)
    if (m.min is not None and value < m.min) or (m.max is not None and value > m.max):
        return None
    return value


def parse(argv: Sequence[str]) -> tuple[Command, dict[str, Any]] | None:
    """The command and its option values (one per field of its options class),
    or None when the command line is not one of the plain shapes above."""
    if not argv or _COMPLETION_VAR in os.environ or argv[0] in _TYPER_ONLY:
        return None
    cmd = COMMANDS.get(argv[0])
    if cmd is None:
        return None
    by_flag: dict[str, tuple[str, Any, Meta]] = {}
    argument = None
    for spec in cmd.specs():
        if spec[2].flags:
            by_flag.update(dict.fromkeys(spec[2].flags, spec))
        else:
            argument = spec
    values = defaults(cmd)
    given: dict[str, Any] = {}  # as usage.check_options reads it: long option name (or EXPR) -> value
    k = 1
    while k < len(argv):
        word = argv[k]
        if word.startswith("-") and word != "-":  # "-" alone is the expression: standard input
            if word not in by_flag:
                return None
            name, tp, m = by_flag[word]
            main = max(m.flags, key=len)
            kind = _kind(tp)
            if main in given or kind is None:
                return None
            if kind is bool:
                if values[name] is not False:  # a flag that is on by default: click's flag_value rules
                    return None
                value: Any = True
            else:
                k += 1  # the next word, even one that starts with "-" (--dir -1,2), as click takes it
                if k == len(argv):
                    return None
                value = _convert(kind, argv[k], m)
                if value is None:
                    return None
            values[name] = given[main] = value
        else:
            if argument is None or argument[0].upper() in given:
                return None
            values[argument[0]] = given[argument[0].upper()] = word
        k += 1
    if argument is not None and argument[2].required and argument[0].upper() not in given:
        return None
    from . import usage

    try:
        usage.check_options(cmd.name, given)
    except AdcliError:
        return None
    return cmd, values


def run(argv: Sequence[str]) -> int | None:
    """Run ``adcli ARGV...`` and return its exit code, or None: the Typer app's to run."""
    parsed = parse(argv)
    if parsed is None:
        return None
    return execute(*parsed)
