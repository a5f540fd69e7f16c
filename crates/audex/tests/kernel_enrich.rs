//! Enrichment on the real kernel. Containers without a container runtime: cgroup
//! v2 directories named like a containerd pod and a CRI-O container, workload
//! shells moved into them, and `audex run` (with its pod watch pointed at the
//! fake API server of tests/k8s) attributing their events — including a process
//! that exits at once (its parent's container) and a pod deleted before the
//! events (the deletion grace). Session peers: a server named `smbd` holding a
//! loopback connection writes a watched file; its event names the client.
mod common;

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const UNIFIED: &str = "/sys/fs/cgroup/unified";
const PAY_POD: &str = "8a7c2f3e-1b2d-4c5e-9f60-718293a4b5c6";
const API_ID: &str = "3f4b1c2d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809";
const WEB_POD: &str = "c0ffee00-1234-4567-89ab-cdef01234567";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Cgroup directories made by the test, removed (deepest first) on drop.
struct Cgroups(Vec<PathBuf>);

impl Cgroups {
    fn make(&mut self, base: &Path, rel: &str) -> PathBuf {
        let mut p = base.to_path_buf();
        for part in rel.split('/') {
            p = p.join(part);
            if !p.exists() {
                std::fs::create_dir(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
                self.0.push(p.clone());
            }
        }
        p
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            for _ in 0..50 {
                if std::fs::remove_dir(p).is_ok() || !p.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn fake_api_server(dir: &Path, gap_s: f64) -> (Killed, String) {
    let port_file = dir.join("kube-port");
    let child = Command::new("python3")
        .arg(repo().join("tests/k8s/fake_api_server.py"))
        .arg("--port-file")
        .arg(&port_file)
        .args(["--gap", &gap_s.to_string()])
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !port_file.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "fake API server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let port = std::fs::read_to_string(&port_file).unwrap();
    (Killed(child), format!("http://127.0.0.1:{port}"))
}

/// Runs `script` in a shell that first moves itself into cgroup `cg`.
fn in_cgroup(cg: &Path, script: &str) {
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {}/cgroup.procs && {script}",
            cg.display()
        ))
        .status()
        .unwrap();
    assert!(st.success(), "{script}");
}

fn event_for<'a>(events: &'a [Value], path: &Path) -> &'a Value {
    let p = path.to_str().unwrap();
    events
        .iter()
        .find(|e| {
            e["files"]
                .as_array()
                .is_some_and(|fs| fs.iter().any(|f| f["path"] == p))
        })
        .unwrap_or_else(|| panic!("no event for {p} in {} events", events.len()))
}

#[test]
fn containers_and_pods_are_attributed_from_real_cgroups() {
    let Some(kt) = common::kernel() else { return };
    assert!(
        Path::new(UNIFIED).join("cgroup.procs").exists(),
        "this test needs cgroup v2 at {UNIFIED}"
    );
    let work = kt.dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    // The recorded watch adds the web pod after 0.3 s and deletes the payments
    // pod after 0.6 s: every payments event below comes after its deletion.
    let (_api, url) = fake_api_server(&kt.dir, 0.3);
    let mut cgs = Cgroups(Vec::new());
    let base = cgs.make(
        Path::new(UNIFIED),
        &format!("audex-kt-{}.slice", std::process::id()),
    );
    let containerd = cgs.make(
        &base,
        &format!(
            "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{API_ID}.scope",
            PAY_POD.replace('-', "_")
        ),
    );
    let crio_id = "2".repeat(64);
    let crio = cgs.make(
        &base,
        &format!(
            "kubepods.slice/kubepods-pod{}.slice/crio-{crio_id}.scope",
            WEB_POD.replace('-', "_")
        ),
    );
    let cfg = kt.dir.join("audex.yaml");
    std::fs::write(
        &cfg,
        format!(
            "rules:\n  watch: [{{path: {w}, perm: wa, key: audex-enrich-test}}]\nenrich:\n  kubernetes: {{enabled: true, node_name: node-1, api_server: \"{url}\", deletion_grace_s: 300}}\ntenants:\n  - name: default\n    exporters: [debug]\nexporters:\n  - {{name: debug, type: jsonl, path: {d}/events.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 16777216}}\n",
            w = work.display(),
            d = kt.dir.display()
        ),
    )
    .unwrap();
    let mut cmd = common::audex();
    cmd.args(["run", "--log-format", "text", "--config"])
        .arg(&cfg);
    let (w, _rx, _) = common::watch::start_command(cmd);
    std::thread::sleep(Duration::from_millis(1500));

    let (a, quick, b, host) = (
        work.join("in-containerd.txt"),
        work.join("quick-exit.txt"),
        work.join("in-crio.txt"),
        work.join("from-host.txt"),
    );
    // A shell in the containerd container writes a file, and runs `touch`,
    // which exits at once (the shell lives on a little).
    in_cgroup(
        &containerd,
        &format!(
            "echo hi > {} && touch {} && sleep 0.5",
            a.display(),
            quick.display()
        ),
    );
    in_cgroup(
        &crio,
        &format!(
            "python3 -c 'open(\"{}\", \"w\").write(\"x\")' && sleep 0.5",
            b.display()
        ),
    );
    std::fs::write(&host, "host").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let (_, status) = common::watch::stop_with(w, libc::SIGTERM);
    assert!(status.success(), "{status:?}");
    let events: Vec<Value> = std::fs::read_to_string(kt.dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    for (path, what) in [(&a, "the shell's write"), (&quick, "touch, gone at once")] {
        let e = event_for(&events, path);
        assert_eq!(e["container"]["id"], API_ID, "{what}: {e}");
        assert_eq!(e["container"]["runtime"], "containerd", "{what}: {e}");
        let k = &e["k8s"];
        assert_eq!(k["pod_uid"], PAY_POD, "{what}: {e}");
        assert_eq!(
            k["namespace"], "payments-prod",
            "{what} (pod deleted, within grace): {e}"
        );
        assert_eq!(k["pod"], "payments-api-7d9f8b6c4-x2lqp", "{what}: {e}");
        assert_eq!(k["container"], "api", "{what}: {e}");
        assert_eq!(k["node"], "node-1");
        assert_eq!(k["labels"]["team"], "payments");
    }
    let quick_ev = event_for(&events, &quick);
    assert_eq!(quick_ev["process"]["comm"], "touch");
    assert_eq!(quick_ev["process"]["parent"]["comm"], "sh", "{quick_ev}");
    let e = event_for(&events, &b);
    assert_eq!(e["container"]["id"], crio_id.as_str(), "{e}");
    assert_eq!(e["container"]["runtime"], "cri-o", "{e}");
    assert_eq!(e["k8s"]["namespace"], "web", "{e}");
    assert_eq!(e["k8s"]["pod"], "web-5c6d7e8f9-abcde");
    assert_eq!(e["k8s"]["container"], "nginx");
    let h = event_for(&events, &host);
    assert!(
        h.get("container").is_none() && h.get("k8s").is_none(),
        "{h}"
    );
}

#[test]
fn a_server_process_event_names_its_client() {
    let Some(kt) = common::kernel() else { return };
    let share = kt.dir.join("share");
    std::fs::create_dir_all(&share).unwrap();
    // A server whose comm is `smbd`: python under that name.
    let smbd = kt.dir.join("smbd");
    std::os::unix::fs::symlink("/usr/bin/python3", &smbd).unwrap();
    let (w, _rx, _) = common::watch::start_watch(&["watch", "--json", share.to_str().unwrap()]);
    let target = share.join("from-client.txt");
    let server = Command::new(&smbd)
        .arg("-c")
        .arg(format!(
            "import socket,sys\ns=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(1)\nprint(s.getsockname()[1], flush=True)\nc,_=s.accept(); c.recv(100)\nopen('{}','w').write('x')\nc.send(b'ok'); c.recv(100)\n",
            target.display()
        ))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Killed(server);
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().unwrap();
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let client_port = client.local_addr().unwrap().port();
    client.write_all(b"write it\n").unwrap();
    let mut ok = [0u8; 2];
    std::io::Read::read_exact(&mut client, &mut ok).unwrap();
    // Hold the connection while audex looks the peer up.
    std::thread::sleep(Duration::from_millis(1500));
    drop(client);
    let (out, status) = common::watch::stop(w);
    assert!(status.success());
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let e = event_for(&events, &target);
    assert_eq!(e["process"]["comm"], "smbd", "{e}");
    assert_eq!(e["process"]["peer"]["address"], "127.0.0.1", "{e}");
    assert_eq!(e["process"]["peer"]["port"], client_port, "{e}");
    assert_eq!(e["actor"]["euid_name"], "root");
}
