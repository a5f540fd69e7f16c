//! Property: random events through random tenant policies. Each tenant's sink
//! gets exactly the events an independent model routes to it (first match wins,
//! else `default`, else none), no other tenant's event, and none of the secrets
//! its masks cover, anywhere in the event (args, command line, title, parent
//! args, sudo's cmd, raw records).
use audex_policy::{MaskSpec, Matcher, PidPolicy, Policy, RedactSpec, TenantSpec};
use audex_proto::v1::{Actor, AuditEvent, File, Kubernetes, Parent, Process, RawRecord};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone)]
struct Ev {
    keys: Vec<usize>,
    uid: u32,
    auid: Option<u32>,
    ns: Option<usize>,
    label: Option<usize>,
    path: usize,
    secret_style: usize,
}

#[derive(Debug, Clone)]
struct T {
    keys: Vec<usize>,
    uids: Vec<(u32, u32)>,
    ns_globs: Vec<usize>,
    labels: Vec<usize>,
    paths: Vec<usize>,
    mask: bool,
    drop_title: bool,
    pid: usize,
}

const NS: &[&str] = &["payments-prod", "payments-dev", "web", "kube-system"];
const GLOBS: &[&str] = &["payments-*", "web", "*-dev", "kube-*"];
const PATHS: &[&str] = &[
    "/srv/payments/a",
    "/srv/web/index.html",
    "/etc/shadow",
    "/tmp/x",
];
const PREFIXES: &[&str] = &["/srv/payments/", "/srv/", "/etc/", "/var/"];

fn secret_line(style: usize, secret: &str) -> String {
    match style % 4 {
        0 => format!("mysql --password={secret} -h db"),
        1 => format!("psql password={secret}"),
        2 => format!("app --token {secret}"),
        _ => format!("curl -H 'Authorization: Bearer {secret}' https://x"),
    }
}

fn event(i: usize, e: &Ev) -> AuditEvent {
    let secret = format!("S3CR3T{i:05}xyz");
    let line = secret_line(e.secret_style, &secret);
    let args: Vec<String> = line.split(' ').map(String::from).collect();
    let mut data = BTreeMap::new();
    data.insert("cmd".to_string(), line.clone());
    AuditEvent {
        id: format!("ev-{i}"),
        node: "n".into(),
        category: "file".into(),
        action: "opened".into(),
        keys: e.keys.iter().map(|k| format!("k{k}")).collect(),
        actor: Some(Actor {
            uid: Some(e.uid),
            auid: e.auid,
            ..Default::default()
        }),
        process: Some(Process {
            pid: Some(100 + i as u32),
            args: args.clone(),
            command_line: line.clone(),
            title: line.clone(),
            parent: Some(Parent {
                args,
                ..Default::default()
            }),
            ..Default::default()
        }),
        files: vec![File {
            path: PATHS[e.path].into(),
            ..Default::default()
        }],
        k8s: e.ns.map(|n| Kubernetes {
            namespace: NS[n].into(),
            labels: e
                .label
                .map(|l| [("app".to_string(), format!("a{l}"))].into_iter().collect())
                .unwrap_or_default(),
            ..Default::default()
        }),
        data,
        records: vec![RawRecord {
            r#type: "EXECVE".into(),
            text: format!("type=EXECVE a0=\"{line}\""),
        }],
        ..Default::default()
    }
}

fn spec(i: usize, t: &T, default: bool) -> TenantSpec {
    TenantSpec {
        name: if default {
            "default".into()
        } else {
            format!("t{i}")
        },
        matcher: Matcher {
            keys: t.keys.iter().map(|k| format!("k{k}")).collect(),
            paths: t.paths.iter().map(|p| PREFIXES[*p].to_string()).collect(),
            uids: t.uids.clone(),
            k8s_namespaces: t.ns_globs.iter().map(|g| GLOBS[*g].to_string()).collect(),
            pod_labels: t
                .labels
                .iter()
                .map(|l| [("app".to_string(), format!("a{l}"))].into_iter().collect())
                .collect(),
            labels: Vec::new(),
        },
        redact: RedactSpec {
            mask: if t.mask {
                vec![MaskSpec {
                    field: ["process.args", "process.command_line", "process.title"][i % 3].into(),
                    builtin: Some("secrets".into()),
                    ..Default::default()
                }]
            } else {
                vec![]
            },
            drop: if t.drop_title {
                vec!["process.title".into()]
            } else {
                vec![]
            },
            pid: [PidPolicy::Always, PidPolicy::SameOwner, PidPolicy::Never][t.pid % 3],
            ..Default::default()
        },
    }
}

/// The model: written apart from the crate's matcher.
fn model_route(ts: &[TenantSpec], e: &Ev) -> Option<usize> {
    let uid = e.auid.unwrap_or(e.uid);
    let glob = |g: &str, s: &str| match g.split_once('*') {
        None => g == s,
        Some((a, b)) => s.len() >= a.len() + b.len() && s.starts_with(a) && s.ends_with(b),
    };
    let hit = |t: &TenantSpec| {
        let m = &t.matcher;
        e.keys.iter().any(|k| m.keys.contains(&format!("k{k}")))
            || m.paths
                .iter()
                .any(|p| PATHS[e.path].starts_with(p.as_str()))
            || m.uids.iter().any(|(a, b)| *a <= uid && uid <= *b)
            || e.ns
                .is_some_and(|n| m.k8s_namespaces.iter().any(|g| glob(g, NS[n])))
            || (e.ns.is_some()
                && e.label.is_some_and(|l| {
                    m.pod_labels
                        .iter()
                        .any(|s| s.get("app") == Some(&format!("a{l}")))
                }))
    };
    ts.iter()
        .position(|t| t.name != "default" && hit(t))
        .or_else(|| ts.iter().position(|t| t.name == "default"))
}

fn ev_strategy() -> impl Strategy<Value = Ev> {
    (
        prop::collection::vec(0usize..4, 0..3),
        prop_oneof![0u32..10, 1000u32..1010, 2000u32..2010],
        prop::option::of(prop_oneof![0u32..5, 1000u32..1010]),
        prop::option::of(0usize..4),
        prop::option::of(0usize..3),
        0usize..4,
        0usize..4,
    )
        .prop_map(|(keys, uid, auid, ns, label, path, secret_style)| Ev {
            keys,
            uid,
            auid,
            ns,
            label,
            path,
            secret_style,
        })
}

fn tenant_strategy() -> impl Strategy<Value = T> {
    (
        prop::collection::vec(0usize..4, 0..2),
        prop::collection::vec(
            prop_oneof![Just((1000u32, 1004u32)), Just((2000, 2999)), Just((0, 0))],
            0..2,
        ),
        prop::collection::vec(0usize..4, 0..2),
        prop::collection::vec(0usize..3, 0..2),
        prop::collection::vec(0usize..4, 0..2),
        any::<bool>(),
        any::<bool>(),
        0usize..3,
    )
        .prop_map(
            |(keys, uids, ns_globs, labels, paths, mask, drop_title, pid)| T {
                keys,
                uids,
                ns_globs,
                labels,
                paths,
                mask,
                drop_title,
                pid,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn each_tenant_gets_exactly_its_events_and_no_masked_secret(
        tenants in prop::collection::vec(tenant_strategy(), 1..6),
        with_default in any::<bool>(),
        evs in prop::collection::vec(ev_strategy(), 1..60),
    ) {
        let n = tenants.len();
        let specs: Vec<TenantSpec> = tenants
            .iter()
            .enumerate()
            .map(|(i, t)| spec(i, t, with_default && i == n - 1))
            .collect();
        let policy = Policy::new(&specs).unwrap();
        let mut sinks: HashMap<String, Vec<AuditEvent>> = HashMap::new();
        for (i, e) in evs.iter().enumerate() {
            if let Some((t, copy)) = policy.process(&event(i, e)) {
                sinks.entry(policy.name(t).to_string()).or_default().push(copy);
            }
        }
        for (i, e) in evs.iter().enumerate() {
            let id = format!("ev-{i}");
            let want = model_route(&specs, e).map(|t| specs[t].name.clone());
            for (name, got) in &sinks {
                let copies = got.iter().filter(|g| g.id == id).count();
                let expected = usize::from(want.as_deref() == Some(name.as_str()));
                prop_assert_eq!(copies, expected, "event {} in sink {} (model: {:?})", i, name, want);
            }
        }
        for (name, got) in &sinks {
            let spec = specs.iter().find(|s| &s.name == name).unwrap();
            for g in got {
                prop_assert_eq!(&g.tenant, name);
                if !spec.redact.mask.is_empty() {
                    let json = serde_json::to_string(g).unwrap();
                    prop_assert!(!json.contains("S3CR3T"), "tenant {} leaked a secret: {}", name, json);
                    prop_assert!(g.redacted.contains(&"records".to_string()));
                }
                if spec.redact.pid == PidPolicy::Never {
                    prop_assert_eq!(g.process.as_ref().unwrap().pid, None);
                }
            }
        }
    }
}
