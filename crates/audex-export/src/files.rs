//! File exporters: `protobuf_file` (an archive of length-delimited AuditEvents in
//! rotating segment files) and `jsonl` (a file, or `-` for standard output).
//! A batch is acknowledged only once it is written and fsynced.
use crate::delivery::{Accepted, ExportError, ExportFuture, Exporter};
use audex_proto::v1::AuditEvent;
use prost::Message;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn io_err(what: &str, e: io::Error) -> ExportError {
    // A full disk or a vanished directory may recover: keep the events and retry.
    ExportError::Retryable {
        reason: format!("{what}: {e}"),
        retry_after: Some(Duration::from_secs(1)),
    }
}

/// Rotating archive segments: `DIR/audex-<unix ms>-<n>.pb`, written as
/// `.pb.partial` and renamed when closed. Each segment is a stream of
/// varint-length-prefixed `audex.v1.AuditEvent` messages (like `replay --format proto`).
pub struct ProtobufFile {
    name: String,
    dir: PathBuf,
    max_bytes: u64,
    max_age: Duration,
    current: Option<(BufWriter<File>, PathBuf, u64, Instant)>,
    n: u64,
    buf: Vec<u8>,
}

impl ProtobufFile {
    pub fn new(
        name: &str,
        dir: impl Into<PathBuf>,
        max_bytes: u64,
        max_age: Duration,
    ) -> Result<ProtobufFile, String> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("archive directory {}: {e}", dir.display()))?;
        // Close what a previous run left open.
        for e in std::fs::read_dir(&dir)
            .map_err(|e| format!("archive directory {}: {e}", dir.display()))?
            .flatten()
        {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "partial") {
                let _ = std::fs::rename(&p, p.with_extension(""));
            }
        }
        Ok(ProtobufFile {
            name: name.into(),
            dir,
            max_bytes: max_bytes.max(1024),
            max_age,
            current: None,
            n: 0,
            buf: Vec::new(),
        })
    }

    fn close(&mut self) -> io::Result<()> {
        if let Some((mut w, path, _, _)) = self.current.take() {
            w.flush()?;
            w.get_ref().sync_all()?;
            std::fs::rename(&path, path.with_extension(""))?;
        }
        Ok(())
    }

    fn writer(&mut self) -> io::Result<&mut (BufWriter<File>, PathBuf, u64, Instant)> {
        let stale = self.current.as_ref().is_some_and(|(_, _, bytes, opened)| {
            *bytes >= self.max_bytes || opened.elapsed() >= self.max_age
        });
        if stale {
            self.close()?;
        }
        if self.current.is_none() {
            let ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            self.n += 1;
            let path = self
                .dir
                .join(format!("audex-{ms:013}-{:06}.pb.partial", self.n));
            let f = OpenOptions::new()
                .create_new(true)
                .write(true)
                .open(&path)?;
            self.current = Some((
                BufWriter::with_capacity(256 << 10, f),
                path,
                0,
                Instant::now(),
            ));
        }
        Ok(self.current.as_mut().unwrap())
    }

    fn write_batch(&mut self, events: &[AuditEvent]) -> io::Result<()> {
        let mut buf = std::mem::take(&mut self.buf);
        let w = self.writer()?;
        for e in events {
            buf.clear();
            e.encode_length_delimited(&mut buf)
                .map_err(io::Error::other)?;
            w.0.write_all(&buf)?;
            w.2 += buf.len() as u64;
        }
        w.0.flush()?;
        w.0.get_ref().sync_data()?;
        self.buf = buf;
        Ok(())
    }
}

impl Drop for ProtobufFile {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl Exporter for ProtobufFile {
    fn name(&self) -> &str {
        &self.name
    }

    fn export<'a>(&'a mut self, events: &'a [AuditEvent]) -> ExportFuture<'a> {
        Box::pin(async move {
            self.write_batch(events)
                .map_err(|e| io_err(&format!("archive {}", self.dir.display()), e))?;
            Ok(Accepted::default())
        })
    }
}

/// JSON lines of the event contract to a file (appended, fsynced per batch) or `-`.
pub struct JsonLinesFile {
    name: String,
    path: Option<PathBuf>,
    out: Box<dyn Write + Send>,
}

impl JsonLinesFile {
    pub fn new(name: &str, path: &Path) -> Result<JsonLinesFile, String> {
        if path.as_os_str() == "-" {
            return Ok(JsonLinesFile {
                name: name.into(),
                path: None,
                out: Box::new(io::stdout()),
            });
        }
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("jsonl file {}: {e}", path.display()))?;
        Ok(JsonLinesFile {
            name: name.into(),
            path: Some(path.to_path_buf()),
            out: Box::new(BufWriter::with_capacity(256 << 10, f)),
        })
    }
}

impl Exporter for JsonLinesFile {
    fn name(&self) -> &str {
        &self.name
    }

    fn export<'a>(&'a mut self, events: &'a [AuditEvent]) -> ExportFuture<'a> {
        Box::pin(async move {
            let what = self
                .path
                .as_ref()
                .map_or("standard output".to_string(), |p| p.display().to_string());
            for e in events {
                serde_json::to_writer(&mut self.out, e)
                    .map_err(|e| io_err(&what, io::Error::other(e)))?;
                self.out.write_all(b"\n").map_err(|e| io_err(&what, e))?;
            }
            self.out.flush().map_err(|e| io_err(&what, e))?;
            if let Some(p) = &self.path {
                // Durable before the spool lets the batch go.
                File::open(p)
                    .and_then(|f| f.sync_data())
                    .map_err(|e| io_err(&what, e))?;
            }
            Ok(Accepted::default())
        })
    }
}
