"""How accurate are adcli check's finite differences? The measurement behind
the default tolerances (adcli/check.py: RTOL, ATOL).

    python bench/check_defaults.py [--method central] [--rtol 1e-6] [--atol 1e-8] [--seed 0]

Random smooth expressions of 5 inputs (sin, cos, exp, tanh, sigmoid, softplus,
atan, log(1+u^2), sqrt(1+u^2), powers, products, quotients by 2+sin(.),
hypot), 200 random points each in [-2, 2]^5, keeping the well-scaled points
(|f| and |∇f| <= 100). Prints how many derivatives fail (they are all right:
every failure is a false alarm), how many the Ridders second opinion settled,
and how many derivatives wrong by 1e-4 relative (with |∂f/∂x| > 1e-3) the
rule would catch.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import defaultdict

import numpy as np

from adcli import check
from adcli.evaluate import evaluate
from adcli.parse import parse

UNARY = [
    "sin({})",
    "cos({})",
    "exp(({})/2)",
    "tanh({})",
    "sigmoid({})",
    "softplus({})",
    "atan({})",
    "log(1+({})^2)",
    "sqrt(1+({})^2)",
    "({})^2",
    "({})^3",
    "1/(1+({})^2)",
    "cosh(({})/2)",
]
BINARY = ["({})+({})", "({})-({})", "({})*({})", "({})/(2+sin({}))", "hypot({},{}+3)"]
NAMES = ["x1", "x2", "x3", "x4", "x5"]


def expression(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(NAMES) if rng.random() < 0.85 else str(round(rng.uniform(-2, 2), 2))
    if rng.random() < 0.5:
        return rng.choice(UNARY).format(expression(rng, depth - 1))
    return rng.choice(BINARY).format(expression(rng, depth - 1), expression(rng, depth - 1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="central")
    ap.add_argument("--rtol", type=float, default=check.RTOL)
    ap.add_argument("--atol", type=float, default=check.ATOL)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--expressions", type=int, default=300)
    a = ap.parse_args()
    rng, nprng = random.Random(a.seed), np.random.default_rng(a.seed)
    opts = check.options(method=a.method, rtol=a.rtol, atol=a.atol)
    total = fails = rescued = detectable = detected = 0
    t0 = time.time()
    for _ in range(a.expressions):
        text = "+".join(expression(rng, 4) for _ in range(2)) + "+0*(x1+x2+x3+x4+x5)"
        g = parse(text)
        X = nprng.uniform(-2, 2, size=(200, len(g.inputs)))
        result = check.check_points(g, X, opts)
        f = np.broadcast_to(evaluate(g, [X[:, k] for k in range(X.shape[1])]).outputs[0], (200,))
        by_point = defaultdict(list)
        for row in result.rows:
            by_point[row.point_index].append(row)
        for p, rows in by_point.items():
            if abs(f[p]) > 100 or max(abs(r.ad) for r in rows) > 100:
                continue
            for r in rows:
                total += 1
                fails += r.status == "fail"
                rescued += r.status == "pass" and "Ridders" in r.note
                if abs(r.ad) > 1e-3:
                    detectable += 1
                    detected += abs(r.ad * (1 + 1e-4) - r.fd) > a.atol + a.rtol * abs(r.fd)
    print(
        f"{a.method}, rtol {a.rtol:g}, atol {a.atol:g}: {total} derivatives, {fails} false failures, "
        f"{rescued} settled by Ridders; a 1e-4 relative error caught in {detected}/{detectable}; "
        f"{time.time() - t0:.1f}s"
    )


if __name__ == "__main__":
    main()
