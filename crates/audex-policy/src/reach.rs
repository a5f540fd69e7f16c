//! Whether a user could still reach an event's object when it happened,
//! judged from what the kernel wrote with the event: each PATH record's mode
//! and owner. The directory records (`nametype: PARENT`) must let the user
//! search them, the objects (every other record with a mode) must let the
//! user read them, by the plain owner/group/other bits
//! ([`audex_io::access::permits`]). A record without a mode (the kernel did
//! not look the name up) says nothing. Pure; for the daemon's local socket,
//! which stops delivering to a subscriber (and tells it) once root takes
//! the watched directory away.
use audex_io::access::{permits, Credentials, READ, SEARCH};
use audex_proto::v1::{AuditEvent, File};

/// An event's objects as the check needs them, decoded once for every
/// subscriber it is checked for: (mode, owner, group, wanted bits) per PATH
/// record that has them.
#[derive(Debug, Clone, Default)]
pub struct Objects(Vec<(u32, u32, u32, u32)>);

impl Objects {
    pub fn of(ev: &AuditEvent) -> Objects {
        Objects(
            ev.files
                .iter()
                .filter_map(|f| {
                    let mode = u32::from_str_radix(&f.mode, 8).ok()?;
                    let want = if f.nametype == "PARENT" { SEARCH } else { READ };
                    Some((mode, f.ouid?, f.ogid?, want))
                })
                .collect(),
        )
    }

    /// Whether `cred` could reach every object (as [`could_reach`]).
    pub fn reachable_by(&self, cred: &Credentials) -> bool {
        self.0
            .iter()
            .all(|&(mode, uid, gid, want)| permits(mode, uid, gid, cred, want))
    }
}

/// The first record of `ev` that stops `cred`, if any.
pub fn unreachable_record<'a>(ev: &'a AuditEvent, cred: &Credentials) -> Option<&'a File> {
    ev.files.iter().find(|f| {
        let (Some(mode), Some(uid), Some(gid)) =
            (u32::from_str_radix(&f.mode, 8).ok(), f.ouid, f.ogid)
        else {
            return false;
        };
        let want = if f.nametype == "PARENT" { SEARCH } else { READ };
        !permits(mode, uid, gid, cred, want)
    })
}

/// Whether `cred` could reach every object of `ev` when it happened.
pub fn could_reach(ev: &AuditEvent, cred: &Credentials) -> bool {
    unreachable_record(ev, cred).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, nametype: &str, mode: &str, owner: u32) -> File {
        File {
            path: path.into(),
            nametype: nametype.into(),
            mode: mode.into(),
            ouid: Some(owner),
            ogid: Some(owner),
            ..Default::default()
        }
    }

    fn write_in(dir_mode: &str, dir_owner: u32, file_mode: &str) -> AuditEvent {
        AuditEvent {
            files: vec![
                file("/srv/shared", "PARENT", dir_mode, dir_owner),
                file("/srv/shared/index.html", "NORMAL", file_mode, 1002),
            ],
            ..Default::default()
        }
    }

    fn user(uid: u32) -> Credentials {
        Credentials {
            uid,
            gid: uid,
            groups: vec![],
        }
    }

    #[test]
    fn a_shared_directory_then_root_takes_it_away() {
        let a = user(1001);
        for (ev, ok) in [
            (write_in("040777", 1001, "0100644"), true),
            (write_in("040700", 0, "0100644"), false),
            (write_in("040777", 1001, "0100600"), false),
        ] {
            assert_eq!(Objects::of(&ev).reachable_by(&a), ok);
            assert_eq!(could_reach(&ev, &a), ok);
        }
        // 0777 shared directory, B's 0644 file: A may see it.
        assert!(could_reach(&write_in("040777", 1001, "0100644"), &a));
        // chown root; chmod 700: the parent record now stops A.
        let ev = write_in("040700", 0, "0100644");
        assert_eq!(unreachable_record(&ev, &a).unwrap().path, "/srv/shared");
        // B's file made private: A may not read the object.
        let ev = write_in("040777", 1001, "0100600");
        assert_eq!(
            unreachable_record(&ev, &a).unwrap().path,
            "/srv/shared/index.html"
        );
    }

    #[test]
    fn groups_count_and_records_without_a_mode_say_nothing() {
        let mut a = user(1001);
        let mut ev = write_in("040750", 0, "0100640");
        // B's file, in group 0.
        ev.files[1].ogid = Some(0);
        assert!(!could_reach(&ev, &a));
        a.groups = vec![0];
        assert!(could_reach(&ev, &a));
        let unknown = AuditEvent {
            files: vec![File {
                path: "/x".into(),
                nametype: "UNKNOWN".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(could_reach(&unknown, &user(5)));
    }
}
