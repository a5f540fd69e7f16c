//! podman for the container tests: found (or the test skips, saying why), the
//! image built once per test binary by scripts/build-image.sh around the binary
//! under test, and containers removed when a test ends, even by a panic.
#![allow(dead_code)]
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The tag the tests build and run.
pub const IMAGE: &str = "localhost/audex:test";

/// The capabilities the chart grants the audex container (helm/audex).
pub const CHART_CAPS: &str = "AUDIT_READ,AUDIT_CONTROL,DAC_READ_SEARCH,SYS_PTRACE,AUDIT_WRITE";

/// The same as bits: AUDIT_READ (37), AUDIT_CONTROL (30), AUDIT_WRITE (29),
/// SYS_PTRACE (19), DAC_READ_SEARCH (2).
pub const CHART_BITS: u64 = (1 << 37) | (1 << 30) | (1 << 29) | (1 << 19) | (1 << 2);

/// The capability bits of a `/proc/PID/status` line (`CapBnd:`, `CapPrm:`...).
pub fn cap_bits(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|h| u64::from_str_radix(h.trim(), 16).unwrap())
        .unwrap_or_else(|| panic!("no {key} in {status}"))
}

/// The podman settings the build script uses (deploy/podman/containers.conf
/// unless CONTAINERS_CONF is set).
fn containers_conf() -> PathBuf {
    std::env::var_os("CONTAINERS_CONF")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::repo().join("deploy/podman/containers.conf"))
}

/// `podman` with this repository's settings.
pub fn podman() -> Command {
    let mut c = Command::new("podman");
    c.env("CONTAINERS_CONF", containers_conf());
    c
}

/// True when the container tests can run here. Without podman they skip with a
/// message, unless AUDEX_REQUIRE_PODMAN=1 (`.ci/run` installs podman and sets
/// it, so a broken install fails there instead of skipping).
pub fn available() -> bool {
    let found = Command::new("podman")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("AUDEX_REQUIRE_PODMAN").map_or(true, |v| v != "1"),
            "AUDEX_REQUIRE_PODMAN=1 but podman is not installed"
        );
        eprintln!(
            "skipping: podman is not installed (apt-get install podman runc catatonit mmdebstrap; .ci/run does)"
        );
    }
    found
}

/// Runs podman with `args`; its output, whatever the exit status.
pub fn run(args: &[&str]) -> Output {
    podman().args(args).output().expect("run podman")
}

/// Runs podman with `args`, which must succeed; its stdout.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "podman {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The image, built by scripts/build-image.sh from the audex binary under test
/// (once per test binary).
pub fn image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = Command::new("bash")
            .arg(super::repo().join("scripts/build-image.sh"))
            .arg(IMAGE)
            .env("AUDEX_BINARY", env!("CARGO_BIN_EXE_audex"))
            .env("CONTAINERS_CONF", containers_conf())
            .output()
            .expect("run scripts/build-image.sh");
        assert!(
            out.status.success(),
            "scripts/build-image.sh: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
    IMAGE
}

/// A container (or pod, through `kube down`) removed on drop.
pub struct Cleanup(pub Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let args: Vec<&str> = self.0.iter().map(String::as_str).collect();
        let _ = run(&args);
    }
}

/// The process id of a running container on the host.
pub fn pid(container: &str) -> u32 {
    ok(&["inspect", "--format", "{{.State.Pid}}", container])
        .trim()
        .parse()
        .expect("a running container's pid")
}
