//! What a running `audex run` tells `audex status`, which reads the kernel but
//! not the daemon's config: a small JSON file, `status.json` (0600) in the
//! runtime directory (`$AUDEX_RUNTIME_DIR`, default `/run/audex`, made 0700;
//! the local socket, when it lives there, makes it searchable), rewritten by
//! the daemon about once a second and removed when it stops. Input: the
//! daemon's view (pid, rules owned, lock, enforce, backlog high water). Output:
//! the file, and the lines `status` prints from it.
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::Ordering;

pub fn runtime_dir() -> PathBuf {
    std::env::var_os("AUDEX_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/run/audex".into())
}

fn file() -> PathBuf {
    runtime_dir().join("status.json")
}

/// The daemon's side: what it says about itself.
pub struct State {
    pub node: String,
    pub rules_owned: usize,
    pub locked: bool,
    pub enforce: bool,
    /// Filters pushed down to the kernel, with their rules (auditctl syntax).
    pub pushed: Vec<String>,
    /// The local socket: its path, subscriptions, kernel watches.
    pub local: Option<(String, usize, usize)>,
}

/// Writes the state (best effort: `status` then just shows less).
pub fn write(s: &State) {
    let m = &crate::metrics::METRICS;
    let v = json!({
        "pid": std::process::id(),
        "node": s.node,
        "rules_owned": s.rules_owned,
        "locked": s.locked,
        "enforce": s.enforce,
        "backlog_limit": m.backlog_limit.load(Ordering::Relaxed),
        "backlog_high_water": m.backlog_high_water.load(Ordering::Relaxed),
        "rules_restored": m.rules_restored.load(Ordering::Relaxed),
        "pushed_down": s.pushed,
        "local": s.local.as_ref().map(|(socket, subscribers, rules)| json!({
            "socket": socket, "subscribers": subscribers, "kernel_watches": rules,
        })),
    });
    let dir = runtime_dir();
    let tmp = dir.join(format!("status.json.{}", std::process::id()));
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let _ = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .and_then(|_| {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
        })
        .and_then(|mut f| f.write_all(v.to_string().as_bytes()))
        .and_then(|_| std::fs::rename(&tmp, file()));
}

/// Removes the file when it is this process's.
pub fn remove() {
    if read().is_some_and(|v| v["pid"] == std::process::id()) {
        let _ = std::fs::remove_file(file());
    }
}

/// The state of a running daemon (its process still alive), if any.
pub fn read() -> Option<Value> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(file()).ok()?).ok()?;
    let pid = v["pid"].as_u64()?;
    std::path::Path::new(&format!("/proc/{pid}"))
        .exists()
        .then_some(v)
}

/// The backlog advice for a high water mark against the limit: None while it
/// stays under 80 % of the limit.
pub fn backlog_advice(high_water: u64, limit: u64) -> Option<String> {
    if limit == 0 || high_water * 10 < limit * 8 {
        return None;
    }
    Some(format!(
        "the kernel backlog reached {high_water} of its limit {limit}: at the limit the kernel drops records or makes audited processes wait (backlog_wait_time); raise `source.backlog_limit` (e.g. to {}) or narrow the rules",
        (limit * 2).max(8192)
    ))
}

/// The lines `audex status` prints about the daemon.
pub fn status_lines(v: &Value) -> Vec<String> {
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let mut out = vec![format!(
        "audex daemon              pid {} on {}: {} rules owned, enforce {}, {} restored",
        n("pid"),
        v["node"].as_str().unwrap_or("?"),
        n("rules_owned"),
        if v["enforce"] == true { "on" } else { "off" },
        n("rules_restored")
    )];
    if let Some(p) = v["pushed_down"].as_array().filter(|p| !p.is_empty()) {
        out.push(format!(
            "pushed down               {} kernel rule(s) in place of filters (the kernel never sends what they exclude):",
            p.len()
        ));
        out.extend(
            p.iter()
                .filter_map(|r| r.as_str())
                .map(|r| format!("  {r}")),
        );
    }
    if let Some(l) = v["local"].as_object() {
        out.push(format!(
            "local socket              {}: {} subscription(s), {} kernel watch(es)",
            l["socket"].as_str().unwrap_or("?"),
            l["subscribers"].as_u64().unwrap_or(0),
            l["kernel_watches"].as_u64().unwrap_or(0)
        ));
    }
    if v["locked"] == true {
        out.push("rules locked              by audex (rules.lock): rules and settings change only after a reboot".into());
    }
    out.push(format!(
        "backlog high water        {} of {} (highest at any status poll since the daemon started)",
        n("backlog_high_water"),
        n("backlog_limit")
    ));
    if let Some(a) = backlog_advice(n("backlog_high_water"), n("backlog_limit")) {
        out.push(format!("                          {a}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_only_near_the_limit() {
        assert_eq!(backlog_advice(100, 8192), None);
        assert_eq!(backlog_advice(6553, 8192), None);
        let a = backlog_advice(6554, 8192).unwrap();
        assert!(
            a.contains("6554 of its limit 8192") && a.contains("16384"),
            "{a}"
        );
        assert_eq!(backlog_advice(5, 0), None);
    }

    #[test]
    fn status_shows_the_lock_and_the_high_water() {
        let v = json!({"pid": 1, "node": "n", "rules_owned": 3, "locked": true, "enforce": true,
            "backlog_limit": 64, "backlog_high_water": 60, "rules_restored": 2,
            "pushed_down": ["filter q (pushed down): `-A never,exit -F exe=/x -k audex-pushdown:q`"],
            "local": {"socket": "/run/audex/audex.sock", "subscribers": 3, "kernel_watches": 2}});
        let lines = status_lines(&v).join("\n");
        assert!(
            lines.contains("local socket              /run/audex/audex.sock: 3 subscription(s), 2 kernel watch(es)"),
            "{lines}"
        );
        assert!(
            lines.contains("3 rules owned, enforce on, 2 restored"),
            "{lines}"
        );
        assert!(lines.contains("rules locked"), "{lines}");
        assert!(
            lines.contains("pushed down               1 kernel rule(s)")
                && lines.contains("  filter q (pushed down): `-A never,exit -F exe=/x"),
            "{lines}"
        );
        assert!(
            lines.contains("60 of 64") && lines.contains("raise `source.backlog_limit`"),
            "{lines}"
        );
    }
}
