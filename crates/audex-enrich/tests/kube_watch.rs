//! The pod watcher against a local fake Kubernetes API server that serves a
//! recorded pod list and watch stream (tests/k8s/fake_api_server.py): pods get into the index
//! with namespace, labels and container names; the node's field selector is
//! sent; a deleted pod resolves for the grace period, then not. Then the
//! Enricher, over a fake host /proc, attributes a process in the pod's cgroup.
use audex_enrich::kubernetes::{watch_pods, KubeOptions, PodIndex};
use audex_enrich::{EnrichOptions, Enricher};
use audex_proto::v1::{AuditEvent, Process};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PAY: &str = "8a7c2f3e-1b2d-4c5e-9f60-718293a4b5c6";
const WEB: &str = "c0ffee00-1234-4567-89ab-cdef01234567";
const API_ID: &str = "3f4b1c2d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809";

/// tests/k8s/fake_api_server.py: the recorded list, then the watch events
/// `gap` apart. Returns the child, its URL and the file of request paths.
struct FakeApi(Child, String, PathBuf);

impl Drop for FakeApi {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn fake_api_server(gap: Duration) -> FakeApi {
    let dir = std::env::temp_dir().join(format!("audex-fake-kube-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (port_file, requests) = (dir.join("port"), dir.join("requests"));
    let child = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/k8s/fake_api_server.py"))
        .arg("--port-file")
        .arg(&port_file)
        .arg("--requests")
        .arg(&requests)
        .args(["--gap", &gap.as_secs_f64().to_string()])
        .spawn()
        .unwrap();
    wait_for("the fake API server", || port_file.exists());
    let port = std::fs::read_to_string(&port_file).unwrap();
    FakeApi(child, format!("http://127.0.0.1:{port}"), requests)
}

fn request_paths(api: &FakeApi) -> Vec<String> {
    std::fs::read_to_string(&api.2)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pods_of_the_node_are_indexed_and_deleted_ones_kept_for_the_grace() {
    let api = fake_api_server(Duration::from_millis(700));
    let index = Arc::new(PodIndex::new(Duration::from_secs(2)));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.spawn(watch_pods(
        KubeOptions {
            node_name: "node-1".into(),
            api_server: Some(api.1.clone()),
        },
        index.clone(),
    ));
    wait_for("the listed pod", || {
        index.lookup(PAY, Instant::now()).is_some()
    });
    let pay = index.lookup(PAY, Instant::now()).unwrap();
    assert_eq!(
        (pay.namespace.as_str(), pay.name.as_str(), pay.node.as_str()),
        ("payments-prod", "payments-api-7d9f8b6c4-x2lqp", "node-1")
    );
    assert_eq!(pay.labels.get("team").map(String::as_str), Some("payments"));
    assert_eq!(pay.container_name(API_ID), Some("api"));
    let first = request_paths(&api)[0].clone();
    assert!(
        first.starts_with("/api/v1/pods?")
            && first.contains("fieldSelector=spec.nodeName%3Dnode-1"),
        "{first}"
    );

    wait_for("the watched pod", || {
        index.lookup(WEB, Instant::now()).is_some()
    });
    let web = index.lookup(WEB, Instant::now()).unwrap();
    assert_eq!(web.container_name(&"2".repeat(64)), Some("nginx"));
    assert!(request_paths(&api)
        .iter()
        .any(|p| p.contains("watch=true") && p.contains("resourceVersion=1001")));

    // The DELETED event comes 0.7 s later; the pod resolves for 2 s more.
    std::thread::sleep(Duration::from_millis(1200));
    let after_delete = Instant::now();
    assert!(
        index.lookup(PAY, after_delete).is_some(),
        "within the grace period"
    );
    assert!(
        index
            .lookup(PAY, after_delete + Duration::from_secs(3))
            .is_none(),
        "after it"
    );
    assert!(index
        .lookup(WEB, after_delete + Duration::from_secs(3))
        .is_some());
}

#[test]
fn the_enricher_attributes_a_process_in_a_pod_cgroup() {
    // A fake host root: /proc/<pid> for a shell in the pod, and its parent.
    let root = std::env::temp_dir().join(format!("audex-enrich-root-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let pod_ = PAY.replace('-', "_");
    let cg = format!("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{pod_}.slice/cri-containerd-{API_ID}.scope\n");
    for (pid, comm, ppid) in [(4242, "sh", 4000), (4000, "api-server", 1)] {
        let d = root.join(format!("proc/{pid}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("cgroup"), &cg).unwrap();
        std::fs::write(
            d.join("status"),
            format!("Name:\t{comm}\nPPid:\t{ppid}\nUid:\t1000\t1000\t1000\t1000\n"),
        )
        .unwrap();
        std::fs::write(d.join("cmdline"), format!("{comm}\0--flag\0")).unwrap();
    }
    let index = Arc::new(PodIndex::new(Duration::from_secs(60)));
    index.apply(audex_enrich::kubernetes::PodMeta {
        uid: PAY.into(),
        namespace: "payments-prod".into(),
        name: "payments-api-x".into(),
        node: "node-1".into(),
        labels: [("app".to_string(), "payments-api".to_string())]
            .into_iter()
            .collect(),
        containers: vec![(API_ID.into(), "api".into())],
    });
    let mut e = Enricher::new(
        EnrichOptions {
            host_root: root.clone(),
            ..Default::default()
        },
        Some(index),
    );
    let mut ev = AuditEvent {
        process: Some(Process {
            pid: Some(4242),
            ppid: Some(4000),
            comm: "sh".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    e.enrich(&mut ev);
    let c = ev.container.clone().unwrap();
    assert_eq!((c.id.as_str(), c.runtime.as_str()), (API_ID, "containerd"));
    let k = ev.k8s.clone().unwrap();
    assert_eq!(
        (
            k.namespace.as_str(),
            k.pod.as_str(),
            k.container.as_str(),
            k.pod_uid.as_str(),
            k.node.as_str()
        ),
        ("payments-prod", "payments-api-x", "api", PAY, "node-1")
    );
    assert_eq!(
        k.labels.get("app").map(String::as_str),
        Some("payments-api")
    );
    let parent = ev.process.clone().unwrap().parent.unwrap();
    assert_eq!(
        (parent.comm.as_str(), parent.args.clone()),
        (
            "api-server",
            vec!["api-server".to_string(), "--flag".to_string()]
        )
    );
    // The process exits; a late event of it still resolves (from the cache).
    std::fs::remove_dir_all(root.join("proc/4242")).unwrap();
    let mut late = ev.clone();
    late.container = None;
    late.k8s = None;
    e.enrich(&mut late);
    assert_eq!(late.k8s.unwrap().pod, "payments-api-x");
    // An exec whose process is gone at once takes its parent's container.
    let mut exec = AuditEvent {
        action: "executed".into(),
        outcome: "success".into(),
        process: Some(Process {
            pid: Some(5555),
            ppid: Some(4000),
            exe: "/bin/true".into(),
            comm: "true".into(),
            args: vec!["true".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    e.enrich(&mut exec);
    assert_eq!(exec.container.unwrap().id, API_ID);
    let _ = std::fs::remove_dir_all(&root);
}
