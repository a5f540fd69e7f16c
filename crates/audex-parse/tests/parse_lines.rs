//! Parser behaviour on the odd lines a collector meets.
use audex_parse::{parse_line, parse_netlink, Origin, ParseErrorKind, RecordType, ValueKind};

#[test]
fn syscall_line_fields_and_header() {
    let r = parse_line(b"node=web-1 type=SYSCALL msg=audit(1170021493.977:293): arch=c000003e syscall=2 success=no exit=-13 a0=5555665d91b0 items=1 ppid=2013 pid=13010 auid=4294967295 uid=890 tty=(none) comm=\"pickup\" exe=\"/usr/libexec/postfix/pickup\" key=(null)\n").unwrap();
    assert_eq!(r.rtype, RecordType::SYSCALL);
    assert_eq!(r.node(), Some("web-1"));
    assert_eq!(r.serial, 293);
    assert_eq!(r.time.secs, 1170021493);
    assert_eq!(r.time.nanos, 977_000_000);
    assert_eq!(r.get("arch").unwrap().as_hex_u64(), Some(0xc000003e));
    assert_eq!(r.get("exit").unwrap().as_i64(), Some(-13));
    assert_eq!(r.u64("auid"), Some(4294967295));
    assert_eq!(r.text("comm").as_deref(), Some("pickup"));
    assert_eq!(r.get("key").unwrap().kind, ValueKind::Null);
    assert_eq!(r.text("key"), None);
    assert_eq!(r.text("tty").as_deref(), Some("(none)"));
}

#[test]
fn hex_encoded_untrusted_strings_are_decoded() {
    let r = parse_line(b"type=PATH msg=audit(1.000:7): item=0 name=2F746D702F6120622F6FCC88 inode=5 nametype=CREATE").unwrap();
    assert_eq!(r.text("name").as_deref(), Some("/tmp/a b/o\u{308}"));
    // Numbers that look like hex are not decoded outside the encoded fields.
    assert_eq!(r.text("inode").as_deref(), Some("5"));
    let p = parse_line(b"type=PROCTITLE msg=audit(1.000:7): proctitle=6C73002D6C61").unwrap();
    assert_eq!(
        p.get("proctitle").unwrap().bytes().unwrap().as_ref(),
        b"ls\0-la"
    );
    let e = parse_line(b"type=EXECVE msg=audit(1.000:7): argc=2 a0=\"ls\" a1=2D6C2061 a2[0]=4142")
        .unwrap();
    assert_eq!(e.text("a1").as_deref(), Some("-l a"));
    assert_eq!(e.text("a2[0]").as_deref(), Some("AB"));
    // SYSCALL a0..a3 are numbers, never strings.
    let s = parse_line(b"type=SYSCALL msg=audit(1.000:7): a0=4142").unwrap();
    assert_eq!(s.text("a0").as_deref(), Some("4142"));
}

#[test]
fn nested_user_message_and_enriched_part() {
    let line = b"type=USER_AUTH msg=audit(1670330949.860:161339): pid=5519 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct=\"system-property('xsl:vendor')/>\" exe=\"/usr/bin/python3.8\" hostname=? addr=? terminal=? res=failed'\x1dUID=\"root\" AUID=\"unset\"";
    let r = parse_line(line).unwrap();
    assert_eq!(r.text("op").as_deref(), Some("PAM:authentication"));
    assert_eq!(
        r.text("acct").as_deref(),
        Some("system-property('xsl:vendor')/>")
    );
    assert_eq!(r.text("res").as_deref(), Some("failed"));
    assert_eq!(r.text("hostname"), None);
    assert_eq!(
        r.get_enriched("AUID").unwrap().text().as_deref(),
        Some("unset")
    );
    let origins: Vec<Origin> = r.fields().map(|(_, _, o)| o).collect();
    assert!(origins.contains(&Origin::Message) && origins.contains(&Origin::Enriched));
}

#[test]
fn op_value_with_spaces() {
    let r = parse_line(b"type=ADD_USER msg=audit(1.000:9): pid=1 uid=0 auid=0 ses=1 msg='op=adding user id=1001 exe=\"/usr/sbin/useradd\" hostname=h addr=? terminal=pts/0 res=success'").unwrap();
    assert_eq!(r.text("op").as_deref(), Some("adding user"));
    assert_eq!(r.u64("id"), Some(1001));
    assert_eq!(r.text("res").as_deref(), Some("success"));
}

#[test]
fn avc_permissions_and_result() {
    let r = parse_line(b"type=AVC msg=audit(1170021493.977:293): avc:  denied  { read write } for  pid=13010 comm=\"pickup\" tclass=dir").unwrap();
    assert_eq!(r.text("seresult").as_deref(), Some("denied"));
    assert_eq!(r.text("seperms").as_deref(), Some("read write"));
    assert_eq!(r.u64("pid"), Some(13010));
}

#[test]
fn old_style_login() {
    let r = parse_line(b"type=LOGIN msg=audit(1170021601.343:296): login pid=13015 uid=0 old auid=4294967295 new auid=0").unwrap();
    assert_eq!(r.u64("old-auid"), Some(4294967295));
    assert_eq!(r.u64("auid"), Some(0));
}

#[test]
fn unknown_type_keeps_number() {
    let r =
        parse_line(b"type=UNKNOWN[1999] msg=audit(1626883065.201:216697): prog-id=45 op=UNLOAD")
            .unwrap();
    assert_eq!(r.rtype, RecordType(1999));
    assert_eq!(r.rtype.to_string(), "UNKNOWN[1999]");
    assert_eq!(r.text("op").as_deref(), Some("UNLOAD"));
}

#[test]
fn netlink_payload() {
    let r = parse_netlink(1307, b"audit(1700000000.123:42): cwd=\"/root\"\0\0").unwrap();
    assert_eq!(r.rtype, RecordType::CWD);
    assert_eq!(r.serial, 42);
    assert_eq!(r.text("cwd").as_deref(), Some("/root"));
}

#[test]
fn malformed_lines_are_errors_with_bytes() {
    for (line, kind) in [
        (&b""[..], ParseErrorKind::Empty),
        (b"hello world", ParseErrorKind::MissingType),
        (b"type=NOPE msg=audit(1.2:3): x=1", ParseErrorKind::BadType),
        (b"type=SYSCALL foo", ParseErrorKind::MissingHeader),
        (
            b"type=SYSCALL msg=audit(12:3): x",
            ParseErrorKind::BadTimestamp,
        ),
        (
            b"type=SYSCALL msg=audit(1.2:): x",
            ParseErrorKind::BadTimestamp,
        ),
    ] {
        let e = parse_line(line).unwrap_err();
        assert_eq!(e.kind, kind, "{:?}", String::from_utf8_lossy(line));
        assert_eq!(&e.input[..], line);
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn unterminated_quote_runs_to_end() {
    let r = parse_line(b"type=CWD msg=audit(1.000:1): cwd=\"/tmp/abc").unwrap();
    assert_eq!(r.text("cwd").as_deref(), Some("/tmp/abc"));
}

#[test]
fn old_pam_parenthesised_fields() {
    let r = parse_line(b"type=USER_START msg=audit(1170021601.344:297): user pid=13015 uid=0 auid=0 subj=system_u:system_r:crond_t:s0-s0:c0.c1023 msg='PAM: session open acct=root : exe=\"/usr/sbin/crond\" (hostname=?, addr=?, terminal=cron res=success)'").unwrap();
    assert_eq!(r.text("terminal").as_deref(), Some("cron"));
    assert_eq!(r.text("res").as_deref(), Some("success"));
    assert_eq!(r.get("addr").unwrap().raw, b"?");
    assert_eq!(r.text("acct").as_deref(), Some("root"));
}
