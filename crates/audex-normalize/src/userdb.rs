//! Names of uids and gids: the [`UserDb`] trait the normalizer asks.
//!
//! ENRICHED names on the record win (auditd resolved them on the host when it
//! wrote the line); otherwise the normalizer asks its `UserDb`.

/// Resolves user and group ids to names.
pub trait UserDb {
    fn user_name(&self, uid: u32) -> Option<String>;
    fn group_name(&self, gid: u32) -> Option<String>;
}

/// Knows no names (ENRICHED names on the records still apply).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoNames;

impl UserDb for NoNames {
    fn user_name(&self, _: u32) -> Option<String> {
        None
    }
    fn group_name(&self, _: u32) -> Option<String> {
        None
    }
}

impl<T: UserDb + ?Sized> UserDb for &T {
    fn user_name(&self, uid: u32) -> Option<String> {
        (**self).user_name(uid)
    }
    fn group_name(&self, gid: u32) -> Option<String> {
        (**self).group_name(gid)
    }
}

impl<T: UserDb + ?Sized> UserDb for Box<T> {
    fn user_name(&self, uid: u32) -> Option<String> {
        (**self).user_name(uid)
    }
    fn group_name(&self, gid: u32) -> Option<String> {
        (**self).group_name(gid)
    }
}

impl<T: UserDb + ?Sized> UserDb for std::sync::Arc<T> {
    fn user_name(&self, uid: u32) -> Option<String> {
        (**self).user_name(uid)
    }
    fn group_name(&self, gid: u32) -> Option<String> {
        (**self).group_name(gid)
    }
}
