"""A REPL line after many definitions: its cost should not grow with them.

    python bench/repl_definitions.py [--defs 200] [--repeats 30]

Two sessions, measured in the same run: one with a single definition, one with
a chain of K definitions (f1 = sin(x) + y, f_k = f_{k-1}/2 + cos(k*x)), each
ending with the same small definition h = x^2*y. Rows:

* ``grad h`` after 1 / after K definitions: the cost of a line that uses one
  small definition; target ratio <= 2 (SPEC 5: definitions are kept parsed).
* ``grad f_K``: a line that uses the whole chain, against the baseline of what
  the REPL did before definitions were cached as graphs: parse the program
  text of every definition it needs, then the line (``core.load`` of that text
  plus the same gradient and rendering).
Prints a Markdown table of medians.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adcli import core, render
from adcli.repl import Line, Session


def median(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def chain(k: int) -> list[str]:
    lines = ["f1 = sin(x) + y"] + [f"f{j} = f{j - 1}/2 + cos({j}*x)" for j in range(2, k + 1)]
    return [*lines, "h = x^2*y", "at x=0.5, y=2"]


def session(lines: list[str]) -> Session:
    s = Session()
    with contextlib.redirect_stdout(io.StringIO()):
        for text in lines:
            assert s.execute(Line(text, "bench")).code == 0, text
    return s


def line_cost(s: Session, text: str, repeats: int) -> tuple[float, str]:
    out = io.StringIO()

    def run() -> None:
        out.seek(0)
        out.truncate()
        with contextlib.redirect_stdout(out):
            assert s.execute(Line(text, "bench")).code == 0

    return median(run, repeats), out.getvalue()


def fmt(t: float) -> str:
    return f"{t * 1e3:.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--defs", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    k, n = args.defs, args.repeats

    one = session(chain(1))
    many = session(chain(k))
    t1, out1 = line_cost(one, "grad h", n)
    tk, outk = line_cost(many, "grad h", n)
    assert out1 == outk  # the same line, the same answer

    tchain, out_chain = line_cost(many, f"grad f{k}", n)
    program = "\n".join(chain(k)[:-2]) + f"\nf{k}"

    def text_path() -> None:
        problem = core.load(program, "x=0.5,y=2")
        render.result_text(core.run_grad(problem), 6)

    ttext = median(text_path, n)
    problem = core.load(program, "x=0.5,y=2")
    assert render.result_text(core.run_grad(problem), 6) + "\n" == out_chain

    print(f"| REPL line ({k} chained definitions) | median | ratio | target |")
    print("|---|---:|---:|---|")
    print(f"| `grad h` after 1 definition | {fmt(t1)} | 1.00 | baseline |")
    print(f"| `grad h` after {k} definitions | {fmt(tk)} | {tk / t1:.2f} | <= 2: {'yes' if tk <= 2 * t1 else 'no'} |")
    print(f"| `grad f{k}` (uses all {k}) | {fmt(tchain)} | {tchain / ttext:.2f} | vs the text path below |")
    print(f"| parse the {k} definitions' text + the line, same gradient | {fmt(ttext)} | 1.00 | baseline |")


if __name__ == "__main__":
    main()
