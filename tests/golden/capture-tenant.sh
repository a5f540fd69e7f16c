#!/bin/bash
# Captures a login user acting on her own file, with secrets on her command
# lines, from this machine's real kernel with Debian's auditd:
#   tests/golden/capture-tenant.sh   -> tests/golden/tenant-alice.log (ENRICHED)
# Needs root, auditd, kernel audit. Adds a user `alice` (uid 4711) for the
# capture and removes her after, holds the shared kernel-test lock, watches
# only its own temp directory, removes its rules and restores the audit
# settings even on failure. crates/audex/tests/tenant_every_copy.rs replays it
# through a tenant that hashes her name and ids and masks secrets.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../kernel/auditd-peer.sh
. "$HERE/../kernel/auditd-peer.sh"
exec 9>/tmp/audex-kernel-tests.lock
flock 9

uid=4711
work=$(mktemp -d /tmp/audex-tenant-work.XXXXXX)
conf=$(mktemp -d /tmp/audex-tenant-conf.XXXXXX)
logdir=$(mktemp -d /tmp/audex-tenant-log.XXXXXX)
pid=
audit_state_save
cleanup() {
    auditctl -W "$work" -p rwxa -k tenant-files >/dev/null 2>&1 || true
    auditctl -d always,exit -F arch=b64 -S execve -F auid=$uid -k tenant-exec >/dev/null 2>&1 || true
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    audit_state_restore
    userdel alice >/dev/null 2>&1 || true
    rm -rf "$work" "$conf" "$logdir"
}
trap cleanup EXIT
useradd -M -u $uid -U -d "$work/alice" -s /bin/sh alice
mkdir -p "$work/alice"
chown alice:alice "$work/alice"
chmod 700 "$work/alice"
auditd_conf ENRICHED "$logdir/audit.log" "$conf/plugins.d" > "$conf/auditd.conf"
mkdir -p "$conf/plugins.d"
auditd -n -c "$conf" &
pid=$!
wait_registered "$pid"
auditctl -w "$work" -p rwxa -k tenant-files
auditctl -a always,exit -F arch=b64 -S execve -F auid=$uid -k tenant-exec

as_alice() { # as_alice CMD...: CMD as alice, logged in (login uid 4711), in her home
    sh -c "echo $uid > /proc/self/loginuid && cd $work/alice && exec setpriv --reuid=$uid --regid=$uid --init-groups \"\$@\"" sh "$@"
}
as_alice sh -c 'echo "dear diary" > notes.txt && chmod 600 notes.txt && cat notes.txt > /dev/null'
as_alice true login password = hunter2
as_alice true mysql -u root -phunter2 shop
as_alice true -u admin:hunter2 https://example.com/
as_alice true https://bob:hunter2@example.com/r.git
as_alice env PGPASSWORD=hunter2 true
as_alice true --db-password=hunter2
as_alice true --passphrase hunter2
as_alice true '{"password":"hunter2"}'
as_alice true X-Auth-Token: hunter2
as_alice true ghp_hunter2hunter2hunter2hunter2hunter2
# What sshd says when she logs in (sent through the kernel, as sshd does).
sh -c "echo $uid > /proc/self/loginuid && exec python3 -" <<'PY'
import socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9)  # NETLINK_AUDIT
body = b'op=login id=4711 acct="alice" exe="/usr/sbin/sshd" hostname=198.51.100.4 addr=198.51.100.4 terminal=ssh res=success\0'
s.send(struct.pack("=IHHII", 16 + len(body), 1112, 0x5, 1, 0) + body)  # USER_LOGIN, REQUEST|ACK
s.recv(8192)
PY
sleep 1
auditctl -W "$work" -p rwxa -k tenant-files
auditctl -d always,exit -F arch=b64 -S execve -F auid=$uid -k tenant-exec
sleep 0.5
kill "$pid"; wait "$pid" || true
pid=
# The temp directory's random part, fixed: the golden does not change with each capture.
sed "s|$work|/tmp/audex-tenant-work|g" "$logdir/audit.log" > "$HERE/tenant-alice.log"
echo "captured $(wc -l < "$HERE/tenant-alice.log") records to $HERE/tenant-alice.log" >&2
