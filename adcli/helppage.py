"""The top-level ``adcli --help`` page, written by adcli itself so that it prints
without importing Typer or click (cold start) and cannot drift with their
versions. The command summaries live here once: the Typer commands take their
``short_help`` from :data:`SUMMARIES` (see cli.py), and a test checks that this
page lists every command and top-level option the Typer app has."""

from __future__ import annotations

ABOUT = "Exact derivatives from the command line: values, gradients, and how they were computed."
NO_COMMAND = "With no command on a terminal, adcli opens the REPL (adcli repl)."

SUMMARIES: dict[str, str] = {
    "eval": "Print the value(s) of EXPR at a point.",
    "grad": "Print the value and the gradient of a scalar EXPR at a point.",
    "trace": "Print the trace table: one row per node, with values and adjoints or tangents.",
    "graph": "Draw the DAG of EXPR: a text tree, Graphviz dot or Mermaid.",
    "repl": "Open the interactive session (or run a session file).",
    "jvp": "Print J·v, the Jacobian times a direction, in one forward sweep.",
    "vjp": "Print uᵀ·J, a cotangent times the Jacobian, in one reverse sweep.",
    "jacobian": "Print the Jacobian and how many sweeps it took.",
    "hessian": "Print the exact Hessian of a scalar EXPR (forward-over-reverse).",
    "hvp": "Print H·v, the Hessian times a direction, without forming H.",
    "implicit": "Implicit differentiation: dy/dx where F(x, y) = 0.",
    "check": "Check derivatives against finite differences, a formula, or the other mode.",
    "descend": "Gradient descent or Newton's method from a point.",
    "plot": "Plot f and ∂f/∂x over a range (terminal or image).",
}

OPTIONS: list[tuple[str, str]] = [
    ("--version", "Print the version and exit."),
    ("--install-completion", "Install completion for the current shell (bash, zsh, fish)."),
    ("--show-completion", "Show completion for the current shell, to copy it or customize the installation."),
    ("-h, --help", "Show this message and exit."),
]


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap (textwrap would import re: milliseconds of cold start)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


def _rows(rows: list[tuple[str, str]], width: int) -> list[str]:
    left = max(len(a) for a, _ in rows)
    room = max(20, width - left - 4)
    out = []
    for a, b in rows:
        lines = _wrap(b, room) or [""]
        out.append(f"  {a.ljust(left)}  {lines[0]}")
        out += [" " * (left + 4) + rest for rest in lines[1:]]
    return out


def text(width: int = 80) -> str:
    """The page, wrapped to ``width`` columns (at least 40)."""
    width = max(40, width)
    lines = ["Usage: adcli [OPTIONS] COMMAND [ARGS]...", ""]
    for para in (ABOUT, NO_COMMAND):
        lines += ["  " + line for line in _wrap(para, width - 2)] + [""]
    lines.append("Options:")
    lines += _rows(OPTIONS, width)
    lines += ["", "Commands:"]
    lines += _rows(list(SUMMARIES.items()), width)
    lines += ["", "adcli COMMAND --help shows a command's options and examples."]
    return "\n".join(lines) + "\n"


def terminal_width() -> int:
    import os
    import shutil

    if os.environ.get("COLUMNS", "").isdigit():
        return min(int(os.environ["COLUMNS"]), 100)
    return min(shutil.get_terminal_size((80, 24)).columns, 100)
