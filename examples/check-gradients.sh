#!/usr/bin/env bash
# Check hand-derived gradients with adcli: a template for a CI job.
#
#   examples/check-gradients.sh                   the cases in examples/gradients.cases
#   examples/check-gradients.sh my.cases          your own cases file
#   ADCLI="python -m adcli" examples/check-gradients.sh
#
# Exit status: 0 when every check passes, 1 when a gradient is wrong, 2 when a
# case cannot be read (a typo in a formula, a missing value...). Copy it into
# your CI as one step; it prints only what fails (and a summary per step).
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cases="${1:-$here/gradients.cases}"
read -r -a adcli <<< "${ADCLI:-adcli}"

status=0
step() {  # step NAME COMMAND...: run one check, remember the worst exit status
    local name="$1"; shift
    "$@"
    local rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "ok   $name"
    else
        echo "FAIL $name (exit $rc)"
    fi
    if [ "$rc" -gt "$status" ]; then status=$rc; fi
}

# 1. Hand-derived gradients (and AD against finite differences) case by case.
step "cases in $(basename "$cases")" "${adcli[@]}" check --cases "$cases" --quiet

# 2. A formula and its gradient over a whole region: 200 random points, fixed seed.
step "softmax-style loss on [-2, 2]^2" "${adcli[@]}" check "log(exp(a) + exp(b)) - a" \
    --grad "exp(a)/(exp(a) + exp(b)) - 1, exp(b)/(exp(a) + exp(b))" \
    --random 200 --seed 7 --box=-2:2 --quiet

# 3. AD against finite differences where the function is defined (log needs x > 0:
#    the points with x <= 0 are skipped and counted, not failures).
step "AD vs finite differences, 500 points" "${adcli[@]}" check "x*log(x) + sin(x*y)" \
    --random 500 --seed 1 --box=-2:2 --quiet

# 4. The two engines agree on a Jacobian: the dot-product test <u, J v>.
step "forward vs reverse on a Jacobian" "${adcli[@]}" check "x*y*z, sin(x) + cos(y), exp(z/2)" \
    --at x=0.5,y=-1,z=2 --mode both --quiet

exit "$status"
