//! Compliance end to end: a workload captured from the real kernel under the
//! pci-dss rule pack (tests/golden/capture-compliance.sh) is replayed through a
//! config into a hash-chained archive; `audex verify` finds it intact (and a
//! flipped byte not); `audex report` counts agree with counts computed here
//! straight from the archive; the HTML renders in headless Chromium, with a
//! screenshot left in the test's output directory.
use audex_proto::v1::AuditEvent;
use prost::Message;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn audex() -> Command {
    Command::new(env!("CARGO_BIN_EXE_audex"))
}

fn out_dir(tag: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("compliance-{tag}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Replays the captured workload into DIR/archive (chained, small segments).
fn make_archive(dir: &Path) -> PathBuf {
    let key = dir.join("chain.key");
    std::fs::write(&key, b"0123456789abcdef0123456789abcdef\n").unwrap();
    let cfg = dir.join("audex.yaml");
    std::fs::write(
        &cfg,
        format!(
            "rules:\n  controls: {{pci-chd-access: [pci-dss:10.2.1.1, site:cardholder-data]}}\n\
             tenants:\n  - name: payments\n    match: {{keys: [pci-chd-access]}}\n    exporters: [archive]\n  - name: default\n    exporters: [archive]\n\
             exporters:\n  - {{name: archive, type: protobuf_file, path: {0}/archive, max_segment_bytes: 8192, chain_key_file: {0}/chain.key}}\n\
             spool: {{dir: {0}/spool, max_bytes: 67108864}}\n",
            dir.display()
        ),
    )
    .unwrap();
    let out = audex()
        .args(["replay", "-q", "--node", "pci-host-1", "--config"])
        .arg(&cfg)
        .arg(repo().join("tests/golden/compliance.log"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("archive")
}

/// The events of an archive, read here with nothing but prost (seals left out).
fn archive_events(dir: &Path) -> Vec<AuditEvent> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pb"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let buf = std::fs::read(&f).unwrap();
        let mut s = &buf[..];
        while !s.is_empty() {
            let ev = AuditEvent::decode_length_delimited(&mut s).unwrap();
            if ev.action != "archive-sealed" {
                out.push(ev);
            }
        }
    }
    out
}

fn report(archive: &Path, dir: &Path, format: &str, extra: &[&str]) -> PathBuf {
    let path = dir.join(format!("report.{format}"));
    let out = audex()
        .args(["report", "--input"])
        .arg(archive)
        .args(["--format", format, "-o"])
        .arg(&path)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

fn count_by<F: Fn(&AuditEvent) -> Vec<String>>(evs: &[AuditEvent], f: F) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for e in evs {
        for k in f(e) {
            *m.entry(k).or_default() += 1;
        }
    }
    m
}

fn json_counts(v: &Value) -> BTreeMap<String, u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["events"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn verify_finds_the_replayed_archive_intact_and_a_flipped_byte_altered() {
    let dir = out_dir("verify");
    let archive = make_archive(&dir);
    let ok = audex()
        .args(["verify", "--key-file"])
        .arg(dir.join("chain.key"))
        .arg(&archive)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(
        text.contains("result: intact") && text.contains("node pci-host-1: seq 1.."),
        "{text}"
    );
    // One flipped byte in the middle of the third segment.
    let mut segs: Vec<PathBuf> = std::fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segs.sort();
    assert!(segs.len() >= 3, "{segs:?}");
    let mut b = std::fs::read(&segs[2]).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x01;
    std::fs::write(&segs[2], b).unwrap();
    let bad = audex()
        .args(["verify", "--json", "--key-file"])
        .arg(dir.join("chain.key"))
        .arg(&archive)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(v["intact"], false);
    let kinds: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"altered"), "{v}");
    // A missing key file is named.
    let nokey = audex()
        .args(["verify", "--key-file", "/nonexistent/key"])
        .arg(&archive)
        .output()
        .unwrap();
    // It could not check: 2, not "tampered".
    assert_eq!(nokey.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nokey.stderr).contains("chain key file /nonexistent/key"));
}

#[test]
fn report_counts_match_the_archive_and_the_workload() {
    let dir = out_dir("json");
    let archive = make_archive(&dir);
    let evs = archive_events(&archive);
    assert!(evs.len() > 50, "{}", evs.len());
    let r: Value =
        serde_json::from_slice(&std::fs::read(report(&archive, &dir, "json", &[])).unwrap())
            .unwrap();

    // Counts computed independently from the archive.
    assert_eq!(r["summary"]["events"].as_u64().unwrap(), evs.len() as u64);
    let failures = evs.iter().filter(|e| e.outcome == "failure").count() as u64;
    assert_eq!(r["summary"]["failures"].as_u64().unwrap(), failures);
    assert_eq!(
        json_counts(&r["by_category"]),
        count_by(&evs, |e| vec![e.category.clone()])
    );
    assert_eq!(
        json_counts(&r["hosts"]),
        count_by(&evs, |e| vec![e.node.clone()])
    );
    assert_eq!(
        json_counts(&r["tenants"]),
        count_by(&evs, |e| vec![e.tenant.clone()])
    );
    let controls: BTreeMap<String, u64> = r["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["control"].as_str().unwrap().to_string(),
                c["events"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(controls, count_by(&evs, |e| e.controls.clone()));
    let n = |f: &dyn Fn(&AuditEvent) -> bool| evs.iter().filter(|e| f(e)).count() as u64;
    let login = |e: &AuditEvent| e.action == "logged-in";
    assert_eq!(
        r["logins"]["succeeded"],
        n(&|e| login(e) && e.outcome == "success")
    );
    assert_eq!(
        r["logins"]["failed"],
        n(&|e| login(e) && e.outcome == "failure")
    );
    assert_eq!(
        r["logins"]["failed_authentications"],
        n(&|e| (e.action == "authenticated" || e.action == "failed") && e.outcome == "failure")
    );
    assert_eq!(
        r["failed_access"]["events"],
        n(&|e| e.category == "file" && e.outcome == "failure")
    );
    let lost: u64 = evs
        .iter()
        .filter_map(|e| e.lost.as_ref())
        .map(|l| l.count)
        .sum();
    assert_eq!(r["lost_records"], lost);

    // What the captured workload did (tests/golden/compliance.actions.txt).
    for c in [
        "pci-dss:10.2.1.1",
        "pci-dss:10.2.1.2",
        "pci-dss:10.2.1.4",
        "pci-dss:10.2.1.5",
        "pci-dss:10.2.1.6",
        "pci-dss:10.6.3",
        "site:cardholder-data",
    ] {
        assert!(
            controls.get(c).is_some_and(|n| *n > 0),
            "no evidence for {c}: {controls:?}"
        );
    }
    let missing: Vec<&str> = r["controls_without_evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(missing.contains(&"pci-dss:10.2.1.7"), "{missing:?}");
    assert_eq!(r["logins"]["succeeded"], 1);
    assert_eq!(r["logins"]["failed"], 1);
    assert_eq!(r["logins"]["failed_authentications"], 2);
    let top = |s: &str| {
        r[s]["top"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(
        top("failed_access")
            .iter()
            .any(|p| p.ends_with("/cards.txt")),
        "{:?}",
        top("failed_access")
    );
    assert!(
        top("identity_changes").contains(&"/etc/passwd".to_string()),
        "{:?}",
        top("identity_changes")
    );
    assert!(r["audit_changes"]["events"].as_u64().unwrap() >= 1);
    assert!(r["privileged"]["as_root_by_login_user"].as_u64().unwrap() >= 1);
    assert!(json_counts(&r["tenants"]).contains_key("payments"));
    assert_eq!(r["summary"]["unreadable"], 0);
    assert!(
        r["timeline"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>()
            == evs.len() as u64
    );

    // A window that holds nothing counts everything as outside it.
    let w: Value = serde_json::from_slice(
        &std::fs::read(report(
            &archive,
            &dir,
            "json",
            &["--from", "2000-01-01", "--to", "2000-01-02"],
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(w["summary"]["events"], 0);
    assert_eq!(
        w["summary"]["outside_window"].as_u64().unwrap(),
        evs.len() as u64
    );
    let bad = audex()
        .args(["report", "--input"])
        .arg(&archive)
        .args(["--from", "last tuesday", "-o"])
        .arg(dir.join("x"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a time"));

    let md = std::fs::read_to_string(report(&archive, &dir, "md", &[])).unwrap();
    assert!(
        md.contains("## Evidence per control") && md.contains("| pci-dss:10.2.1.4 |"),
        "{md}"
    );
}

#[test]
fn html_report_is_self_contained_and_renders_in_headless_chromium() {
    let dir = out_dir("html");
    let archive = make_archive(&dir);
    let html_path = report(&archive, &dir, "html", &[]);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(
        !html.contains("<script")
            && !html.contains("http://")
            && !html.contains("https://")
            && !html.contains("@import")
    );
    assert!(
        html.matches("<svg").count() >= 3,
        "charts: events over time, per control, per user"
    );
    assert!(html.contains("pci-dss:10.2.1.4") && html.contains("mallory"));

    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("headless Chromium is needed (Debian package `chromium`; .ci/run installs it)");
    let url = format!("file://{}", html_path.display());
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
    ];
    let profile = dir.join("profile");
    let shot = dir.join("report.png");
    let run = |extra: &[String]| {
        let out = Command::new(chromium)
            .args(flags)
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let dom = run(&["--dump-dom".to_string()]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("Evidence per control") && dom.contains("<svg"),
        "the page did not load: {dom:.300}"
    );
    let out = run(&[
        format!("--screenshot={}", shot.display()),
        "--window-size=1280,4000".to_string(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(":CONSOLE("), "console errors: {stderr}");
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "screenshot {} bytes",
        png.len()
    );
    eprintln!("report screenshot: {}", shot.display());
}
