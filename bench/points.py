"""--points end to end, against the pyarrow floor timed in the same run.

    python bench/points.py [--rows 1000000] [--big 4000000] [--rounds 3] [--wide 10000] [--hessian]

Prints a markdown table: wall medians over paired rounds (each round runs
every workload once, in turn, so load on this shared machine hits them
alike), the median of the per-round ratios to the floor, peak RSS of each
child (ru_maxrss from wait4), its CPU time (user + system, from wait4), and the
times to the first output line and to the first data row (the line after a CSV
header), medians of their shares of each run. A "start-up" row runs the same CSV
command over a one-row file: its first data row is what start-up alone costs.

The floor is what a user would write by hand with pyarrow: read the CSV with
pyarrow.csv, compute value and gradient with numpy (shared subexpressions),
write the CSV with pyarrow.csv; where pandas is installed, pyarrow's to_numpy and
pa.table import it first (0.3 s), so a second floor does the same without them
(ratios to it are printed below the table). adcli's CSV must be within 1.5x of it, JSON
Lines within 2x; adcli's peak memory at --big rows within 20% of that at
--rows; its first line within 10% of its total time. --hessian adds
``hessian --points`` at --rows (JSON Lines) and at --big rows (CSV).

adcli's bytecode is compiled first (``compileall``), as ``pip install`` does:
with PYTHONDONTWRITEBYTECODE set, an editable checkout would otherwise compile
every module from source at every start (0.2-0.4 s of each run here), while
numpy and pyarrow, installed by pip, start from their .pyc files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXPR = "log((x1+x2)^2+sin(x1*x2))"

FLOOR = r"""
import sys, numpy as np, pyarrow as pa, pyarrow.csv as pc
t = pc.read_csv(sys.argv[1])
x1 = t.column("x1").to_numpy(); x2 = t.column("x2").to_numpy()
s = x1 + x2; p = x1 * x2; u = s * s + np.sin(p); c = np.cos(p)
v = np.log(u); g1 = (2 * s + x2 * c) / u; g2 = (2 * s + x1 * c) / u
pc.write_csv(pa.table({"x1": x1, "x2": x2, "value": v, "d_x1": g1, "d_x2": g2}), sys.argv[2])
"""

# The same by hand without pyarrow's conversions to and from numpy (to_numpy, pa.table of
# arrays), which import pandas first when it is installed: 0.3 s of the floor's run here.
FLOOR_NO_PANDAS = r"""
import sys, numpy as np, pyarrow as pa, pyarrow.csv as pc
def col(c):
    return np.concatenate([np.frombuffer(k.buffers()[1], np.float64, len(k), 8 * k.offset) for k in c.chunks])
def arr(a):
    return pa.Array.from_buffers(pa.float64(), len(a), [None, pa.py_buffer(a)])
t = pc.read_csv(sys.argv[1])
x1 = col(t.column("x1")); x2 = col(t.column("x2"))
s = x1 + x2; p = x1 * x2; u = s * s + np.sin(p); c = np.cos(p)
v = np.log(u); g1 = (2 * s + x2 * c) / u; g2 = (2 * s + x1 * c) / u
cols = [arr(x1), arr(x2), arr(v), arr(g1), arr(g2)]
pc.write_csv(pa.Table.from_arrays(cols, names=["x1", "x2", "value", "d_x1", "d_x2"]), sys.argv[2])
assert "pandas" not in sys.modules
"""

INPROCESS_WIDE = r"""
import sys, time, numpy as np
from adcli import reverse
from adcli.evaluate import evaluate
from adcli.parse import parse
text = open(sys.argv[1]).read()
n = int(sys.argv[2])
t0 = time.perf_counter()
g = parse(text)
point = {f"x{i}": np.float64(0.01 * (i % 100) + 0.5) for i in range(n)}
values = evaluate(g, [point[name] for name in g.input_names])
adj, _ = reverse.vjp(values, [np.float64(1.0)])
print(time.perf_counter() - t0)
"""


def child(
    cmd: list[str], out_path: str | None, first_line: bool = False
) -> tuple[float, float, list[float], float, int]:
    """Wall time, peak RSS (MiB), times to the first and second output lines (when
    ``first_line``), CPU seconds (user + system), exit code."""
    t0 = time.perf_counter()
    firsts: list[float] = []
    if first_line:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        with open(out_path or os.devnull, "wb") as sink:
            for _ in range(2):
                line = proc.stdout.readline()
                firsts.append(time.perf_counter() - t0)
                sink.write(line)
            shutil.copyfileobj(proc.stdout, sink, 1 << 20)
    else:
        with open(out_path or os.devnull, "wb") as sink:
            proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, firsts, usage.ru_utime + usage.ru_stime, proc.returncode


def write_points(path: Path, n: int, seed: int = 1) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    with path.open("w") as f:
        f.write("x1,x2\n")
        step = 1 << 18
        for k in range(0, n, step):
            x = rng.uniform(0.1, 2.0, size=(min(step, n - k), 2))
            f.write("\n".join(f"{a!r},{b!r}" for a, b in x.tolist()) + "\n")


def make(path: Path, n: int, seed: int) -> None:
    """In a child, so the parent stays small (a child's peak RSS starts from its parent's at fork)."""
    subprocess.run([sys.executable, __file__, "--make", str(path), str(n), str(seed)], check=True)


def main() -> None:
    if sys.argv[1:2] == ["--make"]:
        write_points(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--big", type=int, default=4_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--wide", type=int, default=10_000)
    ap.add_argument("--hessian", action="store_true")
    args = ap.parse_args()
    py = sys.executable
    import importlib.util

    spec = importlib.util.find_spec("adcli")  # found, not imported: the parent stays small
    assert spec is not None and spec.origin is not None
    subprocess.run([py, "-m", "compileall", "-q", str(Path(spec.origin).parent)], check=True)
    adcli = [str(Path(py).with_name("adcli"))]
    tmp = Path(tempfile.mkdtemp(prefix="adcli-bench-"))
    pts, big = tmp / "pts.csv", tmp / "big.csv"
    make(pts, args.rows, 1)
    make(big, args.big, 2)
    one = tmp / "one.csv"
    one.write_text("x1,x2\n1.5,0.25\n")
    floor_py = tmp / "floor.py"
    floor_py.write_text(FLOOR)
    floor2_py = tmp / "floor_no_pandas.py"
    floor2_py.write_text(FLOOR_NO_PANDAS)
    work = {
        "pyarrow.csv read + numpy + pyarrow.csv write (floor)": (
            [py, str(floor_py), str(pts), str(tmp / "f.csv")],
            None,
        ),
        "the same floor, pandas not imported (pyarrow buffers instead of to_numpy, pa.table)": (
            [py, str(floor2_py), str(pts), str(tmp / "f2.csv")],
            None,
        ),
        "adcli grad --points --format csv": (adcli + ["grad", EXPR, "--points", str(pts), "--format", "csv"], "a.csv"),
        "adcli grad --points (JSON Lines)": (adcli + ["grad", EXPR, "--points", str(pts)], "a.jsonl"),
        f"adcli grad --points --format csv, {args.big:,} rows": (
            adcli + ["grad", EXPR, "--points", str(big), "--format", "csv"],
            "b.csv",
        ),
        "start-up: the same CSV command over a one-row file": (
            adcli + ["grad", EXPR, "--points", str(one), "--format", "csv"],
            "one-out.csv",
        ),
    }
    if args.hessian:
        work["adcli hessian --points (JSON Lines)"] = (adcli + ["hessian", EXPR, "--points", str(pts)], "h.jsonl")
        work[f"adcli hessian --points --format csv, {args.big:,} rows"] = (
            adcli + ["hessian", EXPR, "--points", str(big), "--format", "csv"],
            "hb.csv",
        )
    times: dict[str, list[float]] = {k: [] for k in work}
    peaks: dict[str, list[float]] = {k: [] for k in work}
    firsts: dict[str, list[float]] = {k: [] for k in work}  # the first line, as a share of the run
    rows_at: dict[str, list[float]] = {k: [] for k in work}  # the first data row (after a CSV header), seconds
    row_shares: dict[str, list[float]] = {k: [] for k in work}
    cpus: dict[str, list[float]] = {k: [] for k in work}
    ratios: dict[str, list[float]] = {k: [] for k in work}
    floor_key = next(iter(work))
    for _ in range(args.rounds):
        round_t = {}
        for k, (cmd, out) in work.items():
            wall, peak, first, cpu, rc = child(cmd, str(tmp / out) if out else None, first_line=out is not None)
            assert rc == 0, (k, rc)
            round_t[k] = wall
            times[k].append(wall)
            peaks[k].append(peak)
            cpus[k].append(cpu)
            if first:
                row = first[1] if out is not None and out.endswith(".csv") else first[0]
                firsts[k].append(first[0] / wall)
                rows_at[k].append(row)
                row_shares[k].append(row / wall)
        for k in work:
            ratios[k].append(round_t[k] / round_t[floor_key])
    med = statistics.median
    print(f"# --points end to end ({args.rows:,} points, `{EXPR}`, {args.rounds} rounds)\n")
    print(f"load average at the end of the timed runs: {os.getloadavg()[0]:.2f}; nproc {os.cpu_count()}\n")
    print(
        "| workload | wall median (min-max) | ratio to floor | CPU (user+sys) | peak RSS "
        "| first line at | first data row at |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for k in work:
        fl = f"{100 * med(firsts[k]):.1f}% of the run" if firsts[k] else ""
        fr = f"{1000 * med(rows_at[k]):.0f} ms, {100 * med(row_shares[k]):.1f}%" if rows_at[k] else ""
        print(
            f"| {k} | {med(times[k]):.2f} s ({min(times[k]):.2f}-{max(times[k]):.2f}) | {med(ratios[k]):.2f} "
            f"| {med(cpus[k]):.2f} s | {med(peaks[k]):.0f} MiB | {fl} | {fr} |"
        )
    k_floor2 = next(k for k in work if k.startswith("the same floor"))
    for k in ("adcli grad --points --format csv", "adcli grad --points (JSON Lines)"):
        r2 = med([a / b for a, b in zip(times[k], times[k_floor2])])
        print(f"\n{k}: {r2:.2f}x the floor without pandas (median of the per-round ratios)", end="")
    print()
    k_small = "adcli grad --points --format csv"
    k_big = f"adcli grad --points --format csv, {args.big:,} rows"
    print(f"\npeak memory at {args.big:,} rows / at {args.rows:,} rows: {med(peaks[k_big]) / med(peaks[k_small]):.2f}")
    if args.hessian:
        k_h, k_hb = "adcli hessian --points (JSON Lines)", f"adcli hessian --points --format csv, {args.big:,} rows"
        print(
            f"hessian: peak memory at {args.big:,} rows (CSV) / at {args.rows:,} (JSON Lines): "
            f"{med(peaks[k_hb]) / med(peaks[k_h]):.2f}"
        )

    if args.wide:
        n = args.wide
        expr = tmp / "sum.txt"
        expr.write_text(" + ".join(f"sin(x{i}*x{i + 1}) + (x{i}-x{i + 1})^2" for i in range(n - 1)))
        wide = tmp / "wide.csv"
        wide.write_text(
            ",".join(f"x{i}" for i in range(n)) + "\n" + ",".join(repr(0.01 * (i % 100) + 0.5) for i in range(n)) + "\n"
        )
        script = tmp / "inproc.py"
        script.write_text(INPROCESS_WIDE)
        cli, inproc = [], []
        for _ in range(args.rounds):
            wall, _peak, _f, _cpu, rc = child(
                adcli + ["grad", f"@{expr}", "--points", str(wide), "--format", "csv"], None
            )
            assert rc == 0
            cli.append(wall)
            out = subprocess.run([py, str(script), str(expr), str(n)], capture_output=True, text=True, check=True)
            inproc.append(float(out.stdout))
        print(f"\none CSV row with {n:,} columns, `sin(x_i*x_(i+1)) + (x_i-x_(i+1))^2` summed:\n")
        print("| workload | median |")
        print("|---|---:|")
        print(f"| adcli grad @sum.txt --points wide.csv --format csv (whole process) | {med(cli):.2f} s |")
        print(f"| parse + value + gradient in-process (no I/O, no CLI start-up) | {med(inproc):.2f} s |")
        print(f"\nratio: {med(cli) / med(inproc):.2f}")
    # the same numbers as the floor (pyarrow writes 1 for 1.0, so compare values)
    import numpy as np

    a = np.loadtxt(tmp / "a.csv", delimiter=",", skiprows=1, usecols=range(5))
    f = np.loadtxt(tmp / "f.csv", delimiter=",", skiprows=1)
    print(f"\nmax |adcli CSV - floor CSV| over all numbers: {float(np.max(np.abs(a - f))):.3g}")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
