//! Files that hold collected events or keys (archive segments, chain heads,
//! spool segments) are created readable by their owner only (0600), their
//! directories 0700: an audit trail names every user's commands and files.
use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Open options that create a file with mode 0600 (the umask may only narrow it).
pub fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(0o600);
    o
}

/// Creates (truncating) a 0600 file for writing.
pub fn private_file(path: &Path) -> io::Result<std::fs::File> {
    options().create(true).write(true).truncate(true).open(path)
}

/// Creates `dir` and its missing parents; `dir` itself ends up 0700 even when it
/// existed with a wider mode (it is ours: an archive or spool directory).
pub fn private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, Permissions::from_mode(mode & 0o700))?;
    }
    Ok(())
}
