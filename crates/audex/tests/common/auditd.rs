//! Debian's auditd as a test peer: foreground, private config, log kept apart
//! (auditd makes its log directory 0700), actions that never suspend or halt.
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

pub struct Auditd {
    child: Option<Child>,
    pub pid: u32,
    pub log: PathBuf,
    dirs: Vec<PathBuf>,
}

fn daemon_pid() -> u32 {
    let out = Command::new("auditctl").arg("-s").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("pid "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(0)
}

impl Auditd {
    /// Starts auditd with its config and log under `base` (which must not be a
    /// directory other users need).
    #[allow(clippy::zombie_processes)] // reaped in Drop
    pub fn start(base: &Path) -> Auditd {
        let conf = base.join("auditd-conf");
        let logdir = base.join("auditd-log");
        std::fs::create_dir_all(conf.join("plugins.d")).unwrap();
        std::fs::create_dir_all(&logdir).unwrap();
        let log = logdir.join("audit.log");
        std::fs::write(
            conf.join("auditd.conf"),
            format!(
                "local_events = yes\nwrite_logs = yes\nlog_file = {}\nlog_group = root\nlog_format = RAW\n\
                 flush = INCREMENTAL_ASYNC\nfreq = 50\nmax_log_file = 256\nnum_logs = 2\npriority_boost = 4\n\
                 name_format = NONE\nmax_log_file_action = ROTATE\nspace_left = 2\nspace_left_action = IGNORE\n\
                 admin_space_left = 1\nadmin_space_left_action = IGNORE\ndisk_full_action = IGNORE\n\
                 disk_error_action = SYSLOG\nuse_libwrap = no\ntcp_client_max_idle = 0\ntransport = TCP\n\
                 distribute_network = no\nq_depth = 2000\noverflow_action = SYSLOG\nmax_restarts = 10\n\
                 plugin_dir = {}\nend_of_event_timeout = 2\n",
                log.display(),
                conf.join("plugins.d").display()
            ),
        )
        .unwrap();
        let child = Command::new("auditd")
            .arg("-n")
            .arg("-c")
            .arg(&conf)
            .spawn()
            .expect("auditd (apt-get install auditd)");
        let pid = child.id();
        for _ in 0..100 {
            if daemon_pid() == pid {
                return Auditd {
                    child: Some(child),
                    pid,
                    log,
                    dirs: vec![conf, logdir],
                };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("auditd did not register as the audit daemon");
    }

    pub fn is_registered(&self) -> bool {
        daemon_pid() == self.pid
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Auditd {
    /// Stops auditd (SIGTERM) and returns its CPU seconds (user + system).
    pub fn stop_cpu(&mut self) -> f64 {
        let Some(child) = self.child.take() else {
            return 0.0;
        };
        // SAFETY: signalling and reaping our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let mut status = 0;
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    }
}

impl Drop for Auditd {
    fn drop(&mut self) {
        self.stop_cpu();
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
