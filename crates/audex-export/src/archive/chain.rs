//! The archive's hash chain: a keyed MAC per event that covers its content, its
//! node, its sequence number and the previous event's MAC (see `audex.v1.Chain`).
//! Also the few protobuf wire-format steps needed to find the chain field in a
//! record's bytes without decoding the event.
pub use crate::wire::read_varint;
use crate::wire::{put_varint, varint_len};
use std::path::Path;

/// Length of a MAC (HMAC-SHA256).
pub const MAC_LEN: usize = 32;
/// Field number of `AuditEvent.chain`.
pub const CHAIN_FIELD: u32 = 26;
const DOMAIN: &[u8] = b"audex-chain-v1";

pub type Mac = [u8; MAC_LEN];

/// The secret of a chain, read from a file. Never printed (Debug shows nothing).
#[derive(Clone)]
pub struct ChainKey(ring::hmac::Key);

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(..)")
    }
}

impl ChainKey {
    /// The key is the file's bytes (see [`read_key_file`]).
    pub fn from_file(path: &Path) -> Result<ChainKey, String> {
        Ok(ChainKey::from_bytes(&read_key_file(
            path,
            "chain key file",
        )?))
    }

    pub fn from_bytes(bytes: &[u8]) -> ChainKey {
        ChainKey(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes))
    }

    /// The MAC of one event: `content` is its protobuf encoding without the chain field.
    pub fn mac(&self, node: &str, sequence: u64, prev: &[u8], content: &[u8]) -> Mac {
        let mut ctx = ring::hmac::Context::with_key(&self.0);
        ctx.update(DOMAIN);
        ctx.update(&(node.len() as u32).to_be_bytes());
        ctx.update(node.as_bytes());
        ctx.update(&sequence.to_be_bytes());
        ctx.update(prev);
        ctx.update(content);
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// The MAC of a statement about a node's chain head (a line of the
    /// chain-heads file, a checkpoint): `domain` keeps the kinds apart, so one
    /// cannot stand in for another or for an event.
    pub fn head_mac(&self, domain: &[u8], node: &str, sequence: u64, head: &[u8]) -> Mac {
        let mut ctx = ring::hmac::Context::with_key(&self.0);
        ctx.update(domain);
        ctx.update(&(node.len() as u32).to_be_bytes());
        ctx.update(node.as_bytes());
        ctx.update(&sequence.to_be_bytes());
        ctx.update(head);
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }
}

/// A key file's bytes, for chain and hash keys: a trailing newline is not part
/// of the key; at least 16 bytes. Errors name the file (as `what`), never its
/// content.
pub fn read_key_file(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    let mut bytes =
        audex_io::read_limited(path, audex_io::FileKind::Key, what).map_err(|e| e.to_string())?;
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    if bytes.len() < 16 {
        return Err(format!(
            "{what} {}: {} bytes; a key needs at least 16 (e.g. `head -c 32 /dev/urandom > FILE`)",
            path.display(),
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// A fresh random MAC to start a chain with, so that two chains over the same
/// events differ and a segment of one cannot stand in for the other's.
pub fn genesis() -> Mac {
    use ring::rand::SecureRandom;
    let mut m = [0u8; MAC_LEN];
    ring::rand::SystemRandom::new()
        .fill(&mut m)
        .expect("the system random source");
    m
}

/// Lowercase hex of `b` (const-hex).
pub fn hex(b: &[u8]) -> String {
    const_hex::encode(b)
}

/// The bytes of hex digits `s` (either case); `None` when it is not hex (a
/// `0x` prefix, which const-hex would skip, is not: every byte must be a
/// digit).
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    const_hex::decode(s).ok()
}

/// Bytes of the encoded `chain` field for `sequence` (key, length, body).
pub fn chain_field_len(sequence: u64) -> usize {
    let inner_len = 1 + varint_len(sequence) + 2 * (2 + MAC_LEN);
    2 + varint_len(inner_len as u64) + inner_len
}

/// Appends the encoded `chain` field (field 26) to an event's bytes.
pub fn append_chain(out: &mut Vec<u8>, sequence: u64, mac: &Mac, prev: &Mac) {
    let inner_len = 1 + varint_len(sequence) + 2 * (2 + MAC_LEN);
    put_varint(out, u64::from(CHAIN_FIELD << 3 | 2));
    put_varint(out, inner_len as u64);
    out.push(1 << 3);
    put_varint(out, sequence);
    out.push(2 << 3 | 2);
    out.push(MAC_LEN as u8);
    out.extend_from_slice(mac);
    out.push(3 << 3 | 2);
    out.push(MAC_LEN as u8);
    out.extend_from_slice(prev);
}

/// What a record's bytes say about its place in the chain, found by scanning the
/// top-level fields (no event decoding).
#[derive(Debug, Default, Clone)]
pub struct ChainView<'a> {
    /// The bytes the MAC covers: the record without its chain field (in one
    /// piece when the chain field is last, as the archive writes it).
    pub content: std::borrow::Cow<'a, [u8]>,
    pub node: &'a str,
    pub category: &'a [u8],
    pub action: &'a [u8],
    /// (sequence, mac, prev_mac) when the record has a well-formed chain field.
    pub chain: Option<(u64, &'a [u8], &'a [u8])>,
}

/// Scans one event's bytes. Err names what is malformed.
pub fn view(rec: &[u8]) -> Result<ChainView<'_>, &'static str> {
    let mut v = ChainView::default();
    let mut at = 0;
    let mut chain_range = None;
    while at < rec.len() {
        let start = at;
        let key = read_varint(rec, &mut at).ok_or("bad field key")?;
        let (field, wire) = ((key >> 3) as u32, key & 7);
        let body = match wire {
            0 => {
                read_varint(rec, &mut at).ok_or("bad varint")?;
                None
            }
            1 => {
                at += 8;
                None
            }
            5 => {
                at += 4;
                None
            }
            2 => {
                let len = read_varint(rec, &mut at).ok_or("bad length")? as usize;
                let s = at;
                at = at.checked_add(len).ok_or("bad length")?;
                Some(s)
            }
            _ => return Err("bad wire type"),
        };
        if at > rec.len() {
            return Err("field runs past the record");
        }
        if let Some(s) = body {
            let bytes = &rec[s..at];
            match field {
                4 => v.node = std::str::from_utf8(bytes).map_err(|_| "node is not UTF-8")?,
                5 => v.category = bytes,
                6 => v.action = bytes,
                CHAIN_FIELD => {
                    if chain_range.is_some() {
                        return Err("two chain fields");
                    }
                    chain_range = Some((start, at));
                    v.chain = parse_chain(bytes);
                }
                _ => {}
            }
        }
    }
    v.content = match chain_range {
        None => rec.into(),
        Some((s, e)) if e == rec.len() => rec[..s].into(),
        Some((s, e)) => {
            let mut c = rec[..s].to_vec();
            c.extend_from_slice(&rec[e..]);
            c.into()
        }
    };
    Ok(v)
}

fn parse_chain(b: &[u8]) -> Option<(u64, &[u8], &[u8])> {
    let (mut seq, mut mac, mut prev) = (None, None, None);
    let mut at = 0;
    while at < b.len() {
        let key = read_varint(b, &mut at)?;
        match (key >> 3, key & 7) {
            (1, 0) => seq = Some(read_varint(b, &mut at)?),
            (f @ (2 | 3), 2) => {
                let len = read_varint(b, &mut at)? as usize;
                let s = b.get(at..at.checked_add(len)?)?;
                at += len;
                if f == 2 {
                    mac = Some(s)
                } else {
                    prev = Some(s)
                }
            }
            _ => return None,
        }
    }
    Some((seq?, mac?, prev?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use audex_proto::v1::{AuditEvent, Chain};
    use prost::Message;

    #[test]
    fn appended_chain_field_decodes_as_the_event_chain() {
        let ev = AuditEvent {
            node: "n1".into(),
            category: "file".into(),
            action: "opened".into(),
            serial: 7,
            ..Default::default()
        };
        let mut b = ev.encode_to_vec();
        let content_len = b.len();
        for seq in [1, 127, 128, 300, 1 << 40] {
            let mut f = Vec::new();
            append_chain(&mut f, seq, &[0; 32], &[0; 32]);
            assert_eq!(f.len(), chain_field_len(seq));
        }
        let (mac, prev) = ([1u8; 32], [2u8; 32]);
        append_chain(&mut b, 300, &mac, &prev);
        let back = AuditEvent::decode(&b[..]).unwrap();
        assert_eq!(
            back.chain,
            Some(Chain {
                sequence: 300,
                mac: mac.to_vec(),
                prev_mac: prev.to_vec()
            })
        );
        let v = view(&b).unwrap();
        assert_eq!(v.node, "n1");
        assert_eq!(v.action, b"opened");
        assert_eq!(&v.content[..], &b[..content_len]);
        assert_eq!(v.chain, Some((300, &mac[..], &prev[..])));
    }

    #[test]
    fn mac_depends_on_every_input() {
        let k = ChainKey::from_bytes(b"0123456789abcdef");
        let base = k.mac("n", 1, &[0; 32], b"x");
        assert_ne!(base, k.mac("m", 1, &[0; 32], b"x"));
        assert_ne!(base, k.mac("n", 2, &[0; 32], b"x"));
        assert_ne!(base, k.mac("n", 1, &[1; 32], b"x"));
        assert_ne!(base, k.mac("n", 1, &[0; 32], b"y"));
        assert_ne!(
            base,
            ChainKey::from_bytes(b"0123456789abcdeg").mac("n", 1, &[0; 32], b"x")
        );
        assert_eq!(unhex(&hex(&base)).unwrap(), base.to_vec());
    }
}
