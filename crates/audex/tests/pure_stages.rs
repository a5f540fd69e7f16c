//! DESIGN.md's pure stages pull in no runtime: `cargo tree -e normal` of
//! audex-parse, -correlate, -normalize and -policy has no tokio, hyper,
//! tonic, h2 or rustls (the event types' gRPC service is behind audex-proto's
//! `grpc` feature, which only audex-export turns on).
use std::process::Command;

/// The packages `cargo tree -e normal -p krate` lists, one name each.
fn tree(krate: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            krate,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree -p {krate}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

#[test]
fn pure_stages_have_no_runtime_or_network_dependencies() {
    let forbidden = ["tokio", "hyper", "tonic", "h2", "rustls"];
    for krate in [
        "audex-parse",
        "audex-correlate",
        "audex-normalize",
        "audex-policy",
    ] {
        let names = tree(krate);
        assert!(names.len() > 1, "{krate}: {names:?}");
        for f in forbidden {
            assert!(
                !names.iter().any(|n| n == f),
                "{krate} depends on {f}: {names:?}"
            );
        }
    }
    // And the check can fail: audex-export does depend on them.
    let export = tree("audex-export");
    assert!(export.iter().any(|n| n == "tokio"), "{export:?}");
}
