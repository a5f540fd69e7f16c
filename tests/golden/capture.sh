#!/bin/bash
# Captures golden input logs from this machine's real kernel with Debian's auditd.
#   tests/golden/capture.sh            -> tests/golden/kernel-{enriched,raw}.log
# Needs root, auditd (apt-get install auditd) and kernel audit. Holds the shared
# kernel-test lock, watches only its own temp directory, restores the audit
# enabled flag and removes its rule even on failure. Regenerate the expected JSON
# afterwards: AUDEX_REGENERATE_GOLDEN=1 cargo test -p audex --test golden
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../kernel/auditd-peer.sh
. "$HERE/../kernel/auditd-peer.sh"
exec 9>/tmp/audex-kernel-tests.lock
flock 9

capture() { # capture FORMAT OUT
    local format=$1 out=$2
    local conf logdir
    work= pid=
    work=$(mktemp -d /tmp/audex-golden-work.XXXXXX)
    conf=$(mktemp -d /tmp/audex-golden-conf.XXXXXX)
    logdir=$(mktemp -d /tmp/audex-golden-log.XXXXXX)
    local was_enabled was_backlog
    audit_state_save
    cleanup() {
        auditctl -W "$work" -p rwxa -k audex-golden >/dev/null 2>&1 || true
        auditctl -d always,exit -F arch=b64 -S utimensat -F dir="$work" -k audex-golden-time >/dev/null 2>&1 || true
        [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
        audit_state_restore
        rm -rf "$work" "$conf"
    }
    trap cleanup EXIT
    auditd_conf "$format" "$logdir/audit.log" "$conf/plugins.d" > "$conf/auditd.conf"
    mkdir -p "$conf/plugins.d"
    auditd -n -c "$conf" &
    pid=$!
    wait_registered "$pid"
    auditctl -b 8192 >/dev/null
    auditctl -w "$work" -p rwxa -k audex-golden
    # Watches do not cover utimensat (not in the kernel's attr class): a syscall rule does.
    auditctl -a always,exit -F arch=b64 -S utimensat -F dir="$work" -k audex-golden-time
    bash "$HERE/../kernel/workload.sh" "$work" > "$logdir/workload.txt"
    sleep 1
    auditctl -W "$work" -p rwxa -k audex-golden
    auditctl -d always,exit -F arch=b64 -S utimensat -F dir="$work" -k audex-golden-time
    sleep 0.5
    kill "$pid"; wait "$pid" || true
    pid=
    cp "$logdir/audit.log" "$out"
    cp "$logdir/workload.txt" "${out%.log}.workload.txt"
    rm -rf "$logdir"
    cleanup
    trap - EXIT
    echo "captured $(wc -l < "$out") records to $out" >&2
}

capture ENRICHED "$HERE/kernel-enriched.log"
capture RAW "$HERE/kernel-raw.log"
