//! The Helm chart (helm/audex) with a real helm 3 (scripts/fetch-helm.sh puts one
//! at tools/bin/helm; `.ci/run` does): `helm lint --strict` and `helm template`
//! with each values file; assertions on the rendered objects; the rendered
//! ConfigMap accepted by `audex validate`; deploy/kubernetes/audex.yaml current.
mod common;

use common::yaml::strings;
use saphyr::{LoadableYamlNode, Yaml};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A tool the tests run: `$env` if set, else `tools/<rel>` as `script`
/// installs it (`.ci/run` runs the script).
fn tool(env: &str, rel: &str, what: &str, script: &str) -> PathBuf {
    if let Some(t) = std::env::var_os(env) {
        return t.into();
    }
    let local = repo().join("tools").join(rel);
    assert!(
        local.exists(),
        "no {what} at {}: run scripts/{script} (or set {env})",
        local.display()
    );
    local
}

fn helm() -> PathBuf {
    tool("AUDEX_HELM", "bin/helm", "helm 3", "fetch-helm.sh")
}

/// The values files the chart is tested with (`None`: the defaults).
fn values_files() -> Vec<Option<PathBuf>> {
    let mut v = vec![None];
    let mut ci: Vec<PathBuf> = std::fs::read_dir(repo().join("helm/audex/ci"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    ci.sort();
    v.extend(ci.into_iter().map(Some));
    v
}

fn helm_out(args: &[&str], values: &Option<PathBuf>) -> String {
    let mut c = Command::new(helm());
    c.args(args).arg(repo().join("helm/audex"));
    if let Some(v) = values {
        c.arg("-f").arg(v);
    }
    let out = c.output().expect("run helm");
    assert!(
        out.status.success(),
        "helm {args:?} {values:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn render(values: &Option<PathBuf>) -> String {
    helm_out(&["template", "audex", "--namespace", "audex"], values)
}

fn docs(text: &str) -> Vec<Yaml<'_>> {
    Yaml::load_from_str(text)
        .unwrap()
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn kind<'a, 'b>(docs: &'a [Yaml<'b>], k: &str) -> Vec<&'a Yaml<'b>> {
    docs.iter()
        .filter(|d| d["kind"].as_str() == Some(k))
        .collect()
}

#[test]
fn lint_strict_with_every_values_file() {
    for v in values_files() {
        helm_out(&["lint", "--strict"], &v);
    }
}

#[test]
fn daemonset_is_least_privileged_and_host_wide() {
    for v in values_files() {
        let text = render(&v);
        let d = docs(&text);
        let ds = kind(&d, "DaemonSet");
        assert_eq!(ds.len(), 1, "{v:?}");
        let pod = &ds[0]["spec"]["template"]["spec"];
        assert_eq!(
            pod["hostNetwork"].as_bool(),
            Some(true),
            "multicast needs the host netns"
        );
        assert_eq!(pod["hostPID"].as_bool(), Some(true));
        assert!(pod["priorityClassName"].as_str().is_some());
        let c = &pod["containers"][0];
        let sc = &c["securityContext"];
        assert_eq!(sc["privileged"].as_bool(), Some(false), "never privileged");
        assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
        assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
        let add = strings(&sc["capabilities"]["add"]);
        assert_eq!(
            add,
            [
                "AUDIT_READ",
                "AUDIT_CONTROL",
                "DAC_READ_SEARCH",
                "SYS_PTRACE",
                "AUDIT_WRITE"
            ],
            "{v:?}"
        );
        assert_eq!(
            sc["seccompProfile"]["type"].as_str(),
            Some("RuntimeDefault")
        );
        for init in pod["initContainers"].as_vec().unwrap() {
            let sc = &init["securityContext"];
            assert_eq!(sc["privileged"].as_bool(), Some(false));
            assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
        }
        // Host /proc and /etc read-only under /host; the config; the spool.
        let mounts = c["volumeMounts"].as_vec().unwrap();
        let mount = |p: &str| mounts.iter().find(|m| m["mountPath"].as_str() == Some(p));
        for p in ["/host/proc", "/host/etc", "/etc/audex"] {
            assert_eq!(mount(p).unwrap()["readOnly"].as_bool(), Some(true), "{p}");
        }
        assert!(mount("/var/lib/audex").is_some());
        // NODE_NAME from the downward API; probes on the named metrics port.
        let env = c["env"].as_vec().unwrap();
        assert!(env.iter().any(|e| e["name"].as_str() == Some("NODE_NAME")
            && e["valueFrom"]["fieldRef"]["fieldPath"].as_str() == Some("spec.nodeName")));
        assert_eq!(c["ports"][0]["name"].as_str(), Some("metrics"));
        assert_eq!(
            c["livenessProbe"]["httpGet"]["path"].as_str(),
            Some("/healthz")
        );
        assert_eq!(
            c["readinessProbe"]["httpGet"]["path"].as_str(),
            Some("/readyz")
        );
        assert!(!c["resources"]["requests"].is_badvalue());
        assert_eq!(
            strings(&c["args"]),
            ["run", "--config", "/etc/audex/audex.yaml"]
        );
        // RBAC: read pods, nothing more.
        let role = kind(&d, "ClusterRole");
        assert_eq!(role.len(), 1);
        let rules = role[0]["rules"].as_vec().unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(strings(&rules[0]["resources"]), ["pods"]);
        assert_eq!(strings(&rules[0]["verbs"]), ["get", "list", "watch"]);
        assert_eq!(kind(&d, "ClusterRoleBinding").len(), 1);
        assert_eq!(kind(&d, "ServiceAccount").len(), 1);
    }
}

#[test]
fn service_monitor_only_when_asked() {
    for v in values_files() {
        let text = render(&v);
        let d = docs(&text);
        let asked = v.as_ref().is_some_and(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains("serviceMonitor:\n  enabled: true")
        });
        let sm = kind(&d, "ServiceMonitor");
        assert_eq!(sm.len(), usize::from(asked), "{v:?}");
        if asked {
            assert_eq!(
                sm[0]["spec"]["endpoints"][0]["port"].as_str(),
                Some("metrics")
            );
            assert_eq!(kind(&d, "Service").len(), 1);
        }
    }
}

#[test]
fn rendered_config_is_accepted_by_validate_no_environment_unchanged() {
    // What a CI pipeline runs off the node: the ConfigMap as rendered, no
    // path rewritten, no environment.
    for v in values_files() {
        let text = render(&v);
        let d = docs(&text);
        let cm = kind(&d, "ConfigMap");
        let dir = std::env::temp_dir().join(format!("audex-helm-offline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("audex.yaml");
        std::fs::write(&file, cm[0]["data"]["audex.yaml"].as_str().unwrap()).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_audex"))
            .args(["validate", "--no-environment", "--config"])
            .arg(&file)
            .env_clear()
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{v:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn rendered_config_is_accepted_by_audex_validate() {
    for v in values_files() {
        let text = render(&v);
        let d = docs(&text);
        let cm = kind(&d, "ConfigMap");
        assert_eq!(cm.len(), 1);
        let dir = std::env::temp_dir().join(format!(
            "audex-helm-{}-{}",
            std::process::id(),
            v.as_ref().map_or("default".into(), |p| p
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let data = &cm[0]["data"];
        std::fs::write(
            dir.join("audex.rules"),
            data["audex.rules"].as_str().unwrap(),
        )
        .unwrap();
        // The pod mounts the ConfigMap at /etc/audex and the host under /host;
        // here they are `dir` and `dir/host`.
        std::fs::create_dir_all(dir.join("host/etc")).unwrap();
        let yaml = data["audex.yaml"]
            .as_str()
            .unwrap()
            .replace("/etc/audex/", &format!("{}/", dir.display()))
            .replace(
                "host_root: /host",
                &format!("host_root: {}/host", dir.display()),
            );
        std::fs::write(dir.join("audex.yaml"), yaml).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_audex"))
            .args(["validate", "--config"])
            .arg(dir.join("audex.yaml"))
            .env("NODE_NAME", "node-1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{v:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The rules parse as auditctl syntax too.
        let out = Command::new(env!("CARGO_BIN_EXE_audex"))
            .args(["rules", "check"])
            .arg(dir.join("audex.rules"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{v:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn the_plain_manifest_is_the_chart_with_default_values() {
    let file = std::fs::read_to_string(repo().join("deploy/kubernetes/audex.yaml")).unwrap();
    let body: String = file
        .lines()
        .skip_while(|l| l.starts_with('#') && !l.starts_with("# Source"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        body.trim(),
        render(&None).trim(),
        "regenerate: helm template audex helm/audex --namespace audex (see the file's header)"
    );
}

/// PyPI's kubernetes-validate, from scripts/fetch-kubernetes-validate.sh (which
/// `.ci/run` runs), or AUDEX_KUBERNETES_VALIDATE.
fn kubernetes_validate() -> PathBuf {
    tool(
        "AUDEX_KUBERNETES_VALIDATE",
        "venv/bin/kubernetes-validate",
        "kubernetes-validate",
        "fetch-kubernetes-validate.sh",
    )
}

/// The Kubernetes minor versions the chart claims (`kubeVersion: ">=1.N.0-0"` in
/// Chart.yaml) for which kubernetes-validate carries a strict schema.
fn claimed_versions(tool: &Path) -> Vec<String> {
    let chart = std::fs::read_to_string(repo().join("helm/audex/Chart.yaml")).unwrap();
    let claim = chart
        .lines()
        .find_map(|l| l.strip_prefix("kubeVersion: "))
        .expect("Chart.yaml claims a kubeVersion");
    let min: u32 = claim
        .trim_matches('"')
        .strip_prefix(">=1.")
        .and_then(|r| r.split('.').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("kubeVersion {claim}: expected \">=1.N.0-0\""));
    // The schemas the tool carries: one directory per version, beside its module.
    let python = tool.with_file_name("python");
    let out = Command::new(&python)
        .args(["-c", "import kubernetes_validate, os; d = os.path.join(os.path.dirname(kubernetes_validate.__file__), 'kubernetes-json-schema'); print('\\n'.join(os.listdir(d)))"])
        .output()
        .expect("the venv's python");
    assert!(out.status.success(), "{out:?}");
    let mut minors: Vec<u32> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.strip_suffix("-local-strict")?
                .strip_prefix("v1.")?
                .split('.')
                .next()?
                .parse()
                .ok()
        })
        .filter(|&m| m >= min)
        .collect();
    minors.sort_unstable();
    minors.dedup();
    assert!(
        minors.len() >= 2,
        "schemas for the claimed versions: {minors:?}"
    );
    minors.iter().map(|m| format!("1.{m}.0")).collect()
}

#[test]
fn every_rendering_passes_the_kubernetes_schemas_strictly() {
    let tool = kubernetes_validate();
    let dir = std::env::temp_dir().join(format!("audex-kv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Every values file, the ServiceMonitor and its Service turned on, the plain manifest.
    let mut files = Vec::new();
    let mut objects = 0;
    for (i, v) in values_files().iter().enumerate() {
        for monitor in [false, true] {
            let mut c = Command::new(helm());
            c.args(["template", "audex", "--namespace", "audex"]);
            c.arg(repo().join("helm/audex"));
            if let Some(v) = v {
                c.arg("-f").arg(v);
            }
            if monitor {
                c.args(["--set", "serviceMonitor.enabled=true"]);
            }
            let out = c.output().unwrap();
            assert!(out.status.success(), "{out:?}");
            let text = String::from_utf8(out.stdout).unwrap();
            objects += docs(&text).len();
            let f = dir.join(format!("rendered-{i}-{monitor}.yaml"));
            std::fs::write(&f, text).unwrap();
            files.push(f);
        }
    }
    let manifest = repo().join("deploy/kubernetes/audex.yaml");
    objects += docs(&std::fs::read_to_string(&manifest).unwrap()).len();
    files.push(manifest);
    for version in claimed_versions(&tool) {
        let out = Command::new(&tool)
            .args(["--strict", "-k", &version])
            .args(&files)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "Kubernetes {version}: {text}");
        let passed = text
            .lines()
            .filter(|l| l.starts_with("INFO") && l.contains(" passed for resource "))
            .count();
        // ServiceMonitor is the Prometheus operator's CRD: no schema ships with
        // Kubernetes, so it is the one object the tool can only name.
        let unchecked: Vec<&str> = text.lines().filter(|l| l.starts_with("WARN")).collect();
        for w in &unchecked {
            assert!(
                w.contains("kind ServiceMonitor"),
                "Kubernetes {version}: {w}"
            );
        }
        assert_eq!(
            passed + unchecked.len(),
            objects,
            "Kubernetes {version}: {text}"
        );
        assert!(text.lines().all(|l| !l.starts_with("ERROR")), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
