#!/bin/bash
# Where `audex run`'s CPU goes on the exec + file storm: runs the kernel_storm
# bench's `audex run` collector (jsonl exporter, or OTLP with `otlp`) at the
# maximum rate, records the daemon with perf (DWARF call graphs) for SECS
# seconds, and prints each pipeline stage's share of the samples and its µs an
# event (stage_split.py; the CPU per event is the bench's own figure, which
# includes perf's own sampling cost in the daemon, a few per cent):
#   tests/storm/profile-run.sh [jsonl|otlp] [SECS]
# Needs root, kernel audit and linux-perf; the bench holds the kernel-test lock,
# watches only its own temp directory and restores the audit state.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
KIND=${1:-jsonl}
SECS=${2:-4}
case $KIND in
    jsonl) collector=4 ;;
    otlp) collector=5 ;;
    *) echo "usage: $0 [jsonl|otlp] [SECS]" >&2; exit 2 ;;
esac
command -v perf >/dev/null || { echo "$0: needs perf (apt-get install linux-perf)" >&2; exit 1; }
cd "$ROOT"
bench=$(cargo bench -p audex --bench kernel_storm --no-run 2>&1 \
    | sed -n 's/.*Executable .*(\(.*\))$/\1/p')
[ -x "$bench" ] || { echo "$0: cannot build the kernel_storm bench" >&2; exit 1; }
out=$(mktemp -d /tmp/audex-profile.XXXXXX)
AUDEX_STORM_WORKLOADS=exec+files AUDEX_STORM_RATES=max AUDEX_STORM_SECS=$((SECS + 4)) \
    AUDEX_STORM_COLLECTORS=$collector "$bench" --bench >"$out/bench.txt" 2>&1 &
bench_pid=$!
pid=
for _ in $(seq 300); do
    pid=$(pgrep -f "audex run .*--config" | head -1 || true)
    [ -n "$pid" ] && break
    sleep 0.1
done
[ -n "$pid" ] || { echo "$0: audex run did not start (see $out/bench.txt)" >&2; wait $bench_pid || true; exit 1; }
sleep 1 # the storm starts once the daemon is ready
perf record -q -F 1999 --call-graph dwarf,16384 -o "$out/perf.data" -p "$pid" -- sleep "$SECS" 2>/dev/null
wait $bench_pid
grep '^| exec+files' "$out/bench.txt"
us=$(grep '^| exec+files' "$out/bench.txt" | awk -F'|' '{gsub(/ /, "", $13); print $13}')
perf script -i "$out/perf.data" 2>/dev/null | python3 "$HERE/stage_split.py" --us-per-event "$us"
echo "(perf data and the bench's output in $out)"
