#!/bin/bash
# A bounded exec + file-churn storm in DIR, which the caller watches: WORKERS
# shells side by side, each ITERATIONS times: exec DIR/watched-true with
# arguments that need hex encoding, create and write a file, rename it (mv),
# delete it (rm). Four audited events an iteration; on several CPUs the
# kernel's records of neighbouring events interleave, which is the point.
# With LONG_ARGS > 0, each exec carries that many more arguments (with spaces,
# so hex-encoded in EXECVE records), as build and package tools' execs do.
# Prints the number of iterations done.
# Usage: storm.sh DIR [WORKERS] [ITERATIONS] [LONG_ARGS]
set -euo pipefail
DIR=$1
WORKERS=${2:-2}
ITER=${3:-1000}
LONG_ARGS=${4:-0}
cp /bin/true "$DIR/watched-true"
extra=()
for ((a = 0; a < LONG_ARGS; a++)); do
    extra+=("--option-$a=a value with spaces $a")
done
worker() {
    local w=$1 d="$DIR/w$1" i
    mkdir -p "$d"
    for ((i = 0; i < ITER; i++)); do
        "$DIR/watched-true" storm "worker $w" "iteration $i" "${extra[@]}"
        echo x > "$d/f$i"
        mv "$d/f$i" "$d/g$i"
        rm -f "$d/g$i"
    done
}
pids=()
for ((w = 0; w < WORKERS; w++)); do
    worker "$w" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
echo $((WORKERS * ITER))
