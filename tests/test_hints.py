"""Input that is almost right gets a message and a hint that say what is wrong:
a function without parentheses, a missing comma in --at, an empty value, a
factorial, Unicode digits, digit separators, a byte-order mark, and what may
really come next after an unclosed parenthesis."""

from __future__ import annotations

import io

import pytest
from typer.testing import CliRunner

from adcli import core
from adcli.cli import app
from adcli.errors import AdcliError
from adcli.parse import parse


def err(text: str) -> AdcliError:
    with pytest.raises(AdcliError) as ei:
        parse(text)
    return ei.value


def at_err(at: str) -> AdcliError:
    with pytest.raises(AdcliError) as ei:
        core.load("x + y", at)
    return ei.value


def run(*args, input=None):
    r = CliRunner().invoke(app, list(args), input=input)
    assert "Traceback" not in r.output
    return r


@pytest.mark.parametrize(
    "text, message, hint, span",
    [
        ("sin x", "sin is a function: its argument goes in parentheses", "write sin(x)", (0, 5)),
        ("log x + 1", "log is a function", "write log(x)", (0, 5)),
        ("2 sin(x)", "missing operator between '2' and 'sin'", "write 2*sin(...)", (0, 5)),
        ("x y", "missing operator between 'x' and 'y'", "write x*y", (0, 3)),  # unchanged
        ("1_000*x", "digit separators are not supported", "write 1000", (0, 5)),
        ("x*٣", "'٣' is not an ASCII digit", "write 3", (2, 3)),
        ("１２*x", "'１' is not an ASCII digit", "write 12", (0, 2)),
        ("x + 1٣", "'٣' is not an ASCII digit", "write 13", (5, 6)),
    ],
)
def test_parse_hints(text, message, hint, span):
    e = err(text)
    assert message in e.message and e.hint is not None and e.hint.endswith(hint) and e.span == span


def test_factorial_gets_a_hint():
    e = err("x!")
    assert e.span == (1, 2) and e.hint is not None and "no factorial operator" in e.hint


@pytest.mark.parametrize(
    "text, pos, expected",
    [
        ("((x)", 4, "an operator or ')'"),
        ("(x", 2, "an operator or ')'"),
        ("log((x1+x2", 10, "an operator or ')'"),
        ("sin(x", 5, "an operator, ')' or ','"),
        ("x^", 2, "an expression"),
    ],
)
def test_an_unclosed_parenthesis_lists_what_may_come(text, pos, expected):
    e = err(text)
    assert e.message == f"unexpected end of input; expected {expected}"
    assert e.span[0] == pos


def test_at_missing_comma():
    e = at_err("x=1 y=2")
    assert e.message == "missing comma before y=" and e.span == (4, 5)
    assert e.hint == "separate the values with commas: x=1,y=2" and e.label == "--at"


@pytest.mark.parametrize("at, name, span", [("x=", "x", (1, 2)), ("x=1,y=", "y", (5, 6)), ("x= ,y=1", "x", (1, 2))])
def test_at_empty_value(at, name, span):
    e = at_err(at)
    assert e.message == f"the value of {name} is empty" and e.span == span


def test_unicode_digits_are_refused_in_at_and_dir_too():
    e = at_err("x=١,y=2")
    assert "not an ASCII digit" in e.message and e.hint == "write 1" and e.span == (2, 3)
    r = run("jvp", "x^2", "--at", "x=1", "--dir", "２")
    assert r.exit_code == 2 and "not an ASCII digit" in r.stderr and "hint: write 2" in r.stderr


def test_byte_order_mark_in_an_expression_file_is_skipped(tmp_path):
    f = tmp_path / "f.txt"
    f.write_bytes(b"\xef\xbb\xbfx^2 + y\n")
    assert core.read_expression(f"@{f}") == "x^2 + y\n"
    r = run("grad", f"@{f}", "--at", "x=1,y=2")
    assert r.exit_code == 0 and r.stdout.splitlines()[1].split() == ["∂f/∂x", "2"]
    assert core.read_expression("-", io.StringIO("\ufeffx*2")) == "x*2"
