//! `audex replay [FILE|-]`: a log in, events out, in constant memory.
use crate::cli::{InputFormat, OutputFormat, ReplayArgs};
use crate::inputs;
use crate::outputs::Outputs;
use crate::pipeline::{parallel, Enriched, Sink, Stages};
use crate::progress::Progress;
use anyhow::{Context, Result};
use audex_correlate::{Config, Correlator};
use audex_enrich::{EnrichOptions, Enricher, PasswdDb};
use audex_export::otlp::Resource;
use audex_export::{EventWriter, JsonLines, OtlpJsonLines, ProtoDelimited};
use audex_normalize::{NoNames, Normalizer, Options, UserDb};
use audex_parse::ParseErrorKind;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::process::ExitCode;
use std::time::Instant;

/// Host names of ids, shared by the normalizer threads.
type Users = Box<dyn UserDb + Send + Sync>;

/// Counts shown in the summary.
#[derive(Debug, Default)]
struct Summary {
    lines: u64,
    records: u64,
    parse_errors: u64,
    events: u64,
    lost_events: u64,
    lost_serials: u64,
    late: u64,
    /// Of `late`: records of serials already reported lost (dropped, not delivered).
    after_lost: u64,
    truncated: u64,
    /// Events outside `--from`/`--to` (not written).
    outside: u64,
    /// Inputs wholly outside `--from`/`--to` (not read).
    inputs_skipped: usize,
}

/// `--from` / `--to` as milliseconds since the epoch.
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    from: Option<u64>,
    to: Option<u64>,
}

impl Window {
    fn of(args: &ReplayArgs) -> Result<Window> {
        let ms = |s: &Option<String>, flag: &str| -> Result<Option<u64>> {
            s.as_deref()
                .map(|s| {
                    audex_compliance::time::parse(s)
                        .map(|secs| secs.max(0) as u64 * 1000)
                        .map_err(anyhow::Error::msg)
                        .with_context(|| flag.to_string())
                })
                .transpose()
        };
        Ok(Window {
            from: ms(&args.from, "--from")?,
            to: ms(&args.to, "--to")?,
        })
    }

    /// Whether an event at this time is kept (an event without a time is).
    fn holds(&self, ev: &audex_proto::v1::AuditEvent) -> bool {
        let Some(t) = &ev.time else {
            return true;
        };
        let ms = (t.seconds.max(0) as u64) * 1000 + (t.nanos.max(0) as u64) / 1_000_000;
        self.from.is_none_or(|f| ms >= f) && self.to.is_none_or(|to| ms < to)
    }
}

pub fn run(args: ReplayArgs) -> Result<ExitCode> {
    let window = Window::of(&args)?;
    let mut sum = Summary::default();
    let (input, what, size) = open_inputs(&args, window, &mut sum)?;
    // `-o -` is standard output, as `-` is standard input.
    let out: Box<dyn Write> = match args.output.as_ref().filter(|p| p.as_os_str() != "-") {
        Some(p) => {
            Box::new(File::create(p).with_context(|| format!("cannot write {}", p.display()))?)
        }
        None => Box::new(io::stdout().lock()),
    };
    let out = BufWriter::with_capacity(256 << 10, out);
    // With --config, events go through the configured tenants and exporters.
    let (mut outputs, labels) = match &args.config {
        Some(path) => match start_outputs(path, &args)? {
            Ok((o, labels)) => (Some(o), labels),
            Err(code) => return Ok(code),
        },
        None => (None, audex_policy::Labels::default()),
    };
    let mut local = None;
    let sink: &mut dyn Sink = match &mut outputs {
        Some(o) => o,
        None => local.insert(Local(writer(&args, out))),
    };
    let mut stages = stages(&args, labels);
    let started = Instant::now();
    let mut progress = Progress::new(size);
    let mut reader = BufReader::with_capacity(256 << 10, input);
    let res = if args.input == InputFormat::Proto {
        replay_events(&mut reader, sink, window, &mut sum)
    } else {
        replay_records(
            &args,
            &mut reader,
            &mut stages,
            sink,
            window,
            &mut progress,
            &mut sum,
        )
    }
    .and_then(|()| local.as_mut().map_or(Ok(()), Local::finish));
    progress.finish();
    match res {
        Ok(()) => {}
        // A closed pipe (`| head`) ends the replay quietly, but not as a success.
        Err(e) if broken_pipe(&e) => return Ok(ExitCode::from(2)),
        Err(e) => return Err(e).with_context(|| format!("replaying {what}")),
    }
    let st = stages.stats().clone();
    sum.late = st.late;
    sum.after_lost = st.after_lost;
    let extra = extra_counts(&st, stages.invalid_values());
    drop(local);
    let code = match outputs {
        Some(o) => finish_outputs(o, args.deadline_s)?,
        None => ExitCode::SUCCESS,
    };
    if !args.quiet {
        print_summary(&sum, started.elapsed().as_secs_f64(), &extra);
    }
    if args.input == InputFormat::Audit && sum.records == 0 && sum.lines > 0 {
        eprintln!(
            "audex: no audit record in {what} ({} lines, none parsed): is it an audit log?",
            sum.lines
        );
        return Ok(ExitCode::from(1));
    }
    Ok(code)
}

/// The closing line on standard error.
fn print_summary(sum: &Summary, secs: f64, extra: &str) {
    eprintln!(
        "audex: {} records -> {} events in {:.2}s ({:.0} records/s); {} parse errors; {} lost serials in {} gaps; {} late records{}; {} truncated events{}",
        sum.records,
        sum.events,
        secs,
        sum.records as f64 / secs.max(1e-9),
        sum.parse_errors,
        sum.lost_serials,
        sum.lost_events,
        sum.late,
        if sum.after_lost > 0 {
            format!(" ({} of serials reported lost before they came: dropped)", sum.after_lost)
        } else {
            String::new()
        },
        sum.truncated,
        extra
    );
    if sum.outside > 0 || sum.inputs_skipped > 0 {
        eprintln!(
            "audex: --from/--to: {} events outside left out; {} inputs wholly outside not read",
            sum.outside, sum.inputs_skipped
        );
    }
}

/// The inputs, checked up front (a missing one stops the replay before
/// anything is written), chained in time order, those wholly outside the
/// window left out (counted in `sum`): the reader, a name for messages, the
/// total size when known.
fn open_inputs(
    args: &ReplayArgs,
    window: Window,
    sum: &mut Summary,
) -> Result<(Box<dyn Read + Send>, String, Option<u64>)> {
    let inputs = inputs::expand(&args.files)?;
    for i in &inputs {
        i.check()?;
    }
    let (dated, moved) = inputs::in_time_order(inputs);
    let (inputs, skipped) = inputs::within(dated, window.from, window.to);
    sum.inputs_skipped = skipped;
    let mut size = Some(0u64);
    for i in &inputs {
        size = size.zip(i.check()?).map(|(a, b)| a + b);
    }
    if moved && !args.quiet {
        eprintln!(
            "audex: replaying in time order (by first record): {}",
            inputs
                .iter()
                .map(|i| i.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let what = match inputs.as_slice() {
        [one] => one.name(),
        many => format!("{} inputs", many.len()),
    };
    let input = Box::new(inputs::Chain::new(inputs, args.input == InputFormat::Audit));
    Ok((input, what, size))
}

/// The configured exporters, running, and the config's label rules for the
/// enrichment; the exit code when the config is not valid (its errors
/// printed).
fn start_outputs(
    path: &std::path::Path,
    args: &ReplayArgs,
) -> Result<Result<(Outputs, audex_policy::Labels), ExitCode>> {
    let plan = match audex::config::load_plan(path) {
        Ok(plan) => plan,
        Err(errs) => {
            for e in &errs {
                eprintln!("{e}");
            }
            eprintln!(
                "audex: {} is not a valid config; nothing replayed",
                path.display()
            );
            return Ok(Err(ExitCode::from(1)));
        }
    };
    let node = args.node.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default()
    });
    let outputs = Outputs::start(&plan, &node, crate::pipeline::Clock::Event)?;
    Ok(Ok((outputs, plan.labels())))
}

/// `out` in the chosen format (without a config).
fn writer<'a>(args: &ReplayArgs, out: BufWriter<Box<dyn Write + 'a>>) -> Box<dyn EventWriter + 'a> {
    match args.format {
        OutputFormat::Json => Box::new(JsonLines::new(out)),
        OutputFormat::Proto => Box::new(ProtoDelimited::new(out)),
        OutputFormat::Ecs => Box::new(JsonLines::ecs(out)),
        OutputFormat::OtlpJson => Box::new(OtlpJsonLines::new(
            out,
            Resource {
                host_name: args.node.clone().unwrap_or_default(),
                service_version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            },
            512,
        )),
    }
}

/// The stages after parsing, for a log: names from the host (unless
/// `--no-names`), parents from the log's own exec events, controls here
/// without a config.
fn stages(args: &ReplayArgs, labels: audex_policy::Labels) -> Stages<Users> {
    let users: Users = if args.no_names {
        Box::new(NoNames)
    } else {
        Box::new(PasswdDb::new(&args.host_root))
    };
    Stages::new(
        Correlator::new(Config {
            timeout_ms: args.timeout_ms,
            track_gaps: !args.ignore_gaps,
            ..Config::default()
        }),
        Normalizer::new(
            users,
            Options {
                default_node: args.node.clone(),
                include_records: args.with_records,
            },
        ),
        // Parents from the exec events earlier in the log (never /proc: it
        // describes today's processes, not the log's).
        Enricher::new(
            EnrichOptions {
                live: false,
                peer_processes: Vec::new(),
                labels,
                ..EnrichOptions::default()
            },
            None,
        ),
        // Rule keys of the packs become controls[] (with --config, the
        // configured table does it on the way to the exporters).
        args.config
            .is_none()
            .then(audex_compliance::controls::ControlMap::builtin),
    )
}

/// Reads audit records to the end, through the stages to `sink`: on
/// `--threads` threads (the stages' pipeline), or on this one.
fn replay_records(
    args: &ReplayArgs,
    reader: &mut (impl io::BufRead + Send),
    stages: &mut Stages<Users>,
    sink: &mut dyn Sink,
    window: Window,
    progress: &mut Progress,
    sum: &mut Summary,
) -> Result<()> {
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |t| t as usize,
    );
    let read = if threads > 1 {
        parallel::run(
            stages,
            threads,
            parallel::BATCH,
            |push| {
                let mut read = ReadCounts::default();
                read_records(args, reader, push, progress, &mut read).map(|()| read)
            },
            &mut |ev| deliver(ev, sink, window, sum),
        )?
    } else {
        let mut read = ReadCounts::default();
        read_records(
            args,
            reader,
            &mut |rec| {
                stages.push(rec);
                drain(stages, sink, window, sum)
            },
            progress,
            &mut read,
        )?;
        stages.flush();
        drain(stages, sink, window, sum)?;
        read
    };
    sum.lines = read.lines;
    sum.records = read.records;
    sum.parse_errors = read.parse_errors;
    Ok(())
}

/// What reading counted.
#[derive(Debug, Default)]
struct ReadCounts {
    lines: u64,
    records: u64,
    parse_errors: u64,
}

/// Reads and parses audit records to the end, each to `push`; parse errors
/// counted and the first shown.
fn read_records(
    args: &ReplayArgs,
    reader: &mut impl io::BufRead,
    push: &mut parallel::Push,
    progress: &mut Progress,
    n: &mut ReadCounts,
) -> Result<()> {
    let mut line = Vec::with_capacity(16 << 10);
    let mut bytes_read = 0u64;
    loop {
        let parsed = audex_io::with_line(reader, &mut line, MAX_LINE, |text, whole| {
            if whole {
                audex_parse::parse_line(text)
            } else {
                Err(audex_parse::ParseError::too_long(text))
            }
        })?;
        let Some((bytes, parsed)) = parsed else {
            return Ok(());
        };
        bytes_read += bytes;
        n.lines += 1;
        match parsed {
            Ok(rec) => {
                n.records += 1;
                push(rec)?;
            }
            Err(e) if e.kind == ParseErrorKind::Empty => {}
            Err(e) => {
                n.parse_errors += 1;
                if n.parse_errors <= args.max_errors_shown {
                    eprintln!("audex: line {}: {e}", n.lines);
                }
            }
        }
        progress.update(bytes_read, n.records);
    }
}

/// The summary's counts shown only when they happened, and the warning of
/// an input that went back in time.
fn extra_counts(st: &audex_correlate::Stats, invalid_values: u64) -> String {
    let mut extra = Vec::new();
    for (n, label) in [
        (st.duplicates, "duplicate records dropped"),
        (
            st.evicted - st.evicted_for_bytes,
            "events completed early (4096 in flight)",
        ),
        (
            st.evicted_for_bytes,
            "events completed early (in-flight memory bound)",
        ),
        (st.dropped_by_cap, "records cut by the per-event caps"),
        (
            st.implausible_serials,
            "records with implausible serials (not counted as loss)",
        ),
        (invalid_values, "invalid ids left out (data.invalid_values)"),
        (
            st.new_sequences - st.went_back,
            "new serial sequences (a reboot or another log)",
        ),
    ] {
        if n > 0 {
            extra.push(format!("; {n} {label}"));
        }
    }
    if st.went_back > 0 {
        eprintln!(
            "audex: the input went back in time {} (an older log after a newer one, as `cat audit.log audit.log.1` gives): every record was replayed, in input order there, with loss counted per sequence; name the files instead of piping them to replay them in time order",
            if st.went_back == 1 {
                "once".to_string()
            } else {
                format!("{} times", st.went_back)
            }
        );
    }
    extra.concat()
}

/// Lets the exporters deliver until the deadline; what each did; exit 2 when
/// events stay spooled.
fn finish_outputs(o: Outputs, deadline_s: u64) -> Result<ExitCode> {
    let mut code = ExitCode::SUCCESS;
    let unrouted = crate::metrics::METRICS
        .unrouted
        .load(std::sync::atomic::Ordering::Relaxed);
    let deadline = Instant::now() + std::time::Duration::from_secs(deadline_s);
    for r in o.finish(deadline)? {
        eprintln!(
            "audex: exporter {}: {} exported, {} rejected by the receiver, {} refused for good, {} retries, {} dropped by the spool bound, {} not delivered",
            r.name, r.exported, r.rejected, r.failed, r.retries, r.dropped, r.pending
        );
        if r.pending > 0 {
            eprintln!(
                "audex: exporter {}: {} events not acknowledged within {deadline_s} s; they stay in the spool for the next run",
                r.name, r.pending
            );
            code = ExitCode::from(2);
        }
    }
    if unrouted > 0 {
        eprintln!("audex: {unrouted} events matched no tenant and there is no `default` tenant: not exported");
    }
    for (name, n) in crate::metrics::METRICS.named_drops("filter") {
        eprintln!("audex: filter {name}: {n} events suppressed");
    }
    for (name, n) in crate::metrics::METRICS.named_drops("fold") {
        eprintln!("audex: repeat folding ({name}): {n} events stand in repeat events");
    }
    for (name, n) in crate::metrics::METRICS.named_drops("throttle") {
        eprintln!("audex: rate limit of tenant {name}: {n} events throttled (counted in events-throttled markers)");
    }
    Ok(code)
}

/// Lines longer than a record can be are cut here and skipped to their end.
const MAX_LINE: usize = audex_parse::MAX_RECORD_BYTES + 2;

/// Replay's own output without a config: events in the chosen format.
struct Local<'a>(Box<dyn EventWriter + 'a>);

impl Local<'_> {
    fn finish(&mut self) -> Result<()> {
        Ok(self.0.finish()?)
    }
}

impl Sink for Local<'_> {
    fn send(&mut self, ev: Enriched) -> Result<()> {
        Ok(self.0.write(ev.event())?)
    }
}

/// A write to a reader that went away (`| head`).
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// A spool that cannot be written (a full disk) holds what it may; then the
/// replay waits for it. Ctrl-C ends the process meanwhile, as anywhere in a
/// replay (it installs no handler; what is spooled stays for the next run).
fn wait_while_paused(sink: &mut dyn Sink) -> Result<()> {
    if !sink.paused() {
        return Ok(());
    }
    let since = Instant::now();
    eprintln!("audex: replay paused: a spool cannot take more events (see above); waiting for it");
    while sink.paused() {
        std::thread::sleep(std::time::Duration::from_millis(100));
        sink.tick()?;
    }
    eprintln!(
        "audex: replay resumed after {:.1} s",
        since.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Re-emits length-delimited AuditEvents (an archive segment) in the output
/// format, read with the archive's own segment reader.
fn replay_events(
    r: impl Read,
    sink: &mut dyn Sink,
    window: Window,
    sum: &mut Summary,
) -> Result<()> {
    use audex_proto::Message;
    let mut stream = audex_export::archive::reader::SegmentStream::from_reader(r);
    while let Some(rec) = stream.next() {
        let rec = match rec {
            Ok(rec) => rec,
            Err(t) => {
                return Err(anyhow::Error::from(match stream.io_error.take() {
                    Some(e) => e,
                    None if t.why.contains("past the end") => io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("input ends inside an event (at byte {})", t.offset),
                    ),
                    None => io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{} at byte {}: not a protobuf event stream?",
                            t.why, t.offset
                        ),
                    ),
                }));
            }
        };
        let ev = audex_proto::v1::AuditEvent::decode(rec.bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("event {}: {e}", sum.events + 1),
            )
        })?;
        if !window.holds(&ev) {
            sum.outside += 1;
            continue;
        }
        sum.events += 1;
        if let Some(l) = &ev.lost {
            sum.lost_events += 1;
            sum.lost_serials += l.count;
        }
        sink.send(Enriched::replayed(ev))?;
        wait_while_paused(sink)?;
    }
    Ok(())
}

/// Every event the stages completed to `sink` (those in the window), counted.
fn drain<U: UserDb>(
    stages: &mut Stages<U>,
    sink: &mut dyn Sink,
    window: Window,
    sum: &mut Summary,
) -> Result<()> {
    stages.drain_with(&mut |ev| deliver(ev, sink, window, sum))
}

/// One event to `sink` if it is in the window, counted.
fn deliver(ev: Enriched, sink: &mut dyn Sink, window: Window, sum: &mut Summary) -> Result<()> {
    let e = ev.event();
    if !window.holds(e) {
        sum.outside += 1;
        return Ok(());
    }
    sum.events += 1;
    if let Some(l) = &e.lost {
        sum.lost_events += 1;
        sum.lost_serials += l.count;
    }
    if e.truncated {
        sum.truncated += 1;
    }
    sink.send(ev)?;
    wait_while_paused(sink)
}
