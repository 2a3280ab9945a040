"""Benchmarks for the special functions and the n-ary functions (issue 13).

    python bench/functions.py           # prints a Markdown table
    python bench/functions.py --quick   # fewer repeats, smaller sizes

1. Cold start: scipy.special is imported only when an expression uses a
   special function, so `grad "x^2"` pays nothing for it; `grad "erf(x)"` pays
   scipy's import. Both against `python -c "import numpy"` in the same run.
2. n-ary max and logsumexp: parse + value + gradient over n arguments, as time
   per argument: a balanced fold of binary nodes is linear in n.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def median(fn, repeats: int) -> float:
    fn()  # warm up (file cache, Lark's grammar cache)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    repeats = 5 if args.quick else 11
    py = sys.executable

    print("| workload | median | ratio |")
    print("|---|---|---|")
    base = median(lambda: run(py, "-c", "import numpy"), repeats)
    print(f'| `python -c "import numpy"` (baseline) | {base * 1e3:.0f} ms | 1.00× |')
    for expr in ("x^2", "max(x, 1, abs(x)) + floor(x)", "erf(x)", "lgamma(x) + normcdf(x)"):
        t = median(lambda e=expr: run(py, "-m", "adcli", "grad", e, "--at", "x=1.5"), repeats)
        print(f'| cold start, `adcli grad "{expr}" --at x=1.5` | {t * 1e3:.0f} ms | {t / base:.2f}× |')

    from adcli import core

    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    for fn in ("max", "logsumexp"):
        per = []
        for n in sizes:
            text = f"{fn}(" + ", ".join(f"{k}*x" for k in range(1, n + 1)) + ")"
            t = median(lambda s=text: core.run_grad(core.load(s, "x=0.01"), "reverse"), max(3, repeats // 3))
            per.append(t / n)
            ratio = per[-1] / per[0]
            print(
                f"| `{fn}` of n = {n:,} arguments: parse + value + gradient | {t * 1e3:.0f} ms "
                f"({per[-1] * 1e6:.1f} µs/argument) | {ratio:.2f}× the per-argument time at n = {sizes[0]:,} |"
            )


if __name__ == "__main__":
    main()
