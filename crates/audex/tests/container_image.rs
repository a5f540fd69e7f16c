//! The image (deploy/Dockerfile, built with podman by scripts/build-image.sh
//! around the binary under test), run for real: the offline commands work with
//! no added capability and print what the host binary prints; it runs as 65532;
//! with the chart's capabilities, host network and pid and a read-only root,
//! `audex run` (multicast) sees a write made on the host and delivers it to the
//! independent OTLP receiver; without CAP_AUDIT_READ it stops, naming it.
//! Skipped with a message where podman is missing (`.ci/run` installs it).
mod common;

use common::podman::{self, cap_bits, Cleanup, CHART_BITS, CHART_CAPS};
use common::receiver::{free_port, Receiver};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn host(args: &[&str]) -> std::process::Output {
    common::audex().args(args).output().unwrap()
}

/// `podman run --rm IMAGE ARGS` with podman's default capabilities (none of the
/// audit ones) and `volumes` mounted read-only at the same paths.
fn in_image(volumes: &[&Path], args: &[&str]) -> std::process::Output {
    let image = podman::image();
    let mut c = podman::podman();
    c.args(["run", "--rm", "--network=none"]);
    for v in volumes {
        c.arg("-v").arg(format!("{0}:{0}:ro", v.display()));
    }
    c.arg(image).args(args);
    c.output().unwrap()
}

#[test]
fn offline_commands_run_with_no_added_capability_as_65532() {
    if !podman::available() {
        return;
    }
    // --version at all: with +ep file capabilities the kernel would refuse the
    // exec here (podman's default set has no audit capability); with +p it runs.
    let version = in_image(&[], &["--version"]);
    assert!(version.status.success(), "{version:?}");
    assert_eq!(version.stdout, host(&["--version"]).stdout);

    // The user, as configured and as running.
    let user = podman::ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Config.User}}",
        podman::IMAGE,
    ]);
    assert_eq!(user.trim(), "65532:65532");
    let id = podman::ok(&["run", "--rm", "--entrypoint", "id", podman::IMAGE, "-u"]);
    assert_eq!(id.trim(), "65532");

    // replay of a golden log: byte for byte the host binary's output (and the golden).
    let golden = common::repo().join("tests/golden");
    let golden = golden.canonicalize().unwrap();
    let log = golden.join("kernel-raw.log");
    let args = ["replay", "--no-names", "--quiet", log.to_str().unwrap()];
    let boxed = in_image(&[&golden], &args);
    assert!(boxed.status.success(), "{boxed:?}");
    let on_host = host(&args);
    assert_eq!(
        String::from_utf8_lossy(&boxed.stdout),
        String::from_utf8_lossy(&on_host.stdout)
    );
    let expected = std::fs::read_to_string(golden.join("kernel-raw.json")).unwrap();
    assert_eq!(String::from_utf8_lossy(&boxed.stdout), expected);

    // validate --no-environment of the chart's default config, and of a broken one.
    let dir = common::out_dir("container-validate");
    let good = dir.join("good.yaml");
    std::fs::write(&good, "tenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {name: out, type: otlp_grpc, endpoint: \"http://collector:4317\"}\n").unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "tenants:\n  - name: default\n    exporters: [nowhere]\nexporter: {}\n",
    )
    .unwrap();
    for (cfg, code) in [(&good, 0), (&bad, 1)] {
        let args = [
            "validate",
            "--no-environment",
            "--config",
            cfg.to_str().unwrap(),
        ];
        let boxed = in_image(&[&dir], &args);
        let on_host = host(&args);
        assert_eq!(boxed.status.code(), Some(code), "{boxed:?}");
        assert_eq!(boxed.status.code(), on_host.status.code());
        assert_eq!(boxed.stdout, on_host.stdout, "{boxed:?}");
        assert_eq!(boxed.stderr, on_host.stderr, "{boxed:?}");
    }

    // A command that needs a capability the container lacks says so in audex's words.
    let status = in_image(&[], &["status"]);
    let err = String::from_utf8_lossy(&status.stderr);
    assert_eq!(status.status.code(), Some(2), "{err}");
    assert!(
        err.contains("missing capability CAP_AUDIT_CONTROL"),
        "{err}"
    );
}

/// The config of the containerised collector: multicast, one watch, the receiver.
fn write_config(dir: &Path, watched: &Path, port: u16) {
    std::fs::write(
        dir.join("audex.yaml"),
        format!(
            "source: {{mode: multicast}}\nrules:\n  watch:\n    - {{path: {w}, perm: wa, key: audex-image-test}}\ntenants:\n  - name: default\n    exporters: [siem]\nexporters:\n  - {{name: siem, type: otlp_grpc, endpoint: \"http://127.0.0.1:{port}\", timeout_ms: 2000}}\n",
            w = watched.display()
        ),
    )
    .unwrap();
}

/// `podman run` as the chart runs audex: host network and pid, read-only root,
/// every capability dropped but `caps`, the config, spool and watched directory
/// mounted (the watched one at its host path: the kernel resolves a watch's path
/// in audex's mount namespace).
fn chart_like_run(
    name: &str,
    caps: &str,
    cfg_dir: &Path,
    spool: &Path,
    watched: &Path,
    detach: bool,
) -> Command {
    let mut c = podman::podman();
    c.arg("run");
    if detach {
        c.arg("--detach");
    }
    c.args([
        "--name",
        name,
        "--network=host",
        "--pid=host",
        "--read-only",
        "--cap-drop=all",
    ]);
    c.arg(format!("--cap-add={caps}"));
    c.arg("-v")
        .arg(format!("{}:/etc/audex:ro", cfg_dir.display()));
    c.arg("-v")
        .arg(format!("{}:/var/lib/audex", spool.display()));
    c.arg("-v").arg(format!("{0}:{0}", watched.display()));
    c.args([podman::image(), "run", "--config", "/etc/audex/audex.yaml"]);
    c
}

fn rule_installed(kt: &common::KernelTest) -> bool {
    kt.rules_text().contains("-k audex-image-test")
}

#[test]
fn run_in_the_container_delivers_a_host_write() {
    if !podman::available() {
        return;
    }
    let Some(kt) = common::kernel() else {
        return;
    };
    kt.clear_rules();
    // What the node's auditd would have done: audit on (audex, in multicast
    // mode, reads beside it and installs only its own watch).
    let on = Command::new("auditctl").args(["-e", "1"]).output().unwrap();
    assert!(on.status.success(), "{on:?}");
    let watched = kt.dir.join("watched");
    let cfg_dir = kt.dir.join("config");
    let spool = kt.dir.join("spool");
    for d in [&watched, &cfg_dir, &spool] {
        std::fs::create_dir_all(d).unwrap();
    }
    // The spool belongs to the image's user, as the chart's init container makes it.
    std::os::unix::fs::chown(&spool, Some(65532), Some(65532)).unwrap();
    let port = free_port();
    let rcv = Receiver::start(&kt.dir, port);
    write_config(&cfg_dir, &watched, port);

    // One capability short, a non-zero exit naming it, nothing left in the kernel:
    // without AUDIT_READ, audex's own check; without AUDIT_WRITE, the runtime's
    // seccomp profile refuses the audit socket, and audex says what to add.
    let name = format!("audex-image-test-{}", std::process::id());
    let _gone = Cleanup(vec![
        "rm".into(),
        "-f".into(),
        "-t".into(),
        "0".into(),
        name.clone(),
    ]);
    for (missing, says) in [
        ("AUDIT_READ", "missing capability CAP_AUDIT_READ"),
        (
            "AUDIT_WRITE",
            "add AUDIT_WRITE to the container's capabilities",
        ),
    ] {
        let caps: Vec<&str> = CHART_CAPS.split(',').filter(|c| *c != missing).collect();
        let out = chart_like_run(&name, &caps.join(","), &cfg_dir, &spool, &watched, false)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains(says), "without {missing}: {err}");
        assert!(!rule_installed(&kt), "{}", kt.rules_text());
        podman::ok(&["rm", "-f", &name]);
    }

    // With the chart's capabilities: the watch goes in, a host write comes out.
    let out = chart_like_run(&name, CHART_CAPS, &cfg_dir, &spool, &watched, true)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !rule_installed(&kt) {
        assert!(
            Instant::now() < deadline,
            "the watch never reached the kernel: {}",
            podman::ok(&["logs", &name])
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let target = watched.join("written-on-the-host.txt");
    std::fs::write(&target, b"hello").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !rcv
        .values("file.path")
        .iter()
        .any(|p| p == target.to_str().unwrap())
    {
        assert!(
            Instant::now() < deadline,
            "the write never reached the receiver: {}",
            podman::ok(&["logs", &name])
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The collector in the container: uid 65532, bounded by the chart's four.
    let status = std::fs::read_to_string(format!("/proc/{}/status", podman::pid(&name))).unwrap();
    assert!(
        status.lines().any(|l| l.starts_with("Uid:\t65532\t")),
        "{status}"
    );
    assert_eq!(cap_bits(&status, "CapBnd:"), CHART_BITS, "{status}");
    // Held: what `run` keeps in multicast mode with rules (never AUDIT_WRITE).
    let held = cap_bits(&status, "CapPrm:");
    assert_eq!(held & !CHART_BITS, 0, "{status}");
    assert_eq!(held & (1 << 29), 0, "{status}");
    assert_ne!(held & (1 << 37), 0, "{status}");

    // SIGTERM: it drains, removes its watch and exits 0.
    podman::ok(&["stop", "-t", "20", &name]);
    let code = podman::ok(&["inspect", "--format", "{{.State.ExitCode}}", &name]);
    assert_eq!(code.trim(), "0", "{}", podman::ok(&["logs", &name]));
    assert!(!rule_installed(&kt), "{}", kt.rules_text());
}
