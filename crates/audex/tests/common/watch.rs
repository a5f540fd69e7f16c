//! Starting and stopping `audex watch` in kernel tests.
#![allow(dead_code)]
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

pub fn workload_script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/kernel/workload.sh")
}

/// Starts `audex ARGS`, waits until it says it is watching; returns the child
/// and a channel of its stderr lines.
pub fn start_watch(args: &[&str]) -> (std::process::Child, mpsc::Receiver<String>, String) {
    let mut child = super::audex()
        .args(args)
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
    let line = loop {
        match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(l) if l.contains("watching") => break l,
            Ok(l) => eprintln!("audex: {l}"),
            Err(_) => {
                let _ = child.kill();
                panic!("audex watch did not start");
            }
        }
    };
    (child, rx, line)
}

/// SIGINT, then the child's stdout and exit status.
pub fn stop(mut child: std::process::Child) -> (String, std::process::ExitStatus) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
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
