# Sourced by the capture scripts: Debian's auditd as a test peer.
# auditd_conf FORMAT LOG_FILE PLUGIN_DIR prints a private auditd.conf: the log
# kept apart, actions that never suspend or halt the machine.
auditd_conf() {
    cat <<CONF
local_events = yes
write_logs = yes
log_file = $2
log_group = root
log_format = $1
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 64
num_logs = 2
priority_boost = 4
name_format = NONE
max_log_file_action = ROTATE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = SYSLOG
use_libwrap = no
tcp_client_max_idle = 0
transport = TCP
distribute_network = no
q_depth = 2000
overflow_action = SYSLOG
max_restarts = 10
plugin_dir = $3
end_of_event_timeout = 2
CONF
}

# wait_registered PID: waits until PID is the kernel's audit daemon.
wait_registered() {
    for _ in $(seq 50); do
        [ "$(auditctl -s | awk '$1=="pid"{print $2}')" = "$1" ] && return 0
        sleep 0.1
    done
    echo "auditd ($1) did not register as the audit daemon" >&2
    return 1
}

# audit_state_save / audit_state_restore: the enabled flag and backlog limit as
# found (into was_enabled, was_backlog), and back (for a cleanup trap).
audit_state_save() {
    was_enabled=$(auditctl -s | awk '$1=="enabled"{print $2}')
    was_backlog=$(auditctl -s | awk '$1=="backlog_limit"{print $2}')
}
audit_state_restore() {
    auditctl -b "$was_backlog" >/dev/null 2>&1 || true
    auditctl -e "$was_enabled" >/dev/null 2>&1 || true
}
