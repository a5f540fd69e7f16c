#!/bin/bash
# A bounded exec + file-churn storm in DIR, which the caller watches: WORKERS
# shells side by side, each ITERATIONS times: exec DIR/watched-true with
# arguments that need hex encoding, create and write a file, rename it (mv),
# delete it (rm). Four audited events an iteration; on several CPUs the
# kernel's records of neighbouring events interleave, which is the point.
# Prints the number of iterations done. Usage: storm.sh DIR [WORKERS] [ITERATIONS]
set -euo pipefail
DIR=$1
WORKERS=${2:-2}
ITER=${3:-1000}
cp /bin/true "$DIR/watched-true"
worker() {
    local w=$1 d="$DIR/w$1" i
    mkdir -p "$d"
    for ((i = 0; i < ITER; i++)); do
        "$DIR/watched-true" storm "worker $w" "iteration $i"
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
