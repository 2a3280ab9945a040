"""One overflow rule (README, "Conventions at awkward points"): a number you
type must be a finite, non-zero-if-written-non-zero double, or it is a located
error; a value computed from it that overflows is ±inf with a warning that
points at the subexpression, whether the arguments are inputs or constants."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from adcli.cli import app


def run(*args):
    r = CliRunner().invoke(app, list(args))
    assert "Traceback" not in r.output
    return r


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "exp(1000)"],
        ["eval", "exp(x)", "--at", "x=1000"],
        ["eval", "exp(1000*x)", "--at", "x=1"],
        ["eval", "x + exp(1000)", "--at", "x=1"],
    ],
)
def test_a_computed_overflow_is_inf_with_a_located_warning(args):
    r = run(*args, "--json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["value"] == "Infinity"
    assert len(doc["warnings"]) == 1 and "the value is inf" in doc["warnings"][0]
    r = run(*args)
    assert r.exit_code == 0 and r.stdout == "inf\n"
    assert r.stderr.startswith("warning: exp(") and "^^^" in r.stderr


@pytest.mark.parametrize(
    "args, message, caret",
    [
        (["eval", "x", "--at", "x=1e400"], "too large for a double", "    ^^^^^"),
        (["eval", "x", "--at", "x=-1e400"], "too large for a double", "     ^^^^^"),
        (["eval", "x", "--at", "x=1e-400"], "too small for a double: it would be read as 0", "    ^^^^^^"),
        (["eval", "x*1e-400", "--at", "x=1"], "too small for a double", "    ^^^^^^"),
        (["eval", "x", "--at", "x=exp(1000)"], "exp(1000) overflows: a value must be a finite number", "    ^^^^^^^^^"),
        (["jvp", "x^2", "--at", "x=1", "--dir", "2.5e-999"], "too small for a double", "  ^^^^^^^^"),
    ],
)
def test_a_number_that_does_not_fit_is_a_located_error(args, message, caret):
    r = run(*args)
    assert r.exit_code == 2
    assert message in r.stderr and caret in r.stderr.splitlines()


def test_numbers_that_fit_are_read_as_written():
    for text, want in [("0", 0.0), ("0e-999", 0.0), ("0.000e5", 0.0), ("1e-320", 1e-320), ("1.7e308", 1.7e308)]:
        r = run("eval", "x", "--at", f"x={text}", "--json")
        assert r.exit_code == 0 and json.loads(r.stdout)["value"] == want, text
