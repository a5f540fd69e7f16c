//! What `audex watch` and the daemon say on the local socket: one JSON
//! object per line. The client sends one [`Request`]; the daemon answers with
//! a [`Reply`] and then, for a watch, sends `{"event": EVENT}` lines (the
//! event contract's JSON) and further replies (`revoked`, `stopping`) until
//! one side closes.
use audex_proto::v1::AuditEvent;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where `audex watch` looks for the daemon when not told.
pub const DEFAULT_SOCKET: &str = "/run/audex/audex.sock";

/// A request line can be no longer than this.
pub const MAX_REQUEST_BYTES: usize = 64 << 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Watch these absolute paths (a directory covers its subtree) for these
    /// accesses (r, w, x, a).
    Watch { paths: Vec<PathBuf>, perm: String },
    /// The caller's own subscriptions.
    List {},
}

/// One watched path of a subscription, as `list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchInfo {
    pub path: String,
    pub perm: String,
    /// The connection's client process.
    pub pid: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The watch is in place, on these resolved paths; `admin`: events are
    /// shown whole whoever acts.
    Watching { paths: Vec<String>, admin: bool },
    /// The request is refused, and why ("permission denied: /root").
    Refused { reason: String },
    /// The caller's subscriptions (`list`).
    Subscriptions { watches: Vec<WatchInfo> },
    /// This watched path is no longer sent: the user lost access to it.
    Revoked { path: String, reason: String },
    /// The daemon is stopping; the watch ends.
    Stopping { reason: String },
}

/// A line from the daemon.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Event(Box<AuditEvent>),
    Reply(Reply),
}

#[derive(Deserialize)]
struct EventLine {
    event: AuditEvent,
}

/// The prefix of an event line.
pub const EVENT_PREFIX: &[u8] = b"{\"event\":";

/// Reads one line from the daemon.
pub fn parse(line: &[u8]) -> Result<Message, String> {
    if line.starts_with(EVENT_PREFIX) {
        serde_json::from_slice::<EventLine>(line)
            .map(|l| Message::Event(Box::new(l.event)))
            .map_err(|e| format!("an event line from the daemon does not parse: {e}"))
    } else {
        serde_json::from_slice::<Reply>(line)
            .map(Message::Reply)
            .map_err(|e| format!("a line from the daemon does not parse: {e}"))
    }
}

/// `{"event": EVENT}\n` for `ev`.
pub fn event_line(ev: &AuditEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(EVENT_PREFIX);
    // json_line ends the object with a newline; the wrapper closes after it.
    audex_export::json_line(ev, &mut out).expect("writing to a Vec cannot fail");
    if out.last() == Some(&b'\n') {
        out.pop();
    }
    out.extend_from_slice(b"}\n");
    out
}

/// A reply as its line.
pub fn reply_line(r: &Reply) -> Vec<u8> {
    let mut v = serde_json::to_vec(r).expect("a reply serializes");
    v.push(b'\n');
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_replies_and_events_round_trip() {
        let r = Request::Watch {
            paths: vec!["/srv/www".into()],
            perm: "wa".into(),
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"watch":{"paths":["/srv/www"],"perm":"wa"}}"#);
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
        assert!(serde_json::from_str::<Request>(r#"{"watch":{"paths":[],"x":1}}"#).is_err());
        let rep = Reply::Revoked {
            path: "/srv/www".into(),
            reason: "permission denied: /srv/www".into(),
        };
        assert_eq!(parse(&reply_line(&rep)).unwrap(), Message::Reply(rep));
        let ev = AuditEvent {
            action: "opened".into(),
            category: "file".into(),
            ..Default::default()
        };
        let line = event_line(&ev);
        assert!(line.ends_with(b"}\n") && line.starts_with(EVENT_PREFIX));
        assert_eq!(parse(&line).unwrap(), Message::Event(Box::new(ev)));
        assert!(parse(b"{\"event\": 3}").is_err());
    }
}
