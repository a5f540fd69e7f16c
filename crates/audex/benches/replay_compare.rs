//! Replay benchmark: audex against `ausearch -i`, Laurel 0.8.2 and `wc -l` on the
//! same corpus, in the same run.
//!
//!   cargo bench -p audex --bench replay_compare
//!
//! Builds two corpora of at least AUDEX_BENCH_RECORDS (default 1,000,000) records
//! in bench-out/ by replicating the events captured from the real kernel
//! (tests/golden/kernel-raw.log) with fresh serials and times: one with EOE
//! records as the kernel sends them over netlink, one without, as auditd writes
//! its log. As root with Debian's auditd (AUDEX_BENCH_CAPTURE=0 skips it), two
//! more that do not favour audex: a 2-worker exec + file-churn storm with long
//! argv (32 extra hex-encoded arguments per exec) captured from this kernel by
//! auditd (tests/storm/capture.sh: RAW, no EOE, neighbouring events
//! interleaved), and the same log with EOE records put after each multi-record
//! event's last record, as netlink delivers them. Reports records/s and
//! events/s for parse only, parse+correlate+normalize and
//! parse+correlate+normalize+protobuf in process, then CPU time
//! and peak RSS of whole processes: `audex replay --format proto|json` on one
//! thread and on every core (`--threads`; medians of AUDEX_BENCH_ROUNDS alternating
//! runs, default 3), `ausearch -i`, Laurel (from $AUDEX_TOOLS/bin, default tools/bin; install with
//! `cargo install laurel --version 0.8.2 --root tools`) and `wc -l` (medians of
//! as many runs each, one after the other). With
//! AUDEX_BENCH_PGO=BINARY (scripts/build-pgo.sh makes target/pgo/audex, the
//! build the image ships), that binary's rows too, in the same rounds, and
//! every row against its proto row on one thread.
use audex_correlate::{Config, Correlator};
use audex_normalize::{NoNames, Normalizer};
use prost::Message;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Rewrites `msg=audit(T:S)` of a raw line with a new time and serial.
fn restamp(line: &str, secs: u64, ms: u64, serial: u64) -> Option<String> {
    let start = line.find("msg=audit(")? + "msg=audit(".len();
    let end = start + line[start..].find(')')?;
    Some(format!(
        "{}{secs}.{ms:03}:{serial}{}",
        &line[..start],
        &line[end..]
    ))
}

/// The time and serial of a log line's `msg=audit(T:S)`.
fn stamp(line: &str) -> Option<(&str, &str)> {
    line.split("msg=audit(")
        .nth(1)?
        .split(')')
        .next()?
        .split_once(':')
}

fn build_corpus(target: u64, with_eoe: bool, out: &Path) -> (u64, u64) {
    let base = std::fs::read_to_string(repo().join("tests/golden/kernel-raw.log")).unwrap();
    // Group the captured records by serial, in order; leave out auditd's own DAEMON_* records.
    let mut groups: Vec<Vec<&str>> = Vec::new();
    let mut last = ("", "");
    for line in base.lines().filter(|l| !l.contains("type=DAEMON_")) {
        let serial = stamp(line).unwrap_or(("", ""));
        if serial != last || groups.is_empty() {
            groups.push(Vec::new());
            last = serial;
        }
        groups.last_mut().unwrap().push(line);
    }
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(out).unwrap());
    let (mut records, mut events, mut serial) = (0u64, 0u64, 1000u64);
    let t0 = 1_800_000_000u64 * 1000;
    while records < target {
        for g in &groups {
            serial += 1;
            let t = t0 + serial / 4; // ~4,000 events per second of record time
            for line in g {
                writeln!(f, "{}", restamp(line, t / 1000, t % 1000, serial).unwrap()).unwrap();
                records += 1;
            }
            if with_eoe && g.len() > 1 {
                writeln!(
                    f,
                    "type=EOE msg=audit({}.{:03}:{serial}): ",
                    t / 1000,
                    t % 1000
                )
                .unwrap();
                records += 1;
            }
            events += 1;
        }
    }
    (records, events)
}

/// Captures the storm corpus with auditd (None where that cannot run here):
/// the log as auditd wrote it, and its EOE variant.
fn captured_corpora(target: u64, out: &Path) -> Option<(PathBuf, PathBuf)> {
    if std::env::var("AUDEX_BENCH_CAPTURE").is_ok_and(|v| v == "0") {
        return None;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !which("auditd") {
        println!("(no captured corpus: needs root and Debian's auditd; AUDEX_BENCH_CAPTURE=0 skips it)\n");
        return None;
    }
    let raw = out.join("captured-noeoe.log");
    // About 24 records an iteration (exec 7, create 5, rename 7, delete 5).
    let iterations = (target / 24 / 2).max(1);
    let st = Command::new("bash")
        .arg(repo().join("tests/storm/capture.sh"))
        .arg(&raw)
        .args(["2", &iterations.to_string(), "32"])
        .status()
        .expect("run tests/storm/capture.sh");
    if !st.success() {
        println!("(the storm capture failed: {st})\n");
        return None;
    }
    let eoe = out.join("captured-eoe.log");
    with_eoe(&raw, &eoe);
    Some((raw, eoe))
}

/// `input` with an EOE record after the last record of every serial that has
/// several (a syscall event), where the kernel's netlink stream has it.
fn with_eoe(input: &Path, out: &Path) {
    let text = std::fs::read_to_string(input).unwrap();
    let mut last: std::collections::HashMap<&str, (usize, u32)> = Default::default();
    for (i, l) in text.lines().enumerate() {
        if let Some((_, serial)) = stamp(l) {
            let e = last.entry(serial).or_insert((i, 0));
            *e = (i, e.1 + 1);
        }
    }
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(out).unwrap());
    for (i, l) in text.lines().enumerate() {
        writeln!(f, "{l}").unwrap();
        if let Some((t, serial)) = stamp(l) {
            if last.get(&serial).is_some_and(|&(at, n)| at == i && n > 1) {
                writeln!(f, "type=EOE msg=audit({t}:{serial}): ").unwrap();
            }
        }
    }
}

/// Records and events (serials) of a log.
fn count(path: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut serials: std::collections::HashSet<&str> = Default::default();
    let mut records = 0;
    for l in text.lines() {
        records += 1;
        if let Some((_, serial)) = stamp(l) {
            serials.insert(serial);
        }
    }
    (records, serials.len() as u64)
}

fn cpu_self() -> f64 {
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) };
    tv(r.ru_utime) + tv(r.ru_stime)
}

fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

struct Run {
    wall: f64,
    cpu: f64,
    rss_mib: f64,
    ok: bool,
}

/// Runs a command with stdin from `input` (if any), stdout to /dev/null, and
/// returns its CPU time and peak RSS. The command is started by a fresh helper
/// process (this binary with `--measure-child`), because a child's peak RSS
/// includes the memory of the process that spawned it.
fn measure(cmd: &mut Command, input: Option<&Path>) -> Run {
    let mut helper = Command::new(std::env::current_exe().unwrap());
    helper
        .arg("--measure-child")
        .arg(input.map(|p| p.as_os_str().to_owned()).unwrap_or_default());
    helper.arg(cmd.get_program()).args(cmd.get_args());
    let out = helper
        .stderr(Stdio::inherit())
        .output()
        .expect("measure helper");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() != 4 {
        return Run {
            wall: 0.0,
            cpu: 0.0,
            rss_mib: 0.0,
            ok: false,
        };
    }
    Run {
        wall: v[0],
        cpu: v[1],
        rss_mib: v[2],
        ok: v[3] == 1.0,
    }
}

/// The helper: `--measure-child STDIN_PATH PROGRAM ARGS...` prints "wall cpu rss_mib ok".
fn measure_child(args: &[String]) {
    let (stdin, prog, rest) = (&args[0], &args[1], &args[2..]);
    let mut cmd = Command::new(prog);
    cmd.args(rest).stdout(Stdio::null()).stderr(Stdio::null());
    if !stdin.is_empty() {
        cmd.stdin(std::fs::File::open(stdin).unwrap());
    }
    let start = Instant::now();
    // Reaped by wait4 below, which also gives its rusage.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().expect("spawn");
    let mut status = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child and fills rusage.
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    let wall = start.elapsed().as_secs_f64();
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) <= 1;
    println!(
        "{wall} {} {} {}",
        tv(ru.ru_utime) + tv(ru.ru_stime),
        ru.ru_maxrss as f64 / 1024.0,
        ok as u8
    );
}

fn in_process(path: &Path) -> Vec<(String, f64, f64, u64)> {
    let data = std::fs::read(path).unwrap();
    let mut rows = Vec::new();

    let (t, c) = (Instant::now(), cpu_self());
    let mut n = 0u64;
    for line in data.split(|&b| b == b'\n') {
        if audex_parse::parse_line(line).is_ok() {
            n += 1;
        }
    }
    rows.push(("parse".into(), t.elapsed().as_secs_f64(), cpu_self() - c, 0));
    let records = n;

    for encode in [false, true] {
        let (t, c) = (Instant::now(), cpu_self());
        let mut corr = Correlator::new(Config::default());
        let norm = Normalizer::new(NoNames, Default::default());
        let mut events = 0u64;
        let mut buf = Vec::with_capacity(1 << 16);
        let mut bytes = 0usize;
        let mut take = |corr: &mut Correlator, events: &mut u64| {
            while let Some(o) = corr.pop() {
                let ev = norm.normalize(&o);
                *events += 1;
                if encode {
                    buf.clear();
                    ev.encode_length_delimited(&mut buf).unwrap();
                    bytes += buf.len();
                }
            }
        };
        for line in data.split(|&b| b == b'\n') {
            if let Ok(r) = audex_parse::parse_line(line) {
                corr.push(r);
                take(&mut corr, &mut events);
            }
        }
        corr.flush();
        take(&mut corr, &mut events);
        let name = if encode {
            "parse+correlate+normalize+proto"
        } else {
            "parse+correlate+normalize"
        };
        rows.push((
            name.into(),
            t.elapsed().as_secs_f64(),
            cpu_self() - c,
            events,
        ));
        std::hint::black_box(bytes);
    }
    let _ = records;
    rows
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).is_some_and(|a| a == "--measure-child") {
        return measure_child(&argv[2..]);
    }
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes with --list
    }
    let target: u64 = std::env::var("AUDEX_BENCH_RECORDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: usize = std::env::var("AUDEX_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3);
    let peers = std::env::var("AUDEX_BENCH_PEERS")
        .map(|v| v != "0")
        .unwrap_or(true);
    let out = repo().join("bench-out");
    std::fs::create_dir_all(&out).unwrap();
    let audex = env!("CARGO_BIN_EXE_audex");
    let tools = std::env::var_os("AUDEX_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("tools"));
    let laurel = tools.join("bin/laurel");
    // The PGO build beside the cargo build, in the same rounds.
    let pgo = std::env::var_os("AUDEX_BENCH_PGO").map(PathBuf::from);
    if let Some(p) = pgo.as_ref().filter(|p| !p.exists()) {
        panic!(
            "AUDEX_BENCH_PGO={}: no such binary (scripts/build-pgo.sh makes it)",
            p.display()
        );
    }

    println!(
        "# audex replay benchmark ({} cores)\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let mut corpora: Vec<(String, PathBuf, Option<bool>)> = vec![
        (
            "replicated golden events, with EOE (netlink-like)".into(),
            out.join("corpus-eoe.log"),
            Some(true),
        ),
        (
            "replicated golden events, without EOE (auditd log)".into(),
            out.join("corpus-noeoe.log"),
            Some(false),
        ),
    ];
    if let Some((raw, eoe)) = captured_corpora(target, &out) {
        corpora.push((
            "exec + file storm with long argv captured by auditd from this kernel (RAW, no EOE)"
                .into(),
            raw,
            None,
        ));
        corpora.push((
            "the same capture with EOE after each event's last record (netlink-like)".into(),
            eoe,
            None,
        ));
    }
    for (variant, path, built) in corpora {
        let (records, events) = match built {
            Some(eoe) => build_corpus(target, eoe, &path),
            None => count(&path),
        };
        let size = std::fs::metadata(&path).unwrap().len();
        println!(
            "## corpus {variant}: {records} records, {events} events, {:.0} MiB\n",
            size as f64 / (1 << 20) as f64
        );
        println!("| stage (in process) | wall s | CPU s | records/s (CPU) | events/s (CPU) |");
        println!("|---|---:|---:|---:|---:|");
        for (name, wall, cpu, _) in in_process(&path) {
            println!(
                "| {name} | {wall:.2} | {cpu:.2} | {:.0} | {} |",
                records as f64 / cpu,
                if name == "parse" {
                    "-".to_string()
                } else {
                    format!("{:.0}", events as f64 / cpu)
                }
            );
        }
        println!();
        let p = path.to_str().unwrap();
        let mut rows = audex_rows(audex, pgo.as_deref(), p, rounds);
        // The PGO build's proto row on one thread comes right after the cargo build's.
        let pgo_base = pgo.is_some().then(|| (rows[1].1.cpu, rows[1].1.wall));
        rows.extend(peer_rows(peers, rounds, &laurel, &out, &path));
        let (base, base_wall) = (rows[0].1.cpu, rows[0].1.wall);
        let pgo_head = " CPU vs the PGO build's proto, 1 thread | wall vs it |";
        println!(
            "| process | wall s | CPU s | records/s (CPU) | peak RSS MiB | CPU vs audex proto, 1 thread | wall vs audex proto, 1 thread |{}",
            if pgo_base.is_some() { pgo_head } else { "" }
        );
        println!(
            "|---|---:|---:|---:|---:|---:|---:|{}",
            if pgo_base.is_some() { "---:|---:|" } else { "" }
        );
        for (name, r) in &rows {
            let vs_pgo = pgo_base.map_or(String::new(), |(cpu, wall)| {
                format!(" {:.2}x | {:.2}x |", r.cpu / cpu, r.wall / wall)
            });
            println!(
                "| {name}{} | {:.2} | {:.2} | {:.0} | {:.1} | {:.2}x | {:.2}x |{vs_pgo}",
                if r.ok { "" } else { " (FAILED)" },
                r.wall,
                r.cpu,
                records as f64 / r.cpu.max(1e-9),
                r.rss_mib,
                r.cpu / base,
                r.wall / base_wall,
            );
        }
        println!();
        let _ = std::fs::remove_file(&path);
    }
}

/// audex's rows: `replay --format proto|json` on one thread and on every
/// core, of the cargo build and (when given) of the PGO build
/// (`scripts/build-pgo.sh`), their proto rows on one thread first. The runs
/// alternate, AUDEX_BENCH_ROUNDS times, and each row gives its medians: on
/// this VM one run of the threaded replay moved by a third with the host's
/// load on the second core.
fn audex_rows(audex: &str, pgo: Option<&Path>, p: &str, rounds: usize) -> Vec<(String, Run)> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let builds: Vec<(&str, &str)> = std::iter::once(("", audex))
        .chain(pgo.map(|b| (" (PGO build)", b.to_str().unwrap())))
        .collect();
    let kinds = [("proto", 1), ("proto", cores), ("json", 1), ("json", cores)];
    // Every build's proto on one thread first (the ratios' bases), then the rest.
    let configs: Vec<(&str, &str, &str, usize)> = (builds.iter().map(|&b| (b, kinds[0])))
        .chain(
            builds
                .iter()
                .flat_map(|&b| kinds[1..].iter().map(move |&k| (b, k))),
        )
        .map(|((build, bin), (format, threads))| (build, bin, format, threads))
        .collect();
    let mut samples: Vec<Vec<Run>> = configs.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for ((_, bin, format, threads), runs) in configs.iter().zip(&mut samples) {
            let t = threads.to_string();
            runs.push(measure(
                Command::new(bin).args([
                    "replay",
                    "-q",
                    "--format",
                    format,
                    "--threads",
                    &t,
                    "-o",
                    "/dev/null",
                    p,
                ]),
                None,
            ));
        }
    }
    configs
        .iter()
        .zip(samples)
        .map(|((build, _, format, threads), runs)| {
            (
                format!("audex{build} replay --format {format} --threads {threads}"),
                median(runs),
            )
        })
        .collect()
}

/// `wc -l`, and with `peers`, `ausearch -i` and Laurel: medians of `rounds`
/// runs each, as audex's rows (one run of Laurel moved its system time by a
/// half between two runs on this VM).
fn peer_rows(
    peers: bool,
    rounds: usize,
    laurel: &Path,
    out: &Path,
    path: &Path,
) -> Vec<(String, Run)> {
    let p = path.to_str().unwrap();
    let mut rows = vec![(
        "wc -l".to_string(),
        repeat(rounds, || measure(Command::new("wc").args(["-l", p]), None)),
    )];
    if !peers {
        return rows;
    }
    if which("ausearch") {
        rows.push((
            "ausearch -i".into(),
            repeat(rounds, || {
                measure(Command::new("ausearch").args(["-i", "-if", p]), None)
            }),
        ));
    } else {
        println!("(ausearch not installed: apt-get install auditd)");
    }
    if laurel.exists() {
        let dir = out.join("laurel");
        let cfg = out.join("laurel.toml");
        std::fs::write(&cfg, format!(
            "directory = \"{}\"\nstatusreport-period = 0\ninput = \"stdin\"\n[auditlog]\nfile = \"out.log\"\nsize = 100000000000\ngenerations = 1\n[state]\nfile = \"state\"\ngenerations = 0\nmax-age = 60\n",
            dir.display()
        )).unwrap();
        // Each run from nothing: no output or state (its in-flight events
        // and processes) of the run before.
        let run = || {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            measure(Command::new(laurel).arg("-c").arg(&cfg), Some(path))
        };
        rows.push(("laurel 0.8.2".into(), repeat(rounds, run)));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(&cfg);
    } else {
        println!(
            "(laurel not found at {}: cargo install laurel --version 0.8.2 --root tools)",
            laurel.display()
        );
    }
    rows
}

/// The median of `rounds` runs of `run`.
fn repeat(rounds: usize, mut run: impl FnMut() -> Run) -> Run {
    median((0..rounds).map(|_| run()).collect())
}

/// The median wall and the median CPU of `runs` (each on its own), the
/// highest peak RSS; failed if any failed.
fn median(runs: Vec<Run>) -> Run {
    let mid = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut wall: Vec<f64> = runs.iter().map(|r| r.wall).collect();
    let mut cpu: Vec<f64> = runs.iter().map(|r| r.cpu).collect();
    let rss_mib = runs.iter().map(|r| r.rss_mib).fold(0.0, f64::max);
    let ok = runs.iter().all(|r| r.ok);
    Run {
        wall: mid(&mut wall),
        cpu: mid(&mut cpu),
        rss_mib,
        ok,
    }
}

fn which(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
