//! DESIGN.md's pure stages pull in no runtime: `cargo tree -e normal` of
//! audex-parse, -correlate, -normalize and -policy has no tokio, hyper,
//! tonic, h2 or rustls (the event types' gRPC service is behind audex-proto's
//! `grpc` feature, which only audex-export turns on).
use std::process::Command;

#[test]
fn pure_stages_have_no_runtime_or_network_dependencies() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let forbidden = ["tokio", "hyper", "tonic", "h2", "rustls"];
    for krate in [
        "audex-parse",
        "audex-correlate",
        "audex-normalize",
        "audex-policy",
    ] {
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
        let tree = String::from_utf8(out.stdout).unwrap();
        let names: Vec<&str> = tree
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert!(names.len() > 1, "{krate}: {tree}");
        for f in forbidden {
            assert!(!names.contains(&f), "{krate} depends on {f}:\n{tree}");
        }
    }
    // And the check can fail: audex-export does depend on them.
    let out = Command::new(&cargo)
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            "audex-export",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(tree.lines().any(|l| l.starts_with("tokio ")), "{tree}");
}
