//! The event as protobuf, written straight into a buffer: the same bytes as
//! prost's `encode` and `encode_length_delimited` (fields in tag order,
//! proto3 defaults left out, every element of a repeated field written, map
//! entries without their default key or value), each message described once
//! ([`Encode`]) and read by two interpreters, one that counts bytes and one
//! that writes them.
//!
//! Kept by a measurement: prost wrote each varint through a call and a
//! capacity check per byte (its encoding was 12 % of `replay --format proto`'s
//! instructions on the auditd storm capture, callgrind); here tags are
//! constants and the buffer is reserved once. `tests/proto_writer.rs` checks
//! it against prost byte for byte on random events.
use crate::v1::{
    Actor, AuditEvent, Chain, Container, File, Kubernetes, Lost, Network, Parent, Peer, Process,
    RawRecord, Repeat, Suppressed, Syscall,
};
use crate::Timestamp;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// Appends `ev`'s protobuf bytes (as `Message::encode` does).
pub fn write(ev: &AuditEvent, out: &mut Vec<u8>) {
    put(ev, out, false);
}

/// Appends `ev`, preceded by its length as a varint (as
/// `Message::encode_length_delimited` does).
pub fn write_delimited(ev: &AuditEvent, out: &mut Vec<u8>) {
    put(ev, out, true);
}

thread_local! {
    /// Each nested message's length, counted once in the order the writer
    /// meets them (prost counts a message again at every level above it);
    /// kept from one event to the next on this thread.
    static SIZES: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

fn put(ev: &AuditEvent, out: &mut Vec<u8>, delimited: bool) {
    SIZES.with_borrow_mut(|sizes| {
        sizes.clear();
        let mut l = Len { n: 0, sizes };
        ev.encode(&mut l);
        let n = l.n;
        out.reserve(n + 10);
        if delimited {
            put_varint(out, n as u64);
        }
        ev.encode(&mut Write {
            out,
            sizes,
            next: 0,
        });
    });
}

/// A message's fields, in tag order, to an [`Out`].
trait Encode {
    fn encode<O: Out>(&self, o: &mut O);
}

/// Where fields go: counted or written.
trait Out: Sized {
    /// A length-delimited field (written even when empty).
    fn bytes(&mut self, tag: u32, b: &[u8]);
    /// A varint field (written even when zero).
    fn varint_field(&mut self, tag: u32, v: u64);
    /// A message field (written even when all its fields are defaults).
    fn message<M: Encode>(&mut self, tag: u32, m: &M);

    fn str(&mut self, tag: u32, s: &str) {
        if !s.is_empty() {
            self.bytes(tag, s.as_bytes());
        }
    }
    fn strs(&mut self, tag: u32, v: &[String]) {
        for s in v {
            self.bytes(tag, s.as_bytes());
        }
    }
    fn u64(&mut self, tag: u32, v: u64) {
        if v != 0 {
            self.varint_field(tag, v);
        }
    }
    fn opt(&mut self, tag: u32, v: Option<u64>) {
        if let Some(v) = v {
            self.varint_field(tag, v);
        }
    }
    fn opt_msg<M: Encode>(&mut self, tag: u32, m: &Option<M>) {
        if let Some(m) = m {
            self.message(tag, m);
        }
    }
    fn msgs<M: Encode>(&mut self, tag: u32, v: &[M]) {
        for m in v {
            self.message(tag, m);
        }
    }
    fn map(&mut self, tag: u32, m: &BTreeMap<String, String>) {
        for (k, v) in m {
            self.message(tag, &Entry(k, v));
        }
    }
}

/// Appends `v` as a varint. Written out rather than prost's `encode_varint`,
/// which goes through `BufMut::put_u8` (a call and a capacity check per byte).
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes of `v` as a varint.
#[inline]
pub fn varint_len(v: u64) -> usize {
    prost::encoding::encoded_len_varint(v)
}

#[inline]
fn key(tag: u32, wire_type: u32) -> u64 {
    u64::from(tag << 3 | wire_type)
}

const VARINT: u32 = 0;
const LEN: u32 = 2;

/// Counts bytes, and notes each nested message's length in the order met.
struct Len<'a> {
    n: usize,
    sizes: &'a mut Vec<usize>,
}

impl Out for Len<'_> {
    #[inline]
    fn bytes(&mut self, tag: u32, b: &[u8]) {
        self.n += varint_len(key(tag, LEN)) + varint_len(b.len() as u64) + b.len();
    }
    #[inline]
    fn varint_field(&mut self, tag: u32, v: u64) {
        self.n += varint_len(key(tag, VARINT)) + varint_len(v);
    }
    fn message<M: Encode>(&mut self, tag: u32, m: &M) {
        let at = self.sizes.len();
        self.sizes.push(0);
        let mut inner = Len {
            n: 0,
            sizes: self.sizes,
        };
        m.encode(&mut inner);
        let n = inner.n;
        self.sizes[at] = n;
        self.n += varint_len(key(tag, LEN)) + varint_len(n as u64) + n;
    }
}

/// Writes bytes, with the lengths [`Len`] noted.
struct Write<'a> {
    out: &'a mut Vec<u8>,
    sizes: &'a [usize],
    next: usize,
}

impl Write<'_> {
    #[inline]
    fn varint(&mut self, v: u64) {
        put_varint(self.out, v);
    }
}

impl Out for Write<'_> {
    #[inline]
    fn bytes(&mut self, tag: u32, b: &[u8]) {
        self.varint(key(tag, LEN));
        self.varint(b.len() as u64);
        self.out.extend_from_slice(b);
    }
    #[inline]
    fn varint_field(&mut self, tag: u32, v: u64) {
        self.varint(key(tag, VARINT));
        self.varint(v);
    }
    fn message<M: Encode>(&mut self, tag: u32, m: &M) {
        // Met in the order `Len` met them: the same walk of the same event.
        let n = self.sizes[self.next];
        self.next += 1;
        self.varint(key(tag, LEN));
        self.varint(n as u64);
        m.encode(self);
    }
}

/// A map entry: key 1, value 2, each left out when empty.
struct Entry<'a>(&'a str, &'a str);

impl Encode for Entry<'_> {
    fn encode<O: Out>(&self, o: &mut O) {
        o.str(1, self.0);
        o.str(2, self.1);
    }
}

/// Signed values as protobuf varints: two's complement over 64 bits (an
/// `int32` sign-extended first).
fn signed(v: i64) -> u64 {
    v as u64
}

impl Encode for Timestamp {
    fn encode<O: Out>(&self, o: &mut O) {
        o.u64(1, signed(self.seconds));
        o.u64(2, signed(i64::from(self.nanos)));
    }
}

impl Encode for AuditEvent {
    fn encode<O: Out>(&self, o: &mut O) {
        o.str(1, &self.id);
        o.opt_msg(2, &self.time);
        o.u64(3, self.serial);
        o.str(4, &self.node);
        o.str(5, &self.category);
        o.str(6, &self.action);
        o.str(7, &self.outcome);
        o.str(8, &self.access);
        o.strs(9, &self.keys);
        o.opt_msg(10, &self.syscall);
        o.opt_msg(11, &self.actor);
        o.opt_msg(12, &self.process);
        o.msgs(13, &self.files);
        o.opt_msg(14, &self.network);
        o.opt_msg(15, &self.container);
        o.opt_msg(16, &self.k8s);
        o.str(17, &self.tenant);
        o.strs(18, &self.redacted);
        o.opt_msg(19, &self.lost);
        o.msgs(20, &self.records);
        o.str(21, &self.record_type);
        o.u64(22, u64::from(self.truncated));
        o.map(23, &self.data);
        o.u64(24, u64::from(self.record_count));
        o.strs(25, &self.controls);
        o.opt_msg(26, &self.chain);
        o.opt_msg(27, &self.suppressed);
        o.opt_msg(28, &self.repeat);
    }
}

impl Encode for Suppressed {
    fn encode<O: Out>(&self, o: &mut O) {
        o.u64(1, self.count);
        o.opt_msg(2, &self.first_time);
        o.opt_msg(3, &self.last_time);
        o.str(4, &self.reason);
    }
}

impl Encode for Repeat {
    fn encode<O: Out>(&self, o: &mut O) {
        o.u64(1, self.count);
        o.opt_msg(2, &self.first_time);
        o.opt_msg(3, &self.last_time);
    }
}

impl Encode for Chain {
    fn encode<O: Out>(&self, o: &mut O) {
        o.u64(1, self.sequence);
        if !self.mac.is_empty() {
            o.bytes(2, &self.mac);
        }
        if !self.prev_mac.is_empty() {
            o.bytes(3, &self.prev_mac);
        }
    }
}

impl Encode for Syscall {
    fn encode<O: Out>(&self, o: &mut O) {
        o.str(1, &self.name);
        o.opt(2, self.number.map(u64::from));
        o.str(3, &self.arch);
        o.opt(4, self.exit.map(signed));
        o.str(5, &self.errno);
        o.strs(6, &self.args);
    }
}

impl Encode for Actor {
    fn encode<O: Out>(&self, o: &mut O) {
        let ids = [
            self.auid,
            self.uid,
            self.euid,
            self.suid,
            self.fsuid,
            self.gid,
            self.egid,
            self.sgid,
            self.fsgid,
            self.session,
        ];
        for (tag, id) in (1..).zip(ids) {
            o.opt(tag, id.map(u64::from));
        }
        o.str(11, &self.tty);
        let names = [
            &self.auid_name,
            &self.uid_name,
            &self.euid_name,
            &self.suid_name,
            &self.fsuid_name,
            &self.gid_name,
            &self.egid_name,
            &self.sgid_name,
            &self.fsgid_name,
        ];
        for (tag, name) in (12..).zip(names) {
            o.str(tag, name);
        }
    }
}

impl Encode for Process {
    fn encode<O: Out>(&self, o: &mut O) {
        o.opt(1, self.pid.map(u64::from));
        o.opt(2, self.ppid.map(u64::from));
        o.str(3, &self.exe);
        o.str(4, &self.comm);
        o.str(5, &self.cwd);
        o.strs(6, &self.args);
        o.str(7, &self.command_line);
        o.str(8, &self.title);
        o.opt_msg(9, &self.parent);
        o.str(10, &self.label);
        o.opt_msg(11, &self.peer);
        o.strs(12, &self.labels);
        o.u64(13, u64::from(self.args_cut));
        o.u64(14, self.args_bytes_cut);
    }
}

impl Encode for Peer {
    fn encode<O: Out>(&self, o: &mut O) {
        o.str(1, &self.address);
        o.opt(2, self.port.map(u64::from));
    }
}

impl Encode for Parent {
    fn encode<O: Out>(&self, o: &mut O) {
        o.str(1, &self.exe);
        o.str(2, &self.comm);
        o.strs(3, &self.args);
    }
}

impl Encode for File {
    fn encode<O: Out>(&self, o: &mut O) {
        o.str(1, &self.path);
        o.str(2, &self.name);
        o.str(3, &self.nametype);
        o.opt(4, self.inode);
        o.str(5, &self.dev);
        o.str(6, &self.mode);
        o.opt(7, self.ouid.map(u64::from));
        o.opt(8, self.ogid.map(u64::from));
        o.str(9, &self.ouid_name);
        o.str(10, &self.ogid_name);
        o.str(11, &self.label);
    }
}

impl Encode for Network {
    fn encode<O: Out>(&self, o: &mut O) {
        o.str(1, &self.family);
        o.str(2, &self.address);
        o.opt(3, self.port.map(u64::from));
        o.str(4, &self.path);
    }
}

impl Encode for Container {
    fn encode<O: Out>(&self, o: &mut O) {
        o.str(1, &self.id);
        o.str(2, &self.runtime);
    }
}

impl Encode for Kubernetes {
    fn encode<O: Out>(&self, o: &mut O) {
        o.str(1, &self.namespace);
        o.str(2, &self.pod);
        o.str(3, &self.pod_uid);
        o.str(4, &self.container);
        o.str(5, &self.node);
        o.map(6, &self.labels);
    }
}

impl Encode for Lost {
    fn encode<O: Out>(&self, o: &mut O) {
        o.u64(1, self.count);
        o.u64(2, self.first_serial);
        o.u64(3, self.last_serial);
        o.str(4, &self.source);
    }
}

impl Encode for RawRecord {
    fn encode<O: Out>(&self, o: &mut O) {
        o.str(1, &self.r#type);
        o.str(2, &self.text);
    }
}
