//! The archive's `chain-heads` file: per node chain, the sequence number and
//! MAC of the newest event the writer has sealed, each line authenticated with
//! the chain key. The writer saves it before a segment is renamed closed, so a
//! closed segment never holds events beyond it; `verify` reads it to find a cut
//! tail (a head beyond the archive) or a rolled-back file (a head behind it).
//!
//! Line: `hex(node) sequence hex(mac) hex(tag)`, tag = HMAC of the other three.
use super::chain::{hex, unhex, ChainKey, Mac, MAC_LEN};
use std::io::{self, Write};
use std::path::Path;

pub const HEADS_FILE: &str = "chain-heads";
const DOMAIN: &[u8] = b"audex-chain-heads-v1";

/// One node chain's newest sealed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub node: String,
    pub sequence: u64,
    pub mac: Mac,
}

/// What the heads file of an archive directory says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heads {
    /// There is no such file.
    Missing,
    /// A line that does not parse or whose tag does not match the key: the
    /// whole file is distrusted.
    Garbled {
        line: usize,
        why: &'static str,
    },
    Read(Vec<Head>),
}

fn parse_line(key: &ChainKey, line: &str) -> Result<Head, &'static str> {
    let f: Vec<&str> = line.split(' ').collect();
    let [node, seq, mac, tag] = f[..] else {
        return Err("not four fields (node, sequence, MAC, tag)");
    };
    let node = unhex(node)
        .and_then(|n| String::from_utf8(n).ok())
        .ok_or("the node is not hex UTF-8")?;
    let sequence: u64 = seq.parse().map_err(|_| "the sequence is not a number")?;
    let mac: Mac = unhex(mac)
        .and_then(|m| Mac::try_from(m).ok())
        .ok_or("the MAC is not 32 hex bytes")?;
    let tag = unhex(tag).filter(|t| t.len() == MAC_LEN).ok_or("no tag")?;
    if key.head_mac(DOMAIN, &node, sequence, &mac)[..] != tag[..] {
        return Err("its tag does not match the chain key (edited, or from another archive)");
    }
    Ok(Head {
        node,
        sequence,
        mac,
    })
}

/// Reads `dir/chain-heads`. An unreadable file (other than missing) is an error.
pub fn read(dir: &Path, key: &ChainKey) -> io::Result<Heads> {
    let text = match audex_io::read_limited(
        &dir.join(HEADS_FILE),
        audex_io::FileKind::State,
        "chain-heads",
    ) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Heads::Missing),
        Err(e) => return Err(e),
    };
    let Ok(text) = String::from_utf8(text) else {
        return Ok(Heads::Garbled {
            line: 1,
            why: "not text",
        });
    };
    let mut heads = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match parse_line(key, line) {
            Ok(h) => heads.push(h),
            Err(why) => return Ok(Heads::Garbled { line: i + 1, why }),
        }
    }
    Ok(Heads::Read(heads))
}

/// Replaces `dir/chain-heads` (written to a temporary file, synced, renamed; mode 0600).
pub fn write<'a>(
    dir: &Path,
    key: &ChainKey,
    heads: impl Iterator<Item = (&'a str, u64, &'a Mac)>,
) -> io::Result<()> {
    let mut text = String::new();
    for (node, seq, mac) in heads {
        let tag = key.head_mac(DOMAIN, node, seq, mac);
        text.push_str(&format!(
            "{} {seq} {} {}\n",
            hex(node.as_bytes()),
            hex(mac),
            hex(&tag)
        ));
    }
    let tmp = dir.join(format!("{HEADS_FILE}.tmp"));
    let mut f = crate::private::private_file(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(tmp, dir.join(HEADS_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_heads_read_back_and_an_edit_is_garbled() {
        let dir = std::env::temp_dir().join(format!("audex-heads-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = ChainKey::from_bytes(b"0123456789abcdef0123");
        let mac = [7u8; 32];
        write(&dir, &key, [("node a", 41, &mac)].into_iter()).unwrap();
        assert_eq!(
            read(&dir, &key).unwrap(),
            Heads::Read(vec![Head {
                node: "node a".into(),
                sequence: 41,
                mac
            }])
        );
        let text = std::fs::read_to_string(dir.join(HEADS_FILE)).unwrap();
        std::fs::write(dir.join(HEADS_FILE), text.replace(" 41 ", " 40 ")).unwrap();
        assert!(matches!(
            read(&dir, &key).unwrap(),
            Heads::Garbled { line: 1, .. }
        ));
        let other = ChainKey::from_bytes(b"another key, 20 b");
        write(&dir, &key, [("n", 1, &mac)].into_iter()).unwrap();
        assert!(matches!(read(&dir, &other).unwrap(), Heads::Garbled { .. }));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(read(&dir, &key).unwrap(), Heads::Missing);
    }
}
