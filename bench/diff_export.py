"""Benchmarks for issue 15: formula size of ``adcli diff`` against SymPy, and the
speed of ``adcli export --lang numpy`` against hand-written numpy.

    python bench/diff_export.py           # full run
    python bench/diff_export.py --quick   # smaller sizes

Sizes: adcli's count is every operation written out, named steps included
(each node once); SymPy's is ``count_ops`` of its derivatives, summed over
the partials (SymPy repeats what they share). Speed: medians of repeated
runs at 10^6 points, the baseline timed in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

README_EXPR = "log((x1+x2)^2+sin(x1*x2))"


def tanh_network() -> str:
    """Three tanh layers of 3 units over 2 inputs, then a linear output: named steps."""
    w = [[0.5, -0.3], [0.8, 0.1], [-0.6, 0.7]]
    lines, prev = [], ["x1", "x2"]
    k = 0
    for layer in range(3):
        cur = []
        for j in range(3):
            k += 1
            ws = w[j] + [0.2] * (len(prev) - 2)
            terms = " + ".join(f"{ws[i] * (layer + 1):g}*{p}" for i, p in enumerate(prev))
            lines.append(f"h{k} = tanh({terms} + {0.1 * j:g})")
            cur.append(f"h{k}")
        prev = cur
    lines.append(" + ".join(f"{c:g}*{p}" for c, p in zip((1.0, -2.0, 0.5), prev)))
    return "; ".join(lines)


def chain(n: int) -> str:
    """t_{k+1} = tanh(t_k)*x + y: each level uses the one before once; its derivative twice."""
    lines = ["t1 = x*y"]
    for k in range(1, n):
        lines.append(f"t{k + 1} = tanh(t{k})*x + y")
    lines.append(f"t{n}")
    return "; ".join(lines)


def sympy_ops(text: str) -> int:
    import sympy as sp

    from adcli.parse import parse

    g = parse(text)
    syms = {n: sp.Symbol(n, real=True) for n in g.input_names}
    # the same function as one SymPy expression, node by node (no recursion needed)
    funcs = {"tanh": sp.tanh, "sin": sp.sin, "exp": sp.exp, "log": sp.log, "cos": sp.cos}
    val: list = []
    for node in g.nodes:
        op = node.op.name
        a = [val[j] for j in node.args]
        if op == "input":
            val.append(syms[node.name])
        elif op == "const":
            val.append(sp.Float(node.param))
        elif op == "add":
            val.append(a[0] + a[1])
        elif op == "sub":
            val.append(a[0] - a[1])
        elif op == "mul":
            val.append(a[0] * a[1])
        elif op == "div":
            val.append(a[0] / a[1])
        elif op == "neg":
            val.append(-a[0])
        elif op == "powc":
            val.append(a[0] ** sp.Float(node.param))
        else:
            val.append(funcs[op](*a))
    f = val[g.outputs[0]]
    return sum(int(sp.count_ops(sp.diff(f, s))) for s in syms.values())


def adcli_ops(text: str) -> int:
    from adcli.diff import run_diff
    from adcli.parse import parse

    return run_diff(parse(text)).operations()


def sizes(quick: bool) -> list[str]:
    rows = [
        ("`sin(x*y)*exp(x*y)*(x*y)^2`", "sin(x*y)*exp(x*y)*(x*y)^2"),
        ("3-layer tanh network, 2 inputs, 3 units a layer", tanh_network()),
    ]
    ns = (5, 10, 20, 40) if quick else (5, 10, 20, 40, 80)
    rows += [(f"chain `t(k+1) = tanh(t(k))*x + y`, n = {n}", chain(n)) for n in ns]
    out = [
        "| expression | adcli diff: operations (incl. named steps) | SymPy count_ops(diff) | SymPy / adcli |",
        "|---|---|---|---|",
    ]
    for label, text in rows:
        a = adcli_ops(text)
        try:
            s = sympy_ops(text)
        except RecursionError:
            out.append(f"| {label} | {a} | fails (RecursionError) | - |")
            continue
        out.append(f"| {label} | {a} | {s} | {s / a:.1f}× |")
    return out


def speed(n: int, repeats: int) -> list[str]:
    import numpy as np

    from adcli.export import export
    from adcli.parse import parse

    rng = np.random.default_rng(0)
    x1, x2 = rng.uniform(0.1, 1.7, n), rng.uniform(0.1, 1.7, n)

    def hand_grad(x1, x2):
        s = x1 + x2
        p = x1 * x2
        u = s * s + np.sin(p)
        c = np.cos(p) / u
        t = 2 * s / u
        return np.log(u), (t + x2 * c, t + x1 * c)

    env: dict = {}
    exec(export(parse(README_EXPR), "numpy"), env)
    exported = env["f"]
    v, (g1, g2) = exported(x1, x2)
    hv, (h1, h2) = hand_grad(x1, x2)
    err = max(float(np.max(np.abs(g1 - h1))), float(np.max(np.abs(g2 - h2))), float(np.max(np.abs(v - hv))))
    t_hand, t_exp, ratios = [], [], []
    hand_grad(x1, x2)
    exported(x1, x2)
    for _ in range(repeats):  # back to back, so each pair sees the same machine load
        a = time.perf_counter()
        hand_grad(x1, x2)
        b = time.perf_counter()
        exported(x1, x2)
        c = time.perf_counter()
        t_hand.append(b - a)
        t_exp.append(c - b)
        ratios.append((c - b) / (b - a))
    th, te, r = statistics.median(t_hand), statistics.median(t_exp), statistics.median(ratios)
    verdict = "yes" if r <= 1.2 else "**no**"
    return [
        f"{n:,} points of `{README_EXPR}`, value and gradient (max |exported - hand| = {err:.1e}):",
        "",
        "| code | median | median of the paired ratios |",
        "|---|---|---|",
        f"| numpy, hand-written (baseline) | {th * 1e3:.1f} ms | 1.00 |",
        f"| `adcli export --lang numpy` | {te * 1e3:.1f} ms | {r:.2f} (target ≤ 1.2: {verdict}) |",
    ]


ROSEN = "sum(100*(x[i+1]-x[i]^2)^2 + (1-x[i])^2 for i=1..len(x)-1)"


def rosenbrock(n: int, repeats: int) -> list[str]:
    """The n-dimensional Rosenbrock function exported as loops/slices: code size and run time."""
    import ctypes
    import shutil
    import subprocess
    import tempfile

    import numpy as np

    from adcli import core
    from adcli.export import export

    x = np.random.default_rng(1).uniform(-1.5, 1.5, n)
    g = core.load(ROSEN, f"x=[{','.join(['0'] * n)}]").graph

    def hand(x):
        d = x[1:] - x[:-1] ** 2
        gr = np.zeros_like(x)
        gr[:-1] = -400 * x[:-1] * d - 2 * (1 - x[:-1])
        gr[1:] += 200 * d
        return np.sum(100 * d**2 + (1 - x[:-1]) ** 2), gr

    rows = []
    fns = {}
    for lang in ("numpy", "python"):
        src = export(g, lang)
        env: dict = {}
        exec(src, env)
        fns[lang] = (len(src.splitlines()), env["f"])
    c_src = export(g, "c")
    cc = shutil.which("cc")
    if cc is not None:
        tmp = Path(tempfile.mkdtemp())
        (tmp / "r.c").write_text(c_src)
        subprocess.run([cc, "-std=c99", "-Wall", "-Werror", "-O2", "-fPIC", "-shared", str(tmp / "r.c"), "-o",
                        str(tmp / "r.so"), "-lm"], check=True)  # fmt: skip
        lib = ctypes.CDLL(str(tmp / "r.so"))
        inp = (ctypes.c_double * n)(*x)
        val, gbuf = ctypes.c_double(), (ctypes.c_double * n)()

        def c_call(_x):
            lib.f(inp, ctypes.byref(val), gbuf)
            return val.value, gbuf

        fns["c"] = (len(c_src.splitlines()), c_call)
    g.reductions = []  # what export wrote before: every term a line
    unrolled = len(export(g, "numpy").splitlines())
    hv, hg = hand(x)
    errs = []
    for _lines, f in fns.values():
        v, gr = f(list(x) if f is fns["python"][1] else x)
        scale = float(np.max(np.abs(hg)))
        errs.append(max(abs(float(v) - float(hv)) / abs(float(hv)), float(np.max(np.abs(np.array(gr) - hg))) / scale))
    times: dict[str, list[float]] = {k: [] for k in ["hand", *fns]}
    for _ in range(repeats):
        a = time.perf_counter()
        hand(x)
        times["hand"].append(time.perf_counter() - a)
        for k, (_lines, f) in fns.items():
            arg = list(x) if k == "python" else x
            a = time.perf_counter()
            f(arg)
            times[k].append(time.perf_counter() - a)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = [
        f"n = {n:,} Rosenbrock `{ROSEN}`, value and gradient at one point, {repeats} runs each "
        f"(max relative difference from the hand-written value and gradient {max(errs):.1e}; the unrolled export was "
        f"{unrolled:,} lines):",
        "",
        "| code | lines | median | vs hand-written numpy |",
        "|---|---|---|---|",
        f"| numpy, hand-written (baseline) | - | {med['hand'] * 1e3:.3f} ms | 1.00 |",
    ]
    names = {"numpy": "`export --lang numpy` (slices)", "python": "`export --lang python` (loops)",
             "c": "`export --lang c` (loops, cc -O2, called by ctypes)"}  # fmt: skip
    for k, (lines, _f) in fns.items():
        rows.append(f"| {names[k]} | {lines} | {med[k] * 1e3:.3f} ms | {med[k] / med['hand']:.2f} |")
    if cc is None:
        rows.append("| `export --lang c` | no C compiler here: not timed | | |")
    return rows


def main() -> None:
    import datetime
    import platform

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--write", action="store_true", help="also write bench/RESULTS-diff-export.md")
    args = ap.parse_args()
    parts = [
        "# adcli diff / export benchmarks",
        "",
        f"`python bench/diff_export.py` on {platform.machine()} {platform.system()}, Python "
        f"{platform.python_version()}, {datetime.date.today()} (a shared, noisy 2-core VM).",
        "",
        "## Formula size: adcli diff against SymPy",
        "",
        *sizes(args.quick),
        "",
        "## Exported numpy at many points",
        "",
        *speed(10**5 if args.quick else 10**6, 7 if args.quick else 21),
        "",
        "## Reductions exported as loops",
        "",
        *rosenbrock(10**4, 5 if args.quick else 21),
    ]
    text = "\n".join(parts) + "\n"
    print(text)
    if args.write:
        (Path(__file__).resolve().parent / "RESULTS-diff-export.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
