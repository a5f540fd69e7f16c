//! The export side of the pipeline, built from the config: per exporter a spool
//! (under `spool.dir/<name>`), a Spooler and a delivery task; events routed to
//! tenants (first match wins), each tenant's exporters get a copy tagged with it.
//! A chained archive's `archive-checkpoint` events are routed the same way to
//! the other exporters, so the SIEM holds the archive's heads.
//! Input: AuditEvents. Output: acknowledged deliveries, counters.
use crate::pipeline::{
    Clock, Enriched, FilterId, Filters, Folds, Outbound, Router, Sink, Throttles,
};
use anyhow::{Context, Result};
use audex::config::schema::{
    AttributesCfg, BodyCfg, Config, ExporterCfg, ExporterKind, LineFormat, TenantCfg,
};
use audex::config::{Plan, Spanned};
use audex_export::archive::chain::ChainKey;
use audex_export::delivery::{
    deliver, Control, DeliveryConfig, DeliveryStats, Exporter, Spooler, Stop,
};
use audex_export::otlp::{Attributes, Body, OtlpConfig, OtlpGrpc, OtlpHttp, Resource};
use audex_export::spool::{Spool, SpoolConfig};
use audex_export::{EventGrpc, JsonLinesFile, ProtobufFile};
use audex_policy::Folder;
use audex_proto::v1::AuditEvent;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The node's resource: host name, host id (machine-id under the host root),
/// Kubernetes node name (when configured), audex's version.
pub fn node_resource(cfg: &Config, node: &str) -> Resource {
    let host_id = std::fs::read_to_string(cfg.enrich.host_root.join("etc/machine-id"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    Resource {
        host_name: node.to_string(),
        host_id,
        k8s_node_name: cfg.enrich.kubernetes.node_name.clone(),
        service_version: env!("CARGO_PKG_VERSION").into(),
        extra: Vec::new(),
        scope: Vec::new(),
    }
}

/// One exporter, as a config entry describes it; a chained archive (with
/// `chain_key`, read when the plan was built) sends its checkpoints to
/// `checkpoints`.
pub fn make_exporter(
    e: &ExporterCfg,
    res: &Resource,
    checkpoints: &SyncSender<AuditEvent>,
    chain_key: Option<ChainKey>,
) -> Result<Box<dyn Exporter>, String> {
    let file = |f: &Option<Spanned<PathBuf>>| f.as_deref().cloned();
    let otlp = || OtlpConfig {
        name: e.name.clone(),
        endpoint: e.endpoint.as_deref().cloned().unwrap_or_default(),
        headers: e.headers.0.clone(),
        gzip: e.gzip,
        timeout: e.timeout_ms.map(Duration::from_millis),
        ca_file: file(&e.ca_file),
        client_cert_file: file(&e.client_cert_file),
        client_key_file: file(&e.client_key_file),
        body: e.body.map(|b| match b {
            BodyCfg::Map => Body::Map,
            BodyCfg::Line => Body::Line,
        }),
        attributes: match e.attributes.as_deref() {
            Some(AttributesCfg::Ecs) => Attributes::Ecs,
            _ => Attributes::Semconv,
        },
        resource: res.clone(),
    };
    let path = || e.path.clone().unwrap_or_default();
    let Some(kind) = e.kind else {
        return Err("no exporter type".into());
    };
    Ok(match kind {
        ExporterKind::OtlpGrpc => Box::new(OtlpGrpc::new(otlp())?),
        ExporterKind::OtlpHttp => Box::new(OtlpHttp::new(otlp())?),
        ExporterKind::ProtobufGrpc => Box::new(EventGrpc::new(otlp())?),
        ExporterKind::ProtobufFile => {
            let chained = chain_key.is_some();
            let x = ProtobufFile::new(
                &e.name,
                path(),
                e.segment_bytes(),
                Duration::from_secs(e.segment_age_s()),
                chain_key,
            )?;
            if chained {
                let every = match e.checkpoint_every_s() {
                    0 => Duration::MAX,
                    s => Duration::from_secs(s),
                };
                Box::new(x.with_checkpoints(checkpoints.clone(), every))
            } else {
                Box::new(x)
            }
        }
        ExporterKind::Jsonl => Box::new(
            JsonLinesFile::new(&e.name, &path())?
                .ecs(e.format.as_deref() == Some(&LineFormat::Ecs)),
        ),
    })
}

/// A tenant with its own headers or resource attributes gets its own instance
/// of each of its exporters (`siem@payments`, with its own spool); other
/// tenants share one (`siem`).
fn instance_name(t: &TenantCfg, exporter: &str) -> String {
    if t.headers.is_empty() && t.resource_attributes.is_empty() {
        exporter.to_string()
    } else {
        format!("{exporter}@{}", t.name)
    }
}

struct Instance {
    name: String,
    cfg: ExporterCfg,
    resource: Vec<(String, String)>,
}

/// The exporters tenant `t`'s events may go to: its own, then those of the
/// filters that may suppress them (top level, then its own).
fn tenant_exporters<'a>(cfg: &'a Config, t: &'a TenantCfg) -> impl Iterator<Item = &'a String> {
    t.exporters.iter().chain(
        cfg.filters
            .iter()
            .chain(&t.filters)
            .flat_map(|f| &f.exporters),
    )
}

/// The exporter instances the tenants use, once each.
fn instances(cfg: &Config) -> Vec<Instance> {
    let mut out: Vec<Instance> = Vec::new();
    for t in &cfg.tenants {
        for e in tenant_exporters(cfg, t) {
            let name = instance_name(t, e);
            let Some(base) = cfg.exporters.iter().find(|x| &x.name == e) else {
                continue;
            };
            if out.iter().any(|i| i.name == name) {
                continue;
            }
            let mut c = base.value.clone();
            for (k, v) in t.headers.iter() {
                c.headers.retain(|(hk, _)| !hk.eq_ignore_ascii_case(k));
                c.headers.push((k.clone(), v.clone()));
            }
            out.push(Instance {
                name,
                cfg: c,
                resource: t.resource_attributes.0.clone(),
            });
        }
    }
    out
}

struct Out {
    name: String,
    spool: Arc<Mutex<Spool>>,
    spooler: Spooler,
    control: Arc<Control>,
    stats: Arc<DeliveryStats>,
    task: tokio::task::JoinHandle<std::io::Result<u64>>,
}

/// The exporters of a config, running.
pub struct Outputs {
    rt: tokio::runtime::Runtime,
    outs: Vec<Out>,
    /// Controls, then tenants in config order: routing and redaction.
    router: Router,
    /// Per tenant (policy index), the indices of its exporter instances in `outs`.
    routes: Vec<Vec<usize>>,
    /// Per top-level filter, per tenant: the instances its suppressed events go to.
    top_filter_routes: Vec<Vec<Vec<usize>>>,
    /// Per tenant, per filter of the tenant: the same.
    tenant_filter_routes: Vec<Vec<Vec<usize>>>,
    /// Checkpoints from the chained archives, for the other exporters.
    checkpoints: Receiver<AuditEvent>,
    /// Indices in `outs` of the archives (never sent checkpoints).
    archives: Vec<usize>,
}

/// One exporter instance running: its spool (recovered, damage reported as
/// records-lost), its delivery task on `rt`, and the spooler that encodes
/// for it.
fn start_one(
    w: &Instance,
    res: &Resource,
    plan: &Plan,
    node: &str,
    per: u64,
    rt: &tokio::runtime::Runtime,
    checkpoint_tx: &SyncSender<AuditEvent>,
) -> Result<Out> {
    let exporter = make_exporter(&w.cfg, res, checkpoint_tx, plan.chain_key(&w.cfg))
        .map_err(|m| anyhow::anyhow!("exporter `{}`: {m}", w.cfg.name))?;
    let dir = plan.config.spool.dir.join(&w.name);
    let (spool, rec) = Spool::open(SpoolConfig::new(&dir, per))
        .with_context(|| format!("spool {}", dir.display()))?;
    if rec.pending > 0 || rec.truncated_bytes > 0 {
        audex_log::warn!(
            "exporter {}: {} events waiting from before; {} damaged bytes cut",
            w.name,
            rec.pending,
            rec.truncated_bytes
        );
    }
    if let Some(why) = &rec.ack_damaged {
        audex_log::warn!(
            "exporter {}: {why}; every spooled event is delivered again (at least once)",
            w.name
        );
    }
    let spool = Arc::new(Mutex::new(spool));
    let control = Arc::new(Control::default());
    let stats = crate::metrics::METRICS.exporter(&w.name, spool.clone());
    // Built once: its encoder to the spooler (intake), its transport to
    // the delivery task.
    let spooler = Spooler::new(spool.clone(), exporter.encoder(), node);
    let task = rt.spawn(deliver(
        spool.clone(),
        exporter,
        DeliveryConfig::default(),
        stats.clone(),
        control.clone(),
    ));
    let mut spooler = spooler.with_stats(stats.clone());
    for (d, exact) in &rec.lost {
        audex_log::warn!(
                "exporter {}: {}{} spooled events were damaged on disk and are lost; reported as records-lost (source spool)",
                w.name,
                if *exact { "" } else { "about " },
                d.count()
            );
        spooler
            .report_lost(d.count())
            .with_context(|| format!("spooling for exporter {}", w.name))?;
    }
    Ok(Out {
        name: w.name.clone(),
        spool,
        spooler,
        control,
        stats,
        task,
    })
}

/// Each tenant's repeat folding.
fn folds(cfg: &Config) -> Folds {
    let windows = cfg
        .tenants
        .iter()
        .map(|t| {
            let folder = t.fold_repeats.as_ref().map(|f| Folder::new(f.window_ms));
            (t.name.clone(), folder)
        })
        .collect();
    Folds::new(windows, "fold")
}

/// Each tenant's rate limit; markers name `node`.
fn throttles(cfg: &Config, node: &str) -> Result<Throttles> {
    let mut limits = Vec::new();
    for t in &cfg.tenants {
        let limit = match &t.rate_limit {
            Some(r) => Some(
                audex_policy::Throttle::new(r.spec(), &t.name, node)
                    .map_err(|e| anyhow::anyhow!("tenant `{}`: {e}", t.name))?,
            ),
            None => None,
        };
        limits.push((t.name.clone(), limit));
    }
    Ok(Throttles::new(limits, "throttle"))
}

/// One exporter's copy of an event into its spool; its delivery is woken.
fn spool_one(o: &mut Out, ev: &Outbound) -> Result<()> {
    o.spooler
        .append(ev.event())
        .with_context(|| format!("spooling for exporter {}", o.name))?;
    o.control.wake();
    Ok(())
}

/// What each exporter did by the end.
pub struct Report {
    pub name: String,
    pub exported: u64,
    pub rejected: u64,
    pub failed: u64,
    pub retries: u64,
    pub pending: u64,
    pub dropped: u64,
}

impl Outputs {
    /// The plan's exporters, started (their spools recovered), and its
    /// tenants' routing, rate limits (refilled by `clock`) and redaction.
    pub fn start(plan: &Plan, node: &str, clock: Clock) -> Result<Outputs> {
        let cfg = &plan.config;
        let policy = plan.policy();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .worker_threads(2)
            .build()?;
        let wanted = instances(cfg);
        let base = node_resource(cfg, node);
        let mut outs = Vec::new();
        let per = (*cfg.spool.max_bytes / wanted.len().max(1) as u64).max(1 << 20);
        // Bounded: a checkpoint that finds it full is dropped (the next supersedes it).
        let (checkpoint_tx, checkpoints) = std::sync::mpsc::sync_channel(4096);
        for w in &wanted {
            let mut res = base.clone();
            res.extra = w.resource.clone();
            outs.push(start_one(w, &res, plan, node, per, &rt, &checkpoint_tx)?);
        }
        let to = |t: &TenantCfg, exporters: &[String]| -> Vec<usize> {
            exporters
                .iter()
                .filter_map(|e| {
                    let name = instance_name(t, e);
                    outs.iter().position(|o| o.name == name)
                })
                .collect()
        };
        let routes = cfg.tenants.iter().map(|t| to(t, &t.exporters)).collect();
        let top_filter_routes = cfg
            .filters
            .iter()
            .map(|f| cfg.tenants.iter().map(|t| to(t, &f.exporters)).collect())
            .collect();
        let tenant_filter_routes = cfg
            .tenants
            .iter()
            .map(|t| t.filters.iter().map(|f| to(t, &f.exporters)).collect())
            .collect();
        let (top, per_tenant) = plan.filters();
        let archives: Vec<usize> = wanted
            .iter()
            .enumerate()
            .filter(|(_, w)| w.cfg.kind == Some(ExporterKind::ProtobufFile))
            .map(|(i, _)| i)
            .collect();
        let chained = wanted.iter().any(|w| {
            w.cfg.kind == Some(ExporterKind::ProtobufFile) && w.cfg.chain_key_file.is_some()
        });
        if chained && archives.len() == outs.len() {
            audex_log::warn!(
                "the chained archive's checkpoints have no other exporter to go to: a cut of its newest events could only be found from its chain-heads file"
            );
        }
        Ok(Outputs {
            rt,
            outs,
            router: Router::new(
                policy,
                cfg.rules.control_map(),
                Filters::new(top, per_tenant),
                cfg.argv_limit(),
                folds(cfg),
                throttles(cfg, node)?,
                clock,
            ),
            routes,
            top_filter_routes,
            tenant_filter_routes,
            checkpoints,
            archives,
        })
    }

    /// Routes the archives' checkpoints waiting to the other exporters of
    /// their tenant.
    fn forward_checkpoints(&mut self) -> Result<()> {
        while let Ok(ev) = self.checkpoints.try_recv() {
            let Some(out) = self.router.route_and_redact(Enriched::note(ev)) else {
                continue;
            };
            for &i in &self.routes[out.tenant()] {
                if !self.archives.contains(&i) {
                    spool_one(&mut self.outs[i], &out)?;
                }
            }
        }
        Ok(())
    }

    /// Routes one event, redacts it for its tenant and spools that copy for each
    /// of the tenant's exporters (or, when a filter suppressed it, each of
    /// the filter's: none when it names none).
    pub fn send(&mut self, ev: Enriched) -> Result<()> {
        let out = self.router.route_and_redact(ev);
        self.send_markers()?;
        if let Some(out) = out {
            let targets = match out.suppressed() {
                None => &self.routes[out.tenant()],
                Some(FilterId {
                    tenant: None,
                    index,
                }) => &self.top_filter_routes[index][out.tenant()],
                Some(FilterId {
                    tenant: Some(t),
                    index,
                }) => &self.tenant_filter_routes[t][index],
            };
            for &i in targets {
                spool_one(&mut self.outs[i], &out)?;
            }
        }
        self.forward_checkpoints()
    }

    /// The rate limits' markers due, to their tenants' exporters.
    fn send_markers(&mut self) -> Result<()> {
        for m in self.router.take_markers() {
            for &i in &self.routes[m.tenant()] {
                spool_one(&mut self.outs[i], &m)?;
            }
        }
        Ok(())
    }

    /// Intake should pause: an exporter's spool cannot be written and holds
    /// as much as it may in memory (see `Spooler::paused`).
    pub fn paused(&self) -> bool {
        self.outs.iter().any(|o| o.spooler.paused())
    }

    /// Keeps spooled events on disk within the sync interval while the stream
    /// is idle, and writes what a spool that could not be written holds.
    pub fn tick(&mut self) -> Result<()> {
        self.router.tick();
        self.send_markers()?;
        self.forward_checkpoints()?;
        for o in &mut self.outs {
            o.spooler
                .tick()
                .with_context(|| format!("syncing the spool of exporter {}", o.name))?;
        }
        Ok(())
    }

    /// Syncs, lets delivery drain until `deadline`, stops; what each exporter
    /// did. Archives stop first: the seal each writes as it stops sends a
    /// checkpoint that the other exporters still carry.
    pub fn finish(mut self, deadline: Instant) -> Result<Vec<Report>> {
        self.router.flush();
        self.send_markers()?;
        let mut reports: Vec<Option<Report>> = (0..self.outs.len()).map(|_| None).collect();
        let archives = self.archives.clone();
        let rest: Vec<usize> = (0..self.outs.len())
            .filter(|i| !archives.contains(i))
            .collect();
        for group in [archives, rest] {
            self.forward_checkpoints()?;
            for &i in &group {
                let o = &mut self.outs[i];
                o.spooler.finish();
                o.control.wake();
            }
            while Instant::now() < deadline
                && group
                    .iter()
                    .any(|&i| self.outs[i].spool.lock().unwrap().pending() > 0)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            for i in group {
                reports[i] = Some(self.stop(i)?);
            }
        }
        Ok(reports.into_iter().flatten().collect())
    }

    fn stop(&mut self, i: usize) -> Result<Report> {
        let o = &mut self.outs[i];
        o.control.stop(Stop::Now);
        let pending = self.rt.block_on(&mut o.task)??;
        let g = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        Ok(Report {
            name: o.name.clone(),
            exported: g(&o.stats.exported),
            rejected: g(&o.stats.rejected),
            failed: g(&o.stats.failed),
            retries: g(&o.stats.retries),
            pending,
            dropped: o.spooler.dropped,
        })
    }
}

/// The exporters as the pipeline's sink (`replay --config`; `run` wraps them
/// with its drift guard and reloads).
impl Sink for Outputs {
    fn send(&mut self, ev: Enriched) -> Result<()> {
        Outputs::send(self, ev)
    }

    fn tick(&mut self) -> Result<()> {
        Outputs::tick(self)
    }

    fn paused(&self) -> bool {
        Outputs::paused(self)
    }
}
