//! The pipeline's accounting, as a property over random logs, filters, repeat
//! folding and rate limits: records are parsed and go through the real
//! [`Stages`] (correlate, normalize, enrich) into the [`Router`]; for every
//! tenant, kept + suppressed by a filter (its sink) + counted in repeat
//! events and rate-limit markers = the events routed to it; a filter never suppresses an event its selector does not
//! take; and the process cache learnt every exec, suppressed or not: a later
//! event of its child names it as the parent.
use super::{Clock, Enriched, FilterId, Filters, Folds, Router, Stages, Throttles};
use audex_compliance::controls::ControlMap;
use audex_correlate::{Config, Correlator};
use audex_enrich::{EnrichOptions, Enricher};
use audex_normalize::{NoNames, Normalizer, Options};
use audex_policy::{
    ArgvLimit, Filter, FilterSpec, Folder, Matcher, Policy, RateLimitSpec, SelectorSpec,
    TenantSpec, Throttle,
};
use proptest::prelude::*;
use std::collections::HashMap;

const EXES: [&str; 3] = ["/usr/bin/bash", "/usr/bin/cat", "/usr/bin/make"];

/// One syscall event: (pid, ppid, exe index, exec or open, failed, auid 0?, key index, ms later).
type Step = (u32, u32, usize, bool, bool, bool, usize, u64);

fn log(steps: &[Step]) -> String {
    let mut out = String::new();
    let mut ms = 1_700_000_000_000u64;
    for (i, &(pid, ppid, x, exec, failed, root, key, dt)) in steps.iter().enumerate() {
        ms += dt;
        let stamp = format!("{}.{:03}:{}", ms / 1000, ms % 1000, 10 + i);
        let (nr, res) = match (exec, failed) {
            (true, false) => (59, "success=yes exit=0"),
            (true, true) => (59, "success=no exit=-2"),
            (false, false) => (257, "success=yes exit=3"),
            (false, true) => (257, "success=no exit=-13"),
        };
        let auid = if root { 0 } else { 1000 };
        let key = ["(null)", "\"a\"", "\"b\""][key];
        let exe = EXES[x];
        let comm = exe.rsplit('/').next().unwrap();
        out.push_str(&format!("type=SYSCALL msg=audit({stamp}): arch=c000003e syscall={nr} {res} a0=1 a1=2 a2=3 a3=0 items=1 ppid={ppid} pid={pid} auid={auid} uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm=\"{comm}\" exe=\"{exe}\" key={key}\n"));
        if exec {
            out.push_str(&format!(
                "type=EXECVE msg=audit({stamp}): argc=2 a0=\"{comm}\" a1=\"x\"\n"
            ));
        }
        out.push_str(&format!("type=PATH msg=audit({stamp}): item=0 name=\"/d/{}\" inode=6 dev=fe:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL\n", i % 3));
        out.push_str(&format!("type=EOE msg=audit({stamp}):\n"));
    }
    out
}

fn step() -> impl Strategy<Value = Step> {
    (
        1u32..8,
        1u32..8,
        0usize..3,
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.3),
        0usize..3,
        prop_oneof![Just(0u64), 1u64..50, 500u64..1500],
    )
}

fn selector() -> impl Strategy<Value = SelectorSpec> {
    (
        prop::sample::subsequence(vec!["bash", "cat", "make"], 0..3),
        prop::sample::subsequence(vec!["executed", "opened"], 0..2),
        prop::option::of(prop::sample::select(vec!["success", "failure"])),
        any::<bool>(),
    )
        .prop_filter_map("a criterion", |(exe, actions, outcome, no_key)| {
            let s = SelectorSpec {
                exe: exe.into_iter().map(String::from).collect(),
                actions: actions.into_iter().map(String::from).collect(),
                outcome: outcome.map(String::from),
                no_key,
                ..Default::default()
            };
            (!s.is_empty()).then_some(s)
        })
}

fn filter(name: String) -> impl Strategy<Value = FilterSpec> {
    // mode 0: suppress, 1: keep_first_per_process, 2: fold repeats.
    (selector(), any::<bool>(), 0u8..3, 1u64..3000).prop_map(move |(s, drop, mode, window)| {
        FilterSpec {
            name: name.clone(),
            drop: drop.then(|| s.clone()),
            keep: (!drop).then_some(s),
            keep_first_per_process: mode == 1,
            fold_repeats_ms: (mode == 2).then_some(window),
        }
    })
}

fn filters(prefix: &'static str) -> impl Strategy<Value = Vec<FilterSpec>> {
    prop::collection::vec(0..1u8, 0..3).prop_flat_map(move |v| {
        v.iter()
            .enumerate()
            .map(|(i, _)| filter(format!("{prefix}{i}")))
            .collect::<Vec<_>>()
    })
}

fn limit() -> impl Strategy<Value = Option<RateLimitSpec>> {
    prop::option::of((0.5f64..20.0, 1u64..6, any::<bool>()).prop_map(
        |(events_per_s, burst, per_key)| RateLimitSpec {
            events_per_s,
            burst,
            per_key,
        },
    ))
}

fn stages() -> Stages<NoNames> {
    stages_with(None)
}

/// The stages as replay builds them (no names), with these controls.
pub(super) fn stages_with(controls: Option<ControlMap>) -> Stages<NoNames> {
    Stages::new(
        Correlator::new(Config::default()),
        Normalizer::new(
            NoNames,
            Options {
                default_node: Some("n".into()),
                include_records: false,
            },
        ),
        Enricher::new(
            EnrichOptions {
                live: false,
                peer_processes: Vec::new(),
                ..EnrichOptions::default()
            },
            None,
        ),
        controls,
    )
}

/// Two tenants: `root` (auid 0) and `default`.
fn policy() -> Policy {
    let tenants = [
        TenantSpec {
            name: "root".into(),
            matcher: Matcher {
                uids: vec![(0, 0)],
                ..Default::default()
            },
            redact: Default::default(),
        },
        TenantSpec {
            name: "default".into(),
            matcher: Matcher::default(),
            redact: Default::default(),
        },
    ];
    Policy::new(&tenants).unwrap()
}

/// The router of `policy` with the filters (top level, root's, default's),
/// rate limits and folding windows (root's, default's) given.
fn router(
    policy: &Policy,
    [top, root, default]: [&[FilterSpec]; 3],
    limits: (Option<RateLimitSpec>, Option<RateLimitSpec>),
    folds: (Option<u64>, Option<u64>),
) -> Router {
    let throttles = [("root", limits.0), ("default", limits.1)]
        .into_iter()
        .map(|(n, l)| (n.to_string(), l.map(|l| Throttle::new(l, n, "n").unwrap())))
        .collect();
    let windows = vec![
        ("root".into(), folds.0.map(Folder::new)),
        ("default".into(), folds.1.map(Folder::new)),
    ];
    Router::new(
        policy.clone(),
        ControlMap::default(),
        Filters::new(compile(top), vec![compile(root), compile(default)]),
        ArgvLimit::default(),
        Folds::new(windows, "fold"),
        Throttles::new(throttles, "throttle"),
        Clock::Event,
    )
}

/// How many held-back events a marker or repeat event counts.
fn stands_for(ev: &audex_proto::v1::AuditEvent) -> u64 {
    match (&ev.suppressed, &ev.repeat) {
        (Some(s), None) => s.count,
        (None, Some(r)) => r.count,
        _ => panic!("neither a marker nor a repeat: {ev:?}"),
    }
}

/// Adds what the router's markers and repeat events due count, per tenant.
fn count_markers(router: &mut Router, counted: &mut [u64; 2]) {
    for m in router.take_markers() {
        counted[m.tenant()] += stands_for(m.event());
    }
}

fn compile(specs: &[FilterSpec]) -> Vec<Filter> {
    specs.iter().map(|s| Filter::compile(s).unwrap()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_event_is_kept_filtered_or_counted_and_context_survives(
        steps in prop::collection::vec(step(), 0..80),
        top in filters("top"),
        root_filters in filters("root"),
        default_filters in filters("default"),
        limits in (limit(), limit()),
        folds in (prop::option::of(1u64..3000), prop::option::of(1u64..3000)),
    ) {
        let policy = policy();
        let mut router = router(
            &policy,
            [&top, &root_filters, &default_filters],
            limits,
            folds,
        );
        // Copies that only answer "does the selector take it".
        let (top_sel, tenant_sel) = (compile(&top), [compile(&root_filters), compile(&default_filters)]);

        let mut stages = stages();
        for line in log(&steps).lines() {
            stages.push(audex_parse::parse_line(line.as_bytes()).unwrap());
        }
        stages.flush();
        let mut routed = [0u64; 2];
        let (mut kept, mut sunk, mut counted) = ([0u64; 2], [0u64; 2], [0u64; 2]);
        // The exe each pid last exec'd, as the log says.
        let mut execs: HashMap<u32, String> = HashMap::new();
        let mut checks = Ok(());
        stages.drain_with(&mut |ev: Enriched| -> Result<(), TestCaseError> {
            let e = ev.event().clone();
            let p = e.process.clone().unwrap();
            if let Some(want) = p.ppid.and_then(|pp| execs.get(&pp)) {
                let got = p.parent.as_ref().map(|x| x.exe.as_str());
                prop_assert_eq!(got, Some(want.as_str()), "the parent of {:?}", p.pid);
            }
            if e.action == "executed" && e.outcome == "success" {
                execs.insert(p.pid.unwrap(), p.exe.clone());
            }
            let tenant = policy.route(&e).unwrap();
            routed[tenant] += 1;
            let out = router.route_and_redact(ev);
            count_markers(&mut router, &mut counted);
            match out.as_ref().map(|o| (o.tenant(), o.suppressed())) {
                Some((t, None)) => kept[t] += 1,
                Some((t, Some(FilterId { tenant, index }))) => {
                    let f = match tenant {
                        None => &top_sel[index],
                        Some(i) => &tenant_sel[i][index],
                    };
                    prop_assert!(f.selects(&e), "{} suppressed what it does not take", f.name());
                    sunk[t] += 1;
                }
                None => {}
            }
            Ok(())
        }).or_else(|e| { checks = Err(e); Ok::<(), TestCaseError>(()) })?;
        checks?;
        router.flush();
        count_markers(&mut router, &mut counted);
        for t in 0..2 {
            prop_assert_eq!(kept[t] + sunk[t] + counted[t], routed[t], "tenant {}", t);
        }
        prop_assert_eq!(routed[0] + routed[1], steps.len() as u64);
    }
}
