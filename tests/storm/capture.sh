#!/bin/bash
# Captures an exec + file-churn storm from this machine's kernel with Debian's
# auditd (RAW log, as auditd writes it: no EOE records):
#   tests/storm/capture.sh OUT.log [WORKERS] [ITERATIONS] [LONG_ARGS]
# The replay bench (crates/audex/benches/replay_compare.rs) runs it; by hand it
# makes a corpus for the benches. Needs root, auditd and kernel audit. Holds the
# shared kernel-test lock, watches only its own temp directory, and restores the
# audit enabled flag and backlog limit and removes its rule even on failure.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../kernel/auditd-peer.sh
. "$HERE/../kernel/auditd-peer.sh"
OUT=$1
WORKERS=${2:-2}
ITER=${3:-1000}
LONG_ARGS=${4:-0}
exec 9>/tmp/audex-kernel-tests.lock
flock 9
work=$(mktemp -d /tmp/audex-storm-work.XXXXXX)
conf=$(mktemp -d /tmp/audex-storm-conf.XXXXXX)
logdir=$(mktemp -d /tmp/audex-storm-log.XXXXXX)
pid=
audit_state_save
cleanup() {
    auditctl -W "$work" -p rwxa -k audex-storm >/dev/null 2>&1 || true
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    audit_state_restore
    rm -rf "$work" "$conf" "$logdir"
}
trap cleanup EXIT
mkdir -p "$conf/plugins.d"
# One log file however long the storm: no rotation (it would leave only the tail).
auditd_conf RAW "$logdir/audit.log" "$conf/plugins.d" \
    | sed 's/^max_log_file_action = .*/max_log_file_action = IGNORE/' > "$conf/auditd.conf"
auditd -n -c "$conf" &
pid=$!
wait_registered "$pid"
auditctl -b 8192 >/dev/null
auditctl -w "$work" -p rwxa -k audex-storm >/dev/null
iterations=$(bash "$HERE/../kernel/storm.sh" "$work" "$WORKERS" "$ITER" "$LONG_ARGS")
sleep 1
auditctl -W "$work" -p rwxa -k audex-storm >/dev/null
sleep 0.5
kill "$pid"; wait "$pid" || true
pid=
cp "$logdir/audit.log" "$OUT"
echo "captured $(wc -l < "$OUT") records of $iterations storm iterations to $OUT" >&2
