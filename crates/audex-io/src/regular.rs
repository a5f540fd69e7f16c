//! Opening a file an operator (or an attacker) named: only regular files, never
//! blocking on a FIFO, with a size limit per kind of file.
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The kinds of file audex reads whole, each with its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `audex.yaml` (1 MiB: the largest real config is a few KiB).
    Config,
    /// A chain or hash key (64 KiB).
    Key,
    /// A PEM CA bundle, client certificate or key (4 MiB: the whole Mozilla bundle is 220 KiB).
    Pem,
    /// A rules file in auditctl syntax (16 MiB).
    Rules,
    /// A checkpoints file (JSON lines) for `verify --checkpoints` (256 MiB).
    Checkpoints,
    /// A small state file written by audex itself (chain-heads: 1 MiB).
    State,
}

impl FileKind {
    /// The size limit of this kind of file.
    pub const fn limit(self) -> u64 {
        match self {
            FileKind::Config => 1 << 20,
            FileKind::Key => 64 << 10,
            FileKind::Pem => 4 << 20,
            FileKind::Rules => 16 << 20,
            FileKind::Checkpoints => 256 << 20,
            FileKind::State => 1 << 20,
        }
    }
}

/// What a file is when it is not a regular file, for messages.
fn not_regular(ft: std::fs::FileType) -> Option<&'static str> {
    if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some("a directory")
    } else if ft.is_fifo() {
        Some("a FIFO")
    } else if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_block_device() {
        Some("a block device")
    } else if ft.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    }
}

/// Opens `path` for reading if it is a regular file (after symlinks). Opening
/// never blocks: a FIFO is opened non-blocking, found out by `fstat` and
/// refused. Errors name `what` and the path.
pub fn open_regular(path: &Path, what: &str) -> io::Result<File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| named(e, what, path))?;
    let ft = f.metadata().map_err(|e| named(e, what, path))?.file_type();
    if let Some(k) = not_regular(ft) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} {} is {k}, not a regular file", path.display()),
        ));
    }
    // Regular files ignore O_NONBLOCK; clear it anyway so nothing later is surprised.
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor this function owns.
    unsafe {
        let fd = f.as_raw_fd();
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(f)
}

fn named(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// Reads a whole regular file of `kind`, refusing one larger than its limit
/// (checked while reading, so a file that grows is refused too).
pub fn read_limited(path: &Path, kind: FileKind, what: &str) -> io::Result<Vec<u8>> {
    let f = open_regular(path, what)?;
    let limit = kind.limit();
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > limit {
        return Err(too_large(what, path, limit));
    }
    let mut buf = Vec::with_capacity(len as usize);
    f.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| named(e, what, path))?;
    if buf.len() as u64 > limit {
        return Err(too_large(what, path, limit));
    }
    Ok(buf)
}

fn too_large(what: &str, path: &Path, limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{what} {} is larger than the {} limit for it",
            path.display(),
            human(limit)
        ),
    )
}

fn human(n: u64) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "audex-io-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let d = dir();
        let fifo = d.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a path we own.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_limited(&fifo, FileKind::Key, "key file").unwrap_err();
        assert!(
            e.to_string().contains("is a FIFO, not a regular file"),
            "{e}"
        );
        let e = read_limited(&d, FileKind::Config, "config").unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let e = read_limited(Path::new("/dev/zero"), FileKind::Pem, "CA file").unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn refuses_a_file_over_its_limit() {
        let d = dir();
        let p = d.join("big");
        std::fs::write(&p, vec![b'a'; (64 << 10) + 1]).unwrap();
        let e = read_limited(&p, FileKind::Key, "key file").unwrap_err();
        assert!(
            e.to_string().contains("larger than the 64 KiB limit"),
            "{e}"
        );
        std::fs::write(&p, b"0123456789abcdef").unwrap();
        assert_eq!(
            read_limited(&p, FileKind::Key, "key file").unwrap().len(),
            16
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
