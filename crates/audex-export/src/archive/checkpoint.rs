//! Checkpoints: statements of a node chain's head (sequence number and MAC of the
//! newest event fsynced in the archive), authenticated with the chain key and
//! sent into the live exporters' stream, so that a copy of the heads lives off
//! the host. `verify --checkpoints` compares the archive with them: a head the
//! archive no longer reaches, or reaches with another event, is a cut tail even
//! when the `chain-heads` file was deleted or rolled back with it.
//!
//! Event: `category: audit`, `action: archive-checkpoint`, `node`, and `data`:
//! `archive` (exporter name), `segment` (file it is written to), `sequence`,
//! `head` (hex MAC of that event) and `mac` (hex tag over node, sequence, head).
use super::chain::{hex, unhex, ChainKey, Mac};
use audex_proto::v1::AuditEvent;
use std::collections::BTreeMap;

const DOMAIN: &[u8] = b"audex-checkpoint-v1";

/// The tag a checkpoint of (node, sequence, head) carries.
pub fn tag(key: &ChainKey, node: &str, sequence: u64, head: &Mac) -> Mac {
    key.head_mac(DOMAIN, node, sequence, head)
}

/// The checkpoint event of one node chain's head.
pub fn event(
    key: &ChainKey,
    archive: &str,
    segment: &str,
    node: &str,
    sequence: u64,
    head: &Mac,
) -> AuditEvent {
    let mut data = BTreeMap::new();
    data.insert("archive".into(), archive.to_string());
    data.insert("segment".into(), segment.to_string());
    data.insert("sequence".into(), sequence.to_string());
    data.insert("head".into(), hex(head));
    data.insert("mac".into(), hex(&tag(key, node, sequence, head)));
    crate::notes::audit_event(
        node,
        format!("{node}:checkpoint:{sequence}"),
        audex_proto::Action::ArchiveCheckpoint,
        audex_proto::Outcome::Success,
        data,
    )
}

/// A checkpoint read back (from an event's node and `data` fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub node: String,
    pub sequence: u64,
    pub head: Mac,
    pub segment: String,
    pub archive: String,
}

/// Parses and authenticates a checkpoint; Err says what is wrong with it.
pub fn check(
    key: &ChainKey,
    node: &str,
    data: &BTreeMap<String, String>,
) -> Result<Checkpoint, &'static str> {
    let get = |k: &str| data.get(k).map(String::as_str);
    let sequence = get("sequence")
        .and_then(|s| s.parse().ok())
        .ok_or("no sequence number")?;
    let head: Mac = get("head")
        .and_then(unhex)
        .and_then(|m| Mac::try_from(m).ok())
        .ok_or("no head MAC")?;
    let mac = get("mac").and_then(unhex).ok_or("no tag")?;
    if tag(key, node, sequence, &head)[..] != mac[..] {
        return Err("its tag does not match the chain key (forged or edited)");
    }
    Ok(Checkpoint {
        node: node.to_string(),
        sequence,
        head,
        segment: get("segment").unwrap_or_default().to_string(),
        archive: get("archive").unwrap_or_default().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_checks_and_an_edit_does_not() {
        let key = ChainKey::from_bytes(b"0123456789abcdef");
        let ev = event(&key, "archive", "seg.pb", "host", 41, &[3; 32]);
        let cp = check(&key, &ev.node, &ev.data).unwrap();
        assert_eq!((cp.sequence, cp.head), (41, [3; 32]));
        let mut edited = ev.data.clone();
        edited.insert("sequence".into(), "40".into());
        assert!(check(&key, &ev.node, &edited).is_err());
        assert!(check(&key, "other-host", &ev.data).is_err());
        assert!(check(
            &ChainKey::from_bytes(b"another key 16 b"),
            &ev.node,
            &ev.data
        )
        .is_err());
    }
}
