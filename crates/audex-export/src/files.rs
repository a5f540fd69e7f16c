//! The `jsonl` exporter (a file, or `-` for standard output); the `protobuf_file`
//! archive is in [`crate::archive`]. A batch is acknowledged only once it is
//! written and fsynced.
use crate::delivery::{Accepted, ExportError, ExportFuture, Exporter};
use crate::encoding::{Encoder, JsonLineEncoding};
use crate::spool::Spooled;
use audex_proto::v1::AuditEvent;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn io_err(what: &str, e: io::Error) -> ExportError {
    // A full disk or a vanished directory may recover: keep the events and retry.
    ExportError::Retryable {
        reason: format!("{what}: {e}"),
        retry_after: Some(Duration::from_secs(1)),
    }
}

/// JSON lines of the event contract (or ECS documents, `format: ecs`) to a
/// file (appended, fsynced per batch) or `-`.
pub struct JsonLinesFile {
    name: String,
    path: Option<PathBuf>,
    out: Box<dyn Write + Send>,
    encoding: JsonLineEncoding,
}

impl JsonLinesFile {
    pub fn new(name: &str, path: &Path) -> Result<JsonLinesFile, String> {
        if path.as_os_str() == "-" {
            return Ok(JsonLinesFile {
                name: name.into(),
                path: None,
                out: Box::new(io::stdout()),
                encoding: JsonLineEncoding::default(),
            });
        }
        // Exported events name every user's commands and files: 0600, like the archive.
        let f = crate::private::options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("jsonl file {}: {e}", path.display()))?;
        Ok(JsonLinesFile {
            name: name.into(),
            path: Some(path.to_path_buf()),
            out: Box::new(BufWriter::with_capacity(256 << 10, f)),
            encoding: JsonLineEncoding::default(),
        })
    }

    /// Writes one ECS document per line instead of the event contract (for
    /// Elastic Agent or Filebeat shipping the file).
    pub fn ecs(mut self, ecs: bool) -> JsonLinesFile {
        self.encoding.ecs = ecs;
        self
    }
}

impl Exporter for JsonLinesFile {
    fn name(&self) -> &str {
        &self.name
    }

    fn export<'a>(&'a mut self, events: &'a [AuditEvent]) -> ExportFuture<'a> {
        Box::pin(async move {
            let what = self.what();
            for e in events {
                self.write_event(e, &what)?;
            }
            self.finish_batch(&what)?;
            Ok(Accepted::default())
        })
    }

    /// The spool keeps the finished line (see [`JsonLineEncoding`]).
    fn encoder(&self) -> Box<dyn Encoder> {
        Box::new(self.encoding)
    }

    fn export_spooled<'a>(&'a mut self, entries: &'a [Spooled]) -> ExportFuture<'a> {
        Box::pin(async move {
            let what = self.what();
            let mut bad = 0u64;
            for (_, b) in entries {
                if b.first() == Some(&b'{') {
                    self.out.write_all(b).map_err(|e| io_err(&what, e))?;
                    continue;
                }
                // A protobuf entry (spooled by an older audex, or an event JSON
                // could not encode): as before.
                match <AuditEvent as prost::Message>::decode(&b[..]) {
                    Ok(e) => self.write_event(&e, &what)?,
                    Err(_) => bad += 1,
                }
            }
            self.finish_batch(&what)?;
            let mut acc = Accepted::default();
            if bad > 0 {
                acc.rejected = bad;
                acc.message = format!("{bad} spool entries did not decode");
            }
            Ok(acc)
        })
    }
}

impl JsonLinesFile {
    fn what(&self) -> String {
        self.path
            .as_ref()
            .map_or("standard output".to_string(), |p| p.display().to_string())
    }

    /// One event as a JSON line.
    fn write_event(&mut self, e: &AuditEvent, what: &str) -> Result<(), ExportError> {
        let mut line = Vec::with_capacity(4096);
        self.encoding
            .line(e, &mut line)
            .map_err(|e| io_err(what, e))?;
        self.out.write_all(&line).map_err(|e| io_err(what, e))
    }

    /// Flushes, and fsyncs a file: durable before the spool lets the batch go.
    fn finish_batch(&mut self, what: &str) -> Result<(), ExportError> {
        self.out.flush().map_err(|e| io_err(what, e))?;
        if let Some(p) = &self.path {
            File::open(p)
                .and_then(|f| f.sync_data())
                .map_err(|e| io_err(what, e))?;
        }
        Ok(())
    }
}
