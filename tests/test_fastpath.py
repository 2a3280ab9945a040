"""adcli.fastpath against the Typer app: for every command line, the fast path
either declines (and the Typer app runs it) or gives byte-identical stdout,
stderr and exit code. Both run in this process, so each case costs milliseconds."""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys

import pytest
from budget import examples
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adcli import cli, fastpath
from adcli.commands import COMMANDS

EX = "log((x1+x2)^2+sin(x1*x2))"


def _typer(argv: list[str]) -> int:
    saved = list(cli.app.registered_commands)  # entry() keeps only the command it runs
    try:
        return cli.entry(list(argv))
    finally:
        cli.app.registered_commands = saved


def both(argv: list[str], capsys, monkeypatch, stdin: str = "") -> tuple[tuple | None, tuple]:
    """(fast path's (code, stdout, stderr) or None if it declined, Typer's)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    code = fastpath.run(list(argv))
    fast = None if code is None else (code, *capsys.readouterr())
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    slow = (_typer(argv), *capsys.readouterr())
    return fast, slow


# (argv, does the fast path take it?)
CASES = [
    (["grad", EX, "--at", "x1=1,x2=2"], True),
    (["grad", EX, "--at", "x1=1,x2=2", "--json"], True),
    (["grad", "--at", "x=1,y=2", "x^2*y"], True),
    (["grad", "x^2*y", "--at", "x=1,y=2", "--mode", "forward", "--trace", "--steps", "--digits", "3"], True),
    (["grad", "x^2*sin(x)", "--at", "x=1.3", "--check", "--wrt", "x"], True),
    (["grad", "x+", "--at", "x=1"], True),
    (["grad", "x+", "--at", "x=1", "--json"], True),
    (["grad", "log(x)", "--at", "x=-1"], True),
    (["grad", "x^2", "--at", "x=1", "--mode", "sideways"], True),
    (["grad", "x^2", "--at", "y=1"], True),
    (["grad", "x^2", "--at", "x=1", "--points", "nofile.csv"], True),
    (["grad", "x^2", "--at", "x=1", "--digits", "17"], True),
    (["eval", "", "--at", "x=1"], True),
    (["eval", "x*y, x+y", "--at", "x=pi/4,y=2", "--digits", "3"], True),
    (["eval", "-", "--at", "x=2"], True),
    (["eval", "x*y", "--at", "x=1,y=2", "--const", "y=3"], True),
    (["trace", "x*y", "--at", "x=1,y=2", "--format", "markdown"], True),
    (["jacobian", "x*y, x+y", "--at", "x=1,y=2", "--format", "coo"], True),
    (["hessian", "x^2*y", "--at", "x=1,y=2", "--json"], True),
    (["check", "x^2*sin(x)", "--at", "x=1.3", "--rtol", "1e-3", "-q"], True),
    (["check", "x^2", "--random", "5", "--seed", "1", "--box", "0:1"], True),
    (["descend", "(x-1)^2", "--at", "x=0", "--lr", "0.1", "--iters", "5", "--all"], True),
    (["diff", "x^3*y", "--order", "2"], True),
    (["export", "x*y", "--lang", "c", "--name", "fg"], True),
    (["jvp", "x*y", "--at", "x=1,y=2", "--dir", "-1,2"], True),
    (["plot", "x^2", "--range", "-1:1", "--json"], True),
    (["grad", "x^2", "--at", "--json"], True),
    # declined: the Typer app answers
    (["grad", "x^2", "--at", "x=1", "--digits", "0"], False),
    (["grad", "x^2", "--at", "x=1", "--digits", "abc"], False),
    (["grad", "x^2", "--at", "x=1", "--digits", "+3"], False),
    (["grad", "x^2", "--at", "x=1", "--at", "x=2"], False),
    (["grad", "x^2", "--at", "x=1", "--json", "--json"], False),
    (["grad", "x^2", "--at", "x=1", "--bogus"], False),
    (["grad", "x^2", "--at", "x=1", "--bogus", "--json"], False),
    (["grad", "x^2", "--at=x=1"], False),
    (["grad", "--", "-x^2", "--at", "x=1"], False),
    (["grad", "-x^2", "--at", "x=3"], False),
    (["grad", "x^2", "--at", "x=1", "--help"], False),
    (["grad", "x^2", "-h"], False),
    (["grad"], False),
    (["grad", "x", "y", "--at", "x=1"], False),
    (["grad", "x^2", "--at"], False),
    (["grad", "x^2", "--points", "p.csv", "--trace"], False),
    (["grad", "x^2", "--at", "x=1", "--format", "csv"], False),
    (["grad", "x^2", "--at", "x=1", "--format", "csv", "--json"], False),
    (["gard", "x^2", "--at", "x=1"], False),
    (["check", "x^2", "--at", "x=1", "--grad", "2*x"], False),
    (["check", "x^2", "--at", "x=1", "--rtol", "nan"], False),
    (["check", "x^2", "--at", "x=1", "--random", "3"], False),
    (["descend", "x^2", "--at", "x=0", "--momentum", "0.5", "--method", "newton"], False),
    ([], False),
]


@pytest.mark.parametrize(("argv", "taken"), CASES, ids=[" ".join(a) or "(none)" for a, _ in CASES])
def test_fast_path_matches_typer(argv, taken, capsys, monkeypatch):
    fast, slow = both(argv, capsys, monkeypatch, stdin="x^3")
    assert (fast is not None) == taken
    if fast is not None:
        assert fast == slow
    assert slow[1] or slow[2] or argv == [] or "-q" in argv, "every case prints something"


def test_repl_and_completion_stay_with_typer(monkeypatch):
    assert fastpath.parse(["repl"]) is None
    assert fastpath.parse(["grad", "x", "--at", "x=1"]) is not None
    monkeypatch.setenv("_ADCLI_COMPLETE", "bash_complete")
    assert fastpath.parse(["grad", "x", "--at", "x=1"]) is None


def test_registry_reads_as_click_does():
    """What the fast path assumes of each option is what Typer made of it: the same
    spellings (no --no-flag twin), a flag exactly for bool, one value otherwise."""
    import click
    from typer.main import get_command

    group = get_command(cli.app)
    ctx = click.Context(group, info_name="adcli")
    for name, cmd in COMMANDS.items():
        params = {p.name: p for p in group.get_command(ctx, name).params}
        for field, tp, m in cmd.specs():
            p = params[field]
            if not m.flags:
                assert isinstance(p, click.Argument) and p.required == m.required
                continue
            assert sorted(p.opts) == sorted(m.flags) and not p.secondary_opts, (name, field)
            kind = fastpath._kind(tp)
            assert p.is_flag == (kind is bool), (name, field)
            assert p.multiple == (kind is None), (name, field)
            assert not p._flag_needs_value, (name, field)  # its value is always the next word


OPTION_VALUES = {
    str: ["x=1,y=2", "x=2", "forward", "reverse", "jsonl", "csv", "x", "", "@nofile", "-1,2", "--json"],
    int: ["3", "1", "0", "17", "18", "+2", "x", "-1"],
    float: ["0.1", "1e-3", "2", ".5", "nan", "-1", "x"],
}


@st.composite
def command_lines(draw):
    name = draw(st.sampled_from(["grad", "eval", "hessian", "trace"]))
    specs = COMMANDS[name].specs()
    words = [draw(st.sampled_from(["x^2*y", "x*y, x+y", "sin(x", "-x", "x^2 + z"]))]
    for _, tp, m in draw(st.lists(st.sampled_from([s for s in specs if s[2].flags]), max_size=5)):
        kind = fastpath._kind(tp)
        words.append(m.flags[0])
        if kind is not bool:
            words.append(draw(st.sampled_from(OPTION_VALUES[kind or str])))
    words = draw(st.permutations(words))
    if draw(st.booleans()):
        words.insert(draw(st.integers(0, len(words))), draw(st.sampled_from(["--", "--help", "--at=x=1", "-q"])))
    return [name, *words]


# both() empties capsys and sets stdin before each path runs: the fixtures are safe to share
@settings(max_examples=examples(40), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=command_lines())
def test_generated_command_lines_match_typer(argv, capsys, monkeypatch):
    fast, slow = both(argv, capsys, monkeypatch)
    event("fast path" if fast is not None else "declined")
    if fast is not None:
        assert fast == slow


def test_grad_imports_neither_typer_nor_click():
    code = (
        "import sys, adcli; sys.argv = ['adcli', 'grad', 'log((x1+x2)^2+sin(x1*x2))', '--at', 'x1=1,x2=2']\n"
        "try: adcli.main()\nexcept SystemExit: pass\n"
        "assert not {'typer', 'click'} & set(sys.modules), sorted(sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    u = 9 + math.sin(2)  # (x1+x2)^2 + sin(x1*x2) at (1, 2)
    value, g1, g2 = math.log(u), (6 + 2 * math.cos(2)) / u, (6 + math.cos(2)) / u
    assert r.stdout.split() == ["f", f"{value:.6g}", "∂f/∂x1", f"{g1:.6g}", "∂f/∂x2", f"{g2:.6g}"]


def _blas_threads(env_value: str | None, run_main: bool = True) -> str:
    """OPENBLAS_NUM_THREADS as numpy found it, in a fresh process that runs one command."""
    code = (
        "import os, sys, adcli\n"
        + (
            "sys.argv = ['adcli', 'eval', 'x + 1', '--at', 'x=1']\ntry: adcli.main()\nexcept SystemExit: pass\n"
            if run_main
            else "import numpy\n"
        )
        + "assert 'numpy' in sys.modules\n"
        "sys.__stderr__.write('threads=' + str(os.environ.get('OPENBLAS_NUM_THREADS')) + '\\n')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if env_value is not None:
        env["OPENBLAS_NUM_THREADS"] = env_value
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return r.stderr.strip().splitlines()[-1]


def test_the_command_line_starts_openblas_with_one_thread_unless_told():
    assert _blas_threads(None) == "threads=1"  # before numpy is imported, so OpenBLAS reads it
    assert _blas_threads("3") == "threads=3"  # the user's choice stands
    assert _blas_threads(None, run_main=False) == "threads=None"  # import adcli alone: environment untouched
