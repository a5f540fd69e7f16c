//! `/proc/<pid>/cgroup` → the container a process runs in: its id, its runtime
//! (containerd, CRI-O, Docker, Podman) and, under Kubernetes, its pod's UID.
//! Understands the systemd and cgroupfs drivers, cgroup v1 and v2 lines, and
//! paths seen from a private cgroup namespace (`/../../kubepods...`).

/// Where a process runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerRef {
    pub id: String,
    /// containerd, cri-o, docker, podman, or cri (a Kubernetes cgroupfs path,
    /// which does not name the runtime).
    pub runtime: &'static str,
    pub pod_uid: Option<String>,
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The container of a scope or directory name (`cri-containerd-<id>.scope`,
/// `crio-<id>.scope`, `docker-<id>.scope`, `libpod-<id>.scope`, `<id>`).
fn container_of(component: &str) -> Option<(&str, Option<&'static str>)> {
    let c = component.strip_suffix(".scope").unwrap_or(component);
    for (prefix, runtime) in [
        ("cri-containerd-", "containerd"),
        ("crio-", "cri-o"),
        ("docker-", "docker"),
        ("libpod-", "podman"),
    ] {
        if let Some(id) = c.strip_prefix(prefix) {
            // `crio-conmon-<id>` and `libpod-conmon-<id>` are the monitors, not the container.
            return is_id(id).then_some((id, Some(runtime)));
        }
    }
    is_id(c).then_some((c, None))
}

/// The pod UID of `kubepods-besteffort-pod<uid>.slice` (systemd: `_` for `-`)
/// or `pod<uid>` (cgroupfs).
fn pod_of(component: &str) -> Option<String> {
    let c = component.strip_suffix(".slice").unwrap_or(component);
    let at = c.rfind("pod")?;
    let uid = &c[at + 3..];
    let ok = uid.len() == 36
        && uid
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_');
    ok.then(|| uid.replace('_', "-"))
}

/// The container in one cgroup path, if any.
pub fn parse_path(path: &str) -> Option<ContainerRef> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != "..")
        .collect();
    let (i, (id, runtime)) = parts
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, p)| container_of(p).map(|c| (i, c)))?;
    let pod_uid = parts[..i].iter().rev().find_map(|p| pod_of(p));
    let runtime = runtime.unwrap_or_else(|| {
        if parts[..i].iter().any(|p| p.starts_with("kubepods")) {
            "cri"
        } else if parts[..i].contains(&"docker") {
            "docker"
        } else if parts[..i].iter().any(|p| p.starts_with("libpod")) {
            "podman"
        } else {
            "cri"
        }
    });
    Some(ContainerRef {
        id: id.to_string(),
        runtime,
        pod_uid,
    })
}

/// The container of a `/proc/<pid>/cgroup` file: the unified (v2) line first,
/// then any v1 hierarchy that names one.
pub fn parse(text: &str) -> Option<ContainerRef> {
    let paths: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let (h, _, p) = (it.next()?, it.next()?, it.next()?);
            Some((h, p))
        })
        .collect();
    paths
        .iter()
        .filter(|(h, _)| *h == "0")
        .chain(paths.iter().filter(|(h, _)| *h != "0"))
        .find_map(|(_, p)| parse_path(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4b1c2d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809";
    const POD: &str = "8a7c2f3e-1b2d-4c5e-9f60-718293a4b5c6";

    fn check(line: &str, runtime: &str, pod: Option<&str>) {
        let c = parse(line).unwrap_or_else(|| panic!("no container in {line}"));
        assert_eq!(c.id, ID, "{line}");
        assert_eq!(c.runtime, runtime, "{line}");
        assert_eq!(c.pod_uid.as_deref(), pod, "{line}");
    }

    #[test]
    fn runtimes_drivers_and_versions() {
        let pod_ = POD.replace('-', "_");
        // containerd under the kubelet's systemd driver, cgroup v2.
        check(&format!("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{pod_}.slice/cri-containerd-{ID}.scope\n"), "containerd", Some(POD));
        // CRI-O, guaranteed QoS (no QoS slice).
        check(
            &format!("0::/kubepods.slice/kubepods-pod{pod_}.slice/crio-{ID}.scope"),
            "cri-o",
            Some(POD),
        );
        // cgroupfs driver, cgroup v1: the runtime is not in the path.
        check(&format!("12:memory:/kubepods/burstable/pod{POD}/{ID}\n11:cpu:/kubepods/burstable/pod{POD}/{ID}\n0::/"), "cri", Some(POD));
        // Docker, systemd and cgroupfs drivers.
        check(
            &format!("0::/system.slice/docker-{ID}.scope"),
            "docker",
            None,
        );
        check(&format!("4:pids:/docker/{ID}\n0::/"), "docker", None);
        // Podman.
        check(
            &format!("0::/machine.slice/libpod-{ID}.scope/container"),
            "podman",
            None,
        );
        check(
            &format!(
                "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"
            ),
            "podman",
            None,
        );
        // Seen from a private cgroup namespace: relative, climbing out.
        check(
            &format!("0::/../../kubepods-besteffort-pod{pod_}.slice/cri-containerd-{ID}.scope"),
            "containerd",
            Some(POD),
        );
    }

    #[test]
    fn host_processes_and_monitors_are_not_containers() {
        for text in [
            "0::/",
            "0::/system.slice/sshd.service",
            "0::/user.slice/user-1000.slice/session-3.scope",
            &format!("0::/machine.slice/libpod-conmon-{ID}.scope"),
            &format!("0::/kubepods.slice/crio-conmon-{ID}.scope"),
            "garbage",
            "",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
