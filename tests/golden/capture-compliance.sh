#!/bin/bash
# Captures a compliance workload from this machine's real kernel with Debian's
# auditd, under audex's pci-dss rule pack:
#   tests/golden/capture-compliance.sh   -> tests/golden/compliance.log (ENRICHED)
#                                           tests/golden/compliance.actions.txt
# Needs root, auditd, kernel audit and a built audex (AUDEX=path, default
# target/debug/audex). Holds the shared kernel-test lock, watches only its own temp
# directory, and removes the pack's rules and restores the audit settings even on
# failure. The report test (crates/audex/tests/compliance_report.rs) replays it.
#
# The workload, as a person (login uid 1000) and as nobody:
#   reads and writes "cardholder data" in the watched directory (pci-chd-access);
#   runs commands as root (pci-admin-actions), a failed read as nobody
#   (pci-access-denied), opens /etc/passwd for writing without writing
#   (pci-identity), runs auditctl (pci-audit-tools) and changes the backlog
#   (CONFIG_CHANGE), reads the clock with adjtimex (pci-time-change), su as root
#   and a failed su as nobody (PAM records from libpam's own audit calls), and
#   three sshd-style USER_LOGIN/USER_AUTH messages sent through the kernel the
#   way sshd sends them (the kernel stamps pid, uid, auid and session).
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
HERE=$(cd "$(dirname "$0")" && pwd)
AUDEX=${AUDEX:-$HERE/../../target/debug/audex}
# shellcheck source=../kernel/auditd-peer.sh
. "$HERE/../kernel/auditd-peer.sh"
exec 9>/tmp/audex-kernel-tests.lock
flock 9

work=$(mktemp -d /tmp/audex-compliance-work.XXXXXX)
conf=$(mktemp -d /tmp/audex-compliance-conf.XXXXXX)
logdir=$(mktemp -d /tmp/audex-compliance-log.XXXXXX)
pid=
audit_state_save
cleanup() {
    auditctl -W "$work" -p rwa -k pci-chd-access >/dev/null 2>&1 || true
    "$AUDEX" rules delete --pack pci-dss >/dev/null 2>&1 || true
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    audit_state_restore
    rm -rf "$work" "$conf" "$logdir"
}
trap cleanup EXIT
auditd_conf ENRICHED "$logdir/audit.log" "$conf/plugins.d" > "$conf/auditd.conf"
mkdir -p "$conf/plugins.d"
auditd -n -c "$conf" &
pid=$!
wait_registered "$pid"
"$AUDEX" rules load --pack pci-dss
auditctl -w "$work" -p rwa -k pci-chd-access

out="$logdir/workload.txt"
as_person() { # as_person CMD...: runs CMD with login uid 1000, as root
    sh -c 'echo 1000 > /proc/self/loginuid && exec "$@"' sh "$@"
}
cd "$work"
as_person sh -c 'echo "4111 1111 1111 1111" > cards.txt && chmod 600 cards.txt && cat cards.txt > /dev/null'
echo "chd-write-read $work/cards.txt" >> "$out"
as_person setpriv --reuid=65534 --regid=65534 --clear-groups cat cards.txt 2>/dev/null || true
echo "access-denied $work/cards.txt" >> "$out"
as_person python3 -c 'open("/etc/passwd", "a").close()'
echo "identity-open /etc/passwd" >> "$out"
as_person auditctl -b 8192 >/dev/null
echo "audit-config auditctl -b" >> "$out"
as_person python3 -c '
import ctypes
buf = ctypes.create_string_buffer(256)  # struct timex, modes = 0: read only
ctypes.CDLL(None, use_errno=True).adjtimex(buf)'
echo "time-read adjtimex" >> "$out"
as_person su -s /bin/true nobody
echo "su-root-to-nobody" >> "$out"
as_person setpriv --reuid=65534 --regid=65534 --clear-groups su -c true root </dev/null >/dev/null 2>&1 || true
echo "su-failed-as-nobody" >> "$out"
as_person python3 - <<'PY'
import socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9)  # NETLINK_AUDIT
def send(kind, msg):
    body = msg.encode() + b"\0"
    s.send(struct.pack("=IHHII", 16 + len(body), kind, 0x5, 1, 0) + body)  # REQUEST|ACK
    s.recv(8192)
send(1112, 'op=login id=1000 exe="/usr/sbin/sshd" hostname=198.51.100.4 addr=198.51.100.4 terminal=ssh res=success')
send(1100, 'op=PAM:authentication grantors=? acct="mallory" exe="/usr/sbin/sshd" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=failed')
send(1112, 'op=login acct="mallory" exe="/usr/sbin/sshd" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=failed')
PY
echo "sshd-messages login-ok auth-failed login-failed" >> "$out"
sleep 1
auditctl -W "$work" -p rwa -k pci-chd-access
"$AUDEX" rules delete --pack pci-dss >/dev/null
sleep 0.5
kill "$pid"; wait "$pid" || true
pid=
cp "$logdir/audit.log" "$HERE/compliance.log"
cp "$out" "$HERE/compliance.actions.txt"
echo "captured $(wc -l < "$HERE/compliance.log") records to $HERE/compliance.log" >&2
