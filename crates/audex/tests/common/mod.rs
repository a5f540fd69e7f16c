//! Shared by the kernel tests: the lock, the skip switch, and kernel audit state
//! saved on entry and restored on drop (also when the test panics).
#![allow(dead_code)]
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

pub mod auditd;
pub mod http;
pub mod podman;
pub mod receiver;
pub mod watch;
pub mod workload;
pub mod yaml;

pub const LOCK: &str = "/tmp/audex-kernel-tests.lock";

/// Holds the kernel for one test.
pub struct KernelTest {
    _lock: File,
    enabled: String,
    /// backlog_limit, rate_limit, backlog_wait_time, failure as auditctl -s printed them.
    settings: Vec<(&'static str, String)>,
    rules: String,
    pub dir: PathBuf,
}

fn auditctl(args: &[&str]) -> String {
    let out = Command::new("auditctl")
        .args(args)
        .output()
        .expect("auditctl (apt-get install auditd)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Takes the lock and saves kernel audit state, or returns None when
/// AUDEX_SKIP_KERNEL_TESTS=1. Without root or kernel audit it fails clearly.
pub fn kernel() -> Option<KernelTest> {
    if std::env::var("AUDEX_SKIP_KERNEL_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("skipping: AUDEX_SKIP_KERNEL_TESTS=1");
        return None;
    }
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "kernel tests need root (or set AUDEX_SKIP_KERNEL_TESTS=1 to skip them)"
    );
    assert!(
        Path::new("/proc/self/loginuid").exists(),
        "this kernel has no audit support (set AUDEX_SKIP_KERNEL_TESTS=1)"
    );
    let lock = File::options()
        .create(true)
        .append(true)
        .open(LOCK)
        .expect("open the kernel test lock");
    // SAFETY: flock on our own descriptor.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    let status = auditctl(&["-s"]);
    let enabled = status
        .lines()
        .find_map(|l| l.strip_prefix("enabled "))
        .unwrap_or("0")
        .trim()
        .to_string();
    let settings = [
        ("backlog_limit", "-b"),
        ("rate_limit", "-r"),
        ("backlog_wait_time", "--backlog_wait_time"),
        ("failure", "-f"),
    ]
    .iter()
    .filter_map(|(field, opt)| {
        let v = status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field} ")))?;
        Some((*opt, v.split_whitespace().next()?.to_string()))
    })
    .collect();
    let rules = auditctl(&["-l"]);
    let dir =
        std::env::temp_dir().join(format!("audex-kt-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    Some(KernelTest {
        _lock: lock,
        enabled,
        settings,
        rules,
        dir,
    })
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        % 1_000_000_007
}

impl KernelTest {
    /// Removes every rule (the saved ones come back on drop).
    pub fn clear_rules(&self) {
        auditctl(&["-D"]);
    }

    pub fn rules_text(&self) -> String {
        auditctl(&["-l"])
    }
}

impl Drop for KernelTest {
    fn drop(&mut self) {
        auditctl(&["-D"]);
        if !self.rules.starts_with("No rules") && !self.rules.trim().is_empty() {
            let f = self.dir.with_extension("saved.rules");
            let _ = std::fs::write(&f, format!("-c\n{}", self.rules));
            let _ = Command::new("auditctl").arg("-R").arg(&f).output();
            let _ = std::fs::remove_file(&f);
        }
        for (opt, v) in &self.settings {
            auditctl(&[opt, v]);
        }
        if self.enabled != "2" {
            auditctl(&["-e", &self.enabled]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh directory for a test's files, under the target's tmp (kept after
/// the test, to look at).
pub fn out_dir(tag: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(tag);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn audex() -> Command {
    Command::new(env!("CARGO_BIN_EXE_audex"))
}

/// The JSON lines of `path` (none when it is missing), as values.
#[allow(dead_code)]
pub fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `audex validate --no-environment` of the config `yaml` (written in a
/// fresh `out_dir(tag)`): its exit code, and stderr then stdout.
#[allow(dead_code)]
pub fn validate_text(tag: &str, yaml: &str) -> (Option<i32>, String) {
    let cfg = out_dir(tag).join("audex.yaml");
    std::fs::write(&cfg, yaml).unwrap();
    let out = audex()
        .args(["validate", "--no-environment", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    (out.status.code(), text)
}

/// `audex replay --no-names --config CFG INPUT`, CFG being `yaml` written
/// in `dir`: its stderr, which must end in success.
#[allow(dead_code)]
pub fn replay_config(dir: &Path, yaml: &str, input: &Path) -> String {
    let cfg = dir.join("audex.yaml");
    std::fs::write(&cfg, yaml).unwrap();
    let out = audex()
        .args(["replay", "--no-names", "--config"])
        .arg(&cfg)
        .arg(input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    err
}

pub fn corpora() -> PathBuf {
    std::env::var_os("AUDEX_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"))
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The golden logs and the peer corpora's logs, sorted.
pub fn replay_inputs() -> Vec<PathBuf> {
    let mut files = Vec::new();
    files_under(&repo().join("tests/golden"), &mut files);
    files_under(&corpora(), &mut files);
    files.retain(|p| {
        let s = p.to_string_lossy();
        s.ends_with(".log") || (s.contains("testdata") && s.ends_with(".txt"))
    });
    files.sort();
    files
}

/// The events `audex replay` makes of every [`replay_inputs`] file, ids made
/// unique over the files (`<file index>/<id>`: two goldens hold one capture).
pub fn replayed_events() -> Vec<audex_proto::v1::AuditEvent> {
    let mut events = Vec::new();
    for (i, f) in replay_inputs().into_iter().enumerate() {
        let out = audex()
            .args(["replay", "-q", "--format", "json"])
            .arg(&f)
            .output()
            .unwrap();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let mut ev: audex_proto::v1::AuditEvent = serde_json::from_str(line).unwrap();
            ev.id = format!("{i}/{}", ev.id);
            events.push(ev);
        }
    }
    events
}
