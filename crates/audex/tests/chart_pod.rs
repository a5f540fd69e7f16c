//! The chart's pod, run: helm renders the DaemonSet, the test turns its pod
//! template into a Pod with the few edits listed in [`as_pod`], and `podman kube
//! play` runs it with the image built from the binary under test. The init
//! container hands the spool to 65532; the audex container runs as 65532 bounded
//! by exactly the chart's capabilities, reads its ConfigMap, and delivers a write
//! made on the host to the independent OTLP receiver; `podman kube down` ends it.
//! Skipped with a message where podman is missing (`.ci/run` installs it).
mod common;

use common::podman::{self, cap_bits, Cleanup, CHART_BITS};
use common::receiver::{free_port, Receiver};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Values for the chart: the test image, the spool and metrics port of this
/// test, no rules of the chart's own (only the test's directory is watched,
/// through a rule the host installs), the receiver as the exporter.
fn values(dir: &Path, spool: &Path, port: u16, metrics: u16) -> PathBuf {
    let f = dir.join("values.yaml");
    let (repo, tag) = podman::IMAGE.split_once(':').unwrap();
    std::fs::write(
        &f,
        format!(
            r#"image: {{repository: {repo}, tag: {tag}, pullPolicy: Never}}
spoolHostPath: {spool}
metrics: {{port: {metrics}}}
config:
  source: {{mode: multicast}}
  rules: ""
  kubernetes: {{enabled: false, deletionGraceSeconds: 300}}
  tenants:
    - name: default
      exporters: [otlp]
  exporters:
    - {{name: otlp, type: otlp_grpc, endpoint: "http://127.0.0.1:{port}", timeout_ms: 2000}}
"#,
            spool = spool.display()
        ),
    )
    .unwrap();
    f
}

fn render(values: &Path) -> Vec<Value> {
    let helm = common::repo().join("tools/bin/helm");
    assert!(
        helm.exists(),
        "no helm 3 at {}: run scripts/fetch-helm.sh",
        helm.display()
    );
    let out = Command::new(helm)
        .args(["template", "audex", "--namespace", "audex", "-f"])
        .arg(values)
        .arg(common::repo().join("helm/audex"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_saphyr::from_multiple::<Value>(&String::from_utf8_lossy(&out.stdout))
        .unwrap()
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// The rendered DaemonSet as a Pod podman 4.3's `kube play` runs, and the
/// ConfigMap. The edits, each the smallest that works:
/// 1. the pod template becomes a `Pod` named `name` (kube play runs no DaemonSet);
/// 2. `NODE_NAME` from the downward API becomes a literal (no API server here);
/// 3. the pod's annotations are dropped (podman 4.3 limits annotation values to
///    63 bytes, and the config checksum is 64);
/// 4. the container's `ports` are dropped (podman 4.3 refuses port mappings with
///    the host network, which Kubernetes allows);
/// 5. `restartPolicy: Never` (podman 4.3 restarts a finished init container under
///    `Always` and then fails to remove it);
/// 6. the test's directory is mounted at its host path, so that the event's path
///    is the one the host wrote (the chart mounts the host's /etc and /proc).
///
/// podman 4.3's `kube play` also ignores `hostPID` (the container gets a pid
/// namespace of its own), and the kernel refuses audit control requests from
/// there, so audex reads in multicast mode the records of a rule the host put
/// in, as beside a node's auditd, and says why it cannot read the status.
fn as_pod(docs: Vec<Value>, name: &str, watched: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for d in docs {
        match d["kind"].as_str() {
            Some("ConfigMap") => out.push(d),
            Some("DaemonSet") => {
                let t = &d["spec"]["template"];
                let mut spec = t["spec"].clone();
                let c = &mut spec["containers"][0];
                for e in c["env"].as_array_mut().unwrap() {
                    if e["name"] == "NODE_NAME" {
                        *e = json!({"name": "NODE_NAME", "value": "podman-node"});
                    }
                }
                c.as_object_mut().unwrap().remove("ports");
                let at = watched.to_str().unwrap();
                c["volumeMounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": "watched", "mountPath": at}));
                spec["volumes"].as_array_mut().unwrap().push(
                    json!({"name": "watched", "hostPath": {"path": at, "type": "Directory"}}),
                );
                spec["restartPolicy"] = json!("Never");
                out.push(json!({
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": name, "labels": t["metadata"]["labels"]},
                    "spec": spec,
                }));
            }
            _ => {}
        }
    }
    assert_eq!(out.len(), 2, "a ConfigMap and a DaemonSet: {out:?}");
    out
}

fn auditctl(args: &[&str]) {
    let out = Command::new("auditctl").args(args).output().unwrap();
    assert!(out.status.success(), "auditctl {args:?}: {out:?}");
}

/// Waits up to 30 s for `done`, showing the audex container's log on failure.
fn wait(what: &str, container: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        let logs = podman::run(&["logs", container]);
        assert!(
            Instant::now() < deadline,
            "{what}: {}{}",
            String::from_utf8_lossy(&logs.stdout),
            String::from_utf8_lossy(&logs.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_charts_pod_runs_and_delivers_a_host_write() {
    if !podman::available() {
        return;
    }
    // The image first (outside the kernel lock): scripts/build-image.sh.
    podman::image();
    let Some(kt) = common::kernel() else {
        return;
    };
    kt.clear_rules();
    let watched = kt.dir.join("watched");
    let spool = kt.dir.join("spool");
    std::fs::create_dir_all(&watched).unwrap();
    // A root-owned spool, as a fresh node has it: the init container chowns it.
    std::fs::create_dir_all(&spool).unwrap();
    // What the node's auditd would have done: audit on, the rule in.
    auditctl(&["-e", "1"]);
    let w = watched.to_str().unwrap();
    auditctl(&["-w", w, "-p", "wa", "-k", "audex-pod-test"]);

    let port = free_port();
    let rcv = Receiver::start(&kt.dir, port);
    let name = format!("audex-pod-{}", std::process::id());
    let docs = as_pod(
        render(&values(&kt.dir, &spool, port, free_port())),
        &name,
        &watched,
    );
    let kube = kt.dir.join("pod.yaml");
    let text: Vec<String> = docs.iter().map(|d| format!("{d}\n")).collect();
    std::fs::write(&kube, text.join("---\n")).unwrap();
    let kube_s = kube.to_str().unwrap().to_string();
    let _down = Cleanup(vec!["kube".into(), "down".into(), kube_s.clone()]);
    let play = podman::run(&["kube", "play", &kube_s]);
    assert!(play.status.success(), "{play:?}");

    // The init container prepared the spool for 65532.
    let audex = format!("{name}-audex");
    wait("the spool was never handed to 65532", &audex, || {
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&spool).unwrap()) == 65532
    });
    // (podman removes an init container once it has run: its mark is the spool.)

    // audex is up, as 65532, bounded by the chart's capabilities.
    wait("audex never ran", &audex, || {
        podman::run(&["inspect", "--format", "{{.State.Running}}", &audex]).stdout == b"true\n"
    });
    let status = std::fs::read_to_string(format!("/proc/{}/status", podman::pid(&audex))).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:\t65532\t65532\t")),
        "{status}"
    );
    assert_eq!(cap_bits(&status, "CapBnd:"), CHART_BITS, "{status}");
    assert_eq!(
        cap_bits(&status, "CapPrm:") & (1 << 29),
        0,
        "never AUDIT_WRITE: {status}"
    );

    // It read the ConfigMap (the receiver's endpoint is only there) and gets the write.
    std::thread::sleep(Duration::from_millis(1000));
    let target = watched.join("written-on-the-node.txt");
    std::fs::write(&target, b"hello").unwrap();
    wait("the write never reached the receiver", &audex, || {
        rcv.values("file.path")
            .iter()
            .any(|p| p == target.to_str().unwrap())
    });
    let logs = podman::run(&["logs", &audex]);
    let logs =
        String::from_utf8_lossy(&logs.stderr).into_owned() + &String::from_utf8_lossy(&logs.stdout);
    assert!(logs.contains("multicast mode"), "{logs}");
    assert!(
        logs.contains("outside the host's pid namespace"),
        "the reason it reads no status: {logs}"
    );

    let down = podman::run(&["kube", "down", &kube_s]);
    assert!(down.status.success(), "{down:?}");
    assert!(
        !podman::run(&["pod", "exists", &name]).status.success(),
        "the pod is gone"
    );
}
