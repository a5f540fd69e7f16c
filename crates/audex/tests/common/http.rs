//! Plain HTTP GETs of audex's metrics endpoint, and one sample of a page.
#![allow(dead_code)]

/// (status line, body) of `GET path` on 127.0.0.1:port.
pub fn get(port: u16, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: audex\r\n\r\n").unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// The value of one sample line of a Prometheus page (0 when absent).
pub fn metric(page: &str, sample: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(sample)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// `promtool check metrics` (Debian's prometheus package; `.ci/run` installs
/// it, `AUDEX_PROMTOOL` names another) on a `/metrics` page: its complaints,
/// empty when the page passes.
pub fn promtool_check(page: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let promtool = std::env::var("AUDEX_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{promtool}: {e} (.ci/run installs it from Debian's prometheus package)")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        said.trim().to_string()
    } else {
        format!("promtool failed: {said}")
    }
}
