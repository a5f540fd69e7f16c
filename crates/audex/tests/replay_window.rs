//! `audex replay --from/--to` over a rotated set: exactly the events in the
//! window (the same as a whole replay filtered by time), and inputs wholly
//! outside it are not read at all.
use std::path::{Path, PathBuf};
use std::process::Command;

fn golden() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/kernel-raw.log"),
    )
    .unwrap()
}

/// The log with `secs` added to every time and `serials` to every serial.
fn shifted(log: &str, secs: u64, serials: u64) -> String {
    let mut out = String::new();
    for line in log.lines() {
        let Some(at) = line.find("msg=audit(") else {
            continue;
        };
        let start = at + "msg=audit(".len();
        let end = start + line[start..].find(')').unwrap();
        let (time, serial) = line[start..end].split_once(':').unwrap();
        let (s, ms) = time.split_once('.').unwrap();
        let s: u64 = s.parse::<u64>().unwrap() + secs;
        let serial: u64 = serial.parse::<u64>().unwrap() + serials;
        out.push_str(&format!(
            "{}{s}.{ms}:{serial}{}\n",
            &line[..start],
            &line[end..]
        ));
    }
    out
}

fn first_secs(log: &str) -> u64 {
    let start = log.find("msg=audit(").unwrap() + "msg=audit(".len();
    log[start..start + 10].parse().unwrap()
}

/// The events (JSON) and summary of a replay of `dir` (gaps ignored: the
/// copies' serials jump on purpose).
fn replay(dir: &Path, extra: &[&str]) -> (Vec<serde_json::Value>, String) {
    use std::ffi::OsStr;
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("--no-names"),
        OsStr::new("--ignore-gaps"),
        dir.as_os_str(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    let (out, summary) = run_replay(&args, None);
    let events = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (events, summary)
}

fn secs_of(ev: &serde_json::Value) -> f64 {
    let t = ev["time"].as_str().unwrap();
    let t: jiff::Timestamp = t.parse().unwrap();
    t.as_millisecond() as f64 / 1000.0
}

#[test]
fn only_the_window_and_only_the_inputs_that_can_hold_it() {
    let log = golden();
    let t0 = first_secs(&log);
    let dir: PathBuf = std::env::temp_dir().join(format!("audex-window-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Oldest: ends with a line that does not parse, so reading it shows.
    let oldest = shifted(&log, 0, 0) + "this is not an audit record\n";
    std::fs::write(dir.join("audit.log.2"), oldest).unwrap();
    // Two copies 100 s apart: the window cuts between them.
    let middle = shifted(&log, 1000, 100_000) + &shifted(&log, 1100, 200_000);
    std::fs::write(dir.join("audit.log.1"), middle).unwrap();
    std::fs::write(dir.join("audit.log"), shifted(&log, 2000, 300_000)).unwrap();

    let (all, summary) = replay(&dir, &[]);
    assert!(summary.contains("; 1 parse errors;"), "{summary}");
    let (from, to) = (t0 + 1100, t0 + 1500);
    let (windowed, summary) = replay(
        &dir,
        &["--from", &from.to_string(), "--to", &to.to_string()],
    );
    assert!(
        summary.contains("; 0 parse errors;"),
        "the oldest input was read: {summary}"
    );
    assert!(
        summary.contains("2 inputs wholly outside not read"),
        "{summary}"
    );
    let expected: Vec<&serde_json::Value> = all
        .iter()
        .filter(|e| (from as f64..to as f64).contains(&secs_of(e)))
        .collect();
    assert!(!expected.is_empty() && expected.len() < all.len() / 3);
    assert_eq!(windowed.iter().collect::<Vec<_>>(), expected);
    // An RFC 3339 bound is the same bound.
    let rfc = jiff::Timestamp::from_second(from as i64)
        .unwrap()
        .to_string();
    let (same, _) = replay(&dir, &["--from", &rfc, "--to", &to.to_string()]);
    assert_eq!(same, windowed);
    // A bound that is not a time is named.
    let out = Command::new(env!("CARGO_BIN_EXE_audex"))
        .args(["replay", "--from", "yesterday"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--from") && err.contains("is not a time"),
        "{err}"
    );
}

/// The replay's JSON lines and summary for `args`, `stdin` fed when given.
fn run_replay(args: &[&std::ffi::OsStr], stdin: Option<&[u8]>) -> (String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_audex"))
        .arg("replay")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut sin = child.stdin.take().unwrap();
    if let Some(b) = stdin {
        sin.write_all(b).unwrap();
    }
    drop(sin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_rotated_set_with_compressed_members_and_a_cut_event_is_one_stream() {
    let log = golden();
    let lines: Vec<&str> = log.lines().collect();
    let dir = std::env::temp_dir().join(format!("audex-rotated-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let chunk = |a: usize, b: usize| lines[a..b].join("\n") + "\n";
    // Cuts inside events: lines 40, 75 and 101 are not all event boundaries.
    std::fs::write(dir.join("audit.log.3"), chunk(0, 40)).unwrap();
    let gz = Command::new("gzip")
        .arg("-f")
        .arg(dir.join("audit.log.3"))
        .status()
        .unwrap();
    assert!(gz.success() && dir.join("audit.log.3.gz").is_file());
    // Two zstd frames one after the other, as `zstd -T0` writes a large file.
    let mut zst = zstd::encode_all(chunk(40, 60).as_bytes(), 3).unwrap();
    zst.extend(zstd::encode_all(chunk(60, 75).as_bytes(), 3).unwrap());
    std::fs::write(dir.join("audit.log.2.zst"), zst).unwrap();
    // This one ends without a newline, inside an event.
    std::fs::write(dir.join("audit.log.1"), chunk(75, 101).trim_end()).unwrap();
    std::fs::write(dir.join("audit.log"), chunk(101, lines.len())).unwrap();
    let serial = |l: &str| {
        l.split(':')
            .nth(1)
            .map(|s| s.split(')').next().unwrap().to_string())
    };
    let cut = |i: usize| serial(lines[i - 1]) == serial(lines[i]);
    assert!(
        cut(40) || cut(75) || cut(101),
        "the split must cut an event"
    );

    let (set, summary) = run_replay(&[dir.as_os_str(), "--no-names".as_ref()], None);
    let (whole, _) = run_replay(&["-".as_ref(), "--no-names".as_ref()], Some(log.as_bytes()));
    assert_eq!(set, whole, "{summary}");
    assert!(
        summary.contains("; 0 parse errors; 0 lost serials"),
        "{summary}"
    );
    // A damaged compressed member is an error naming it, not a silent end.
    std::fs::write(dir.join("audit.log.2.zst"), b"\x28\xb5\x2f\xfdgarbage").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_audex"))
        .arg("replay")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("audit.log.2.zst: "), "{err}");
}
