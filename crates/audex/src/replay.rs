//! `audex replay [FILE|-]`: a log in, events out, in constant memory.
use crate::cli::{InputFormat, OutputFormat, ReplayArgs};
use crate::progress::Progress;
use anyhow::{Context, Result};
use audex_correlate::{Config, Correlator};
use audex_enrich::{EnrichOptions, Enricher, PasswdDb};
use audex_export::otlp::Resource;
use audex_export::{EventWriter, JsonLines, OtlpJsonLines, ProtoDelimited};
use audex_normalize::{NoNames, Normalizer, Options, UserDb};
use audex_parse::ParseErrorKind;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::process::ExitCode;
use std::time::Instant;

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
}

pub fn run(args: ReplayArgs) -> Result<ExitCode> {
    let (input, size): (Box<dyn Read>, Option<u64>) = match args.file.as_deref() {
        None => (Box::new(io::stdin().lock()), None),
        Some(p) if p.as_os_str() == "-" => (Box::new(io::stdin().lock()), None),
        Some(p) => {
            let f = File::open(p).with_context(|| format!("cannot read {}", p.display()))?;
            let meta = f
                .metadata()
                .with_context(|| format!("cannot read {}", p.display()))?;
            if meta.is_dir() {
                anyhow::bail!("cannot read {}: it is a directory", p.display());
            }
            (Box::new(f), Some(meta.len()))
        }
    };
    let out: Box<dyn Write> = match &args.output {
        Some(p) => {
            Box::new(File::create(p).with_context(|| format!("cannot write {}", p.display()))?)
        }
        None => Box::new(io::stdout().lock()),
    };
    let out = BufWriter::with_capacity(256 << 10, out);
    // With --config, events go through the configured tenants and exporters.
    let mut outputs = match &args.config {
        Some(path) => {
            let cfg = crate::config::load(path).map_err(|errs| {
                anyhow::anyhow!(
                    "{}",
                    errs.iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            })?;
            let node = args.node.clone().unwrap_or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_string())
                    .unwrap_or_default()
            });
            Some(crate::outputs::Outputs::start(&cfg, &node)?)
        }
        None => None,
    };
    let mut writer: Box<dyn EventWriter + '_> = match (&mut outputs, args.format) {
        (Some(o), _) => Box::new(ToOutputs(o)),
        (None, OutputFormat::Json) => Box::new(JsonLines(out)),
        (None, OutputFormat::Proto) => Box::new(ProtoDelimited::new(out)),
        (None, OutputFormat::OtlpJson) => Box::new(OtlpJsonLines::new(
            out,
            Resource {
                host_name: args.node.clone().unwrap_or_default(),
                service_version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            },
            512,
        )),
    };
    let users: Box<dyn UserDb> = if args.no_names {
        Box::new(NoNames)
    } else {
        Box::new(PasswdDb::new(&args.host_root))
    };
    let mut stages = Stages {
        correlator: Correlator::new(Config {
            timeout_ms: args.timeout_ms,
            track_gaps: !args.ignore_gaps,
            ..Config::default()
        }),
        normalizer: Normalizer::new(
            users,
            Options {
                default_node: args.node.clone(),
                include_records: args.with_records,
            },
        ),
        // Parents from the exec events earlier in the log (never /proc: it
        // describes today's processes, not the log's).
        enricher: Enricher::new(
            EnrichOptions {
                live: false,
                peer_processes: Vec::new(),
                ..EnrichOptions::default()
            },
            None,
        ),
        // Rule keys of the packs become controls[] (with --config, the
        // configured table does it on the way to the exporters).
        controls: if args.config.is_none() {
            audex_compliance::controls::ControlMap::builtin()
        } else {
            audex_compliance::controls::ControlMap::default()
        },
    };

    let started = Instant::now();
    let mut progress = Progress::new(size);
    let mut sum = Summary::default();
    let mut reader = BufReader::with_capacity(256 << 10, input);
    let mut line = Vec::with_capacity(16 << 10);
    let mut bytes_read = 0u64;
    let res: io::Result<()> = (|| {
        if args.input == InputFormat::Proto {
            return replay_events(&mut reader, writer.as_mut(), &mut sum);
        }
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                break;
            }
            bytes_read += n as u64;
            sum.lines += 1;
            match audex_parse::parse_line(&line) {
                Ok(rec) => {
                    sum.records += 1;
                    stages.correlator.push(rec);
                }
                Err(e) if e.kind == ParseErrorKind::Empty => {}
                Err(e) => {
                    sum.parse_errors += 1;
                    if sum.parse_errors <= args.max_errors_shown {
                        eprintln!("audex: line {}: {e}", sum.lines);
                    }
                }
            }
            stages.drain(writer.as_mut(), &mut sum)?;
            progress.update(bytes_read, sum.records);
        }
        stages.correlator.flush();
        stages.drain(writer.as_mut(), &mut sum)?;
        writer.finish()
    })();
    progress.finish();
    match res {
        Ok(()) => {}
        // A closed pipe (`| head`) ends the replay quietly.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => {
            return Err(e).with_context(|| match args.file.as_deref() {
                Some(p) if p.as_os_str() != "-" => format!("replaying {}", p.display()),
                _ => "replaying standard input".into(),
            })
        }
    }
    sum.late = stages.correlator.stats().late;
    sum.after_lost = stages.correlator.stats().after_lost;
    drop(writer);
    let mut code = ExitCode::SUCCESS;
    if let Some(o) = outputs {
        let unrouted = crate::metrics::METRICS
            .unrouted
            .load(std::sync::atomic::Ordering::Relaxed);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(args.deadline_s);
        for r in o.finish(deadline)? {
            eprintln!(
                "audex: exporter {}: {} exported, {} rejected by the receiver, {} refused for good, {} retries, {} dropped by the spool bound, {} not delivered",
                r.name, r.exported, r.rejected, r.failed, r.retries, r.dropped, r.pending
            );
            if r.pending > 0 {
                eprintln!(
                    "audex: exporter {}: {} events not acknowledged within {} s; they stay in the spool for the next run",
                    r.name, r.pending, args.deadline_s
                );
                code = ExitCode::from(2);
            }
        }
        if unrouted > 0 {
            eprintln!("audex: {unrouted} events matched no tenant and there is no `default` tenant: not exported");
        }
    }
    if !args.quiet {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "audex: {} records -> {} events in {:.2}s ({:.0} records/s); {} parse errors; {} lost serials in {} gaps; {} late records{}; {} truncated events",
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
            sum.truncated
        );
    }
    Ok(code)
}

/// An EventWriter that hands events to the configured exporters.
struct ToOutputs<'a>(&'a mut crate::outputs::Outputs);

impl EventWriter for ToOutputs<'_> {
    fn write(&mut self, ev: &audex_proto::v1::AuditEvent) -> io::Result<()> {
        self.write_owned(ev.clone())
    }
    fn write_owned(&mut self, ev: audex_proto::v1::AuditEvent) -> io::Result<()> {
        self.0
            .send(ev)
            .map_err(|e| io::Error::other(format!("{e:#}")))
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Re-emits length-delimited AuditEvents (an archive segment) in the output format.
fn replay_events(
    r: &mut impl BufRead,
    w: &mut dyn EventWriter,
    sum: &mut Summary,
) -> io::Result<()> {
    use audex_proto::Message;
    let mut buf = Vec::new();
    loop {
        // The varint length prefix, byte by byte.
        let mut len: u64 = 0;
        let mut shift = 0;
        loop {
            let mut b = [0u8; 1];
            if r.read(&mut b)? == 0 {
                if shift == 0 {
                    return w.finish();
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "input ends inside a length prefix",
                ));
            }
            len |= ((b[0] & 0x7f) as u64) << shift;
            shift += 7;
            if b[0] < 0x80 {
                break;
            }
            if shift > 63 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "malformed length prefix: not a protobuf event stream?",
                ));
            }
        }
        if len > 64 << 20 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("event of {len} bytes: not a protobuf event stream?"),
            ));
        }
        buf.resize(len as usize, 0);
        r.read_exact(&mut buf)
            .map_err(|e| io::Error::new(e.kind(), format!("input ends inside an event: {e}")))?;
        let ev = audex_proto::v1::AuditEvent::decode(buf.as_slice()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("event {}: {e}", sum.events + 1),
            )
        })?;
        sum.events += 1;
        if let Some(l) = &ev.lost {
            sum.lost_events += 1;
            sum.lost_serials += l.count;
        }
        w.write_owned(ev)?;
    }
}

/// The stages after parsing: correlate, normalize, enrich (from the log itself),
/// controls.
struct Stages {
    correlator: Correlator,
    normalizer: Normalizer<Box<dyn UserDb>>,
    enricher: Enricher,
    controls: audex_compliance::controls::ControlMap,
}

impl Stages {
    /// Hands every event the correlator completed to `w`.
    fn drain(&mut self, w: &mut dyn EventWriter, sum: &mut Summary) -> io::Result<()> {
        while let Some(out) = self.correlator.pop() {
            let mut ev = self.normalizer.normalize(&out);
            self.enricher.enrich(&mut ev);
            self.controls.apply(&mut ev);
            sum.events += 1;
            if let Some(l) = &ev.lost {
                sum.lost_events += 1;
                sum.lost_serials += l.count;
            }
            if ev.truncated {
                sum.truncated += 1;
            }
            w.write_owned(ev)?;
        }
        Ok(())
    }
}
