"""adcli as a Unix tool (README "Errors and exit codes"): closed pipes, full disks,
closed descriptors, ASCII terminals, usage errors, completion, options that do
not apply, narrow tables, help text and colour. The behaviour about real file
descriptors and encodings runs the installed ``adcli`` in a subprocess."""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from adcli import render, stdio, usage
from adcli.cli import app
from adcli.errors import AdcliError

ADCLI = shutil.which("adcli") or str(Path(sys.executable).parent / "adcli")
EX = "log((x1+x2)^2+sin(x1*x2))"
BIG = "+".join(f"sin(x*{i})" for i in range(1, 3000))  # a dot drawing far larger than a pipe's buffer
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "COLUMNS")}
    return {**base, "PYTHONIOENCODING": "utf-8", **extra}


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("env", env())
    return subprocess.run([ADCLI, *args], capture_output=True, timeout=120, check=False, **kw)


def shell(script: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", script], capture_output=True, timeout=120, env=env(ADCLI=ADCLI, **extra))


def no_crash(stderr: bytes) -> None:
    assert b"Traceback" not in stderr and b"internal error" not in stderr and b"Exception ignored" not in stderr


# -- 1. a closed pipe ends quietly ------------------------------------------------------------


@pytest.mark.parametrize(
    "args", [("grad", "x", "--at", "x=1"), ("graph", BIG, "--at", "x=1", "--format", "dot")], ids=["grad", "graph"]
)
def test_closed_pipe_ends_quietly_with_141(args):
    """The reader has gone before adcli writes (`adcli ... | true`): no message, and
    exit 141, what the shell reports for a tool that SIGPIPE ended."""
    p = subprocess.Popen([ADCLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    p.stdout.close()  # type: ignore[union-attr]
    err = p.stderr.read()  # type: ignore[union-attr]
    assert p.wait(timeout=120) == 141
    assert err == b""


def test_head_takes_the_first_line_quietly():
    r = shell(f'"$ADCLI" graph "{BIG}" --format dot | head -1; echo "status=$?"')
    assert r.stdout.decode().splitlines() == ["digraph adcli {", "status=0"]
    no_crash(r.stderr)
    assert not [line for line in r.stderr.decode().splitlines() if not line.startswith("warning:")]


def test_a_session_script_into_a_closed_pipe_ends_quietly():
    p = subprocess.Popen(
        [ADCLI, "repl"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env()
    )
    p.stdout.close()  # type: ignore[union-attr]
    _, err = p.communicate(b"at x=1\ngrad x^2\n" * 20, timeout=120)
    assert p.returncode == 141 and err == b""


# -- 2. a full disk, a closed stdout or stderr --------------------------------------------------


def test_full_disk_is_an_error_exit_2():
    with open("/dev/full", "w") as full:
        r = subprocess.run([ADCLI, "grad", "x", "--at", "x=1"], stdout=full, stderr=subprocess.PIPE, env=env())
    assert r.returncode == 2
    assert r.stderr.decode() == "error: cannot write standard output: No space left on device\n"


def test_full_disk_in_a_session_script():
    with open("/dev/full", "w") as full:
        r = subprocess.run([ADCLI, "repl"], input=b"at x=1\ngrad x^2\n", stdout=full, stderr=subprocess.PIPE, env=env())
    assert r.returncode == 2
    assert r.stderr.decode() == "error: cannot write standard output: No space left on device\n"


def test_full_disk_for_output_written_by_click():
    with open("/dev/full", "w") as full:
        r = subprocess.run([ADCLI, "grad", "--help"], stdout=full, stderr=subprocess.PIPE, env=env())
    assert r.returncode == 2
    assert r.stderr.decode().startswith("error: cannot write standard output: ")


@pytest.mark.parametrize("args", [("grad", "x", "--at", "x=1"), ("--version",), ("--help",), ("grad", "--help")])
def test_closed_stdout_is_an_error_exit_2(args):
    r = subprocess.run(
        ["sh", "-c", '"$0" "$@" >&-', ADCLI, *args], capture_output=True, timeout=120, env=env(), check=False
    )
    assert r.returncode == 2
    assert r.stderr.decode() == "error: cannot write standard output: Bad file descriptor\n"


def test_closed_stderr_does_not_crash():
    ok = subprocess.run(["sh", "-c", '"$0" grad x --at x=1 2>&-', ADCLI], capture_output=True, env=env())
    assert ok.returncode == 0 and ok.stdout.decode().split() == ["f", "1", "∂f/∂x", "1"]
    bad = subprocess.run(["sh", "-c", '"$0" grad "x+" --at x=1 2>&-', ADCLI], capture_output=True, env=env())
    assert bad.returncode == 2 and bad.stdout == b""
    both = subprocess.run(["sh", "-c", '"$0" grad x --at x=1 >&- 2>&-', ADCLI], capture_output=True, env=env())
    assert both.returncode == 2


# -- 3. ASCII and latin-1 -----------------------------------------------------------------------


def test_transliteration_table():
    t = stdio.transliterate
    assert t("∂f/∂x1") == "df/dx1"
    assert t("v̄12 += v̄2 · ∂v2/∂v1") == "v12_bar += v2_bar * dv2/dv1"
    assert t("v̇3 = v2·v̇1") == "v3_dot = v2*v1_dot"
    assert t("ẋ2") == "x_dot2"  # a precomposed letter keeps its mark, spelled out
    assert t("H⁻¹ ∇f, x², uᵀ·J") == "H^-1 grad f, x^2, u^T*J"
    assert t("a → b, ‖g‖ ≤ 1e-8…") == "a -> b, ||g|| <= 1e-8..."
    assert t("─┬─") == "-+-"


@given(st.text(max_size=40))
def test_transliteration_is_ascii_and_keeps_ascii(text):
    out = stdio.transliterate(text)
    assert out.isascii()
    if text.isascii():
        assert out == text


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize(
    "args",
    [
        ("grad", "x*y + sin(x)", "--at", "x=1,y=2", "--trace", "--steps"),
        ("grad", "exp(x)*sin(y)", "--at", "x=0,y=1", "--mode", "forward", "--steps"),
        ("check", EX, "--at", "x1=1,x2=2", "--grad", "1, 2"),
        ("hessian", "x^2*y", "--at", "x=1,y=2", "--steps"),
        ("graph", "sin(x*y) + x*y", "--at", "x=1,y=2"),
        ("grad", "x+", "--at", "x=1"),
        ("plot", "sin(x)", "--range", "-3:3"),
        ("grad", "--help"),
        ("--help",),
    ],
    ids=lambda a: " ".join(a)[:30],
)
def test_a_terminal_that_cannot_show_unicode_gets_ascii(encoding, args):
    utf8 = run(*args, env=env(COLUMNS="80"))
    narrow = run(*args, env=env(COLUMNS="80", PYTHONIOENCODING=encoding))
    assert narrow.returncode == utf8.returncode
    no_crash(narrow.stderr)
    for stream, ref in ((narrow.stdout, utf8.stdout), (narrow.stderr, utf8.stderr)):
        text = stream.decode(encoding)  # raises if a byte is outside the encoding
        shown = ref.decode().encode(encoding, stdio.HANDLER).decode(encoding)  # what the handler leaves
        assert NUMBER.findall(text) == NUMBER.findall(shown)


def test_ascii_names_the_adjoints_and_tangents():
    r = run("grad", "x*y", "--at", "x=1,y=2", "--steps", env=env(PYTHONIOENCODING="ascii"))
    out = r.stdout.decode("ascii")
    assert "x_bar += v1_bar * dv1/dx = 1 * y = 1 * 2 = 2" in out
    assert "df/dx = x_bar = 2" in out
    f = run("grad", "x*y", "--at", "x=1,y=2", "--mode", "forward", "--steps", env=env(PYTHONIOENCODING="ascii"))
    assert "v1_dot = " in f.stdout.decode("ascii")


def test_ascii_json_is_the_same_document():
    args = ("hessian", "x^2*y", "--at", "x=1,y=2", "--steps", "--json")
    utf8 = run(*args).stdout
    assert not utf8.isascii()
    ascii_ = run(*args, env=env(PYTHONIOENCODING="ascii"))
    assert ascii_.stdout.isascii() and b"\\u" in ascii_.stdout
    assert json.loads(ascii_.stdout) == json.loads(utf8)


def test_ascii_tables_stay_aligned():
    r = run("trace", "x*y", "--at", "x=1,y=2", env=env(PYTHONIOENCODING="ascii"))
    lines = r.stdout.decode("ascii").splitlines()
    header, rows = lines[0], [line for line in lines[2:] if line]
    assert "x_bar" not in header and header.rstrip().endswith("v_bar")
    assert all(len(row.rstrip().split("   = ")[0]) == len(header.rstrip()) for row in rows)


# -- 4. click's usage errors in adcli's format ----------------------------------------------------


def test_click_usage_error_under_json_is_a_json_document():
    r = run("grad", "x", "--at", "x=1", "--digits", "0", "--json")
    assert r.returncode == 2
    doc = json.loads(r.stdout)["error"]
    assert doc["kind"] == "usage" and "--digits" in doc["message"] and doc["option"] == "--digits"
    assert doc["source"] == "command line" and doc["column"] == len("adcli grad x --at x=1 ") + 1


def test_click_usage_error_text():
    r = run("grad", "x", "--at", "x=1", "--digits", "0")
    err = r.stderr.decode()
    assert r.returncode == 2 and r.stdout == b""
    assert err.splitlines()[:4] == [
        "error: invalid value for '--digits': 0 is not in the range 1<=x<=17",
        " --> command line, column 23",
        "  adcli grad x --at x=1 --digits 0",
        "                        ^^^^^^^^^^",
    ]
    assert "Usage:" not in err and "Try " not in err


def test_unknown_command_suggests_once():
    r = run("gard")
    err = r.stderr.decode()
    assert r.returncode == 2
    assert err.lower().count("did you mean") == 1 and "did you mean 'grad'?" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("grad", "x", "--at", "x=1", "--foramt", "csv"), "did you mean '--format'?"),
        (("grad",), "missing argument 'EXPR'"),
        (("grad", "x", "--at", "x=1", "--digits", "many"), "'many' is not a valid integer"),
        (("--bogus",), "no such option '--bogus'"),
        (("grad", "x", "y", "--at", "x=1"), "unexpected extra argument"),
    ],
)
def test_usage_errors_print_like_every_other_error(args, needle):
    r = CliRunner().invoke(app, list(args), prog_name="adcli")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: ") and needle in r.stderr and "Usage:" not in r.stderr
    j = CliRunner().invoke(app, [*args, "--json"], prog_name="adcli")
    assert j.exit_code == 2 and json.loads(j.stdout)["error"]["kind"] == "usage"


# -- 5. shell completion ----------------------------------------------------------------------


@pytest.mark.parametrize(("shell_name", "needle"), [("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete")])
def test_show_completion(shell_name, needle):
    """Typer detects the shell (shellingham); its test switch lets the shell be named."""
    r = run("--show-completion", shell_name, env=env(_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1"))
    assert r.returncode == 0, r.stderr
    assert needle in r.stdout.decode() and "_ADCLI_COMPLETE" in r.stdout.decode()


def test_install_completion_writes_the_script(tmp_path):
    r = run(
        "--install-completion", "bash", env=env(HOME=str(tmp_path), _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    )
    assert r.returncode == 0, r.stderr
    assert "_ADCLI_COMPLETE" in (tmp_path / ".bash_completions" / "adcli.sh").read_text()
    assert "adcli.sh" in (tmp_path / ".bashrc").read_text()


def test_completion_completes_commands_and_options():
    words = run(env=env(_ADCLI_COMPLETE="complete_bash", COMP_WORDS="adcli gr", COMP_CWORD="1"))
    assert words.stdout.decode().split() == ["grad", "graph"]
    opts = run(env=env(_ADCLI_COMPLETE="complete_bash", COMP_WORDS="adcli grad x --po", COMP_CWORD="3"))
    assert opts.stdout.decode().split() == ["--points"]


# -- 6. options that do not apply ---------------------------------------------------------------


@pytest.fixture
def points_csv(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("x\n1\n2\n")
    return str(p)


BAD_COMBINATIONS = [
    (["grad", "x", "--at", "x=1", "--format", "xml"], "--format"),
    (["eval", "x", "--at", "x=1", "--format", "csv"], "--format"),
    (["jacobian", "x", "--at", "x=1", "--format", "jsonl"], "--format"),
    (["grad", "x", "--points", "@P", "--format", "xml"], "--format"),
    (["graph", "x", "--format", "xml"], "--format"),
    (["grad", "x", "--points", "@P", "--trace"], "--trace"),
    (["eval", "x", "--points", "@P", "--steps"], "--steps"),
    (["grad", "x", "--points", "@P", "--digits", "3"], "--digits"),
    (["hessian", "x^2", "--points", "@P", "--digits", "3"], "--digits"),
    (["grad", "x", "--points", "@P", "--check"], "--check"),
    (["grad", "x", "--points", "@P", "--format", "csv", "--json"], "--json"),
    (["grad", "x*y", "--at", "x=1", "--at", "y=2"], "--at"),
    (["grad", "x*y", "--at=x=1", "--at", "y=2"], "--at"),
    (["grad", "x", "--at", "x=1", "--mode", "forward", "--mode", "reverse"], "--mode"),
    (["check", "x", "--at", "x=1", "-q", "--quiet"], "--quiet"),
    (["check", "x", "--at", "x=1", "--box", "0:1"], "--box"),
    (["check", "x", "--at", "x=1", "--random", "3"], "--at"),
    (["check", "x", "--cases", "f.cases"], "EXPR"),
    (["descend", "x^2", "--at", "x=1", "--method", "newton", "--momentum", "0.5"], "--momentum"),
]


@pytest.mark.parametrize(("args", "option"), BAD_COMBINATIONS, ids=lambda a: " ".join(a) if isinstance(a, list) else a)
def test_options_that_do_not_apply_are_usage_errors(args, option, points_csv):
    args = [points_csv if a == "@P" else a for a in args]
    r = CliRunner().invoke(app, args, prog_name="adcli")
    assert r.exit_code == 2, r.output
    if "--json" not in args:
        assert r.stdout == "" and r.stderr.startswith("error: ") and option in r.stderr.splitlines()[0]
    if args[0] == "graph":  # graph has no --json
        return
    j = CliRunner().invoke(app, [*args, "--json"] if "--json" not in args else args, prog_name="adcli")
    doc = json.loads(j.stdout)["error"]
    assert j.exit_code == 2 and doc["kind"] == "usage" and doc.get("option") == option


def test_options_that_apply_still_work(points_csv):
    runner = CliRunner()
    assert runner.invoke(app, ["grad", "x^2", "--points", points_csv, "--format", "csv"]).stdout.splitlines() == [
        "x,value,d_x,error",
        "1.0,1.0,2.0,",
        "2.0,4.0,4.0,",
    ]
    assert runner.invoke(app, ["graph", "x*y", "--format", "dot"]).exit_code == 0
    both = runner.invoke(app, ["check", "x*y^2", "--at", "x=1,y=2", "--grad", "x=y^2", "--grad", "y=2*x*y"])
    assert both.exit_code == 0, both.output
    assert runner.invoke(app, ["check", "x^2", "--points", points_csv, "--digits", "3"]).exit_code == 0


def test_check_options_is_the_one_rule_book():
    usage.check_options("grad", {"--at": "x=1"})
    usage.check_options("grad", {"--points": "p.csv", "--format": "csv"})
    usage.check_options("graph", {"--format": "mermaid"})
    with pytest.raises(AdcliError) as info:
        usage.check_options("vjp", {"--points": "p.csv", "--steps": True})
    assert info.value.kind == "usage" and info.value.extra["option"] == "--steps"


# -- 7. tables never cut a number or a name -------------------------------------------------------

# "v̄" is one symbol (v and a combining macron): a lone combining mark never appears in adcli's output
cell = st.lists(st.sampled_from([*"abcxyz0123456789.e-+∂/", "v̄"]), min_size=1, max_size=14).map("".join)


@given(
    width=st.integers(20, 200),
    headers=st.lists(cell, min_size=2, max_size=6),
    n_rows=st.integers(1, 5),
    data=st.data(),
)
def test_narrow_tables_keep_every_number_and_name(width, headers, n_rows, data):
    rows = [[data.draw(cell) for _ in headers] for _ in range(n_rows)]
    right = set(range(1, len(headers)))
    wide = render.table_text(headers, rows, right, width=10_000)
    narrow = render.table_text(headers, rows, right, width=width)
    words = set(wide.split()) - {"─" * k for k in range(1, 10_000)}
    for w in words:
        if set(w) != {"─"}:
            assert any(w in line.split() or w in line for line in narrow.splitlines()), (w, narrow)
    for h in headers:
        assert h in narrow
    for r in rows:
        for c in r:
            assert c in narrow
    if all(len(line) <= width for line in wide.splitlines()):
        assert narrow == wide


@given(width=st.integers(20, 200), n=st.integers(1, 6))
def test_narrow_matrices_keep_every_number_and_name(width, n):
    labels = [f"∂f{k + 1}/∂x{k + 1}" for k in range(n)]
    cells = [[f"{(i + 1) * 1.2345678901e-11 * (j + 1):.9e}" for j in range(n)] for i in range(n)]
    out = render.matrix_text("", labels, labels, cells, width=width)
    for label in labels:
        assert label in out
    for row in cells:
        for c in row:
            assert c in out.split()


def test_check_on_a_narrow_terminal_goes_vertical():
    runner = CliRunner()
    wide = runner.invoke(app, ["check", EX, "--at", "x1=1,x2=2"], env={"COLUMNS": "200"}).stdout
    narrow = runner.invoke(app, ["check", EX, "--at", "x1=1,x2=2"], env={"COLUMNS": "50"}).stdout
    table = wide.splitlines()[2:4]
    for row in table:
        for word in row.split():
            assert re.search(rf"(^|\s){re.escape(word)}(\s|$)", narrow, re.M), word
    assert "∂f/∂x1" in narrow and "∂f/∂x2" in narrow
    assert "  abs err: " in narrow


# -- 8. help text --------------------------------------------------------------------------------


def _examples(command) -> list[str]:
    doc = inspect.getdoc(command.callback) or ""
    return (
        [line.strip() for line in doc.split("Examples:")[1].splitlines() if line.strip()] if "Examples:" in doc else []
    )


@pytest.mark.parametrize("columns", ["40", "80", "300"])
def test_help_examples_are_never_rewrapped(columns):
    runner = CliRunner()
    for info in app.registered_commands:
        examples = _examples(info)
        assert examples, info.name
        out = runner.invoke(app, [info.name, "--help"], env={"COLUMNS": columns}, prog_name="adcli").stdout
        lines = [line.strip() for line in out.splitlines()]
        for ex in examples:
            assert ex in lines, (info.name, columns, ex)


def test_no_help_text_mentions_the_spec():
    runner = CliRunner()
    assert "SPEC" not in runner.invoke(app, ["--help"]).stdout
    for info in app.registered_commands:
        assert "SPEC" not in runner.invoke(app, [info.name, "--help"], prog_name="adcli").stdout, info.name


# -- 9. colour -----------------------------------------------------------------------------------

FAILING = ("check", "x^2", "--at", "x=1", "--grad", "3*x")
PASSING = ("check", "x^2", "--at", "x=1")


def test_piped_output_has_no_colour():
    assert b"\x1b[" not in run(*FAILING).stdout


def test_force_color_colours_fail_red_and_ok_green():
    fail = run(*FAILING, env=env(FORCE_COLOR="1")).stdout.decode()
    assert "\x1b[1;31mFAIL\x1b[0m" in fail
    ok = run(*PASSING, env=env(FORCE_COLOR="1")).stdout.decode()
    assert "\x1b[32mok\x1b[0m" in ok


def test_no_color_wins():
    assert b"\x1b[" not in run(*FAILING, env=env(FORCE_COLOR="1", NO_COLOR="1")).stdout


def test_a_terminal_gets_colour():
    import pexpect

    child = pexpect.spawn(ADCLI, list(FAILING), env=env(TERM="xterm-256color", COLUMNS="100"), encoding="utf-8")
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    assert child.exitstatus == 1
    assert "\x1b[1;31mFAIL\x1b[0m" in child.before
