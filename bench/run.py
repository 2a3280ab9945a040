"""adcli benchmarks: prints a Markdown table of medians and ratios.

    python bench/run.py            # full run (about 5-10 minutes: SymPy is given 120 s)
    python bench/run.py --quick    # smaller sizes, for a smoke run
    python bench/run.py --write    # also write bench/RESULTS.md
    python bench/run.py --cold-start   # only the cold-start table
    python bench/run.py --cold-start --against ../main   # and grad from another checkout

Every target is a ratio against a baseline measured in the same run, because
these machines are noisy. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
README_EXPR = "log((x1+x2)^2+sin(x1*x2))"
ADCLI = shutil.which("adcli") or f"{sys.executable} -m adcli"


def median_of(fn, repeats: int, warmup: int = 1) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def run_process(cmd: list[str]) -> None:
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


def fmt_t(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def ok(cond: bool) -> str:
    return "yes" if cond else "**no**"


# -- W1: cold start ------------------------------------------------------------------------


def _adcli_from(checkout: Path) -> list[str]:
    """``adcli`` run from another checkout's source (same interpreter and packages)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(checkout / "adcli")], check=False)
    code = f"import sys; sys.path.insert(0, {str(checkout)!r}); import adcli; adcli.main()"
    return [sys.executable, "-c", code]


def cold_start(repeats: int, against: Path | None = None) -> list[str]:
    # A wheel install has its bytecode compiled by pip; an editable checkout under
    # PYTHONDONTWRITEBYTECODE=1 would recompile adcli on every start. Compile it once.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "adcli")], check=False)
    adcli = ADCLI.split()
    grad = f'adcli grad "{README_EXPR}" --at x1=1,x2=2'
    cmds = {
        "python -c pass": [sys.executable, "-c", "pass"],
        'python -c "import numpy" (baseline)': [sys.executable, "-c", "import numpy"],
        'python -c "import numpy, lark" (what adcli cannot avoid)': [sys.executable, "-c", "import numpy, lark"],
        # what adcli.main does before numpy loads (one OpenBLAS thread, rarer young collections), without adcli:
        # the floor under the same start-up settings, for an honest reading of the ratio
        **{
            f'python -c "import {m}" with adcli\'s start-up settings': [
                sys.executable,
                "-c",
                "import os, gc; os.environ.setdefault('OPENBLAS_NUM_THREADS', '1'); gc.set_threshold(50_000); "
                f"import {m}; gc.freeze()",
            ]
            for m in ("numpy", "numpy, lark")
        },
        "adcli --version": adcli + ["--version"],
        "adcli --help": adcli + ["--help"],
        grad: adcli + ["grad", README_EXPR, "--at", "x1=1,x2=2"],
        # the same command spelled --at=...: adcli.fastpath leaves it to the Typer app
        f'adcli grad "{README_EXPR}" --at=x1=1,x2=2 (through Typer)': adcli + ["grad", README_EXPR, "--at=x1=1,x2=2"],
    }
    if against is not None:  # the same command from this checkout and from the other one, started alike
        grad_argv = ["grad", README_EXPR, "--at", "x1=1,x2=2"]
        cmds[f"{grad}, this checkout's source"] = _adcli_from(HERE.parent) + grad_argv
        cmds[f"{grad}, source of {against}"] = _adcli_from(against) + grad_argv
    # interleaved rounds, so that a change in the machine's load hits every command alike
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for c in cmds.values():
        run_process(c)  # warm-up (and the parser cache written)
    for _ in range(repeats):
        for k, c in cmds.items():
            t = time.perf_counter()
            run_process(c)
            times[k].append(time.perf_counter() - t)
    res = {k: (statistics.median(v), min(v)) for k, v in times.items()}
    base = res['python -c "import numpy" (baseline)'][0]
    targets = {"adcli --version": 0.6, "adcli --help": 0.6, grad: 1.3}  # issue 12: grad at most 1.3x
    rows = ["| command | median | best | ratio to numpy import | target | met |", "|---|---:|---:|---:|---:|---|"]
    for k, (m, b) in res.items():
        t = targets.get(k)
        rows.append(
            f"| `{k}` | {fmt_t(m)} | {fmt_t(b)} | {m / base:.2f} | {f'≤ {t:.1f}' if t else ''} | "
            f"{ok(m / base <= t) if t else ''} |"
        )
    load = os.getloadavg()
    rows += [
        "",
        f"Load average (1, 5, 15 min) after the runs: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} on {os.cpu_count()} cores.",
    ]
    return rows


_PHASES = """
import io, json, sys, time
t = [time.perf_counter()]
import numpy
t.append(time.perf_counter())
import lark
t.append(time.perf_counter())
import adcli.fastpath
t.append(time.perf_counter())
import adcli.core, adcli.explain, adcli.render, adcli.usage
t.append(time.perf_counter())
from adcli import parse
parse._parser()
t.append(time.perf_counter())
sys.stdout = io.StringIO()
adcli.fastpath.run(["grad", sys.argv[1], "--at", "x1=1,x2=2"])
t.append(time.perf_counter())
sys.__stdout__.write(json.dumps([b - a for a, b in zip(t, t[1:])]))
"""
PHASES = (
    "import numpy (baseline)",
    "import lark",
    "import adcli.fastpath (registry, options)",
    "import adcli.core, explain, render, usage",
    "the Lark parser, loaded from its cache",
    "grad: parse, compute, render",
)


def cold_start_phases(repeats: int) -> list[str]:
    """Where a cold `adcli grad` spends its time, phase by phase in one fresh process
    (medians over processes), each as a fraction of that process's numpy import."""
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", _PHASES, README_EXPR], capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout))
    rows = ["| phase (in one process, in this order) | median | share of numpy import |", "|---|---:|---:|"]
    for k, name in enumerate(PHASES):
        m = statistics.median(r[k] for r in runs)
        share = statistics.median(r[k] / r[0] for r in runs)
        rows.append(f"| {name} | {fmt_t(m)} | {share:.2f} |")
    total = statistics.median(sum(r[1:]) / r[0] for r in runs)
    rows += [
        "",
        f"Everything after numpy: {total:.2f}x its import (medians of per-process ratios, {repeats} processes).",
    ]
    return rows


# -- W2: many points -----------------------------------------------------------------------


def many_points(n: int, repeats: int) -> list[str]:
    import numpy as np

    from adcli import evaluate, parse, reverse

    rng = np.random.default_rng(0)
    x1, x2 = rng.uniform(0.1, 1.7, n), rng.uniform(0.1, 1.7, n)

    def hand_value():
        return np.log((x1 + x2) ** 2 + np.sin(x1 * x2))

    def hand_grad():
        s = x1 + x2
        p = x1 * x2
        u = s * s + np.sin(p)
        c = np.cos(p) / u
        t = 2 * s / u
        return np.log(u), t + x2 * c, t + x1 * c

    g = parse.parse(README_EXPR)

    def ad_value():
        return evaluate.evaluate(g, [x1, x2], mask_undefined=True).outputs[0]

    def ad_grad():
        v = evaluate.evaluate(g, [x1, x2], mask_undefined=True)
        adj, _ = reverse.vjp(v, [np.float64(1.0)])
        return v.outputs[0], reverse.input_adjoints(v, adj)

    _, (g1, g2) = ad_grad()
    _, h1, h2 = hand_grad()
    err = max(float(np.max(np.abs(g1 - h1))), float(np.max(np.abs(g2 - h2))))
    res = {
        name: median_of(f, repeats, warmup=3)
        for name, f in [
            ("hand value", hand_value),
            ("hand grad", hand_grad),
            ("adcli value", ad_value),
            ("adcli grad", ad_grad),
        ]
    }
    peers = _peer_points(x1, x2, repeats)
    rows = [
        f"{n:,} points of `{README_EXPR}` (in-process; max |adcli - hand| = {err:.1e}).",
        "",
        "| method | value: median (best) | value + gradient: median (best) | ratio grad/value |",
        "|---|---:|---:|---:|",
    ]
    rows.append(
        f"| numpy, hand-written gradient (baseline) | {fmt_t(res['hand value'][0])} ({fmt_t(res['hand value'][1])})"
        f" | {fmt_t(res['hand grad'][0])} ({fmt_t(res['hand grad'][1])}) | "
        f"{res['hand grad'][0] / res['hand value'][0]:.2f} |"
    )
    rows.append(
        f"| adcli (reverse mode) | {fmt_t(res['adcli value'][0])} ({fmt_t(res['adcli value'][1])})"
        f" | {fmt_t(res['adcli grad'][0])} ({fmt_t(res['adcli grad'][1])}) | "
        f"{res['adcli grad'][0] / res['adcli value'][0]:.2f} |"
    )
    rows += peers
    r1 = res["adcli grad"][0] / res["hand grad"][0]
    r2 = res["adcli grad"][0] / res["adcli value"][0]
    rows += [
        "",
        f"- adcli grad / hand-written grad = **{r1:.2f}** (target ≤ 1.5: {ok(r1 <= 1.5)})",
        f"- adcli grad / adcli value = **{r2:.2f}** (target ≤ 2.5: {ok(r2 <= 2.5)})",
    ]
    return rows


def _peer_points(x1, x2, repeats) -> list[str]:
    rows = []
    try:
        import torch  # type: ignore

        a = torch.tensor(x1, requires_grad=True)
        b = torch.tensor(x2, requires_grad=True)

        def tgrad():
            a.grad = b.grad = None
            f = torch.log((a + b) ** 2 + torch.sin(a * b))
            f.sum().backward()
            return f, a.grad, b.grad

        m, best = median_of(tgrad, repeats, 3)
        rows.append(f"| PyTorch eager (backward on sum) | | {fmt_t(m)} ({fmt_t(best)}) | |")
    except ImportError:
        rows.append("| PyTorch | not installed here: see ../shared/peers-results.md (9.4 ms, 2 threads) | | |")
    try:
        import jax  # type: ignore

        jax.config.update("jax_enable_x64", True)
        jnp = jax.numpy
        vg = jax.jit(jax.vmap(jax.value_and_grad(lambda p, q: jnp.log((p + q) ** 2 + jnp.sin(p * q)), argnums=(0, 1))))
        a, b = jnp.asarray(x1), jnp.asarray(x2)
        m, best = median_of(lambda: jax.block_until_ready(vg(a, b)), repeats, 3)
        rows.append(f"| JAX jit(vmap(value_and_grad)) | | {fmt_t(m)} ({fmt_t(best)}) | |")
    except ImportError:
        rows.append("| JAX | not installed here: see ../shared/peers-results.md (25.8 ms) | | |")
    return rows


# -- W3: a large generated expression ------------------------------------------------------

LARGE_CHILD = r"""
import json, resource, sys, time
import numpy as np
n = int(sys.argv[1]); what = sys.argv[2]
text = " + ".join(f"sin(x{i}*x{i+1}) + (x{i}-x{i+1})^2*exp(-x{i}^2/10)" for i in range(1, n))
out = {"chars": len(text)}
if what == "lark":
    from lark import Lark
    from adcli import parse as P
    lk = Lark(P.grammar_path().read_text(), parser="lalr", lexer="contextual")  # the text has no new lines
    t = time.perf_counter(); lk.parse(text); out["seconds"] = time.perf_counter() - t
elif what == "adcli":
    from adcli import core, evaluate, parse as P, reverse
    P._parser()
    x = np.random.default_rng(0).uniform(-1, 1, n)
    t = time.perf_counter()
    g = P.parse(text)
    t1 = time.perf_counter()
    vals = evaluate.evaluate(g, [np.float64(v) for v in x])
    adj, _ = reverse.vjp(vals, [np.float64(1.0)])
    grad = np.array([float(a) for a in reverse.input_adjoints(vals, adj)])
    t2 = time.perf_counter()
    # closed form of the same gradient, vectorised
    a, b = x[:-1], x[1:]
    e = np.exp(-a * a / 10)
    ref = np.zeros(n)
    ref[:-1] += b * np.cos(a * b) + 2 * (a - b) * e + (a - b) ** 2 * e * (-a / 5)
    ref[1:] += a * np.cos(a * b) - 2 * (a - b) * e
    out.update(seconds=t2 - t, parse=t1 - t, grad=t2 - t1, nodes=len(g.nodes),
               err=float(np.max(np.abs(grad - ref))))
elif what == "sympy":
    import sympy
    from sympy.parsing.sympy_parser import parse_expr
    t = time.perf_counter()
    expr = parse_expr(text.replace("^", "**"))
    xs = [sympy.Symbol(f"x{i}") for i in range(1, n + 1)]
    grads = [sympy.diff(expr, v) for v in xs]
    out["seconds"] = time.perf_counter() - t
out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(out))
"""


def _child(n: int, what: str, timeout: float) -> dict:
    try:
        p = subprocess.run(
            [sys.executable, "-c", LARGE_CHILD, str(n), what], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"timeout": timeout}
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"}
    return json.loads(p.stdout)


def large(n: int, sympy_timeout: float) -> list[str]:
    lark = _child(n, "lark", 3600)
    ad = _child(n, "adcli", 3600)
    sy = _child(n, "sympy", sympy_timeout)
    rows = [
        (
            f"`sum_{{i<{n:,}}} sin(x_i*x_(i+1)) + (x_i-x_(i+1))^2*exp(-x_i^2/10)`: {ad.get('chars', 0):,} characters,"
            f" {ad.get('nodes', 0):,} graph nodes; gradient max error against the closed form "
            f"{ad.get('err', float('nan')):.1e}."
        ),
        "",
        "| what | time | peak memory |",
        "|---|---:|---:|",
        (
            f"| Lark LALR parse to a tree, project grammar (baseline) | {fmt_t(lark['seconds'])} | "
            f"{lark['peak_rss_gib']:.2f} GiB |"
        ),
        (
            f"| adcli parse + value + gradient | {fmt_t(ad['seconds'])} (parse {fmt_t(ad['parse'])}, "
            f"value + gradient {fmt_t(ad['grad'])}) | {ad['peak_rss_gib']:.2f} GiB |"
        ),
    ]
    if "timeout" in sy:
        rows.append(f"| SymPy parse_expr + diff w.r.t. every input | > {sympy_timeout:.0f} s (stopped) | |")
        sympy_ratio = f"> {sympy_timeout / ad['seconds']:.0f}"
        sympy_ok = sympy_timeout / ad["seconds"] >= 10
    elif "error" in sy:
        rows.append(f"| SymPy parse_expr + diff w.r.t. every input | failed: {sy['error'][:80]} | |")
        sympy_ratio, sympy_ok = "∞ at full size (SymPy fails)", True
    else:
        rows.append(
            f"| SymPy parse_expr + diff w.r.t. every input | {fmt_t(sy['seconds'])} | {sy['peak_rss_gib']:.2f} GiB |"
        )
        sympy_ratio = f"{sy['seconds'] / ad['seconds']:.0f}"
        sympy_ok = sy["seconds"] / ad["seconds"] >= 10
    if n > 1000:  # SymPy cannot take the full size: compare where it can finish
        small_ad = _child(1000, "adcli", 600)
        small_sy = _child(1000, "sympy", sympy_timeout)
        if "seconds" in small_sy:
            rows.append(
                f"| at n = 1,000: SymPy {fmt_t(small_sy['seconds'])} vs adcli {fmt_t(small_ad['seconds'])} | "
                f"ratio {small_sy['seconds'] / small_ad['seconds']:.0f} | |"
            )
            sympy_ratio += f"; at n = 1,000: {small_sy['seconds'] / small_ad['seconds']:.0f}"
            sympy_ok = sympy_ok and small_sy["seconds"] / small_ad["seconds"] >= 10
        else:
            rows.append(f"| at n = 1,000: SymPy > {sympy_timeout:.0f} s, adcli {fmt_t(small_ad['seconds'])} | | |")
            sympy_ratio += f"; at n = 1,000: > {sympy_timeout / small_ad['seconds']:.0f}"
    r = ad["seconds"] / lark["seconds"]
    rows += [
        "",
        f"- adcli / Lark alone = **{r:.2f}** (target ≤ 1.3: {ok(r <= 1.3)})",
        f"- SymPy / adcli = **{sympy_ratio}** (target ≥ 10: {ok(sympy_ok)})",
        f"- peak memory {ad['peak_rss_gib']:.2f} GiB (target < 2 GB: {ok(ad['peak_rss_gib'] < 1.86)})",
    ]
    return rows


# -- deep expressions and the REPL -----------------------------------------------------------


def deep(repeats: int) -> list[str]:
    import numpy as np

    from adcli import core

    cases = {
        "100,000 nested parentheses around `x`": "(" * 100_000 + "x" + ")" * 100_000,
        "`sin(sin(...sin(x)...))`, 10,000 deep": "sin(" * 10_000 + "x" + ")" * 10_000,
    }
    rows = ["| expression | parse + value + gradient: median | result |", "|---|---:|---|"]
    for label, text in cases.items():
        m, _ = median_of(lambda t=text: core.run_grad(core.load(t, "x=0.5")), repeats)
        r = core.run_grad(core.load(text, "x=0.5"))
        if "sin" in text:
            v, d = 0.5, 1.0
            for _ in range(10_000):
                d *= np.cos(v)
                v = np.sin(v)
            good = abs(float(r.gradient[0]) - d) <= 1e-12 * abs(d)
        else:
            good = float(r.gradient[0]) == 1.0
        rows.append(f"| {label} | {fmt_t(m)} | {'correct' if good else '**wrong**'} |")
    return rows


def repl(repeats: int) -> list[str]:
    """`grad f` in a REPL session, in-process: parse the line, build the program,
    run the CLI command through the Typer app, render."""
    import contextlib
    import io

    from adcli.repl import Line, Session

    s = Session()
    with contextlib.redirect_stdout(io.StringIO()):
        s.execute(Line(f"f = {README_EXPR}", "bench"))
        s.execute(Line("at x1=1, x2=2", "bench"))
    out = io.StringIO()

    def cmd():
        with contextlib.redirect_stdout(out):
            s.execute(Line("grad f", "bench"))

    m, b = median_of(cmd, repeats * 20, warmup=3)
    assert "0.521501" in out.getvalue()
    return [
        f"| `grad f` in a REPL session, in-process | {fmt_t(m)} (best {fmt_t(b)}) | target < 5 ms: {ok(m < 5e-3)} |"
    ]


SECTIONS = ("cold-start", "points", "large", "deep", "repl")  # main's sections, in order


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--write", action="store_true", help="also write bench/RESULTS.md")
    ap.add_argument("--cold-start", action="store_true", help="only the cold-start table (not written)")
    ap.add_argument("--against", type=Path, help="with --cold-start: also time grad from this other checkout")
    ap.add_argument("--only", choices=SECTIONS, help="only this section (not written)")
    args = ap.parse_args()
    if args.cold_start:
        print("\n".join(cold_start(5 if args.quick else 15, args.against)))
        print("\n" + "\n".join(cold_start_phases(5 if args.quick else 15)))
        return
    quick = args.quick
    import lark
    import numpy

    head = [
        "# adcli benchmark results",
        "",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {platform.machine()}, nproc={os.cpu_count()}, {platform.platform()}",
        f"- Python {platform.python_version()}, numpy {numpy.__version__}, lark {lark.__version__}",
        (
            f"- Command: `python bench/run.py{' --quick' if quick else ''}`; medians of repeated runs, "
            "ratios against a baseline measured in the same run."
        ),
        "",
    ]
    sections = [
        ("## Cold start (whole process)", lambda: cold_start(5 if quick else 15)),
        ("## Many points: value and gradient", lambda: many_points(10**5 if quick else 10**6, 5 if quick else 15)),
        ("## A large generated expression", lambda: large(10**3 if quick else 10**5, 20 if quick else 120)),
        ("## Deep expressions", lambda: deep(1 if quick else 3)),
        ("## The REPL", lambda: ["| command | median | |", "|---|---:|---|"] + repl(5)),
    ]
    if args.only:
        sections = [sections[SECTIONS.index(args.only)]]
        args.write = False
    text = "\n".join(head)
    for title, make in sections:
        rows = make()
        text += f"\n{title}\n\n" + "\n".join(rows) + "\n"
        print(f"\n{title}\n\n" + "\n".join(rows), flush=True)
    if args.write:
        (HERE / "RESULTS.md").write_text(text, encoding="utf-8")
        print(f"\nwrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
