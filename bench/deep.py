"""Deep and long inputs (issue 14): nested where/max, long programs, long products.

    python bench/deep.py                    # depths 10^4 and 10^5
    python bench/deep.py --sizes 1000,10000 # smaller
    python bench/deep.py --src DIR          # the adcli source tree in DIR instead (e.g. main, for "before")

Prints a Markdown table: per workload and depth, the in-process parse time and
the whole CLI run (`adcli grad`, or `adcli trace` for the product: start-up,
parse, derivative, output), each with its ratio to nested parentheses of the
same depth measured in the same run. Times are CPU seconds (user + system; the
child's for the CLI), which a shared, loaded machine distorts far less than
wall time. One round each (the
sizes are large and the machine is shared). A last row times Lark's LALR loop
alone on nested where (tokens lexed beforehand, no-op callbacks): the part of
the parse adcli cannot make faster through Lark's public API.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def workloads(n: int) -> dict[str, tuple[str, str, str]]:
    """name -> (text, command, --at) for depth or length n."""
    prog = "t0 = x\n" + "".join(f"t{i} = t{i - 1} + t{i - 1}\n" for i in range(1, n + 1)) + f"t{n}\n"
    return {
        "nested parentheses (baseline)": ("(" * n + "x" + ")" * n, "grad", "x=0.25"),
        "nested where": ("where(x > 0.5, " * n + "x" + ", x + 1)" * n, "grad", "x=0.25"),
        "nested max": ("max(" * n + "x" + ", 2*x)" * n, "grad", "x=-0.5"),
        "program t_i = t_(i-1) + t_(i-1)": (prog, "grad", "x=0.25"),
        "product of sin(x_i + 1), trace": (
            " * ".join(f"sin(x{i} + 1)" for i in range(n)),
            "trace",
            ",".join(f"x{i}=0.5" for i in range(n)),
        ),
    }


def fmt(t: float | None) -> str:
    if t is None:
        return "—"
    return f"{t * 1e3:.0f} ms" if t < 1 else f"{t:.2f} s"


def cli(src: Path | None, tmp: Path, text: str, command: str, at: str, timeout: float) -> tuple[float | None, str]:
    f, a = tmp / "expr.txt", tmp / "at.txt"
    f.write_text(text, encoding="utf-8")
    a.write_text(at, encoding="utf-8")
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        p = subprocess.run(  # cwd: `python -m` would otherwise import the adcli of the current folder first
            [sys.executable, "-m", "adcli", command, f"@{f}", "--at", f"@{a}"],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None, f"> {timeout:.0f} s wall"
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    warned = " (warns: overflow)" if "overflow" in p.stderr or "inf" in p.stderr else ""
    return cpu, ("ok" if p.returncode == 0 else f"exit {p.returncode}") + warned


def lark_floor(text: str) -> tuple[float, int]:
    """Lark's LALR loop over pre-lexed tokens with no-op callbacks."""
    import lark
    from lark.lexer import Lexer

    from adcli.parse import _parser, grammar_path

    tokens = list(_parser()[0].lex(text))

    class Given(Lexer):
        __future_interface__ = 2

        def __init__(self, conf):
            pass

        def lex(self, lexer_state, parser_state):
            return iter(tokens)

    grammar = grammar_path().read_text(encoding="utf-8")
    names = set(re.findall(r"->\s*(\w+)", grammar)) | set(re.findall(r"^\??([a-z_]\w*):", grammar, re.M))
    noop = type("Noop", (lark.Transformer,), {k: (lambda self, c: c[0] if c else None) for k in names})
    p = lark.Lark(grammar, parser="lalr", lexer=Given, maybe_placeholders=True, transformer=noop())
    t = time.process_time()
    p.parse(text)
    return time.process_time() - t, len(tokens)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--src", type=Path, default=None, help="an adcli source tree to measure instead of this one")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds before a CLI run is given up")
    a = ap.parse_args()
    root = a.src.resolve() if a.src else Path(__file__).resolve().parent.parent
    import compileall

    compileall.compile_dir(str(root / "adcli"), quiet=1)  # so that no run times bytecode compilation
    sys.path.insert(0, str(root))
    from adcli.parse import parse

    parse("x")  # build (or load) the parser before timing
    sizes = [int(s) for s in a.sizes.split(",")]
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(
        f"adcli from {root} ({commit.stdout.strip() or 'no git'}), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    print("| workload | depth | parse, CPU | ratio | CLI run, CPU | ratio | CLI result |")
    print("|---|---:|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for n in sizes:
            base_parse = base_cli = None
            for name, (text, command, at) in workloads(n).items():
                t = time.process_time()
                parse(text)
                tp = time.process_time() - t
                tc, result = cli(a.src, tmp, text, command, at, a.timeout)
                if base_parse is None:
                    base_parse, base_cli = tp, tc
                rp = f"{tp / base_parse:.2f}"
                rc = f"{tc / base_cli:.2f}" if tc is not None and base_cli else "—"
                print(f"| {name} | {n:,} | {fmt(tp)} | {rp} | {fmt(tc)} | {rc} | {result} |", flush=True)
        n = sizes[-1]
        text = workloads(n)["nested where"][0]
        tf, ntok = lark_floor(text)
        print(
            f"| Lark's LALR loop alone, nested where ({ntok:,} tokens, no-op callbacks) | {n:,} | {fmt(tf)} | | | | |"
        )


if __name__ == "__main__":
    main()
