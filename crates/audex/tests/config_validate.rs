//! `audex validate --config`: DESIGN.md's example validates; each kind of mistake
//! gives its own clear message with its line, all of them in one run.
use std::process::Command;

fn validate(yaml: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let dir = std::env::temp_dir().join(format!("audex-cfg-{}-{}", std::process::id(), yaml.len()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hash.key"), "a key of thirty-two bytes length").unwrap();
    std::fs::write(dir.join("short.key"), "short").unwrap();
    std::fs::write(dir.join("archive.key"), "a key of thirty-two bytes length").unwrap();
    std::fs::write(dir.join("payments.key"), "a key of thirty-two bytes length").unwrap();
    let f = dir.join("audex.yaml");
    std::fs::write(&f, yaml.replace("@DIR@", dir.to_str().unwrap())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["validate", "--config"])
        .arg(&f)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// DESIGN.md's config example (the hash key file made real).
const DESIGN_EXAMPLE: &str = r#"
source:
  mode: auto                # auto | multicast | unicast (auto: multicast when an audit daemon
                            # is registered, else become the daemon so records skip the kernel log)
  backlog_limit: 8192
rules:
  files: [/etc/audex/rules.d/*.rules]      # auditctl syntax
  watch: [{path: /etc/shadow, perm: wa, key: identity}]
enrich:
  host_root: /                             # /host in a container: passwd, group, proc under it
  kubernetes: {enabled: false, node_name: "${NODE_NAME:-}"}
tenants:                                   # first match wins; unmatched events go to `default`
  - name: payments
    match: {k8s_namespaces: ["payments-*"], uids: ["1000-1999"], paths: ["/srv/payments/"], keys: [pci]}
    redact:
      drop: [process.args]                 # event contract paths
      hash: [actor.uid_name, actor.auid_name]   # keyed HMAC, key from hash_key_file
      hash_key_file: @DIR@/hash.key
      mask: [{field: process.command_line, pattern: "(?i)(password|token)=\\S+", replace: "$1=***"}]
      pid: same-owner                      # always | same-owner | never
    exporters: [siem]
  - name: default
    exporters: [siem]
exporters:
  - {name: siem, type: otlp_grpc, endpoint: "https://otel-collector:4317", headers: {X-Scope-OrgID: acme}}
  - {name: archive, type: protobuf_file, path: /var/lib/audex/archive}
  - {name: debug, type: jsonl, path: "-"}  # also otlp_http, protobuf_grpc
spool: {dir: /var/lib/audex/spool, max_bytes: 1073741824}
metrics: {listen: "127.0.0.1:9464"}
"#;

#[test]
fn the_design_example_validates() {
    let (ok, out, err) = validate(DESIGN_EXAMPLE, &[]);
    assert!(ok, "{err}");
    assert!(
        out.contains("valid (2 tenants, 3 exporters, 1 watch rules, 1 rule files)"),
        "{out}"
    );
    // ${VAR} from the environment.
    let (ok, _, err) = validate(
        &DESIGN_EXAMPLE.replace("127.0.0.1:9464", "${LISTEN}"),
        &[("LISTEN", "0.0.0.0:9464")],
    );
    assert!(ok, "{err}");
}

#[test]
fn every_mistake_with_its_line() {
    let yaml = "source:\n  mode: sometimes\n  backlog_limt: 8192\nrules:\n  watch: [{path: etc/shadow, perm: wq}]\ntenants:\n  - name: payments\n    match: {uids: [\"2000-1000\"]}\n    redact:\n      hash: [actor.uid_name]\n      hash_key_file: /nonexistent/key\n      mask: [{field: process.command_line, pattern: \"(unclosed\"}]\n      pid: sometimes\n    exporters: [siem, nosuch]\nexporters:\n  - {name: siem, type: otlp_grpc, endpoint: \"otel:4317\", gzip: \"yes\"}\n  - {name: archive, type: protobuf_file}\nspool: {max_bytes: 10}\nmetrics: {listen: \"${METRICS_ADDR}\"}\n";
    let (ok, _, err) = validate(yaml, &[]);
    assert!(!ok);
    for (line, needle) in [
        (
            2,
            "`source.mode` is `sometimes`; it must be one of: auto, multicast, unicast",
        ),
        (3, "unknown key `source.backlog_limt`"),
        (5, "`rules.watch[].path` must be absolute"),
        (5, "`rules.watch[].perm` is `wq`"),
        (7, "names exporter `nosuch`, which is not defined"),
        (8, "`2000-1000` is not a uid or a range"),
        (11, "cannot read /nonexistent/key"),
        (12, "is not a valid regex"),
        (13, "`tenants[].redact.pid` is `sometimes`"),
        (16, "give a scheme"),
        (16, "`exporters[].gzip` must be true or false"),
        (17, "needs a `path`"),
        (18, "at least 1 MiB"),
        (19, "environment variable METRICS_ADDR is not set"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("audex.yaml:{line}:")) && l.contains(needle)),
            "line {line}: {needle}\n{err}"
        );
    }
    assert!(err.contains("has 15 errors"), "{err}");
}

#[test]
fn syntax_errors_and_missing_files() {
    let (ok, _, err) = validate("source:\n  mode: [auto\n", &[]);
    assert!(!ok && err.contains("YAML syntax"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["validate", "--config", "/nonexistent/audex.yaml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the config"));
}

#[test]
fn the_readme_examples_validate() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let examples: Vec<&str> = readme
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert!(!examples.is_empty(), "README has config examples");
    for yaml in examples {
        // Key files named under /etc/audex/keys/ are made in the test's directory.
        let (ok, out, err) = validate(&yaml.replace("/etc/audex/keys/", "@DIR@/"), &[]);
        assert!(ok, "README example:\n{yaml}\n{out}{err}");
    }
}

#[test]
fn compliance_settings_are_checked() {
    let yaml = "rules:\n  packs: [pci-dss, hipaa]\n  controls:\n    pci: [pci-dss:10.2.1.1]\n    empty: []\ntenants:\n  - name: default\n    exporters: [archive, siem]\nexporters:\n  - {name: archive, type: protobuf_file, path: @DIR@/archive, chain_key_file: /nonexistent/chain.key}\n  - {name: siem, type: otlp_grpc, endpoint: \"http://otel:4317\", chain_key_file: @DIR@/hash.key}\n  - {name: short, type: protobuf_file, path: @DIR@/a2, chain_key_file: @DIR@/short.key}\n";
    let (ok, _, err) = validate(yaml, &[]);
    assert!(!ok);
    for (line, needle) in [
        (
            2,
            "no rule pack named `hipaa`; the packs are pci-dss, stig, cis, k8s-node",
        ),
        (5, "`rules.controls.empty` names no control"),
        (
            10,
            "`exporters[].chain_key_file`: cannot read /nonexistent/chain.key",
        ),
        (
            11,
            "`chain_key_file` is for protobuf_file archives, not otlp_grpc",
        ),
        (12, "chain key file"),
        (12, "5 bytes; a key needs at least 16"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("audex.yaml:{line}:")) && l.contains(needle)),
            "line {line}: {needle}\n{err}"
        );
    }
    assert!(err.contains("has 5 errors"), "{err}");
    let good = "rules:\n  packs: [pci-dss, k8s-node]\n  controls: {pci: [pci-dss:10.2.1.1, site:7]}\ntenants:\n  - name: default\n    exporters: [archive]\nexporters:\n  - {name: archive, type: protobuf_file, path: @DIR@/archive, chain_key_file: @DIR@/hash.key}\n";
    let (ok, _, err) = validate(good, &[]);
    assert!(ok, "{err}");
}

#[test]
fn tenant_policy_settings_are_checked() {
    let yaml = "tenants:\n  - name: a\n    match: {uids: [\"1000-1999\"], pod_labels: {app: web}}\n    redact:\n      mask: [{field: process.title, builtin: ssn}]\n    exporters: [x]\n  - name: b\n    match: {pod_labels: [{app: db}, {tier: 1}]}\n    redact: {visibility: dac, drop: [process.argz]}\n    headers: {X-Scope-OrgID: b}\n    resource_attributes: {data_stream.namespace: b}\n    exporters: [x]\n  - name: c\n    redact: {hash: [process.pid], hash_key_file: @DIR@/short.key}\n    exporters: [x]\n  - name: default\n    redact: {mask: [{field: process.args}]}\n    exporters: [x]\nexporters:\n  - {name: x, type: jsonl, path: \"-\"}\n";
    let (ok, _, err) = validate(yaml, &[]);
    assert!(!ok);
    for (line, needle) in [
        (5, "`tenants[].redact.mask[].builtin` is `ssn`; it must be one of: passwords, tokens, bearer, aws-keys, private-keys, secrets"),
        (7, "tenant `b`: `process.argz` is not a field of the event contract"),
        // Checked although the key file is bad: the key is read on the node,
        // the fields are checked without it.
        (13, "tenant `c`: `process.pid` holds no text"),
        (14, "5 bytes; a key needs at least 16"),
        (17, "a mask needs a `field` and either a `pattern` or a `builtin`"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("audex.yaml:{line}:")) && l.contains(needle)),
            "line {line}: {needle}\n{err}"
        );
    }
    assert!(
        err.contains("has 5 errors"),
        "one message per mistake: {err}"
    );
    // Visibility needs uids to judge by; hashing a number is refused.
    let (ok, _, err) = validate("tenants:\n  - name: b\n    redact: {visibility: dac}\n  - name: c\n    redact: {hash: [process.pid], hash_key_file: @DIR@/hash.key}\n", &[]);
    assert!(!ok);
    assert!(
        err.contains("audex.yaml:2:") && err.contains("`visibility: dac` needs the tenant's uids"),
        "{err}"
    );
    assert!(
        err.contains("audex.yaml:4:") && err.contains("`process.pid` holds no text"),
        "{err}"
    );
    let good = "tenants:\n  - name: a\n    match: {k8s_namespaces: [\"team-*\"], pod_labels: {app: web}, uids: [\"1000-1999\"]}\n    redact:\n      drop: [\"files[].inode\"]\n      hash: [actor.uid_name]\n      hash_key_file: @DIR@/hash.key\n      mask: [{field: process.command_line, builtin: secrets}, {field: data.cmd, pattern: \"x+\", replace: y}]\n      pid: same-owner\n      visibility: dac\n    headers: {X-Scope-OrgID: a}\n    exporters: [x]\nenrich:\n  process_cache_size: 1000\n  peer_processes: [smbd]\n  kubernetes: {enabled: true, node_name: n1, api_server: \"https://10.0.0.1:6443\", deletion_grace_s: 60}\nexporters:\n  - {name: x, type: jsonl, path: \"-\"}\n";
    let (ok, _, err) = validate(good, &[]);
    assert!(ok, "{err}");
}

#[test]
fn hashing_names_without_their_ids_is_valid_with_a_warning() {
    let tenant = |extra: &str| {
        format!(
            "tenants:\n  - name: default\n    redact: {{hash: [\"actor.*_name\"], hash_key_file: @DIR@/hash.key{extra}}}\n    exporters: [out]\nexporters:\n  - {{name: out, type: jsonl, path: /dev/null}}\n"
        )
    };
    let (ok, _, err) = validate(&tenant(""), &[]);
    assert!(ok, "{err}");
    assert!(
        err.contains("warning") && err.contains("hash_ids: true"),
        "{err}"
    );
    let (ok, _, err) = validate(&tenant(", hash_ids: true"), &[]);
    assert!(ok, "{err}");
    assert!(!err.contains("numeric ids"), "{err}");
    let (ok, _, err) = validate(
        "tenants:\n  - name: default\n    redact: {hash: [\"actor.*_nope\"], hash_key_file: @DIR@/hash.key}\n    exporters: [out]\nexporters:\n  - {name: out, type: jsonl, path: /dev/null}\n",
        &[],
    );
    assert!(!ok && err.contains("matches no field"), "{err}");
}

#[test]
fn attribute_namings_and_backend_names_are_checked() {
    let yaml = "tenants:\n  - name: payments\n    resource_attributes: {com.splunk.index: Payments-EU}\n    exporters: [elastic, splunk, file]\n  - name: default\n    resource_attributes: {data_stream.namespace: team-a}\n    exporters: [elastic]\nexporters:\n  - {name: elastic, type: otlp_grpc, endpoint: \"http://otel:4317\", attributes: ecs, format: ecs}\n  - {name: splunk, type: otlp_http, endpoint: \"http://otel:4318\", attributes: cim}\n  - {name: file, type: jsonl, path: \"-\", attributes: ecs}\n";
    let (ok, _, err) = validate(yaml, &[]);
    assert!(!ok);
    for (line, needle) in [
        (3, "`com.splunk.index: Payments-EU` is not a Splunk index name (lowercase letters"),
        (6, "`data_stream.namespace: team-a` is not a data stream namespace (`-` is not allowed"),
        (9, "`format` is for jsonl exporters, not otlp_grpc"),
        (10, "`exporters[].attributes` is `cim`; it must be one of: semconv, ecs"),
        (11, "exporter `file`: `attributes` names OTLP log record attributes; jsonl has none (a jsonl exporter takes `format: ecs`)"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("audex.yaml:{line}:")) && l.contains(needle)),
            "line {line}: {needle}\n{err}"
        );
    }
    let good = "tenants:\n  - name: payments\n    resource_attributes: {com.splunk.index: audex_payments, data_stream.namespace: payments}\n    exporters: [elastic, file]\n  - name: default\n    exporters: [elastic]\nexporters:\n  - {name: elastic, type: otlp_grpc, endpoint: \"http://otel:4317\", attributes: ecs}\n  - {name: file, type: jsonl, path: \"-\", format: ecs}\n";
    let (ok, _, err) = validate(good, &[]);
    assert!(ok, "{err}");
}

/// `audex validate --no-environment` on `yaml` with an empty environment.
fn validate_offline(yaml: &str) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!(
        "audex-cfg-off-{}-{}",
        std::process::id(),
        yaml.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("audex.yaml");
    std::fs::write(&f, yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["validate", "--no-environment", "--config"])
        .arg(&f)
        .env_clear()
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn no_environment_checks_the_config_alone() {
    // Files that exist only on the node, variables only it has: accepted.
    let node_only = "enrich: {host_root: /host, kubernetes: {enabled: false, node_name: \"${NODE_NAME}\"}}\ntenants:\n  - name: default\n    redact: {hash: [actor.uid_name], hash_key_file: /etc/audex/keys/k}\n    exporters: [siem, archive]\nexporters:\n  - {name: siem, type: otlp_grpc, endpoint: \"https://otel:4317\", ca_file: /etc/audex/tls/ca.crt, client_cert_file: /etc/audex/tls/c.crt, client_key_file: /etc/audex/tls/c.key}\n  - {name: archive, type: protobuf_file, path: /var/lib/audex/archive, chain_key_file: /etc/audex/keys/chain}\n";
    let (ok, err) = validate_offline(node_only);
    assert!(ok, "{err}");
    // On this machine the same config names what is missing.
    let (ok, _, err) = validate(node_only, &[]);
    assert!(
        !ok && err.contains("/host is not a directory")
            && err.contains("cannot read /etc/audex/tls/ca.crt"),
        "{err}"
    );
    // Every other mistake is still refused, each on its line.
    let yaml = "source:\n  mode: sometimes\n  backlog_limt: 8192\nrules:\n  watch: [{path: etc/shadow, perm: wq}]\ntenants:\n  - name: payments\n    match: {uids: [\"2000-1000\"]}\n    redact:\n      hash: [actor.uid_name]\n      hash_key_file: keys/relative\n      mask: [{field: process.command_line, pattern: \"(unclosed\"}]\n      pid: sometimes\n    exporters: [siem, nosuch]\nexporters:\n  - {name: siem, type: otlp_grpc, endpoint: \"otel:4317\", gzip: \"yes\", attributes: cim}\n  - {name: archive, type: protobuf_file}\nspool: {max_bytes: 10}\n";
    let (ok, err) = validate_offline(yaml);
    assert!(!ok);
    for (line, needle) in [
        (2, "`source.mode` is `sometimes`"),
        (3, "unknown key `source.backlog_limt`"),
        (5, "`rules.watch[].path` must be absolute"),
        (5, "`rules.watch[].perm` is `wq`"),
        (7, "names exporter `nosuch`, which is not defined"),
        (8, "`2000-1000` is not a uid or a range"),
        (11, "must be an absolute path"),
        (12, "is not a valid regex"),
        (13, "`tenants[].redact.pid` is `sometimes`"),
        (16, "give a scheme"),
        (16, "`exporters[].gzip` must be true or false"),
        (16, "`exporters[].attributes` is `cim`"),
        (17, "needs a `path`"),
        (18, "at least 1 MiB"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("audex.yaml:{line}:")) && l.contains(needle)),
            "line {line}: {needle}\n{err}"
        );
    }
    assert!(err.contains("has 14 errors"), "{err}");
}

#[test]
fn local_socket_settings_are_checked() {
    let yaml = "local:\n  socket: run/audex.sock\n  max_watches_per_user: 0\n  max_events_per_s_per_user: 0\n  admin_groups: [no-such-group-here, 'a:b', 4]\n  colour: blue\ntenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {name: out, type: jsonl, path: @DIR@/out.jsonl}\n";
    let (ok, _, err) = validate(yaml, &[]);
    assert!(!ok);
    for (line, needle) in [
        (2, "`local.socket`: run/audex.sock must be an absolute path"),
        (3, "`local.max_watches_per_user` must be at least 1"),
        (4, "`local.max_events_per_s_per_user` must be at least 1"),
        (5, "no group `no-such-group-here`"),
        (5, "`a:b` is not a group name or gid"),
        (6, "colour"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("audex.yaml:{line}:")) && l.contains(needle)),
            "line {line}: {needle}\n{err}"
        );
    }
    let good = "local: {}\ntenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {name: out, type: jsonl, path: @DIR@/out.jsonl}\n";
    let (ok, _, err) = validate(good, &[]);
    assert!(ok, "{err}");
}
