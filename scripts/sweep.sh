#!/bin/bash
# Runs a grid of training runs (methods x seeds x configs), then compares them.
#
# usage: scripts/sweep.sh METHODS SEEDS CONFIG... [-- TRAIN_ARGS...]
#   METHODS     comma-separated agent.method values, e.g. mtsac,pcgrad,cagrad
#   SEEDS       comma-separated seeds, e.g. 1,2,3
#   CONFIG...   one or more run configs (JSON)
#   TRAIN_ARGS  passed to every new `conal train`, e.g. --steps 6000
#
# environment:
#   SWEEP_OUT   parent folder of the run directories (default runs/sweep)
#   JOBS        runs at a time (default 1); the machine's cores are shared
#   THREADS     --threads of each run (default 1)
#   CONAL       the conal binary (default build/conal, built by scripts/conal)
#
# Each run goes to SWEEP_OUT/<config name>-<method>-seed<seed>. The sweep is
# resumable: a run with summary.json is finished and skipped, a run with
# checkpoint.bin continues with `conal train --resume`, and a run directory
# with neither (stopped before its first checkpoint) is reported and left
# alone, because deleting it is the user's decision. When the grid is done,
# `conal compare` prints the table per config and writes
# SWEEP_OUT/<config name>.svg.
set -u

usage() {
    sed -n '4,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 1
}

[ $# -ge 3 ] || usage
METHODS="$1"
SEEDS="$2"
shift 2
CONFIGS=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    CONFIGS+=("$1")
    shift
done
[ $# -gt 0 ] && shift
TRAIN_ARGS=("$@")
[ ${#CONFIGS[@]} -gt 0 ] || usage

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONAL="${CONAL:-$ROOT/build/conal}"
SWEEP_OUT="${SWEEP_OUT:-runs/sweep}"
JOBS="${JOBS:-1}"
THREADS="${THREADS:-1}"

if [ ! -x "$CONAL" ]; then
    echo "sweep: $CONAL not found; build it first (scripts/conal version) or set CONAL" >&2
    exit 1
fi
case "$JOBS" in
    '' | *[!0-9]* | 0)
        echo "sweep: JOBS=$JOBS: expected a positive integer" >&2
        exit 1
        ;;
esac
for cfg in "${CONFIGS[@]}"; do
    if [ ! -f "$cfg" ]; then
        echo "sweep: config $cfg not found" >&2
        exit 1
    fi
done
mkdir -p "$SWEEP_OUT" || exit 1

# run_one CONFIG METHOD SEED DIR: trains, resumes or skips one run. Its log
# goes to DIR.log beside the run directory.
run_one() {
    local cfg="$1" method="$2" seed="$3" dir="$4"
    if [ -f "$dir/summary.json" ]; then
        echo "sweep: $dir finished, skipped"
        return 0
    fi
    if [ -f "$dir/checkpoint.bin" ]; then
        echo "sweep: $dir resuming"
        "$CONAL" train --resume --out "$dir" --threads "$THREADS" --quiet >>"$dir.log" 2>&1
    elif [ -e "$dir" ]; then
        echo "sweep: $dir exists without a checkpoint; remove it to start it again" >&2
        return 1
    else
        echo "sweep: $dir starting"
        "$CONAL" train "$cfg" --out "$dir" --seed "$seed" --set "agent.method=$method" \
            --threads "$THREADS" --quiet "${TRAIN_ARGS[@]}" >"$dir.log" 2>&1
    fi
    local rc=$?
    if [ $rc -ne 0 ]; then
        echo "sweep: $dir failed with status $rc; see $dir.log" >&2
    fi
    return $rc
}

# the grid, JOBS runs at a time
failed=0
running=0
for cfg in "${CONFIGS[@]}"; do
    name="$(basename "$cfg" .json)"
    for method in ${METHODS//,/ }; do
        for seed in ${SEEDS//,/ }; do
            run_one "$cfg" "$method" "$seed" "$SWEEP_OUT/$name-$method-seed$seed" &
            running=$((running + 1))
            if [ "$running" -ge "$JOBS" ]; then
                wait -n || failed=$((failed + 1))
                running=$((running - 1))
            fi
        done
    done
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=$((failed + 1))
    running=$((running - 1))
done

# one comparison per config, over the runs that finished or stopped early
for cfg in "${CONFIGS[@]}"; do
    name="$(basename "$cfg" .json)"
    dirs=()
    for method in ${METHODS//,/ }; do
        for seed in ${SEEDS//,/ }; do
            d="$SWEEP_OUT/$name-$method-seed$seed"
            [ -f "$d/eval.jsonl" ] && dirs+=("$d")
        done
    done
    if [ ${#dirs[@]} -eq 0 ]; then
        echo "sweep: $name: no run has evaluations yet" >&2
        failed=$((failed + 1))
        continue
    fi
    echo
    echo "== $name =="
    "$CONAL" compare "${dirs[@]}" --plot "$SWEEP_OUT/$name.svg" || failed=$((failed + 1))
done

if [ "$failed" -gt 0 ]; then
    echo "sweep: $failed run(s) or comparison(s) failed" >&2
    exit 1
fi
