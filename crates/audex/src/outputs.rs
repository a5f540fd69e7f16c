//! The export side of the pipeline, built from the config: per exporter a spool
//! (under `spool.dir/<name>`), a Spooler and a delivery task; events routed to
//! tenants (first match wins), each tenant's exporters get a copy tagged with it.
//! Input: AuditEvents. Output: acknowledged deliveries, counters.
use crate::config::schema::{Config, ExporterCfg, TenantCfg};
use anyhow::{bail, Context, Result};
use audex_export::archive::chain::ChainKey;
use audex_export::delivery::{
    deliver, Control, DeliveryConfig, DeliveryStats, Exporter, Spooler, Stop,
};
use audex_export::otlp::{Body, OtlpConfig, OtlpGrpc, OtlpHttp, Resource};
use audex_export::spool::{Spool, SpoolConfig};
use audex_export::{EventGrpc, JsonLinesFile, ProtobufFile};
use audex_proto::v1::AuditEvent;
use std::sync::atomic::Ordering;
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
        k8s_node_name: cfg.enrich.node_name.clone(),
        service_version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// One exporter, as a config entry describes it.
pub fn make_exporter(e: &ExporterCfg, res: &Resource) -> Result<Box<dyn Exporter>, String> {
    let otlp = || OtlpConfig {
        name: e.name.clone(),
        endpoint: e.endpoint.clone().unwrap_or_default(),
        headers: e.headers.clone(),
        gzip: e.gzip,
        timeout: e.timeout_ms.map(Duration::from_millis),
        ca_file: e.ca_file.clone(),
        client_cert_file: e.client_cert_file.clone(),
        client_key_file: e.client_key_file.clone(),
        body: e
            .body
            .as_deref()
            .map(|b| if b == "map" { Body::Map } else { Body::Line }),
        resource: res.clone(),
    };
    let path = || e.path.clone().unwrap_or_default();
    Ok(match e.kind.as_str() {
        "otlp_grpc" => Box::new(OtlpGrpc::new(otlp())?),
        "otlp_http" => Box::new(OtlpHttp::new(otlp())?),
        "protobuf_grpc" => Box::new(EventGrpc::new(otlp())?),
        "protobuf_file" => Box::new(ProtobufFile::new(
            &e.name,
            path(),
            e.max_segment_bytes.unwrap_or(64 << 20),
            Duration::from_secs(e.max_segment_age_s.unwrap_or(3600)),
            e.chain_key_file
                .as_deref()
                .map(ChainKey::from_file)
                .transpose()?,
        )?),
        "jsonl" => Box::new(JsonLinesFile::new(&e.name, &path())?),
        other => return Err(format!("exporter type {other} is not known")),
    })
}

/// Where an event goes: the first tenant any of whose criteria matches (rule
/// keys, path prefixes, uid ranges — auid when set, else uid — or Kubernetes
/// namespace globs); else `default`; else nowhere (counted).
pub fn route<'t>(tenants: &'t [TenantCfg], ev: &AuditEvent) -> Option<&'t TenantCfg> {
    let uid = ev.actor.as_ref().and_then(|a| a.auid.or(a.uid));
    let ns = ev.k8s.as_ref().map(|k| k.namespace.as_str()).unwrap_or("");
    let matches = |t: &TenantCfg| {
        t.keys.iter().any(|k| ev.keys.contains(k))
            || t.paths
                .iter()
                .any(|p| ev.files.iter().any(|f| f.path.starts_with(p.as_str())))
            || uid.is_some_and(|u| t.uids.iter().any(|&(a, b)| a <= u && u <= b))
            || (!ns.is_empty() && t.k8s_namespaces.iter().any(|g| glob(g, ns)))
    };
    tenants
        .iter()
        .find(|t| t.name != "default" && matches(t))
        .or_else(|| tenants.iter().find(|t| t.name == "default"))
}

/// `*` matches any run of characters.
pub(crate) fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, rest)) => {
            s.starts_with(head)
                && (0..=s.len() - head.len())
                    .any(|i| s.is_char_boundary(head.len() + i) && glob(rest, &s[head.len() + i..]))
        }
    }
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
    tenants: Vec<TenantCfg>,
    /// Rule key -> compliance controls, put on each event as `controls[]`.
    controls: audex_compliance::controls::ControlMap,
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
    /// What would make [`start`](Outputs::start) refuse a valid config.
    pub fn check(cfg: &Config) -> Result<()> {
        if let Some(t) = cfg.tenants.iter().find(|t| {
            !t.drop.is_empty() || !t.hash.is_empty() || !t.mask.is_empty() || t.pid != "always"
        }) {
            bail!(
                "tenant `{}` asks for redaction, which this audex does not do yet; refusing to send its events unredacted (remove `redact` to export without it)",
                t.name
            );
        }
        if cfg.tenants.is_empty() {
            bail!(
                "the config has no tenants: name a `default` tenant with the exporters to send to"
            );
        }
        Ok(())
    }

    pub fn start(cfg: &Config, node: &str) -> Result<Outputs> {
        Self::check(cfg)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .worker_threads(2)
            .build()?;
        let used: Vec<&ExporterCfg> = cfg
            .exporters
            .iter()
            .filter(|e| cfg.tenants.iter().any(|t| t.exporters.contains(&e.name)))
            .collect();
        let res = node_resource(cfg, node);
        let mut outs = Vec::new();
        let per = (cfg.spool.max_bytes / used.len().max(1) as u64).max(1 << 20);
        for e in used {
            let exporter = make_exporter(e, &res)
                .map_err(|m| anyhow::anyhow!("exporter `{}`: {m}", e.name))?;
            let encoder = make_exporter(e, &res)
                .map_err(|m| anyhow::anyhow!("exporter `{}`: {m}", e.name))?;
            let dir = cfg.spool.dir.join(&e.name);
            let (spool, rec) = Spool::open(SpoolConfig::new(&dir, per))
                .with_context(|| format!("spool {}", dir.display()))?;
            if rec.pending > 0 || rec.truncated_bytes > 0 {
                audex_log::warn!(
                    "exporter {}: {} events waiting from before; {} damaged bytes cut",
                    e.name,
                    rec.pending,
                    rec.truncated_bytes
                );
            }
            let spool = Arc::new(Mutex::new(spool));
            let control = Arc::new(Control::default());
            let stats = crate::metrics::METRICS.exporter(&e.name, spool.clone());
            let task = rt.spawn(deliver(
                spool.clone(),
                exporter,
                DeliveryConfig::default(),
                stats.clone(),
                control.clone(),
            ));
            let spooler = Spooler::new(spool.clone(), encoder, node);
            outs.push(Out {
                name: e.name.clone(),
                spool,
                spooler,
                control,
                stats,
                task,
            });
        }
        Ok(Outputs {
            rt,
            outs,
            tenants: cfg.tenants.clone(),
            controls: cfg.rules.control_map(),
        })
    }

    /// Routes one event and spools a copy for each of its tenant's exporters.
    pub fn send(&mut self, ev: &AuditEvent) -> Result<()> {
        let Some(t) = route(&self.tenants, ev) else {
            crate::metrics::METRICS
                .unrouted
                .fetch_add(1, Ordering::Relaxed);
            return Ok(());
        };
        let mut copy = ev.clone();
        copy.tenant = t.name.clone();
        self.controls.apply(&mut copy);
        for o in self
            .outs
            .iter_mut()
            .filter(|o| t.exporters.contains(&o.name))
        {
            o.spooler
                .append(&copy)
                .with_context(|| format!("spooling for exporter {}", o.name))?;
            o.control.wake();
        }
        Ok(())
    }

    /// Keeps spooled events on disk within the sync interval while the stream is idle.
    pub fn tick(&mut self) -> Result<()> {
        for o in &mut self.outs {
            o.spooler
                .tick()
                .with_context(|| format!("syncing the spool of exporter {}", o.name))?;
        }
        Ok(())
    }

    /// Syncs, lets delivery drain until `deadline`, stops; what each exporter did.
    pub fn finish(mut self, deadline: Instant) -> Result<Vec<Report>> {
        for o in &mut self.outs {
            o.spooler.sync()?;
            o.control.wake();
        }
        while Instant::now() < deadline
            && self
                .outs
                .iter()
                .any(|o| o.spool.lock().unwrap().pending() > 0)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut reports = Vec::new();
        for o in self.outs {
            o.control.stop(Stop::Now);
            let pending = self.rt.block_on(o.task)??;
            let g = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
            reports.push(Report {
                name: o.name,
                exported: g(&o.stats.exported),
                rejected: g(&o.stats.rejected),
                failed: g(&o.stats.failed),
                retries: g(&o.stats.retries),
                pending,
                dropped: o.spooler.dropped,
            });
        }
        Ok(reports)
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("payments-*", "payments-eu"));
        assert!(glob("*-prod", "api-prod"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("payments-*", "billing"));
        assert!(glob("exact", "exact") && !glob("exact", "exactly"));
    }
}

#[cfg(test)]
mod route_tests {
    use super::route;
    use crate::config::schema::TenantCfg;
    use audex_proto::v1::{Actor, AuditEvent, File, Kubernetes};

    fn tenant(name: &str) -> TenantCfg {
        TenantCfg {
            name: name.into(),
            pid: "always".into(),
            ..Default::default()
        }
    }

    #[test]
    fn first_match_then_default() {
        let mut pay = tenant("payments");
        pay.keys = vec!["pci".into()];
        pay.paths = vec!["/srv/payments/".into()];
        pay.uids = vec![(1000, 1999)];
        pay.k8s_namespaces = vec!["payments-*".into()];
        let mut ops = tenant("ops");
        ops.uids = vec![(0, 0)];
        let tenants = vec![pay, ops, tenant("default")];
        let name = |ev: &AuditEvent| route(&tenants, ev).map(|t| t.name.clone());

        let by_key = AuditEvent {
            keys: vec!["pci".into()],
            ..Default::default()
        };
        assert_eq!(name(&by_key).as_deref(), Some("payments"));
        let by_path = AuditEvent {
            files: vec![File {
                path: "/srv/payments/x".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(name(&by_path).as_deref(), Some("payments"));
        let by_ns = AuditEvent {
            k8s: Some(Kubernetes {
                namespace: "payments-eu".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(name(&by_ns).as_deref(), Some("payments"));
        // The login uid decides when set; the real uid otherwise.
        let root_as_alice = AuditEvent {
            actor: Some(Actor {
                uid: Some(0),
                auid: Some(1500),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(name(&root_as_alice).as_deref(), Some("payments"));
        let root = AuditEvent {
            actor: Some(Actor {
                uid: Some(0),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            name(&root).as_deref(),
            Some("ops"),
            "first match wins, in order"
        );
        assert_eq!(name(&AuditEvent::default()).as_deref(), Some("default"));
        // Without a default tenant, an unmatched event goes nowhere (the caller counts it).
        assert!(route(&tenants[..2], &AuditEvent::default()).is_none());
    }
}
