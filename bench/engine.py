"""Engine benchmarks: batched and coloured Hessians and Jacobians, deep and long graphs.

    python bench/engine.py           # full sizes
    python bench/engine.py --quick   # smaller sizes

Prints a Markdown table; every ratio is against a baseline measured in the same
run (the gradient of the same function, or the smaller size), because the
machines are noisy. PyTorch rows run only with --torch PYTHON (a separate venv;
torch is never a dependency of adcli) and are reported as skipped otherwise.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from adcli import core, sparsity
from adcli.derivatives import _forward_over_reverse, run_hessian, run_hvp, run_jacobian
from adcli.evaluate import evaluate
from adcli.reverse import vjp


def median(fn, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]


def rosenbrock(n: int) -> str:
    return " + ".join(f"100*(x{i + 1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(1, n))


def fmt(t: float) -> str:
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def hessian_rows(sizes, repeats):
    rows = []
    for n in sizes:
        at = ",".join(f"x{i}={0.1 + (i % 9) / 10}" for i in range(1, n + 1))
        p = core.load(rosenbrock(n), at)
        r = max(1, repeats if n <= 1000 else 1)
        tg = median(lambda p=p: core.run_grad(core.Problem(p.graph, p.point, p.values)), r)
        th = median(lambda p=p: run_hessian(core.Problem(p.graph, p.point, p.values)), r)
        h = run_hessian(core.Problem(p.graph, p.point, p.values))
        rows.append(
            (f"Hessian, Rosenbrock chain n={n} ({h.sweeps} sweeps, {h.colours or n} colours)", th, tg, "gradient")
        )
        # the same sweep on dual-number objects (what --steps shows; the Hessian's path before hvsweep.py)
        groups = sparsity.groups_of(sparsity.star_colouring(sparsity.hessian_pattern(p.graph, list(range(n)))))
        td = median(lambda p=p, n=n, gs=groups: _forward_over_reverse(p, list(range(n)), None, False, gs), r)
        rows.append((f"  same sweep on dual numbers, n={n}", td, tg, "gradient"))
        v = [(i % 7) - 3.0 for i in range(n)]
        tv = median(lambda p=p, v=v: run_hvp(core.Problem(p.graph, p.point, p.values), v), r)
        rows.append((f"H·v (hvp), n={n}", tv, tg, "gradient"))
    return rows


def jacobian_problem(m: int = 100, n: int = 101):
    exprs = [f"sin(x{i}) * x{i + 1} + exp(-x{i}^2 / 10) * x{(i + 7) % n}" for i in range(m)]
    at = ",".join(f"x{i}={0.01 * i}" for i in range(n))
    return core.load(", ".join(exprs), at), exprs


TORCH_JAC = r"""
import sys, time, torch
torch.set_num_threads(1)
m, n = 100, 101
x0 = torch.tensor([0.01 * i for i in range(n)], dtype=torch.float64)
def f(x):
    return torch.stack([torch.sin(x[i]) * x[i + 1] + torch.exp(-x[i] ** 2 / 10) * x[(i + 7) % n] for i in range(m)])
torch.autograd.functional.jacobian(f, x0)
ts = []
for _ in range(int(sys.argv[1])):
    t = time.perf_counter(); torch.autograd.functional.jacobian(f, x0); ts.append(time.perf_counter() - t)
print(sorted(ts)[len(ts) // 2])
"""


def jacobian_rows(repeats, torch_python):
    p, _ = jacobian_problem()
    tj = median(lambda: run_jacobian(core.Problem(p.graph, p.point, p.values)), repeats)
    j = run_jacobian(core.Problem(p.graph, p.point, p.values))
    label = f"Jacobian 100×101 ({j.mode}, {j.sweeps} sweeps{f', {j.colours} colours' if j.colours else ''})"
    if not torch_python:
        return [(label, tj, None, "PyTorch: skipped (no --torch PYTHON)")]
    out = subprocess.run([torch_python, "-c", TORCH_JAC, str(repeats)], capture_output=True, text=True)
    if out.returncode != 0:
        return [(label, tj, None, "PyTorch: skipped (torch failed to run)")]
    return [(label, tj, float(out.stdout.strip()), "PyTorch jacobian, 1 thread")]


def deep_rows(n, repeats):
    from test_engine_scaling import nested_max, nested_where, product, program

    rows = []
    for build in (nested_where, nested_max, program, product):
        small = build(n // 4)
        big = build(n)

        def cost(g):
            def run():
                values = evaluate(g, [np.float64(0.5)] * len(g.inputs))
                core.run_trace(core.Problem(g, [0.5] * len(g.inputs), values), "reverse")
                vjp(values, [np.float64(1.0)])

            return median(run, repeats)

        rows.append((f"{build.__name__} n={n}: evaluate + trace + gradient", cost(big), cost(small), f"n={n // 4}"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--torch", default=None, help="a Python with torch installed, for the Jacobian row")
    a = ap.parse_args()
    repeats = 3 if a.quick else 5
    rows = hessian_rows([200] + ([] if a.quick else [10_000]), repeats)
    rows += jacobian_rows(repeats, a.torch)
    rows += deep_rows(20_000 if a.quick else 100_000, 1 if not a.quick else 3)
    print("| workload | adcli (median) | baseline (same run) | ratio | baseline is |")
    print("|---|---:|---:|---:|---|")
    for label, t, base, what in rows:
        ratio = f"{t / base:.2f}" if base else "—"
        print(f"| {label} | {fmt(t)} | {fmt(base) if base else '—'} | {ratio} | {what} |")


if __name__ == "__main__":
    main()
