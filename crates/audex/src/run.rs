//! `audex run --config FILE`: the daemon. Checks the whole config before touching
//! the kernel; installs the configured rules (files and watches) and removes them
//! on exit; reads the kernel; routes events to tenants and their exporters
//! (spooled, delivered, at least once); on SIGTERM/SIGINT drains, removes its
//! rules and puts kernel audit back as it found it. Once its rules are in, it
//! drops every capability but CAP_AUDIT_READ (multicast) and CAP_AUDIT_CONTROL
//! (only while it has rules or settings to undo), before any thread starts; in
//! multicast mode it runs as a non-root uid holding CAP_AUDIT_READ alone. SIGHUP
//! reloads rules, tenants and exporters; a bad new config is refused whole.
use crate::daemon_state;
use crate::drift::Guard;
use crate::live::{self, LiveOptions};
use crate::lock;
use crate::metrics;
use crate::outputs::Outputs;
use crate::pipeline::{Clock, Enriched, Shutdown, Sink};
use crate::signals;
use anyhow::Result;
use audex::config::schema::{Config, SourceMode};
use audex::config::Plan;
use audex::local::registry::Limits;
use audex::local::Server;
use audex_enrich::kubernetes::{watch_pods, KubeOptions, PodIndex};
use audex_kernel::caps;
use audex_kernel::netlink::AuditSocket;
use audex_kernel::rules::kernel_rule::KernelRule;
use audex_kernel::rules::RuleSet;
use audex_kernel::source::{Mode, Source, SourceConfig};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The config at `path` built into a plan (its rules parsed, each key file
/// read once); or (each error logged) why not.
fn prepare(path: &Path) -> Result<Plan, String> {
    let log_all = |errors: &[String]| {
        for e in errors {
            audex_log::error!("{e}");
        }
    };
    let plan = audex::config::load_plan(path).map_err(|errors| {
        log_all(&errors.iter().map(|e| e.to_string()).collect::<Vec<_>>());
        format!("{} has {} errors", path.display(), errors.len())
    })?;
    let cfg = &plan.config;
    if cfg.tenants.is_empty() {
        return Err(format!(
            "{}: the config has no tenants: name a `default` tenant with the exporters to send to",
            path.display()
        ));
    }
    for w in cfg.warnings() {
        audex_log::warn!("{}: {w}", path.display());
    }
    Ok(plan)
}

/// What `run` changes while it runs: the config in force, its exporters, its rules.
struct Running<'p> {
    path: &'p Path,
    node: String,
    /// The config in force, built.
    plan: Plan,
    outputs: Option<Outputs>,
    rules: RuleSet,
    ctl: AuditSocket,
    /// Puts back the owned rules others remove (`rules.enforce`).
    guard: Guard,
    /// The kernel's rules are immutable (set by `rules.lock`, or before audex).
    locked: bool,
    last_state: Instant,
    /// The local socket for unprivileged `audex watch` (`local:`).
    local: Option<Server>,
}

/// The daemon as the pipeline's sink: the drift guard sees every event, the
/// exporters get it; a tick reloads on SIGHUP, runs the guard, writes the
/// status file and syncs the spools; intake pauses while a spool cannot take
/// more.
impl Sink for Running<'_> {
    fn send(&mut self, ev: Enriched) -> Result<()> {
        self.guard.observe(ev.event());
        if let Some(l) = &self.local {
            l.offer(ev.event());
        }
        self.outputs().send(ev)
    }

    fn tick(&mut self) -> Result<()> {
        if signals::take_reload() {
            self.reload()?;
        }
        if let Some(ev) = self.guard.tick(&mut self.ctl, &self.rules, &self.node) {
            self.outputs().send(Enriched::note(ev))?;
        }
        if let Some(notes) = self.local.as_ref().map(|l| l.tick()) {
            for ev in notes {
                self.outputs().send(Enriched::note(ev))?;
            }
        }
        if self.last_state.elapsed() >= Duration::from_secs(1) {
            self.last_state = Instant::now();
            self.write_state();
        }
        self.outputs().tick()
    }

    fn paused(&self) -> bool {
        self.outputs.as_ref().is_some_and(|o| o.paused())
    }
}

impl Running<'_> {
    /// What `audex status` shows of this daemon.
    fn write_state(&self) {
        daemon_state::write(&daemon_state::State {
            node: self.node.clone(),
            rules_owned: self.rules.rules().len(),
            locked: self.locked,
            enforce: self.plan.config.rules.enforce,
            pushed: self.plan.rules[..self.plan.pushed]
                .iter()
                .filter(|(_, r)| self.rules.rules().contains(r))
                .map(|(from, _)| from.clone())
                .collect(),
            local: self.local.as_ref().map(|l| {
                let (subscribers, rules) = l.counts();
                (l.path().display().to_string(), subscribers, rules)
            }),
        });
    }

    /// SIGHUP: the new config replaces rules, tenants and exporters, or is
    /// refused whole and the running one stays. Events meanwhile wait in the
    /// reader's queue; spooled ones stay on disk for the new exporters.
    fn reload(&mut self) -> Result<()> {
        let refuse = |why: String| {
            audex_log::error!("reload refused: {why}; the running config stays");
        };
        audex_log::info!("SIGHUP: reloading {}", self.path.display());
        let plan = match prepare(self.path) {
            Ok(p) => p,
            Err(why) => {
                refuse(why);
                return Ok(());
            }
        };
        let want = &plan.rules;
        if let Err(why) = lock::reload_allowed(self.locked, self.rules.rules(), want) {
            refuse(why);
            return Ok(());
        }
        if self.locked && !plan.config.rules.lock {
            audex_log::warn!("`rules.lock: false` cannot unlock the kernel: its rules stay immutable until reboot");
        }
        if (!want.is_empty() || !self.rules.rules().is_empty())
            && !caps::has(caps::CAP_AUDIT_CONTROL)
        {
            refuse("changing rules needs CAP_AUDIT_CONTROL, which audex dropped because it started without rules; restart it to load rules".into());
            return Ok(());
        }
        if plan.same_outputs(&self.plan) {
            audex_log::info!("tenants and exporters unchanged: delivery goes on");
        } else if !self.restart_outputs(&plan)? {
            return Ok(());
        }
        for e in self.rules.change_to(&mut self.ctl, want) {
            audex_log::error!("{e}");
        }
        let (new, old) = (&plan.config, &self.plan.config);
        if new.source != old.source {
            audex_log::warn!("`source` settings take effect at the next start");
        }
        if new.enrich != old.enrich {
            audex_log::warn!(
                "`enrich` settings (host root, process cache, peers, Kubernetes) take effect at the next start"
            );
        }
        if new.labels != old.labels {
            audex_log::warn!("`labels` (process label rules) take effect at the next start");
        }
        if new.local != old.local {
            audex_log::warn!("`local` (the watch socket) takes effect at the next start");
        }
        if new.metrics.listen != old.metrics.listen {
            audex_log::warn!("`metrics.listen` takes effect at the next start");
        }
        audex_log::info!(
            "reloaded: {} rules, {} tenants, {} exporters",
            self.rules.rules().len(),
            new.tenants.len(),
            new.exporters.len()
        );
        self.plan = plan;
        Ok(())
    }

    /// Stops the running exporters (what they hold stays spooled) and starts
    /// the plan's; false (refused, logged, the old ones started again) when
    /// they cannot start.
    fn restart_outputs(&mut self, plan: &Plan) -> Result<bool> {
        let old = self.outputs.take().expect("outputs run between reloads");
        for r in old.finish(Instant::now())? {
            if r.pending > 0 && !plan.config.exporters.iter().any(|e| e.name == r.name) {
                audex_log::warn!(
                    "exporter {} is no longer configured; {} events stay in its spool under {}",
                    r.name,
                    r.pending,
                    self.plan.config.spool.dir.display()
                );
            }
        }
        match Outputs::start(plan, &self.node, Clock::Wall) {
            Ok(o) => {
                self.outputs = Some(o);
                Ok(true)
            }
            Err(e) => {
                audex_log::error!("reload refused: {e:#}; the running config stays");
                self.outputs = Some(Outputs::start(&self.plan, &self.node, Clock::Wall)?);
                Ok(false)
            }
        }
    }

    fn outputs(&mut self) -> &mut Outputs {
        self.outputs.as_mut().expect("outputs run between reloads")
    }
}

pub fn run(path: &Path) -> Result<ExitCode> {
    // Every config error before the kernel is touched.
    let plan = match prepare(path) {
        Ok(p) => p,
        Err(why) => {
            audex_log::error!("{why}; nothing was changed in the kernel");
            return Ok(ExitCode::from(1));
        }
    };
    let cfg = &plan.config;
    let listener = match cfg.metrics.listen.as_deref().map(|l| metrics::bind(l)) {
        Some(Err(e)) => {
            audex_log::error!("{e}; nothing was changed in the kernel");
            return Ok(ExitCode::from(1));
        }
        Some(Ok(l)) => {
            // Before the exporters start: their latency histograms bind to
            // the recorder installed when they are made.
            metrics::install();
            Some(l)
        }
        None => None,
    };
    let node = if cfg.enrich.kubernetes.node_name.is_empty() {
        live::hostname().unwrap_or_default()
    } else {
        cfg.enrich.kubernetes.node_name.clone()
    };
    let shutdown = Shutdown::new();
    signals::install(&shutdown);
    signals::install_reload();
    let mut src = open_source(cfg, &plan.rules)?;
    // Rules go through a control socket of their own, so a reload can change them
    // while the source is being read.
    let ctl = AuditSocket::open()?;
    ctl.set_read_timeout(2000)?;
    let mut running = Running {
        path,
        node,
        plan,
        outputs: None,
        rules: RuleSet::default(),
        ctl,
        guard: Guard::new(false, false, false),
        locked: false,
        last_state: Instant::now(),
        local: None,
    };
    let result = serve(&mut running, &mut src, listener, &shutdown);
    shut_down(running, src, result)
}

/// The kernel source the config asks for (multicast beside a daemon, else
/// the daemon), with the capability it needs named when missing.
fn open_source(cfg: &Config, want: &[(String, KernelRule)]) -> Result<Source> {
    let mode = match cfg.source.mode {
        SourceMode::Auto => Mode::Auto,
        SourceMode::Multicast => Mode::Multicast,
        SourceMode::Unicast => Mode::Unicast,
    };
    if !want.is_empty() {
        caps::require(&[(caps::CAP_AUDIT_CONTROL, "install the configured rules")])
            .map_err(anyhow::Error::msg)?;
    }
    let src = Source::open(&SourceConfig {
        mode,
        recv_buffer_bytes: cfg.source.recv_buffer_bytes.unwrap_or(8 << 20) as usize,
        backlog_limit: cfg.source.backlog_limit,
        rate_limit: cfg.source.rate_limit,
        backlog_wait_time: cfg.source.backlog_wait_time,
        failure: cfg.source.failure.as_deref().copied(),
        ..Default::default()
    })?;
    if !src.status_readable {
        audex_log::warn!(
            "the kernel's status is unreadable ({}): no lost-record counts, and kernel audit must be enabled by the host",
            caps::control_refusal()
        );
    }
    Ok(src)
}

/// Rules installed (and the kernel locked when asked), capabilities dropped,
/// exporters and the pod watch started, then the live loop until a stop.
fn serve(
    running: &mut Running,
    src: &mut Source,
    listener: Option<std::net::TcpListener>,
    shutdown: &Shutdown,
) -> Result<()> {
    install_rules(running, src)?;
    running.local = bind_local(&running.plan.config, &running.node)?;
    drop_capabilities(running, src)?;
    if let Some(l) = running.local.as_mut() {
        l.start()?;
        audex_log::info!("serving unprivileged watches on {}", l.path().display());
    }
    running.outputs = Some(Outputs::start(&running.plan, &running.node, Clock::Wall)?);
    // Restoring rules and audit needs CAP_AUDIT_CONTROL, kept above when
    // audex owns rules or registered as the daemon.
    running.guard = Guard::new(
        running.plan.config.rules.enforce && caps::has(caps::CAP_AUDIT_CONTROL),
        src.enabled_audit() || src.is_daemon(),
        src.is_daemon(),
    );
    if let Some(l) = listener {
        metrics::serve(l);
    }
    metrics::METRICS.ready.store(true, Ordering::Relaxed);
    audex_log::info!(
        "running, watching with {} rules ({} mode, {} tenants, {} exporters)",
        running.rules.rules().len(),
        if src.mode == Mode::Multicast {
            "multicast"
        } else {
            "unicast"
        },
        running.plan.config.tenants.len(),
        running.plan.config.exporters.len()
    );
    // The pod watch runs on its own small runtime for as long as `run` does.
    let (pods, _kube_rt) = start_pod_watch(&running.plan.config)?;
    let opts = LiveOptions {
        host_root: running.plan.config.enrich.host_root.value.clone(),
        node: Some(running.node.clone()),
        enrich: running.plan.config.enrich.options(running.plan.labels()),
        pods,
    };
    live::read_loop(src, &opts, running, shutdown)
}

/// The plan's rules into the kernel, unless it was locked before audex;
/// then the lock, when `rules.lock` asks for it.
fn install_rules(running: &mut Running, src: &mut Source) -> Result<()> {
    let want = &running.plan.rules;
    let kernel_enabled = running.ctl.status().map(|s| s.enabled).unwrap_or(0);
    match lock::at_start(running.plan.config.rules.lock, kernel_enabled) {
        lock::AtStart::AlreadyLocked => {
            running.locked = true;
            src.keep_enabled_at_close();
            if !want.is_empty() {
                audex_log::error!("the kernel's audit rules were locked before audex started (enabled 2, `auditctl -e 2`): its {} rule(s) cannot be installed until reboot", want.len());
            }
        }
        lock::AtStart::Lock | lock::AtStart::Nothing => {
            for e in running
                .rules
                .change_to(&mut running.ctl, &running.plan.rules)
            {
                audex_log::error!("{e}");
            }
        }
    }
    if lock::at_start(running.plan.config.rules.lock, kernel_enabled) == lock::AtStart::Lock {
        running
            .ctl
            .set_enabled(lock::LOCKED)
            .map_err(|e| anyhow::anyhow!("rules.lock: setting the kernel's immutable flag: {e}"))?;
        running.locked = true;
        src.keep_enabled_at_close();
        audex_log::warn!(
            "rules.lock: the kernel's audit rules and settings are immutable until reboot"
        );
    }
    Ok(())
}

/// Every capability but those the daemon needs from now on, before any
/// thread starts (threads inherit them).
fn drop_capabilities(running: &Running, src: &Source) -> Result<()> {
    let mut keep = Vec::new();
    if src.mode == Mode::Multicast {
        keep.push(caps::CAP_AUDIT_READ);
    }
    if src.needs_control() || !running.rules.rules().is_empty() || running.local.is_some() {
        keep.push(caps::CAP_AUDIT_CONTROL);
    }
    // Putting a watch back (rules.enforce) or adding one on reload makes the
    // kernel look its path up with audex's credentials: under a directory its
    // uid cannot search (0700, another owner) that takes CAP_DAC_READ_SEARCH,
    // which the first install had. Without it, `auditctl -D` would remove
    // exactly the watches on guarded directories for good.
    // The local socket's watches are placed by path too (after audex checked
    // the user may reach it).
    if (running.local.is_some() || running.rules.rules().iter().any(|r| r.resolves_paths()))
        && caps::has(caps::CAP_DAC_READ_SEARCH)
    {
        keep.push(caps::CAP_DAC_READ_SEARCH);
    }
    // Session peers read other users' /proc/<pid>/fd: ptrace read access.
    if !running.plan.config.enrich.peer_processes.is_empty() {
        if caps::has(caps::CAP_SYS_PTRACE) {
            keep.push(caps::CAP_SYS_PTRACE);
        } else {
            audex_log::warn!("without CAP_SYS_PTRACE, session peers (enrich.peer_processes) are found only for processes of audex's own uid");
        }
    }
    let kept = caps::keep_only(&keep).map_err(|e| anyhow::anyhow!("dropping capabilities: {e}"))?;
    audex_log::info!(
        "capabilities kept: {}",
        if kept.is_empty() {
            "none".to_string()
        } else {
            kept.join(", ")
        }
    );
    Ok(())
}

/// With `local:`: its socket bound (before capabilities are dropped), with
/// a control socket of its own for the watches it places.
fn bind_local(cfg: &Config, node: &str) -> Result<Option<Server>> {
    let Some(l) = &cfg.local else {
        return Ok(None);
    };
    caps::require(&[(caps::CAP_AUDIT_CONTROL, "place the local socket's watches")])
        .map_err(anyhow::Error::msg)?;
    let group_file = cfg.enrich.host_root.join("etc/group");
    let admin_gids = l
        .admin_groups
        .iter()
        .filter_map(|g| {
            g.parse()
                .ok()
                .or_else(|| audex::config::group_id(&group_file, g))
        })
        .collect();
    let limits = Limits {
        max_watches_per_user: *l.max_watches_per_user,
        max_events_per_s_per_user: *l.max_events_per_s_per_user,
        admin_gids,
    };
    let ctl = AuditSocket::open()?;
    ctl.set_read_timeout(2000)?;
    Server::bind(&l.socket, node, limits, Box::new(ctl))
        .map(Some)
        .map_err(anyhow::Error::msg)
}

/// With `enrich.kubernetes`: the pod index and the runtime its watch runs on.
fn start_pod_watch(
    cfg: &Config,
) -> Result<(Option<Arc<PodIndex>>, Option<tokio::runtime::Runtime>)> {
    let k = &cfg.enrich.kubernetes;
    let Some(index) = k
        .enabled
        .then(|| Arc::new(PodIndex::new(Duration::from_secs(k.deletion_grace_s))))
    else {
        return Ok((None, None));
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("audex-kube")
        .enable_all()
        .build()?;
    let opts = KubeOptions {
        node_name: k.node_name.clone(),
        api_server: k.api_server.as_ref().map(|a| a.value.clone()),
    };
    let watched = index.clone();
    rt.spawn(async move {
        if let Err(e) = watch_pods(opts, watched).await {
            audex_log::error!("{e}; events get no pod names");
        }
    });
    audex_log::info!("watching the pods of node {}", k.node_name);
    Ok((Some(index), Some(rt)))
}

/// Rules removed (unless the kernel is locked), kernel audit restored, the
/// exporters drained for up to 10 s; exit 2 when the run failed.
fn shut_down(mut running: Running, mut src: Source, result: Result<()>) -> Result<ExitCode> {
    if let Some(l) = running.local.take() {
        l.stop("audex run is stopping");
    }
    if running.locked {
        audex_log::info!(
            "the kernel is locked: audex's {} rule(s) stay until reboot",
            running.rules.rules().len()
        );
    } else {
        for e in running.rules.remove_all(&mut running.ctl) {
            audex_log::warn!("removing a rule: {e}");
        }
    }
    daemon_state::remove();
    for e in src.close() {
        audex_log::error!("{e}");
    }
    let mut code = ExitCode::SUCCESS;
    for r in match running.outputs.take() {
        Some(o) => o.finish(Instant::now() + Duration::from_secs(10))?,
        None => Vec::new(),
    } {
        audex_log::info!(
            "exporter {}: {} exported, {} rejected, {} refused for good, {} retries, {} dropped by the spool bound, {} still spooled",
            r.name, r.exported, r.rejected, r.failed, r.retries, r.dropped, r.pending
        );
    }
    if let Err(e) = result {
        audex_log::error!("{e:#}");
        code = ExitCode::from(2);
    }
    audex_log::info!("stopped; rules removed, kernel audit restored");
    Ok(code)
}
