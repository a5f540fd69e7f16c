//! What `audex replay FILE|DIR...` reads: paths expanded (a directory gives its
//! `audit.log*` files), each opened safely (regular files and FIFOs; devices
//! refused; `.gz` and `.zst` decompressed) and put in time order by the first record of
//! each, so `audit.log audit.log.1` or `audit.log.1 audit.log` replay alike.
use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Lines looked at for a file's first timestamp.
const PEEK_LINES: usize = 64;

/// One input, not yet opened for reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "standard input".into(),
            Input::File(p) => p.display().to_string(),
        }
    }

    /// Checks that it can be read, without opening it (opening a FIFO to
    /// check it would cost its writer the data); its size when it is a
    /// regular uncompressed file.
    pub fn check(&self) -> Result<Option<u64>> {
        let p = match self {
            Input::Stdin => return Ok(None),
            Input::File(p) => p,
        };
        let meta = std::fs::metadata(p).with_context(|| format!("cannot read {}", p.display()))?;
        let ft = meta.file_type();
        // /dev/null (1:3) is an empty input (`replay /dev/null --config` drains
        // the spool); other devices never end (/dev/zero) or are not logs.
        let null = ft.is_char_device() && meta.rdev() == libc::makedev(1, 3);
        if (ft.is_char_device() && !null) || ft.is_block_device() || ft.is_dir() {
            bail!(
                "cannot read {}: it is {}, not a log file",
                p.display(),
                if ft.is_dir() {
                    "a directory"
                } else {
                    "a device"
                }
            );
        }
        Ok((meta.is_file() && compression(p).is_none()).then_some(meta.len()))
    }

    /// Opens it: bytes as they are, or decompressed for `*.gz` and `*.zst`.
    pub fn open(&self) -> Result<Box<dyn Read + Send>> {
        let p = match self {
            Input::Stdin => return Ok(Box::new(io::stdin())),
            Input::File(p) => p,
        };
        self.check()?;
        let f = File::open(p).with_context(|| format!("cannot read {}", p.display()))?;
        Ok(match compression(p) {
            Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(f)),
            // libzstd reads every frame of the file (as `zstd -T0` writes
            // them) and refuses windows over 128 MiB (its default limit): a
            // hostile header cannot make memory grow past that.
            Some(Compression::Zstd) => Box::new(
                zstd::stream::read::Decoder::new(f)
                    .with_context(|| format!("cannot read {}", p.display()))?,
            ),
            None => Box::new(f),
        })
    }
}

/// How a log file is compressed, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    Gzip,
    Zstd,
}

fn compression(p: &Path) -> Option<Compression> {
    match p.extension()?.to_str()? {
        "gz" => Some(Compression::Gzip),
        "zst" => Some(Compression::Zstd),
        _ => None,
    }
}

impl Input {
    /// A regular file (compressed or not): one that can be read twice.
    fn is_regular(&self) -> bool {
        matches!(self, Input::File(p) if p.is_file())
    }
}

/// The inputs named on the command line: none or `-` is standard input; a
/// directory gives its `audit.log`, `audit.log.N` (and `.gz`, `.zst`) files.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<Input>> {
    if paths.is_empty() {
        return Ok(vec![Input::Stdin]);
    }
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            if out.contains(&Input::Stdin) {
                bail!("standard input (`-`) given twice");
            }
            out.push(Input::Stdin);
        } else if p.is_dir() {
            let mut found = Vec::new();
            for e in std::fs::read_dir(p).with_context(|| format!("cannot read {}", p.display()))? {
                let f = e
                    .with_context(|| format!("cannot read {}", p.display()))?
                    .path();
                let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with("audit.log") && f.is_file() {
                    found.push(f);
                }
            }
            if found.is_empty() {
                bail!("{}: no audit.log files in this directory", p.display());
            }
            // auditd's rotation: audit.log.N is older than audit.log.(N-1).
            found.sort_by_key(|f| std::cmp::Reverse(rotation_number(f)));
            out.extend(found.into_iter().map(Input::File));
        } else {
            out.push(Input::File(p.clone()));
        }
    }
    Ok(out)
}

/// `audit.log` is 0, `audit.log.3` (or `audit.log.3.gz`) is 3.
fn rotation_number(p: &Path) -> u64 {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let rest = name
        .trim_start_matches("audit.log")
        .trim_end_matches(".gz")
        .trim_end_matches(".zst");
    rest.trim_start_matches('.').parse().unwrap_or(0)
}

/// The first record time (seconds.millis as ms) of an input, from its first
/// lines; None for standard input and FIFOs (which cannot be read twice) or
/// when none of them parses.
pub fn first_time_ms(input: &Input) -> Option<u64> {
    if !input.is_regular() {
        return None;
    }
    let r = input.open().ok()?;
    let mut r = BufReader::new(r);
    let mut line = Vec::new();
    for _ in 0..PEEK_LINES {
        match audex_io::read_line(&mut r, &mut line, audex_parse::MAX_RECORD_BYTES + 2).ok()? {
            audex_io::Line::Eof => return None,
            audex_io::Line::TooLong { .. } => continue,
            audex_io::Line::Complete { .. } => {
                if let Ok(rec) = audex_parse::parse_line(&line) {
                    return Some(rec.time.as_millis());
                }
            }
        }
    }
    None
}

/// Puts the inputs in time order (by first record; standard input, FIFOs and
/// inputs without a readable first record come after the dated ones, in the
/// order given). Returns the inputs with their first record times, and
/// whether the order changed.
pub fn in_time_order(inputs: Vec<Input>) -> (Vec<(Option<u64>, Input)>, bool) {
    if inputs.len() < 2 {
        // Nothing to order (and a single large `.gz` is not opened twice).
        return (inputs.into_iter().map(|i| (None, i)).collect(), false);
    }
    let mut keyed: Vec<(u64, usize, Input)> = inputs
        .into_iter()
        .enumerate()
        .map(|(i, inp)| (first_time_ms(&inp).unwrap_or(u64::MAX), i, inp))
        .collect();
    keyed.sort_by_key(|(t, i, _)| (*t, *i));
    let moved = keyed.iter().enumerate().any(|(pos, (_, i, _))| pos != *i);
    let dated = |t: u64| (t != u64::MAX).then_some(t);
    (
        keyed
            .into_iter()
            .map(|(t, _, inp)| (dated(t), inp))
            .collect(),
        moved,
    )
}

/// Records of one log are in time order up to this much (auditd writes in
/// serial order; times of neighbouring events interleave by milliseconds).
const REORDER_SLACK_MS: u64 = 60_000;

/// The inputs (in time order, with first record times) that can hold records
/// in `[from, to)` (milliseconds): an input that begins at or after `to` is
/// left out, and so is one whose successor begins well before `from` (its
/// records all come before its successor's). Returns those kept and the
/// number left out.
pub fn within(
    inputs: Vec<(Option<u64>, Input)>,
    from: Option<u64>,
    to: Option<u64>,
) -> (Vec<Input>, usize) {
    let next_first: Vec<Option<u64>> = inputs
        .iter()
        .skip(1)
        .map(|(t, _)| *t)
        .chain([None])
        .collect();
    let total = inputs.len();
    let kept: Vec<Input> = inputs
        .into_iter()
        .zip(next_first)
        .filter(|((first, _), next)| {
            let starts_late = matches!((first, to), (Some(f), Some(t)) if *f >= t);
            let ends_early =
                matches!((next, from), (Some(n), Some(f)) if n + REORDER_SLACK_MS <= f);
            !starts_late && !ends_early
        })
        .map(|((_, inp), _)| inp)
        .collect();
    let skipped = total - kept.len();
    (kept, skipped)
}

/// Reads the inputs one after the other as one stream (a file that does not
/// end with a newline gets one, so its last line is not glued to the next).
pub struct Chain {
    inputs: std::vec::IntoIter<Input>,
    /// The input being read, with its name for errors.
    current: Option<(String, Box<dyn Read + Send>)>,
    last: u8,
    /// Lines of text: a newline is added where an input ends without one.
    text: bool,
}

impl Chain {
    pub fn new(inputs: Vec<Input>, text: bool) -> Chain {
        Chain {
            inputs: inputs.into_iter(),
            current: None,
            last: b'\n',
            text,
        }
    }
}

impl Read for Chain {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.current.is_none() {
                if self.text && self.last != b'\n' {
                    self.last = b'\n';
                    buf[0] = b'\n';
                    return Ok(1);
                }
                let Some(next) = self.inputs.next() else {
                    return Ok(0);
                };
                let r = next
                    .open()
                    .map_err(|e| io::Error::other(format!("{e:#}")))?;
                self.current = Some((next.name(), r));
            }
            // A read error (a damaged compressed member) names its input.
            let n = match self.current.as_mut() {
                Some((name, r)) => r
                    .read(buf)
                    .map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))?,
                None => 0,
            };
            if n > 0 {
                self.last = buf[n - 1];
                return Ok(n);
            }
            self.current = None;
        }
    }
}
