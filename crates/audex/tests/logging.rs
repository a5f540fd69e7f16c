//! audex's own log lines go through `tracing`: its dependencies' events come
//! out the same way when `AUDEX_LOG` asks for them (here h2's, under `replay
//! --config` to the Python OTLP receiver), never by default; JSON lines keep
//! `ts`, `level`, `msg` first, with a dependency's `target`; `--log-level`
//! filters; a bad `AUDEX_LOG` is said, not fatal.
mod common;

use common::receiver::{free_port, Receiver};
use serde_json::Value;
use std::process::Command;

fn replay(dir: &std::path::Path, port: u16, env: Option<&str>) -> String {
    let cfg = dir.join("audex.yaml");
    std::fs::write(
        &cfg,
        format!(
            "tenants: [{{name: default, exporters: [s]}}]\nexporters:\n  - {{name: s, type: otlp_grpc, endpoint: \"http://127.0.0.1:{port}\"}}\nspool: {{dir: {}/spool}}\n",
            dir.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_audex"));
    cmd.args(["replay", "-q", "--config"])
        .arg(&cfg)
        .arg(common::repo().join("tests/golden/kernel-enriched.log"))
        .env_remove("AUDEX_LOG");
    if let Some(v) = env {
        cmd.env("AUDEX_LOG", v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn dependency_events_on_request_only() {
    let dir = common::out_dir("logging-deps");
    let port = free_port();
    let _rx = Receiver::start(&dir, port);
    let quiet = replay(&dir, port, None);
    assert!(
        !quiet.contains("audex: ["),
        "no dependency lines by default: {quiet}"
    );
    let loud = replay(&dir, port, Some("info,h2=debug"));
    assert!(
        loud.lines().any(|l| l.starts_with("audex: [h2::")),
        "h2's events with AUDEX_LOG=h2=debug: {loud}"
    );
    // Still only h2's: the filter is honoured.
    assert!(
        !loud.lines().any(|l| l.starts_with("audex: [hyper")),
        "{loud}"
    );
}

#[test]
fn json_lines_levels_and_a_bad_filter() {
    let run = |args: &[&str], env: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_audex"));
        cmd.arg("run")
            .args(args)
            .args(["--config", "/nonexistent/audex.yaml"]);
        cmd.env_remove("AUDEX_LOG");
        if let Some(v) = env {
            cmd.env("AUDEX_LOG", v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(&[], None);
    assert!(!err.is_empty());
    for l in err.lines() {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
        assert!(l.starts_with("{\"ts\":"), "ts first: {l}");
        assert!(
            v["ts"].is_f64() && v["msg"].is_string() && v["level"] == "error",
            "{l}"
        );
    }
    // A level that does not exist is refused (a usage error).
    let out = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["run", "--log-level", "loud", "--config", "/nonexistent"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A bad AUDEX_LOG: said, then the default applies.
    let err = run(&["--log-format", "text"], Some("bogus==="));
    assert!(
        err.contains("AUDEX_LOG=\"bogus===\" is not a filter"),
        "{err}"
    );
    assert!(err.contains("cannot read the config"), "{err}");
    // AUDEX_LOG can silence audex too.
    let err = run(&[], Some("off"));
    assert!(err.is_empty(), "{err}");
}
