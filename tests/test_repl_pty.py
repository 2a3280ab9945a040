"""The installed ``adcli repl`` in a real pseudo-terminal, driven by pexpect.

prompt_toolkit redraws the line as you type and colours it, so what arrives is
text interleaved with escape sequences. The helper below strips those and
waits for plain text; the assertions check effects (a command's output, an
error, the lack of one) rather than colours or screen positions.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import time

import pexpect
import pytest

ADCLI = shutil.which("adcli")
LOG = "log((x1+x2)^2 + sin(x1*x2))"
TIMEOUT = 30
_ESCAPES = re.compile(
    r"\x1b\[[0-9;?<=>]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]|[\x00-\x08\x0e-\x1f]"
)


class Term:
    """A spawned ``adcli repl`` and everything it has written, escapes removed."""

    def __init__(self, state_home, args: tuple[str, ...] = ("repl",)):
        assert ADCLI, "adcli is not installed"
        env = dict(os.environ)
        env.update(
            XDG_STATE_HOME=str(state_home),
            TERM="xterm",
            LANG="C.UTF-8",
            LC_ALL="C.UTF-8",
            PROMPT_TOOLKIT_NO_CPR="1",
            NO_COLOR="1",
        )
        env.pop("COLUMNS", None)
        env.pop("LINES", None)
        self.child = pexpect.spawn(
            ADCLI, list(args), env=env, encoding="utf-8", codec_errors="replace", dimensions=(40, 120), timeout=TIMEOUT
        )
        self.text = ""  # everything so far, escapes stripped
        self.mark = 0  # wait_for searches from here

    def _pump(self) -> None:
        try:
            chunk = self.child.read_nonblocking(65536, timeout=0.2)
        except pexpect.TIMEOUT:
            return
        self.text += _ESCAPES.sub("", chunk.replace("\r\n", "\n"))

    def wait_for(self, pattern: str, timeout: float = TIMEOUT) -> re.Match:
        """Wait until ``pattern`` (a regex) appears after the mark; move the mark past it."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.text, self.mark)
            if m:
                self.mark = m.end()
                return m
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {pattern!r}; screen text after mark:\n{self.text[self.mark :][-2000:]}"
                )
            self._pump()

    def since(self, start: int) -> str:
        return self.text[start:]

    def prompt(self) -> None:
        self.wait_for(r"adcli>")

    def line(self, text: str) -> int:
        """Type a line and press Enter; return where its output starts."""
        start = len(self.text)
        self.child.send(text + "\r")
        return start

    def settle(self, seconds: float = 0.5) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._pump()

    def eof_status(self) -> int:
        self.child.expect(pexpect.EOF, timeout=TIMEOUT)
        self.child.close()
        return self.child.exitstatus


@pytest.fixture
def state(tmp_path):
    return tmp_path / "state"


def test_a_session_in_a_real_terminal(state):
    t = Term(state)
    try:
        t.prompt()
        t.line(f"f = {LOG}")
        t.prompt()
        t.line("at x1=1, x2=2")
        t.prompt()

        # grad f at the current point
        t.line("grad f")
        t.wait_for(r"∂f/∂x1\s+0\.521501")
        t.wait_for(r"∂f/∂x2\s+0\.563496")
        t.prompt()

        # a malformed line: located error with a caret, and the session goes on
        t.line("grad log(x1+)")
        err = t.wait_for(r"error: unexpected '\)'[^\n]*\n --> input, column 13\n  grad log\(x1\+\)\n {14}\^")
        assert "Traceback" not in err.group(0)
        t.prompt()

        # an open bracket continues the line on the next, after a continuation prompt
        t.line("grad log((x1+")
        t.wait_for(r"\n +\.\.\.")
        t.line("x2)^2)")
        t.wait_for(r"∂f/∂x1\s+0\.666667")
        t.prompt()
        t.line("vars")
        t.wait_for(r"at x1=1, x2=2\n# mode reverse \(the default\)")
        t.prompt()

        # Tab completes gra to grad (the menu shows the candidates, grad first)
        start = len(t.text)
        t.child.send("gra")
        t.settle(0.3)
        t.child.send("\t")
        t.wait_for(r"grad\s+command")
        t.settle(0.3)
        t.line(" f")
        t.wait_for(r"∂f/∂x2\s+0\.563496")
        assert "unknown command" not in t.since(start)
        t.prompt()

        # Ctrl-C cancels a half-typed line: the next line runs on its own
        start = len(t.text)
        t.child.send("grad bogus(")
        t.settle(0.3)
        t.child.sendintr()
        t.settle(0.3)
        t.line("mode")
        t.wait_for(r"\nmode reverse\n")
        assert "error" not in t.since(start)
        t.prompt()

        # Ctrl-C also stops a long computation, and the session goes on
        t.line("descend (x1-3)^2 --iters 1000000000 --tol 0 --lr 1e-12")
        t.settle(1.5)
        t.child.sendintr()
        t.wait_for(r"interrupted")
        t.prompt()
        t.line("mode")
        t.wait_for(r"\nmode reverse\n")
        t.prompt()

        # a line to find in the history of the next session
        t.line(f"grad {LOG} at x1=0.5, x2=2")
        t.wait_for(r"∂f/∂x2\s+0\.743168")
        t.prompt()

        # Ctrl-D leaves with exit code 0
        t.child.sendeof()
        assert t.eof_status() == 0
    finally:
        t.child.close(force=True)

    history = state / "adcli" / "history"
    assert stat.S_IMODE(history.stat().st_mode) == 0o600
    assert f"+grad {LOG} at x1=0.5, x2=2" in history.read_text(encoding="utf-8")

    # A new session recalls the last line with the Up key.
    t2 = Term(state)
    try:
        t2.prompt()
        t2.child.send("\x1b[A")
        t2.settle(0.5)
        t2.child.send("\r")
        t2.wait_for(r"∂f/∂x1\s+0\.857453")
        t2.prompt()
        t2.line("quit")
        assert t2.eof_status() == 0
    finally:
        t2.child.close(force=True)


def test_plain_adcli_on_a_terminal_opens_the_repl(state):
    t = Term(state, ("--bogus",))  # with arguments, adcli is the plain CLI
    try:
        t.wait_for(r"no such option")
        assert t.eof_status() == 2
    finally:
        t.child.close(force=True)
    t = Term(state, ("--version",))
    try:
        t.wait_for(r"adcli \d")
        assert t.eof_status() == 0
    finally:
        t.child.close(force=True)
    t = Term(state, ())  # no arguments at all
    try:
        t.prompt()
        t.line("help")
        t.wait_for(r"mode forward\|reverse")
        t.prompt()
        t.child.sendeof()
        assert t.eof_status() == 0
    finally:
        t.child.close(force=True)
