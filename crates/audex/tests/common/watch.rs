//! Starting and stopping `audex watch` in kernel tests. The returned [`Watch`]
//! stops audex when dropped, so a failing assertion cannot leave it running
//! (registered as the audit daemon, with its rules in the kernel).
#![allow(dead_code)]
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn workload_script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/kernel/workload.sh")
}

/// A running `audex watch`.
pub struct Watch {
    child: Option<Child>,
}

impl Watch {
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `audex ARGS`, waits until it says it is watching; returns it, a
/// channel of its further stderr lines, and the "watching" line.
pub fn start_watch(args: &[&str]) -> (Watch, mpsc::Receiver<String>, String) {
    let mut cmd = super::audex();
    cmd.args(args);
    start_command(cmd)
}

/// As [`start_watch`], for a command built by the caller (e.g. under setpriv).
pub fn start_command(mut cmd: std::process::Command) -> (Watch, mpsc::Receiver<String>, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let watch = Watch { child: Some(child) };
    let line = loop {
        match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(l) if l.contains("watching") => break l,
            Ok(l) => eprintln!("audex: {l}"),
            Err(_) => panic!("audex watch did not start"),
        }
    };
    (watch, rx, line)
}

/// SIGINT, then its stdout and exit status.
pub fn stop(w: Watch) -> (String, ExitStatus) {
    stop_with(w, libc::SIGINT)
}

/// `signal`, then its stdout and exit status.
pub fn stop_with(mut w: Watch, signal: i32) -> (String, ExitStatus) {
    let mut child = w.child.take().expect("running");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    (out, status)
}

/// Runs the workload in `dir` under the running watch, waits for wall-clock
/// completion, stops audex; returns its events and the workload's actions (less
/// `changed-timestamps`: a path watch does not cover utimensat, which is not in
/// the kernel's attr class).
pub fn run_workload(
    w: Watch,
    dir: &Path,
) -> (Vec<serde_json::Value>, Vec<super::workload::Action>) {
    let actions = workload_actions(dir);
    std::thread::sleep(Duration::from_millis(2500));
    let (out, status) = stop(w);
    assert!(status.success(), "audex watch exit: {status:?}");
    let events = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (events, actions)
}

/// Runs the workload in `dir`; its actions (less `changed-timestamps`, see above).
pub fn workload_actions(dir: &Path) -> Vec<super::workload::Action> {
    let wl = std::process::Command::new("bash")
        .arg(workload_script())
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        wl.status.success(),
        "workload: {}",
        String::from_utf8_lossy(&wl.stderr)
    );
    super::workload::parse(&String::from_utf8_lossy(&wl.stdout))
        .into_iter()
        .filter(|a| a.action != "changed-timestamps")
        .collect()
}
