#!/usr/bin/env python3
"""Regenerate the README's pictures from real adcli output.

Every picture is made by running the installed adcli (``python -m adcli``) as
a user would, in a subprocess, and recording what it printed: terminal output
becomes an SVG "screenshot" (Rich exports its console to SVG), and the image
commands (``plot --output``, ``descend --plot``) write their PNGs themselves.
Run it whenever the output changes, and commit docs/images/:

    python scripts/readme_images.py               # writes docs/images/
    python scripts/readme_images.py --out /tmp/x  # somewhere else (the tests do this)
    python scripts/readme_images.py --only plot.png textbook.svg

A command that fails stops the script with its error, so a stale picture is
never silently kept.
"""

from __future__ import annotations

import argparse
import io
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "images"
WIDTH = 80  # the terminal the pictures show

# (file, title, command lines as a user types them). A .png is written by the
# command itself (its output name is the file); a .svg records the output.
SHOTS: list[tuple[str, str, list[str]]] = [
    (
        "textbook.svg",
        "adcli grad: trace and adjoint steps",
        ['adcli grad "(x1-x2)^2 + cos(x1+x2)" --at x1=1,x2=2 --trace --steps'],
    ),
    (
        "check.svg",
        "adcli check: AD against finite differences",
        ['adcli check "log((x1+x2)^2 + sin(x1*x2))" --at x1=1,x2=2'],
    ),
    (
        "descend.svg",
        "adcli descend: Newton and gradient descent",
        [
            'adcli descend "(x-1)^2 + 10*(y+2)^2" --at x=0,y=0 --method newton',
            'adcli descend "(x-1)^2 + 10*(y+2)^2" --at x=0,y=0 --lr 0.05 --iters 200',
        ],
    ),
    ("plot_terminal.svg", "adcli plot in the terminal", ['adcli plot "sin(x)*x" --range -6:6']),
    ("plot.png", "", ['adcli plot "sin(x)*x" --wrt x --range -6:6 --output plot.png']),
    (
        "descend_path.png",
        "",
        ['adcli descend "(1-x)^2 + 100*(y-x^2)^2" --at x=-1.2,y=1 --method newton --plot descend_path.png'],
    ),
]

# A REPL session: each line typed, then what the REPL answered.
REPL_FILE = "repl.svg"
REPL_LINES = [
    "f = log((x1+x2)^2 + sin(x1*x2))",
    "at x1=1, x2=2",
    "grad f",
    "hessian f",
    "check f",
]
PROMPT = "adcli> "


def _argv(line: str) -> list[str]:
    words = shlex.split(line)
    assert words[0] == "adcli", line
    return [sys.executable, "-m", "adcli", *words[1:]]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(COLUMNS=str(WIDTH), LC_ALL="C.UTF-8", PYTHONIOENCODING="utf-8", NO_COLOR="1")
    env.pop("FORCE_COLOR", None)
    return env


def run(line: str, cwd: Path, stdin: str | None = None) -> str:
    """What a user sees for one command line: stdout, then stderr (warnings)."""
    proc = subprocess.run(
        _argv(line),
        input=stdin,
        check=False,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=_env(),
        timeout=120,
    )
    if proc.returncode != 0:
        raise SystemExit(
            f"readme_images: `{line}` failed with exit code {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        )
    err = "".join(ln for ln in proc.stderr.splitlines(keepends=True) if not ln.startswith("wrote "))
    return proc.stdout.rstrip("\n") + ("\n" + err.rstrip("\n") if err.strip() else "")


def save_svg(path: Path, title: str, blocks: list[tuple[str, str]], prompt: str = "$ ") -> None:
    """A terminal picture: each block is (what was typed, what came back)."""
    from rich.console import Console
    from rich.text import Text

    lines = [prompt + typed for typed, _ in blocks] + [ln for _, out in blocks for ln in out.splitlines()]
    width = max(60, min(110, max(len(ln) for ln in lines) + 1))
    console = Console(
        record=True,
        width=width,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        legacy_windows=False,
    )
    for k, (typed, out) in enumerate(blocks):
        if k and prompt == "$ ":
            console.print()
        console.print(Text.assemble((prompt, "bold green"), (typed, "bold")), soft_wrap=True)
        if out:
            console.print(Text(out), soft_wrap=True)
    console.save_svg(str(path), title=title)


def shot(name: str, title: str, commands: list[str], out: Path) -> str:
    if name.endswith(".png"):
        for line in commands:
            run(line, out)
        if not (out / name).is_file():
            raise SystemExit(f"readme_images: {commands[-1]!r} did not write {name}")
        return name
    save_svg(out / name, title, [(line, run(line, out)) for line in commands])
    return name


def repl_shot(out: Path) -> str:
    """Feed the session to ``adcli repl`` one line more at a time; what each
    line printed is the difference from the run before."""

    def upto(k: int) -> str:
        if k == 0:
            return ""
        return run("adcli repl", out, stdin="\n".join(REPL_LINES[:k]) + "\n")

    with ThreadPoolExecutor(max_workers=2) as pool:
        outputs = list(pool.map(upto, range(len(REPL_LINES) + 1)))
    blocks = []
    for k, line in enumerate(REPL_LINES):
        before, after = outputs[k], outputs[k + 1]
        if not after.startswith(before):
            raise SystemExit("readme_images: the REPL's output is not stable from one run to the next")
        blocks.append((line, after[len(before) :].strip("\n")))
    save_svg(out / REPL_FILE, "adcli repl", blocks, prompt=PROMPT)
    return REPL_FILE


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write (default docs/images/)")
    ap.add_argument("--only", nargs="*", help="only these files")
    args = ap.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    todo = [s for s in SHOTS if not args.only or s[0] in args.only]
    jobs = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for name, title, commands in todo:
            jobs.append(pool.submit(shot, name, title, commands, out))
        if not args.only or REPL_FILE in args.only:
            jobs.append(pool.submit(repl_shot, out))
        written = [j.result() for j in jobs]
    total = 0
    for name in written:
        size = (out / name).stat().st_size
        total += size
        print(f"{out / name}  {size / 1024:.1f} KiB")
    print(f"{len(written)} images, {total / 1024:.1f} KiB in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
