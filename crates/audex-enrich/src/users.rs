//! [`PasswdDb`]: uid/gid names from `etc/passwd` and `etc/group` under a root,
//! reloaded when either file changes (checked at most once a second).
use audex_normalize::UserDb;
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime};

#[derive(Default)]
struct Tables {
    users: FxHashMap<u32, String>,
    groups: FxHashMap<u32, String>,
    stamp: (Option<SystemTime>, Option<SystemTime>),
    checked: Option<Instant>,
}

/// Names of users and groups from the passwd and group files of a host root.
pub struct PasswdDb {
    passwd: PathBuf,
    group: PathBuf,
    tables: RwLock<Tables>,
    calls: AtomicU64,
}

const RECHECK: Duration = Duration::from_secs(1);

impl PasswdDb {
    /// Reads `ROOT/etc/passwd` and `ROOT/etc/group`. Missing files give no names.
    pub fn new(root: impl AsRef<Path>) -> Self {
        let root = root.as_ref();
        let db = PasswdDb {
            passwd: root.join("etc/passwd"),
            group: root.join("etc/group"),
            tables: RwLock::new(Tables::default()),
            calls: AtomicU64::new(1),
        };
        db.reload_if_changed(true);
        db
    }

    fn stamp(&self) -> (Option<SystemTime>, Option<SystemTime>) {
        let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        (m(&self.passwd), m(&self.group))
    }

    fn reload_if_changed(&self, force: bool) {
        // Reading the clock on every lookup costs more than the lookup: look at it
        // every 64th call (and at most once a second stat the files).
        if !force
            && !self
                .calls
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(64)
        {
            return;
        }
        if !force {
            let t = self.tables.read().unwrap_or_else(|e| e.into_inner());
            if t.checked.is_some_and(|c| c.elapsed() < RECHECK) {
                return;
            }
        }
        let stamp = self.stamp();
        let mut t = self.tables.write().unwrap_or_else(|e| e.into_inner());
        t.checked = Some(Instant::now());
        if !force && t.stamp == stamp {
            return;
        }
        t.users = read_table(&self.passwd);
        t.groups = read_table(&self.group);
        t.stamp = stamp;
    }
}

/// `name:x:id:...` lines; the first name of an id wins.
fn read_table(path: &Path) -> FxHashMap<u32, String> {
    let mut m = FxHashMap::default();
    let Ok(text) = std::fs::read_to_string(path) else {
        return m;
    };
    for line in text.lines() {
        let mut it = line.split(':');
        let (Some(name), Some(_), Some(id)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        if let Ok(id) = id.trim().parse::<u32>() {
            m.entry(id).or_insert_with(|| name.to_string());
        }
    }
    m
}

impl UserDb for PasswdDb {
    fn user_name(&self, uid: u32) -> Option<String> {
        self.reload_if_changed(false);
        self.tables
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .users
            .get(&uid)
            .cloned()
    }

    fn group_name(&self, gid: u32) -> Option<String> {
        self.reload_if_changed(false);
        self.tables
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .groups
            .get(&gid)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_reloads() {
        let dir = std::env::temp_dir().join(format!("audex-users-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/a:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.join("etc/group"), "root:x:0:\nstaff:x:50:alice\n").unwrap();
        let db = PasswdDb::new(&dir);
        assert_eq!(db.user_name(1000).as_deref(), Some("alice"));
        assert_eq!(db.group_name(50).as_deref(), Some("staff"));
        assert_eq!(db.user_name(7), None);
        std::thread::sleep(Duration::from_millis(1100));
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/home/b:/bin/sh\n",
        )
        .unwrap();
        // mtime granularity: make sure it differs.
        let later = SystemTime::now() + Duration::from_secs(2);
        std::fs::File::options()
            .write(true)
            .open(dir.join("etc/passwd"))
            .unwrap()
            .set_modified(later)
            .unwrap();
        // Noticed within 64 lookups.
        let seen = (0..64)
            .map(|_| db.user_name(1000))
            .any(|n| n.as_deref() == Some("bob"));
        assert!(seen);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
