//! The event contract's JSON line, written straight into a buffer: the same
//! bytes as `serde_json::to_writer` over the pbjson serde impl (proto3 JSON,
//! proto field names, fields in proto order, defaults left out, 64-bit
//! integers as strings, `time` as chrono's RFC 3339), without going through
//! serde's field-by-field machinery.
//!
//! Kept by a measurement: on the storm bench (`audex run`, jsonl exporter,
//! exec+files) encoding through serde was a tenth of the daemon's CPU; this
//! writer takes a third of that time on the same events (bench `event_json`).
//! `tests/json_writer.rs` checks it against the serde output byte for byte.
use crate::v1::{
    Actor, AuditEvent, Chain, Container, File, Kubernetes, Lost, Network, Parent, Peer, Process,
    RawRecord, Repeat, Suppressed, Syscall,
};
use crate::Timestamp;
use std::collections::BTreeMap;

/// Appends `ev` as one JSON object (no newline). Returns false, writing
/// nothing, for an event this writer does not take (a time outside years
/// 0–9999): serde then writes it, or names why it cannot.
pub fn write_event(ev: &AuditEvent, out: &mut Vec<u8>) -> bool {
    let plain = |t: &Option<Timestamp>| t.as_ref().is_none_or(plain_time);
    let plain_span = |a, b| plain(a) && plain(b);
    if !(plain(&ev.time)
        && ev
            .suppressed
            .as_ref()
            .is_none_or(|s| plain_span(&s.first_time, &s.last_time))
        && ev
            .repeat
            .as_ref()
            .is_none_or(|r| plain_span(&r.first_time, &r.last_time)))
    {
        return false;
    }
    let mut o = Obj::open(out);
    o.str("id", &ev.id);
    if let Some(t) = &ev.time {
        o.key("time");
        time(o.out, t);
    }
    o.u64_str("serial", ev.serial);
    o.str("node", &ev.node);
    o.str("category", &ev.category);
    o.str("action", &ev.action);
    o.str("outcome", &ev.outcome);
    o.str("access", &ev.access);
    o.strs("keys", &ev.keys);
    if let Some(s) = &ev.syscall {
        o.key("syscall");
        syscall(o.out, s);
    }
    if let Some(a) = &ev.actor {
        o.key("actor");
        actor(o.out, a);
    }
    if let Some(p) = &ev.process {
        o.key("process");
        process(o.out, p);
    }
    if !ev.files.is_empty() {
        o.key("files");
        list(o.out, &ev.files, file);
    }
    if let Some(n) = &ev.network {
        o.key("network");
        network(o.out, n);
    }
    if let Some(c) = &ev.container {
        o.key("container");
        container(o.out, c);
    }
    if let Some(k) = &ev.k8s {
        o.key("k8s");
        kubernetes(o.out, k);
    }
    o.str("tenant", &ev.tenant);
    o.strs("redacted", &ev.redacted);
    if let Some(l) = &ev.lost {
        o.key("lost");
        lost(o.out, l);
    }
    if !ev.records.is_empty() {
        o.key("records");
        list(o.out, &ev.records, raw_record);
    }
    o.str("record_type", &ev.record_type);
    if ev.truncated {
        o.key("truncated");
        o.out.extend_from_slice(b"true");
    }
    o.map("data", &ev.data);
    o.u32("record_count", ev.record_count);
    o.strs("controls", &ev.controls);
    if let Some(c) = &ev.chain {
        o.key("chain");
        chain(o.out, c);
    }
    if let Some(x) = &ev.suppressed {
        o.key("suppressed");
        suppressed(o.out, x);
    }
    if let Some(r) = &ev.repeat {
        o.key("repeat");
        repeat(o.out, r);
    }
    o.close();
    true
}

/// An object being written: commas between its fields.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut Vec<u8>) -> Obj<'a> {
        out.push(b'{');
        Obj { out, first: true }
    }

    fn close(self) {
        self.out.push(b'}');
    }

    // This and the field writers below are inlined where they are called, so a
    // key's constant bytes are copied without a memcpy call: when the crate's
    // code was split differently (the wire module came) they stopped being
    // inlined and `replay --format json` took 2.6 % more instructions on the
    // storm capture (callgrind).
    #[inline(always)]
    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    #[inline(always)]
    fn str(&mut self, k: &str, v: &str) {
        if !v.is_empty() {
            self.key(k);
            string(self.out, v);
        }
    }

    #[inline(always)]
    fn strs(&mut self, k: &str, v: &[String]) {
        if !v.is_empty() {
            self.key(k);
            list(self.out, v, |out, s| string(out, s));
        }
    }

    #[inline(always)]
    fn u32(&mut self, k: &str, v: u32) {
        if v != 0 {
            self.opt_u32(k, Some(v));
        }
    }

    #[inline(always)]
    fn opt_u32(&mut self, k: &str, v: Option<u32>) {
        if let Some(v) = v {
            self.key(k);
            self.out
                .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        }
    }

    /// 64-bit integers are strings in proto3 JSON.
    #[inline(always)]
    fn u64_str(&mut self, k: &str, v: u64) {
        if v != 0 {
            self.opt_u64_str(k, Some(v));
        }
    }

    #[inline(always)]
    fn opt_u64_str(&mut self, k: &str, v: Option<u64>) {
        if let Some(v) = v {
            self.key(k);
            quoted(self.out, itoa::Buffer::new().format(v));
        }
    }

    #[inline(always)]
    fn opt_i64_str(&mut self, k: &str, v: Option<i64>) {
        if let Some(v) = v {
            self.key(k);
            quoted(self.out, itoa::Buffer::new().format(v));
        }
    }

    fn map(&mut self, k: &str, m: &BTreeMap<String, String>) {
        if m.is_empty() {
            return;
        }
        self.key(k);
        let mut o = Obj::open(self.out);
        for (k, v) in m {
            if !o.first {
                o.out.push(b',');
            }
            o.first = false;
            string(o.out, k);
            o.out.push(b':');
            string(o.out, v);
        }
        o.close();
    }

    fn bytes(&mut self, k: &str, v: &[u8]) {
        if !v.is_empty() {
            use base64::Engine;
            self.key(k);
            self.out.push(b'"');
            let start = self.out.len();
            self.out.resize(start + v.len().div_ceil(3) * 4, 0);
            let n = base64::engine::general_purpose::STANDARD
                .encode_slice(v, &mut self.out[start..])
                .expect("sized for the encoding");
            self.out.truncate(start + n);
            self.out.push(b'"');
        }
    }
}

fn quoted(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

fn list<T>(out: &mut Vec<u8>, items: &[T], each: impl Fn(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(out, it);
    }
    out.push(b']');
}

/// A JSON string as serde_json escapes it: `"`, `\` and control characters
/// (the short forms `\b \f \n \r \t`, else `\u00XX` in lower case); the rest,
/// non-ASCII included, as it is. Runs without such bytes are found eight bytes
/// at a time (command lines of several KiB are common in exec events).
fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    let mut from = 0;
    let mut i = 0;
    while i < b.len() {
        i = next_special(b, i);
        if i == b.len() {
            break;
        }
        let c = b[i];
        out.extend_from_slice(&b[from..i]);
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            _ => b"",
        };
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(c >> 4) as usize],
                HEX[(c & 0xf) as usize],
            ]);
        } else {
            out.extend_from_slice(esc);
        }
        i += 1;
        from = i;
    }
    out.extend_from_slice(&b[from..]);
    out.push(b'"');
}

/// The index of the first byte at or after `i` that JSON escapes (`"`, `\`,
/// below 0x20), or `b.len()`: eight bytes a step, and the last (up to seven)
/// bytes of a string of eight or more in one more word that overlaps the
/// bytes already checked. A byte loop over that tail cost as much as all the
/// words before it (3 % of `replay --format json`'s instructions each on the
/// auditd storm capture, cachegrind as in `audex-parse`'s `scan.rs`).
fn next_special(b: &[u8], mut i: usize) -> usize {
    while i + 8 <= b.len() {
        let m = special(word(b, i));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    if i == b.len() {
        return i;
    }
    if b.len() >= 8 {
        // The last eight bytes, shifted so that byte `i` comes first; the
        // zeros shifted in above the end are flagged, so a match past the
        // string's bytes means none.
        let back = i - (b.len() - 8);
        let m = special(word(b, b.len() - 8) >> (8 * back));
        return (i + (m.trailing_zeros() / 8) as usize).min(b.len());
    }
    while i < b.len() && !ESCAPED[b[i] as usize] {
        i += 1;
    }
    i
}

/// The bytes JSON escapes, by value (a load a byte in the short strings'
/// loop instead of three comparisons).
static ESCAPED: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

fn word(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
}

/// High bits flagging the bytes of `x` that JSON escapes (the lowest flag is
/// always a true one: a borrow only flags bytes above a match).
#[inline(always)]
fn special(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Nonzero when some byte of `x` is zero.
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
    below_space | zero_byte(x ^ (ONES * b'"' as u64)) | zero_byte(x ^ (ONES * b'\\' as u64))
}

/// `t` in RFC 3339 as the event contract writes times (`time` of the event
/// JSON), or None for a time outside years 0 to 9999.
pub fn rfc3339(t: &Timestamp) -> Option<String> {
    if !plain_time(t) {
        return None;
    }
    let mut quoted = Vec::with_capacity(40);
    time(&mut quoted, t);
    // `time` writes a JSON string of ASCII: the text between the quotes.
    String::from_utf8(quoted[1..quoted.len() - 1].to_vec()).ok()
}

/// Times this writer formats: years 0 to 9999, nanos in range.
fn plain_time(t: &Timestamp) -> bool {
    // 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    (-62_167_219_200..=253_402_300_799).contains(&t.seconds)
        && (0..1_000_000_000).contains(&t.nanos)
}

/// chrono's `to_rfc3339()` of a UTC time: `YYYY-MM-DDTHH:MM:SS`, the fraction
/// in 0, 3, 6 or 9 digits as the nanoseconds need, and `+00:00`.
fn time(out: &mut Vec<u8>, t: &Timestamp) {
    let days = t.seconds.div_euclid(86_400);
    let secs = t.seconds.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    let mut b = [0u8; 40];
    let two = |b: &mut [u8], v: u32| {
        b[0] = b'0' + (v / 10) as u8;
        b[1] = b'0' + (v % 10) as u8;
    };
    b[0] = b'"';
    let y = y as u32;
    two(&mut b[1..3], y / 100);
    two(&mut b[3..5], y % 100);
    b[5] = b'-';
    two(&mut b[6..8], m);
    b[8] = b'-';
    two(&mut b[9..11], d);
    b[11] = b'T';
    two(&mut b[12..14], secs / 3600);
    b[14] = b':';
    two(&mut b[15..17], secs / 60 % 60);
    b[17] = b':';
    two(&mut b[18..20], secs % 60);
    let mut n = 20;
    let nanos = t.nanos as u32;
    let digits = if nanos == 0 {
        0
    } else if nanos.is_multiple_of(1_000_000) {
        3
    } else if nanos.is_multiple_of(1_000) {
        6
    } else {
        9
    };
    if digits > 0 {
        b[n] = b'.';
        n += 1;
        let mut v = nanos / 10u32.pow(9 - digits);
        for i in (0..digits as usize).rev() {
            b[n + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        n += digits as usize;
    }
    b[n..n + 7].copy_from_slice(b"+00:00\"");
    out.extend_from_slice(&b[..n + 7]);
}

/// Proleptic Gregorian (year, month, day) of days since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn syscall(out: &mut Vec<u8>, s: &Syscall) {
    let mut o = Obj::open(out);
    o.str("name", &s.name);
    o.opt_u32("number", s.number);
    o.str("arch", &s.arch);
    o.opt_i64_str("exit", s.exit);
    o.str("errno", &s.errno);
    o.strs("args", &s.args);
    o.close();
}

fn actor(out: &mut Vec<u8>, a: &Actor) {
    let mut o = Obj::open(out);
    o.opt_u32("auid", a.auid);
    o.opt_u32("uid", a.uid);
    o.opt_u32("euid", a.euid);
    o.opt_u32("suid", a.suid);
    o.opt_u32("fsuid", a.fsuid);
    o.opt_u32("gid", a.gid);
    o.opt_u32("egid", a.egid);
    o.opt_u32("sgid", a.sgid);
    o.opt_u32("fsgid", a.fsgid);
    o.opt_u32("session", a.session);
    o.str("tty", &a.tty);
    o.str("auid_name", &a.auid_name);
    o.str("uid_name", &a.uid_name);
    o.str("euid_name", &a.euid_name);
    o.str("suid_name", &a.suid_name);
    o.str("fsuid_name", &a.fsuid_name);
    o.str("gid_name", &a.gid_name);
    o.str("egid_name", &a.egid_name);
    o.str("sgid_name", &a.sgid_name);
    o.str("fsgid_name", &a.fsgid_name);
    o.close();
}

fn process(out: &mut Vec<u8>, p: &Process) {
    let mut o = Obj::open(out);
    o.opt_u32("pid", p.pid);
    o.opt_u32("ppid", p.ppid);
    o.str("exe", &p.exe);
    o.str("comm", &p.comm);
    o.str("cwd", &p.cwd);
    o.strs("args", &p.args);
    o.str("command_line", &p.command_line);
    o.str("title", &p.title);
    if let Some(pp) = &p.parent {
        o.key("parent");
        parent(o.out, pp);
    }
    o.str("label", &p.label);
    if let Some(pe) = &p.peer {
        o.key("peer");
        peer(o.out, pe);
    }
    o.strs("labels", &p.labels);
    o.u32("args_cut", p.args_cut);
    o.u64_str("args_bytes_cut", p.args_bytes_cut);
    o.close();
}

fn parent(out: &mut Vec<u8>, p: &Parent) {
    let mut o = Obj::open(out);
    o.str("exe", &p.exe);
    o.str("comm", &p.comm);
    o.strs("args", &p.args);
    o.close();
}

fn peer(out: &mut Vec<u8>, p: &Peer) {
    let mut o = Obj::open(out);
    o.str("address", &p.address);
    o.opt_u32("port", p.port);
    o.close();
}

fn file(out: &mut Vec<u8>, f: &File) {
    let mut o = Obj::open(out);
    o.str("path", &f.path);
    o.str("name", &f.name);
    o.str("nametype", &f.nametype);
    o.opt_u64_str("inode", f.inode);
    o.str("dev", &f.dev);
    o.str("mode", &f.mode);
    o.opt_u32("ouid", f.ouid);
    o.opt_u32("ogid", f.ogid);
    o.str("ouid_name", &f.ouid_name);
    o.str("ogid_name", &f.ogid_name);
    o.str("label", &f.label);
    o.close();
}

fn network(out: &mut Vec<u8>, n: &Network) {
    let mut o = Obj::open(out);
    o.str("family", &n.family);
    o.str("address", &n.address);
    o.opt_u32("port", n.port);
    o.str("path", &n.path);
    o.close();
}

fn container(out: &mut Vec<u8>, c: &Container) {
    let mut o = Obj::open(out);
    o.str("id", &c.id);
    o.str("runtime", &c.runtime);
    o.close();
}

fn kubernetes(out: &mut Vec<u8>, k: &Kubernetes) {
    let mut o = Obj::open(out);
    o.str("namespace", &k.namespace);
    o.str("pod", &k.pod);
    o.str("pod_uid", &k.pod_uid);
    o.str("container", &k.container);
    o.str("node", &k.node);
    o.map("labels", &k.labels);
    o.close();
}

fn lost(out: &mut Vec<u8>, l: &Lost) {
    let mut o = Obj::open(out);
    o.u64_str("count", l.count);
    o.u64_str("first_serial", l.first_serial);
    o.u64_str("last_serial", l.last_serial);
    o.str("source", &l.source);
    o.close();
}

fn raw_record(out: &mut Vec<u8>, r: &RawRecord) {
    let mut o = Obj::open(out);
    o.str("type", &r.r#type);
    o.str("text", &r.text);
    o.close();
}

/// A summary's optional time, as a field.
fn opt_time(o: &mut Obj, k: &str, t: &Option<Timestamp>) {
    if let Some(t) = t {
        o.key(k);
        time(o.out, t);
    }
}

fn suppressed(out: &mut Vec<u8>, s: &Suppressed) {
    let mut o = Obj::open(out);
    o.u64_str("count", s.count);
    opt_time(&mut o, "first_time", &s.first_time);
    opt_time(&mut o, "last_time", &s.last_time);
    o.str("reason", &s.reason);
    o.close();
}

fn repeat(out: &mut Vec<u8>, r: &Repeat) {
    let mut o = Obj::open(out);
    o.u64_str("count", r.count);
    opt_time(&mut o, "first_time", &r.first_time);
    opt_time(&mut o, "last_time", &r.last_time);
    o.close();
}

fn chain(out: &mut Vec<u8>, c: &Chain) {
    let mut o = Obj::open(out);
    o.u64_str("sequence", c.sequence);
    o.bytes("mac", &c.mac);
    o.bytes("prev_mac", &c.prev_mac);
    o.close();
}

#[cfg(test)]
mod tests {
    use super::next_special;

    #[test]
    fn finds_the_first_byte_to_escape_at_every_offset_and_length() {
        // Every byte to escape at every place of strings up to 40 bytes long,
        // from every start, among bytes that look near them (0x20, 0x7f,
        // non-ASCII, the bytes next to '"' and '\\').
        let fillers = [b' ', b'!', b'#', b'[', b']', 0x7f, 0xc3, 0xa9, b'a'];
        for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
            for len in 0..40 {
                for at in (0..len).map(Some).chain([None]) {
                    let b: Vec<u8> = (0..len)
                        .map(|k| {
                            if Some(k) == at {
                                special
                            } else {
                                fillers[k % fillers.len()]
                            }
                        })
                        .collect();
                    for from in 0..=len {
                        let want = at.filter(|&a| a >= from).unwrap_or(len);
                        assert_eq!(next_special(&b, from), want, "{b:?} from {from}");
                    }
                }
            }
        }
    }
}
