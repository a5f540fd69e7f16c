//! Whether a user may reach a path, judged as the kernel judges that user
//! (never with the caller's own credentials): search permission on every
//! directory walked, symbolic links followed component by component (so a
//! link inside a directory the user cannot search does not lead past it),
//! and read permission on the target. Plain mode bits (owner, then group,
//! then other); no capability overrides (a privileged client does not need
//! this check), no ACLs. Takes an absolute path and the user's uid, gid and
//! supplementary groups; gives the resolved path, or the first component
//! that stops the user, with the reason. For the daemon's local socket
//! (`audex watch` without privilege).
use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Who asks (from the socket's `SO_PEERCRED` and the user's groups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

/// Why a path cannot be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No search (directory) or read (target) permission on this path.
    Permission(PathBuf),
    /// This path does not exist (or cannot be looked at).
    Missing(PathBuf),
    /// More than [`MAX_LINKS`] symbolic links.
    Loop(PathBuf),
    /// Not an absolute path.
    Relative(PathBuf),
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denied::Permission(p) => write!(f, "permission denied: {}", p.display()),
            Denied::Missing(p) => write!(f, "no such file or directory: {}", p.display()),
            Denied::Loop(p) => write!(f, "too many levels of symbolic links: {}", p.display()),
            Denied::Relative(p) => write!(f, "not an absolute path: {}", p.display()),
        }
    }
}

/// Symbolic links followed at most (the kernel's limit).
pub const MAX_LINKS: usize = 40;

/// Read, write and execute/search bits, as in a mode's "other" triple.
pub const READ: u32 = 4;
pub const SEARCH: u32 = 1;

/// Whether `cred` has all of `want` (READ, SEARCH) on an object with this
/// mode and owner: the owner's bits for the owner, else the group's for a
/// member, else the others'.
pub fn permits(mode: u32, uid: u32, gid: u32, cred: &Credentials, want: u32) -> bool {
    let bits = if cred.uid == uid {
        mode >> 6
    } else if cred.gid == gid || cred.groups.contains(&gid) {
        mode >> 3
    } else {
        mode
    };
    bits & want == want
}

fn allowed(p: &Path, cred: &Credentials, want: u32) -> Result<(), Denied> {
    let m = std::fs::metadata(p).map_err(|_| Denied::Missing(p.to_path_buf()))?;
    if permits(m.mode(), m.uid(), m.gid(), cred, want) {
        Ok(())
    } else {
        Err(Denied::Permission(p.to_path_buf()))
    }
}

/// The path `path` names, if `cred` may read it: every directory on the
/// way searchable by `cred`, links resolved one component at a time.
pub fn reach(path: &Path, cred: &Credentials) -> Result<PathBuf, Denied> {
    if !path.is_absolute() {
        return Err(Denied::Relative(path.to_path_buf()));
    }
    let mut pending: VecDeque<OsString> = VecDeque::new();
    push_front(&mut pending, path);
    let mut resolved = PathBuf::from("/");
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        match name.to_str() {
            Some("/") => {
                resolved = PathBuf::from("/");
                continue;
            }
            Some(".") => continue,
            Some("..") => {
                allowed(&resolved, cred, SEARCH)?;
                resolved.pop();
                continue;
            }
            _ => {}
        }
        allowed(&resolved, cred, SEARCH)?;
        let next = resolved.join(&name);
        let meta = std::fs::symlink_metadata(&next).map_err(|_| Denied::Missing(next.clone()))?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return Err(Denied::Loop(path.to_path_buf()));
            }
            let target = std::fs::read_link(&next).map_err(|_| Denied::Missing(next.clone()))?;
            push_front(&mut pending, &target);
        } else {
            resolved = next;
        }
    }
    allowed(&resolved, cred, READ)?;
    Ok(resolved)
}

/// Puts `p`'s components (a leading "/" for an absolute one) before the rest.
fn push_front(pending: &mut VecDeque<OsString>, p: &Path) {
    let parts: Vec<OsString> = p
        .components()
        .map(|c| match c {
            Component::RootDir => OsString::from("/"),
            Component::CurDir => OsString::from("."),
            Component::ParentDir => OsString::from(".."),
            Component::Normal(n) => n.to_os_string(),
            Component::Prefix(p) => p.as_os_str().to_os_string(),
        })
        .collect();
    for c in parts.into_iter().rev() {
        pending.push_front(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    /// Another user than the test's (the files here are the test's own, so
    /// this user gets the "other" bits), in the test's group or not.
    fn other(in_group: bool) -> Credentials {
        let gid = unsafe { libc::getegid() };
        Credentials {
            uid: unsafe { libc::geteuid() } + 4711,
            gid: 4711,
            groups: if in_group { vec![gid] } else { vec![] },
        }
    }

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("audex-access-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    fn mode(p: &Path, m: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    }

    #[test]
    fn a_world_readable_file_under_an_unsearchable_directory_is_refused() {
        let d = dir("search");
        let guarded = d.join("guarded");
        std::fs::create_dir(&guarded).unwrap();
        let f = guarded.join("public.txt");
        std::fs::write(&f, "x").unwrap();
        mode(&f, 0o644);
        mode(&guarded, 0o700);
        assert_eq!(
            reach(&f, &other(false)),
            Err(Denied::Permission(guarded.clone()))
        );
        assert_eq!(
            reach(&f, &other(false)).unwrap_err().to_string(),
            format!("permission denied: {}", guarded.display())
        );
        // Searchable (x without r) is enough to pass through.
        mode(&guarded, 0o711);
        assert_eq!(reach(&f, &other(false)), Ok(f.clone()));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn owner_group_and_other_bits_in_that_order() {
        let d = dir("bits");
        let f = d.join("f");
        std::fs::write(&f, "x").unwrap();
        mode(&f, 0o640);
        let me = Credentials {
            uid: unsafe { libc::geteuid() },
            gid: 1,
            groups: vec![],
        };
        assert!(reach(&f, &me).is_ok(), "the owner reads");
        assert!(reach(&f, &other(true)).is_ok(), "a group member reads");
        assert_eq!(reach(&f, &other(false)), Err(Denied::Permission(f.clone())));
        // The owner's bits decide for the owner even when others may read.
        mode(&f, 0o044);
        assert_eq!(reach(&f, &me), Err(Denied::Permission(f.clone())));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_link_inside_an_unsearchable_directory_does_not_lead_past_it() {
        let d = dir("links");
        let guarded = d.join("guarded");
        let open = d.join("open");
        std::fs::create_dir(&guarded).unwrap();
        std::fs::create_dir(&open).unwrap();
        std::fs::write(open.join("f"), "x").unwrap();
        symlink(&open, guarded.join("link")).unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        symlink("../open/f", d.join("sub/rel")).unwrap();
        mode(&guarded, 0o700);
        let who = other(false);
        assert_eq!(
            reach(&guarded.join("link/f"), &who),
            Err(Denied::Permission(guarded.clone()))
        );
        // Relative and absolute links resolve to the target, which is checked.
        assert_eq!(reach(&d.join("sub/rel"), &who), Ok(open.join("f")));
        mode(&open, 0o700);
        assert_eq!(
            reach(&d.join("sub/rel"), &who),
            Err(Denied::Permission(open.clone()))
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn missing_looping_and_relative_paths_are_named() {
        let d = dir("odd");
        let who = other(false);
        assert_eq!(
            reach(&d.join("nope"), &who),
            Err(Denied::Missing(d.join("nope")))
        );
        symlink(d.join("b"), d.join("a")).unwrap();
        symlink(d.join("a"), d.join("b")).unwrap();
        assert_eq!(reach(&d.join("a"), &who), Err(Denied::Loop(d.join("a"))));
        assert_eq!(
            reach(Path::new("rel/x"), &who),
            Err(Denied::Relative("rel/x".into()))
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
