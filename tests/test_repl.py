"""The REPL's command layer: routing, definitions as graphs, the point, the mode,
help and completion from the command registry, the prompt_toolkit loop
(through pipe input), the scripted mode, and byte-identical output with the CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from typer.testing import CliRunner

from adcli import repl
from adcli.cli import app
from adcli.commands import COMMANDS, Command, option
from adcli.repl import Line, Session, candidates, run_interactive, run_script

LOG = "log((x1+x2)^2 + sin(x1*x2))"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ADCLI = shutil.which("adcli")


def script(text: str, session: Session | None = None) -> int:
    return run_script(session or Session(), text.splitlines(), "test")


def interactive(keys: str, session: Session | None = None, history=None) -> int:
    """Type ``keys`` into the prompt_toolkit session through a pipe."""
    with create_pipe_input() as inp:
        inp.send_text(keys)
        return run_interactive(
            session or Session(),
            input=inp,
            output=DummyOutput(),
            history=history if history is not None else InMemoryHistory(),
        )


def lines_of(out: str) -> list[str]:
    return out.splitlines()


# -- definitions, the point, commands ------------------------------------------------


def test_define_set_point_grad(capsys):
    rc = script(f"f = {LOG}\nat x1=1, x2=2\ngrad f\n")
    out = capsys.readouterr()
    assert rc == 0
    assert out.out == "f       2.29347\n∂f/∂x1  0.521501\n∂f/∂x2  0.563496\n"
    assert out.err == ""


def test_bare_expression_prints_value_and_gradient(capsys):
    assert script(f"at x1=1, x2=2\n{LOG}\nf = {LOG}\nf\n") == 0
    out = capsys.readouterr().out
    assert out.count("0.521501") == 2 and out.count("0.563496") == 2


def test_definitions_compose_as_one_dag_with_names(capsys):
    s = Session()
    assert script(f"f = {LOG}\ng = f^2 + x1\nat x1=1, x2=2\ntrace g\n", s) == 0
    g = s.defs["g"].graph
    assert g is not None and "f" in {n.name for n in g.nodes}  # g's graph holds f's node, named
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    # f is one node of g's graph, shown by name; g is built on it, not on a copy of its text.
    assert "log(" in rows["f"] and "f^2" in " ".join(rows.values())
    assert sum("log(" in r for r in rows.values()) == 1


def test_composed_gradient_is_right(capsys):
    import math

    script(f"f = {LOG}\ng = f^2 + x1\nat x1=1, x2=2\ngrad g --json\n")
    import json

    doc = json.loads(capsys.readouterr().out)
    s = 9 + math.sin(2)
    f = math.log(s)
    assert doc["value"] == pytest.approx(f * f + 1)
    assert doc["gradient"]["x1"] == pytest.approx(2 * f * (6 + 2 * math.cos(2)) / s + 1)
    assert doc["gradient"]["x2"] == pytest.approx(2 * f * (6 + math.cos(2)) / s)


def test_declared_input_order(capsys):
    assert script("h(x2, x1) = x1*x2^2\nat x1=1, x2=3\ngrad h\n") == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["h", "∂h/∂x2", "∂h/∂x1"]
    assert out[1].split()[1] == "6" and out[2].split()[1] == "9"


def test_declared_input_that_the_body_does_not_use_gets_a_zero_partial(capsys):
    assert script("f(x, y) = x^2\nat x=3, y=1\ngrad f\n") == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["∂f/∂x  6", "∂f/∂y  0"]


def test_declared_inputs_must_cover_the_body(capsys):
    assert script("f(x1) = x1 + x3\n") == 1
    err = capsys.readouterr().err
    assert "x3 is not among the inputs of f(x1)" in err
    assert "  f(x1) = x1 + x3\n               ^^" in err


def test_redefinition_replaces(capsys):
    assert script("f = x^2\nf = x^3\nat x=2\ngrad f\n") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "∂f/∂x  12"


def test_redefining_a_dependency_changes_its_users(capsys):
    assert script("f = x^2\ng = 2*f\nf = x^3\nat x=2\ngrad g\n") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "∂g/∂x  24"


def test_circular_definitions_are_refused(capsys):
    s = Session()
    assert script("f = x^2\ng = f + 1\nf = g * 2\n", s) == 1
    assert "f would depend on itself through g" in capsys.readouterr().err
    assert s.defs["f"].body == "x^2"  # the old f stays
    assert script("k = k + 1\n", s) == 1
    assert "k refers to itself" in capsys.readouterr().err


def test_bare_assignment_of_a_value_says_how_to_set_a_point(capsys):
    s = Session()
    assert script("x1 = 1\n", s) == 1
    err = capsys.readouterr().err
    assert "the point is set with at" in err and "hint: write: at x1=1" in err
    assert "x1" not in s.defs and not s.point
    assert script("x1 = 1, x2 = pi/4\n", s) == 1
    assert "hint: write: at x1=1, x2=pi/4" in capsys.readouterr().err


def test_point_for_one_command_only(capsys):
    s = Session()
    assert script(f"f = {LOG}\nat x1=1, x2=2\ngrad f at x1=0.5, x2=2 --json\ngrad f --json\n", s) == 0
    import json

    first, second = (json.loads(x) for x in capsys.readouterr().out.splitlines())
    assert first["point"] == {"x1": 0.5, "x2": 2.0} and second["point"] == {"x1": 1.0, "x2": 2.0}
    assert s.point == {"x1": 1.0, "x2": 2.0} and s.point_texts == {"x1": "1", "x2": "2"}


def test_point_keeps_constant_expressions_and_ignores_unused_names(capsys):
    assert script("at x=pi/4, y=7, unused=3\nf = sin(x)^2\ngrad f --json\n") == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["point"] == {"x": pytest.approx(0.7853981633974483)}
    assert doc["gradient"]["x"] == pytest.approx(1.0)


def test_missing_point_is_explained(capsys):
    assert script(f"f = {LOG}\ngrad f\n") == 1
    err = capsys.readouterr().err
    assert "missing values for x1, x2" in err
    assert "hint: set the point first: at x1=..., x2=..." in err


def test_mode_switches_engine(capsys):
    s = Session()
    assert script(f"mode forward\nf = {LOG}\nat x1=1, x2=2\ngrad f --json\nmode\n", s) == 0
    out = capsys.readouterr().out.splitlines()
    assert '"mode": "forward"' in out[0] and '"sweeps": 2' in out[0]
    assert out[1] == "mode forward"
    assert script("mode sideways\n", s) == 1
    err = capsys.readouterr().err
    assert "unknown mode 'sideways'" in err and "  mode sideways\n       ^^^^^^^^" in err


def recording(s: Session) -> list:
    """Replace the session's registry call by a recorder of what each line asks for."""
    calls: list = []

    def run_entry(cmd, opts, src):
        g = src.graph(opts.expr) if getattr(opts, "expr", None) else None
        point = src._point(g, complete=False) if g is not None and cmd.has("--at") else None
        calls.append((cmd.name, opts, src.mode(getattr(opts, "mode", ""), ""), point))
        return 0

    s.run_entry = run_entry  # type: ignore[method-assign]
    return calls


def test_mode_is_passed_only_once_set(capsys):
    """Until `mode`, each command keeps its own default engine (jacobian may choose)."""
    s = Session()
    calls = recording(s)
    script("at x=1\njacobian x^2\nmode reverse\ngrad x^2\ngrad x^2 --mode forward\njacobian x^2\n", s)
    assert [c[2] for c in calls] == ["auto", "reverse", "forward", "reverse"]
    capsys.readouterr()


def test_command_line_forms(capsys):
    s = Session()
    calls = recording(s)
    script(
        "f = x*y\nat x=1, y=2\n"
        "grad f --steps at x=3, y=max(1,2) --json\n"
        "grad f # a comment --json\n"
        'trace "f" at x=5\n'
        "graph f\n",
        s,
    )
    got = [
        (name, opts.expr, point, getattr(opts, "steps", None), getattr(opts, "as_json", None))
        for name, opts, _, point in calls
    ]
    assert got == [
        ("grad", "f", [3.0, 2.0], True, True),
        ("grad", "f", [1.0, 2.0], False, False),
        ("trace", "f", [5.0, 2.0], False, False),
        ("graph", "f", [1.0, 2.0], None, None),
    ]
    calls.clear()
    script("reset\nat x=1\ngraph x*y\n", s)
    assert calls[0][3] is None  # an incomplete point: graph draws without values
    capsys.readouterr()


def test_vars_lists_definitions_point_and_mode_and_replays(capsys):
    s = Session()
    script(f"f(x1, x2) = {LOG}\ng = f^2 + x1\nat x1=1, x2=2\nmode forward\nvars\n", s)
    listing = capsys.readouterr().out
    assert listing == f"f(x1, x2) = {LOG}\ng = f^2 + x1\nat x1=1, x2=2\nmode forward\n"
    t = Session()
    assert script(listing, t) == 0  # vars prints a session that can be replayed
    assert t.defs.keys() == s.defs.keys() and t.point == s.point and t.mode == "forward"


def test_reset_forgets_and_clear_only_clears_the_screen(capsys):
    s = Session()
    cleared = []
    s.clear_screen = lambda: cleared.append(1)  # type: ignore[method-assign]
    script("f = x^2\ng = f + y\nat x=1, y=2\nclear\n", s)
    assert cleared == [1] and list(s.defs) == ["f", "g"] and s.point == {"x": 1.0, "y": 2.0}
    assert script("clear f\n", s) == 1
    assert "hint: to forget f, write: reset f" in capsys.readouterr().err
    assert script("reset f\n", s) == 1
    assert "g uses f" in capsys.readouterr().err
    assert script("reset g\nreset y\n", s) == 0
    assert list(s.defs) == ["f"] and s.point == {"x": 1.0}
    s.confirm = lambda question: False  # type: ignore[method-assign]
    assert script("reset\n", s) == 0 and list(s.defs) == ["f"]  # answered no: nothing forgotten
    s.confirm = lambda question: "forget" in question  # type: ignore[method-assign]
    assert script("reset\n", s) == 0
    assert not s.defs and not s.point


def test_quit_stops_a_script(capsys):
    assert script("at x=1\nquit\nthis line would fail(\n") == 0
    assert capsys.readouterr().err == ""


def test_bad_line_reports_and_the_session_goes_on(capsys):
    rc = script(f"f = {LOG}\nat x1=1, x2=2\ngrad log(x1+)\ngrad f\n")
    out = capsys.readouterr()
    assert rc == 1
    assert "0.521501" in out.out
    assert "error: unexpected ')'" in out.err and "            ^" in out.err
    assert "in test, line 3: grad log(x1+)" in out.err
    assert "Traceback" not in out.err


def test_errors_in_definitions_point_into_the_line(capsys):
    assert script("f = log((x1+\n") == 1
    err = capsys.readouterr().err
    assert " --> test, line 1, column" in err
    assert "\n  f = log((x1+\n              ^\n" in err


def test_unknown_command_suggests(capsys):
    assert script("gard f\n") == 1
    err = capsys.readouterr().err
    assert "unknown command gard" in err and "did you mean grad" in err


def test_usage_errors_are_located_on_the_line_and_the_session_goes_on(capsys):
    assert script("at x=1\ngrad x --digits 0\ngrad x --stpes\ngrad x --digits\ngrad x\n") == 1
    out = capsys.readouterr()
    assert "error: --digits must be 1 to 17, not 0\n --> test, line 2, column 17\n  grad x --digits 0\n" in out.err
    assert "error: no such option --stpes for grad" in out.err and "hint: did you mean --steps?" in out.err
    assert "  grad x --stpes\n         ^^^^^^^\n" in out.err
    assert "error: --digits needs a value" in out.err
    assert out.out.splitlines()[-1] == "∂f/∂x  1"


def test_expression_starting_with_minus_is_not_an_option(capsys):
    assert script("at x=3\n-x^2\n") == 0
    assert capsys.readouterr().out.splitlines() == ["f      -9", "∂f/∂x  -6"]


def test_quoted_expression_and_options(capsys):
    assert script('grad "x*y" at x=2, y=5 --wrt y,x\n') == 0
    assert capsys.readouterr().out.splitlines() == ["f      10", "∂f/∂y   2", "∂f/∂x   5"]


def test_repl_inside_repl_is_refused(capsys):
    assert script("repl\n") == 1
    assert "in the REPL already" in capsys.readouterr().err


@given(st.text(alphabet="xy12 .+-*/^(),=;#@\"'atgrdsinlmovhecq\\\t", max_size=40))
def test_no_line_ever_raises_or_prints_a_traceback(text):
    import contextlib
    import io

    s = Session()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        reply = s.execute(Line("at x=1, y=2"))
        reply = s.execute(Line(text))
    assert "Traceback" not in err.getvalue()
    assert "internal error" not in err.getvalue()
    assert reply.code in (0, 1, 2)


# -- help and completion come from the Typer app ---------------------------------------


def test_readme_transcript_is_real():
    """The session shown in README.md, replayed: the same output, errors included."""
    import contextlib
    import io

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The REPL", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"\n((?:    .*\n|\n)+)", section.split("A real session:", 1)[1]).group(1)
    lines = [line[4:] for line in block.strip("\n").splitlines()]
    inputs = [line[len("adcli> ") :] for line in lines if line.startswith("adcli> ")]
    expected = "".join(line + "\n" for line in lines if not line.startswith("adcli> "))
    assert len(inputs) >= 5 and "0.521501" in expected
    s = Session()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        for text in inputs:
            s.execute(Line(text))
    assert buf.getvalue() == expected


def test_help_lists_every_command_of_the_registry(capsys):
    script("help\n")
    out = capsys.readouterr().out
    for name in COMMANDS:
        if name != "repl":
            assert f"  {name} " in out, name
    for word in (
        "at x1=1, x2=2",
        "mode forward|reverse",
        "vars",
        "clear",
        "reset [NAME]",
        "help [COMMAND]",
        "quit",
        "f(x1, x2) = EXPR",
    ):
        assert word in out


def test_help_command_comes_from_the_registry(capsys):
    script("help grad\n")
    out = capsys.readouterr().out
    assert out.startswith("grad EXPR [at x1=1, x2=2] [OPTIONS]\n\nPrint the value and the gradient")
    cmd = COMMANDS["grad"]
    assert cmd.help.strip().splitlines()[-1].strip() in out  # the examples
    for _, _, m in cmd.specs():
        for flag in m.flags:
            assert f"  {flag}" in out and m.help in out
    for same in ("? grad\n", "?grad\n", "grad --help\n"):
        script(same)
        assert capsys.readouterr().out == out
    assert script("help gradd\n") == 1
    assert "did you mean grad" in capsys.readouterr().err
    script("?\n")
    assert capsys.readouterr().out.startswith("Commands (the same as `adcli COMMAND`")


def test_a_new_command_is_one_registry_entry(capsys):
    """Dispatch, help and completion read the registry: nothing else lists the commands."""

    @dataclass
    class DoubleOptions:
        expr: str | None = None
        at: str | None = option("--at", help="The point.")
        loud: bool = option("--loud", help="Shout.", default=False)

    seen = []

    def run_double(o, src, out):
        """Print the expression's value twice."""
        p = src.problem(o.expr, o.at)
        seen.append(p.inputs)
        out.emit(f"{2 * float(p.values.outputs[0])} loud={o.loud}")
        return 0

    from dataclasses import fields

    DoubleOptions.__dataclass_fields__["expr"].metadata = fields(COMMANDS["grad"].options)[0].metadata
    extra = {**COMMANDS, "double": Command("double", DoubleOptions, run_double, run_double.__doc__ or "")}
    s = Session(commands=extra)
    assert script("f = x^2\nat x=3\ndouble f --loud\nhelp\n", s) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "18.0 loud=True" and seen == [["x"]]
    assert re.search(r"^  double +Print the expression's value twice\.$", out, re.MULTILINE)
    assert ("double", "do", "command") in candidates(s, "do")
    assert ("--loud", "--l", "option") in candidates(s, "double f --l")


def test_completion_of_commands_options_and_names():
    s = Session()
    script(f"f = {LOG}\nat x1=1, x2=2\n", s)
    assert candidates(s, "gra")[0] == ("grad", "gra", "command")
    assert ("--steps", "--st", "option") in candidates(s, "grad f --st")
    assert [c[0] for c in candidates(s, "grad f --mode ")] == ["reverse", "forward"]
    assert [c[0] for c in candidates(s, "mode f")] == ["forward"]
    assert ("f", "", "defined") in candidates(s, "grad ")
    assert {"sin", "sinh", "sign", "sigmoid", "sqrt"} <= {c[0] for c in candidates(s, "grad s")}
    assert ("x1", "x", "input") in candidates(s, "grad f + x")
    assert ("pi", "p", "constant") in candidates(s, "at x=p")
    assert ("x2", "x", "input") in candidates(s, "at x1=2, x")
    assert ("pi", "p", "constant") in candidates(s, "grad p")
    assert [c[0] for c in candidates(s, "help va")] == ["vars"]
    assert ("vars", "va", "session") in candidates(s, "va")


def test_completer_through_prompt_toolkit():
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    s = Session()
    got = list(repl.make_completer(s).get_completions(Document("gra"), CompleteEvent(completion_requested=True)))
    assert got[0].text == "grad" and got[0].start_position == -3


def test_lexer_highlights_expressions():
    s = Session()
    script("f = x^2\n", s)
    frags = repl.make_lexer(s).fragments("grad sin(f) + 2.5*pi --steps # c")
    styles = {text: style for style, text in frags}
    assert styles["grad"] == "class:command"
    assert styles["sin"] == "class:function"
    assert styles["f"] == "class:defined"
    assert styles["2.5"] == "class:number"
    assert styles["pi"] == "class:constant"
    assert styles["--steps"] == "class:option"
    assert styles["# c"] == "class:comment"
    assert "".join(t for _, t in frags) == "grad sin(f) + 2.5*pi --steps # c"


def test_toolbar_shows_mode_and_point():
    s = Session()
    script("mode forward\nat x1=1, x2=2\n", s)
    text = repl.toolbar_text(s)
    assert "mode forward" in text and "at x1=1, x2=2" in text


# -- the prompt_toolkit loop, through pipe input ----------------------------------------


def test_pipe_session(capsys):
    s = Session()
    rc = interactive(f"f = {LOG}\nat x1=1, x2=2\ngrad f\n\x04", s)
    assert rc == 0
    assert capsys.readouterr().out == "f       2.29347\n∂f/∂x1  0.521501\n∂f/∂x2  0.563496\n"


def test_pipe_ctrl_c_cancels_the_line(capsys):
    rc = interactive("grad bogus(\x03vars\n\x04")
    out = capsys.readouterr()
    assert rc == 0 and out.out == "# mode reverse (the default)\n" and out.err == ""


def test_pipe_bad_line_then_more(capsys):
    rc = interactive("grad log(x1+)\nat x1=1, x2=2\ngrad " + LOG + "\nquit\ngrad never\n")
    out = capsys.readouterr()
    assert rc == 0  # leaving is success, whatever happened before
    assert "error: unexpected ')'" in out.err and "^" in out.err
    assert "0.563496" in out.out and "never" not in out.out + out.err


def test_pipe_history_recalls_previous_session(tmp_path, capsys):
    path = tmp_path / "history"
    interactive(f"grad {LOG} at x1=1, x2=2\n\x04", history=FileHistory(str(path)))
    capsys.readouterr()
    rc = interactive("\x1b[A\n\x04", history=FileHistory(str(path)))  # Up, Enter
    assert rc == 0 and "0.521501" in capsys.readouterr().out


def test_history_file_location_and_permissions(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert repl.history_path() == tmp_path / "state" / "adcli" / "history"
    repl.open_history()
    mode = stat.S_IMODE(os.stat(tmp_path / "state" / "adcli" / "history").st_mode)
    assert mode == 0o600
    monkeypatch.setenv("XDG_STATE_HOME", "relative/dir")  # not absolute: ignored, as XDG says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert repl.history_path() == tmp_path / "home" / ".local" / "state" / "adcli" / "history"


# -- scripts: adcli repl < file, adcli repl --file ---------------------------------------


def run_adcli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    assert ADCLI, "adcli is not installed"
    return subprocess.run([ADCLI, *args], input=stdin.encode(), capture_output=True, timeout=60, check=False)


def test_stdin_script_no_prompts_no_colours_exit_codes():
    ok = run_adcli("repl", stdin=f"f = {LOG}\nat x1=1, x2=2\ngrad f\n")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.decode() == "f       2.29347\n∂f/∂x1  0.521501\n∂f/∂x2  0.563496\n"
    assert b"\x1b" not in ok.stdout + ok.stderr and b"adcli>" not in ok.stdout
    bad = run_adcli("repl", stdin=f"at x1=1, x2=2\ngrad log(x1+)\ngrad {LOG}\n")
    assert bad.returncode == 1
    assert "0.521501" in bad.stdout.decode() and "^" in bad.stderr.decode()
    assert b"Traceback" not in bad.stderr


def test_file_option(tmp_path):
    f = tmp_path / "s.adcli"
    f.write_text("# a comment\nf = exp(x)*sin(x)\nat x=0\nmode forward\ngrad f\n")
    r = run_adcli("repl", "--file", str(f))
    assert r.returncode == 0 and r.stdout.decode() == "f      0\n∂f/∂x  1\n"
    missing = run_adcli("repl", "--file", str(tmp_path / "nope.adcli"))
    assert missing.returncode == 2 and b"no such file" in missing.stderr


def test_adcli_without_arguments_off_a_terminal_shows_help():
    r = run_adcli()
    assert r.returncode == 2
    assert b"Usage: adcli" in r.stderr and b"repl" in r.stderr


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.adcli")), ids=lambda p: p.name)
def test_examples_run_cleanly(example, capsys):
    rc = run_script(Session(), example.read_text(encoding="utf-8").splitlines(), example.name)
    out = capsys.readouterr()
    assert rc == 0 and out.err == ""
    expected = {
        "backprop.adcli": ["-2.14112", "1.85888", "0.0100075", "v̄1 += v̄2 · ∂v2/∂v1"],
        "dual_numbers.adcli": ["∂f/∂x  1", "v̇"],
        "log_example.adcli": ["0.521501", "0.563496", "2.29347"],
    }.get(example.name, [])
    for piece in expected:
        assert piece in out.out, piece


def test_textbook_examples_exist():
    assert {p.name for p in EXAMPLES.glob("*.adcli")} >= {"backprop.adcli", "dual_numbers.adcli", "log_example.adcli"}


# -- the same command, the same bytes ---------------------------------------------------


def cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args), prog_name="adcli")
    return r.exit_code, r.stdout, r.stderr


def repl_out(text: str, capsys) -> tuple[int, str, str]:
    rc = script(text)
    out = capsys.readouterr()
    err = "".join(line for line in out.err.splitlines(keepends=True) if not line.startswith("  in test, line "))
    return rc, out.out, err


@pytest.mark.parametrize(
    "line, argv",
    [
        (f"grad {LOG} at x1=1, x2=2", ["grad", LOG, "--at", "x1=1,x2=2"]),
        (f"grad {LOG} at x1=1, x2=2 --json", ["grad", LOG, "--at", "x1=1,x2=2", "--json"]),
        (
            "grad (x1-x2)^2 + cos(x1+x2) at x1=1, x2=2 --trace --steps",
            ["grad", "(x1-x2)^2 + cos(x1+x2)", "--at", "x1=1,x2=2", "--trace", "--steps"],
        ),
        (
            "grad exp(x)*sin(x) at x=0 --mode forward --steps",
            ["grad", "exp(x)*sin(x)", "--at", "x=0", "--mode", "forward", "--steps"],
        ),
        ("eval x*y, x+y at x=pi/4, y=2", ["eval", "x*y, x+y", "--at", "x=pi/4,y=2"]),
        ("graph sin(x*y) + x*y", ["graph", "sin(x*y) + x*y"]),
        ("plot x*y + sin(x) --wrt x --at y=1 --json", ["plot", "x*y + sin(x)", "--wrt", "x", "--at", "y=1", "--json"]),
        (
            "plot x*y + sin(x) at y=1 --wrt x --range 0:1",
            ["plot", "x*y + sin(x)", "--wrt", "x", "--at", "y=1", "--range", "0:1"],
        ),
    ],
)
def test_byte_identical_with_the_cli(line, argv, capsys):
    rc, out, err = repl_out(line + "\n", capsys)
    code, cli_out, cli_err = cli(*argv)
    assert code == 0 and rc == 0
    assert out == cli_out and out
    assert err == cli_err


def test_byte_identical_with_the_cli_in_a_subprocess():
    session = f"f = {LOG}\ng = f^2 + x1\nat x1=1, x2=2\nmode forward\ngrad g --trace --steps\n"
    r = run_adcli("repl", stdin=session)
    c = run_adcli("grad", f"f = {LOG}\ng = f^2 + x1\ng", "--at", "x1=1,x2=2", "--mode", "forward", "--trace", "--steps")
    assert r.returncode == c.returncode == 0
    assert r.stdout == c.stdout and b"\xe2\x88\x82g/\xe2\x88\x82x1" in r.stdout


REPL_NAMES = [n for n, c in COMMANDS.items() if c.repl]


@pytest.mark.parametrize("name", REPL_NAMES)
def test_every_command_matches_the_cli(name, capsys):
    """Whatever commands the registry has today, `NAME f` in the REPL is `adcli NAME PROGRAM ...`."""
    opts = Session.option_names(COMMANDS[name])
    rc, out, err = repl_out(f"f = {LOG}\nat x1=1, x2=2\n{name} f\n", capsys)
    assert "Traceback" not in err and "internal error" not in err
    argv = [name, f"f = {LOG}\nf"]
    if "--at" in opts:
        argv += ["--at", "x1=1,x2=2"]
    code, cli_out, cli_err = cli(*argv)
    assert out == cli_out
    # An error in f points at f's definition: the same line and caret, named as such.
    assert err.replace(" --> definition of f, test, line 1,", " --> expression, line 1,") == cli_err
    assert (rc == 0) == (code == 0)


# -- definitions as graphs: calls, composition, cost, located errors ---------------------


def json_line(text: str, capsys, session: Session | None = None) -> dict:
    import json

    assert script(text, session) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out.splitlines()[-1])


def test_calling_a_definition_evaluates_it(capsys):
    import math

    doc = json_line(f"f(x1, x2) = {LOG}\nf(1, 2) --json\n", capsys)
    assert doc["inputs"] == [] and doc["value"] == pytest.approx(math.log(9 + math.sin(2)), rel=1e-15)
    doc = json_line(f"f(x2, x1) = {LOG}\nf(2, 1) --json\n", capsys)  # arguments in the declared order
    assert doc["value"] == pytest.approx(math.log(9 + math.sin(2)), rel=1e-15)


def test_composing_by_a_call_has_the_chain_rule_gradient(capsys):
    import math

    s = Session()
    doc = json_line(f"f(x1, x2) = {LOG}\ng = f(x, 2*x)\ngrad g at x=0.7 --json\n", capsys, s)
    x = 0.7
    inner = 9 * x * x + math.sin(2 * x * x)
    assert doc["inputs"] == ["x"]  # f's own inputs are replaced, not added
    assert doc["gradient"]["x"] == pytest.approx((18 * x + 4 * x * math.cos(2 * x * x)) / inner, rel=1e-13)
    fwd = json_line("grad g at x=0.7 --mode forward --json\n", capsys, s)
    assert fwd["gradient"]["x"] == pytest.approx(doc["gradient"]["x"], rel=1e-15)


def test_a_call_with_the_wrong_number_of_arguments_is_located(capsys):
    assert script("f(x, y) = x*y\ngrad f(1) + 2\n") == 1
    err = capsys.readouterr().err
    assert (
        "error: f takes 2 arguments (x, y), got 1\n --> test, line 2, column 6\n  grad f(1) + 2\n       ^^^^\n" in err
    )
    assert "hint: write f(x, y)" in err


def test_errors_point_at_the_line_typed(capsys):
    assert script("f = x^2\nat x=1\ngrad f + y at x=2, z=3\n") == 1
    err = capsys.readouterr().err
    assert "error: z is not an input of the expression (its inputs: x, y)" in err
    assert " --> test, line 3, column 20\n  grad f + y at x=2, z=3\n                     ^^^\n" in err
    assert script("k = log(x - 3)\nat x=1\ngrad 2*k\n") == 1
    err = capsys.readouterr().err
    assert "log(x - 3) at x=1: argument is -2" in err
    assert " --> definition of k, test, line 1, column 5\n  k = log(x - 3)\n      ^^^^^^^^^^\n" in err


def test_jacobian_of_named_definitions_labels_rows_by_name(capsys):
    doc = json_line("f = x*y\ng = x + y^2\njacobian f, g at x=2, y=3 --json\n", capsys)
    assert doc["jacobian"] == [[3.0, 2.0], [1.0, 6.0]]
    assert script("f = x*y\ng = x + y^2\njacobian f, g at x=2, y=3\n") == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[1].split()[0] == "f" and rows[2].split()[0] == "g"


def test_a_line_does_not_reparse_the_definitions_before_it(capsys, monkeypatch):
    """The cost of a line is what it uses: 300 definitions are parsed once, when defined."""
    from adcli import parse as parse_module

    s = Session()
    script("".join(f"f{k} = f{k - 1} + x\n" if k > 1 else "f1 = x\n" for k in range(1, 301)) + "h = x*y\n", s)
    calls = []
    real = parse_module.parse
    monkeypatch.setattr(parse_module, "parse", lambda *a, **kw: calls.append(a[0]) or real(*a, **kw))
    from adcli import definitions
    from adcli import repl as repl_module

    monkeypatch.setattr(definitions, "parse", parse_module.parse)
    monkeypatch.setattr(repl_module, "build", lambda *a: calls.append("build"))
    doc = json_line("grad h at x=2, y=3 --json\n", capsys, s)
    assert doc["gradient"] == {"x": 3.0, "y": 2.0}
    assert len(calls) == 1 and calls[0].strip() == "h"  # one parse: the line's own text
    doc = json_line("grad f300 at x=2 --json\n", capsys, s)
    assert doc["value"] == 600.0 and doc["gradient"] == {"x": 300.0}


def test_redefining_rebuilds_only_the_users(capsys):
    s = Session()
    script("f = x^2\ng = 2*f\nk = y + 1\nf = x^3\n", s)
    assert s.defs["g"].graph is None and s.defs["k"].graph is not None  # g is rebuilt when next used
    assert json_line("grad g at x=2 --json\n", capsys, s)["gradient"] == {"x": 24.0}


@given(
    st.lists(
        st.tuples(st.sampled_from(["sin", "exp", "cos", "tanh"]), st.sampled_from(["+", "*", "-"])),
        min_size=1,
        max_size=6,
    ),
    st.floats(-1, 1),
)
def test_chained_definitions_equal_the_program_text(chain, x):
    """Composing cached graphs gives the CLI's program of named steps, bit for bit."""
    import contextlib
    import io
    import json

    lines = ["d0 = x*y"] + [f"d{k + 1} = {fn}(d{k}) {op} x" for k, (fn, op) in enumerate(chain)]
    last = f"d{len(chain)}"
    s = Session()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        for text in lines:
            s.execute(Line(text))
        rc = s.execute(Line(f"grad {last} at x={x!r}, y=0.5 --json --trace")).code
    code, out, _ = cli("grad", "\n".join(lines) + f"\n{last}", "--at", f"x={x!r},y=0.5", "--json", "--trace")
    assert rc == code
    if code == 0:
        assert json.loads(buf.getvalue()) == json.loads(out)


def test_a_pasted_block_runs_line_by_line(capsys):
    paste = f"\x1b[200~f = {LOG}\nat x1=1, x2=2\ngrad f\x1b[201~\n\x04"
    assert interactive(paste) == 0
    assert capsys.readouterr().out == "f       2.29347\n∂f/∂x1  0.521501\n∂f/∂x2  0.563496\n"


def test_an_open_bracket_continues_the_line(capsys):
    assert interactive("at x1=1, x2=2\ngrad log((x1 +\nx2)^2\n+ sin(x1*x2))\n\x04") == 0
    assert capsys.readouterr().out == "f       2.29347\n∂f/∂x1  0.521501\n∂f/∂x2  0.563496\n"
    assert script("f = log((x1 +\n  x2)^2 + sin(x1*x2))\nat x1=1, x2=2\ngrad f\n") == 0
    assert capsys.readouterr().out.splitlines()[1] == "∂f/∂x1  0.521501"


def test_reset_asks_at_the_prompt_and_clear_keeps_the_session(capsys):
    s = Session()
    assert interactive("f = x^2\nat x=3\nclear\nreset\nn\nvars\nreset\ny\nvars\n\x04", s) == 0
    out = capsys.readouterr().out.split("\n")
    assert out[:3] == ["f = x^2", "at x=3", "# mode reverse (the default)"]  # clear, then "n": all kept
    assert out[3:5] == ["# mode reverse (the default)", ""] and not s.defs and not s.point


def test_a_repl_line_meets_the_command_lines_option_rules(capsys):
    """The REPL reads its options itself, but the rules of which options go
    together (usage.check_options) and of repeats are the command line's,
    and the errors point at the option on the line typed."""
    cases = [
        ("grad f --format csv", "--format csv goes with --points", 8),
        ("grad f --digits 3 --digits 4", "--digits is given twice", 19),
        ("hessian f --points p.csv --steps", "--steps does not apply with --points", 26),
        ("check f --box -1:1", "--box goes with --random N", 9),
    ]
    for line, message, col in cases:
        assert script("f = x^2*y\nat x=1, y=2\n" + line) == 1, line  # a script with a failed line
        err = capsys.readouterr().err
        assert message in err, (line, err)
        assert f"line 3, column {col}" in err, (line, err)
    assert script("f = x^2*y\nat x=1, y=2\ngrad f --digits 3") == 0


def test_const_in_the_repl_fits_data_like_the_command_line(capsys):
    """const t = [...] in the REPL is --const on the command line: never an input,
    usable in indices and len(), and the same numbers as the CLI."""
    data = "t=[1,2,3],y=[2.1,3.9,6.2]"
    fit = "sum((y[i] - a*t[i])^2 for i=1..len(t))"
    assert script(f"const t = [1, 2, 3], y = [2.1, 3.9, 6.2]\nloss = {fit}\nat a=1.5\ngrad loss --json\n") == 0
    repl_doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    cli = CliRunner().invoke(app, ["grad", fit, "--at", "a=1.5", "--const", data, "--json"])
    assert cli.exit_code == 0, cli.output
    cli_doc = json.loads(cli.output)
    assert repl_doc["inputs"] == cli_doc["inputs"] == ["a"]
    assert repl_doc["gradient"] == cli_doc["gradient"]
    # closed form: d/da sum (y - a t)^2 = -2 sum t (y - a t)
    t, y = [1, 2, 3], [2.1, 3.9, 6.2]
    assert repl_doc["gradient"]["a"] == pytest.approx(-2 * sum(ti * (yi - 1.5 * ti) for ti, yi in zip(t, y)))


def test_const_changes_rebuild_the_definitions_that_read_them(capsys):
    assert script("const n = 2\nf = sum(x[i] for i=1..n)\nat x=[1,2,3]\neval f\nconst n = 3\neval f\n") == 0
    out = capsys.readouterr().out.split()
    assert out[-2:] == ["3", "6"]


def test_len_of_a_vector_in_the_point_and_bad_consts(capsys):
    assert script("at x=[1,2,3]\nq = sum(x[i]^2 for i=1..len(x))\ngrad q --json\n") == 0
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert doc["gradient"] == {"x": [2.0, 4.0, 6.0]}
    assert script("at a=1\nconst a = 3\n") == 1
    assert "a is already an input of the point" in capsys.readouterr().err
    assert script("const t = [1,2]\nr = [t[i]*x for i=1..2]\n") == 1
    assert "a definition is a single expression, but this one has 2 outputs" in capsys.readouterr().err


def test_an_error_in_a_continued_line_names_the_line_of_the_file(capsys):
    """A logical line continued by an open bracket located its errors as
    'stdin, line 4, line 2, column 4' (review): the file's own line is 5."""
    code = run_script(Session(), ["at x=1\n", "y = 2*x\n", "\n", "f = (x +\n", "  y$)\n"], "stdin")
    err = capsys.readouterr().err
    assert code == 1
    assert " --> stdin, line 5, column 4\n" in err
    assert ", line 2, column" not in err
