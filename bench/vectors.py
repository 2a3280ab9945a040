"""Benchmarks of vectors and reductions (SPEC 7), through the installed CLI.

    python bench/vectors.py            # n = 10^4, 5 runs each
    python bench/vectors.py --quick    # n = 10^3, 3 runs

1. n-dimensional Rosenbrock written as one reduction,
   sum(100*(x[i+1]-x[i]^2)^2 + (1-x[i])^2 for i=1..len(x)-1), value and
   gradient with --at @x.txt, against the same function as one expanded text
   of n-1 terms over scalar inputs x1..xn (--at @file too): ratio <= 2.
2. A data fit to 10^4 points read with --const @data.csv: gradient <= 2 s.

Each command runs as a fresh process; the table gives the median wall time and
the median CPU time of the child (user + system), which a busy shared machine
inflates less. Ratios are of runs in this same invocation.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ADCLI = shutil.which("adcli") or f"{sys.executable} -m adcli"
ROSENBROCK = "sum(100*(x[i+1]-x[i]^2)^2 + (1-x[i])^2 for i=1..len(x)-1)"
FIT = "sum((y[i] - a*exp(-b*t[i]))^2 for i=1..len(t))"


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and child CPU seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def medians(cmds: dict[str, list[str]], repeats: int) -> dict[str, tuple[float, float]]:
    """Interleaved runs (a, b, a, b...) so that load changes hit both alike."""
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
    for _ in range(repeats):
        for k, cmd in cmds.items():
            runs[k].append(timed(cmd))
    return {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in runs.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 1000 if args.quick else 10_000
    repeats = 3 if args.quick else 5
    adcli = ADCLI.split()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        x = rng.uniform(-1, 1, n).tolist()
        (d / "x.txt").write_text("x=[" + ",".join(map(repr, x)) + "]\n")
        (d / "xs.txt").write_text("\n".join(f"x{k + 1}={v!r}" for k, v in enumerate(x)) + "\n")
        expanded = " + ".join(f"(100*(x{i + 1}-x{i}^2)^2 + (1-x{i})^2)" for i in range(1, n))
        (d / "expanded.txt").write_text(expanded)
        t = np.linspace(0, 10, 10_000)
        y = 2 * np.exp(-0.3 * t) + 0.01 * np.sin(7 * t)
        (d / "data.csv").write_text("t,y\n" + "\n".join(f"{a!r},{b!r}" for a, b in zip(t.tolist(), y.tolist())))
        cmds = {
            "reduction": [*adcli, "grad", ROSENBROCK, "--at", f"@{d / 'x.txt'}", "--json"],
            "expanded": [*adcli, "grad", f"@{d / 'expanded.txt'}", "--at", f"@{d / 'xs.txt'}", "--json"],
            "fit": [*adcli, "grad", FIT, "--const", f"@{d / 'data.csv'}", "--at", "a=1,b=0.5", "--json"],
        }
        for cmd in cmds.values():  # warm the file cache and check that each command works
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        m = medians(cmds, repeats)
    (rw, rc), (ew, ec), (fw, fc) = m["reduction"], m["expanded"], m["fit"]
    print(
        f"adcli vectors benchmark: n = {n}, {repeats} runs each, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    print()
    print("| workload | wall (median) | CPU (median) | ratio (CPU) | target | met |")
    print("|---|---|---|---|---|---|")
    ratio = rc / ec
    print(
        f"| Rosenbrock n={n}, one reduction, `--at @x.txt` | {rw:.2f} s | {rc:.2f} s | {ratio:.2f}× expanded | ≤ 2× | {'yes' if ratio <= 2 else '**no**'} |"
    )
    print(f"| Rosenbrock n={n}, expanded text of {n - 1} terms | {ew:.2f} s | {ec:.2f} s | 1 | baseline | |")
    print(
        f"| data fit, 10^4 points, `--const @data.csv` | {fw:.2f} s | {fc:.2f} s | | ≤ 2 s | {'yes' if fc <= 2 else '**no**'} (CPU), {'yes' if fw <= 2 else 'no'} (wall) |"
    )


if __name__ == "__main__":
    main()
