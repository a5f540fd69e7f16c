//! The action vocabulary on records of each family: user-space messages,
//! CONFIG_CHANGE, AVC, sockets, other arches, failures, keys, ids.
use audex_correlate::{Config, Correlator, Output};
use audex_normalize::{NoNames, Normalizer};
use audex_proto::v1::AuditEvent;

fn events(lines: &str) -> Vec<AuditEvent> {
    let mut c = Correlator::new(Config {
        track_gaps: false,
        ..Config::default()
    });
    for l in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        c.push(audex_parse::parse_line(l.as_bytes()).unwrap());
    }
    c.flush();
    let n = Normalizer::new(NoNames, Default::default());
    let mut out = Vec::new();
    while let Some(o) = c.pop() {
        if let Output::Event(_) = &o {
            out.push(n.normalize(&o));
        }
    }
    out
}

fn one(lines: &str) -> AuditEvent {
    let mut v = events(lines);
    assert_eq!(v.len(), 1, "{v:?}");
    v.remove(0)
}

#[test]
fn user_space_records() {
    let e = one("type=USER_CMD msg=audit(1700000000.000:1): pid=10 uid=1000 auid=1000 ses=3 msg='cwd=\"/home/alice\" cmd=6C73202D6C61202F726F6F74 exe=\"/usr/bin/sudo\" terminal=pts/0 res=success'");
    assert_eq!(
        (e.category.as_str(), e.action.as_str(), e.outcome.as_str()),
        ("process", "ran-command", "success")
    );
    assert_eq!(e.process.as_ref().unwrap().command_line, "ls -la /root");
    assert_eq!(e.process.as_ref().unwrap().cwd, "/home/alice");
    assert_eq!(e.actor.as_ref().unwrap().auid, Some(1000));

    let e = one("type=ADD_USER msg=audit(1700000000.000:2): pid=1 uid=0 auid=0 ses=1 msg='op=adding user id=1001 exe=\"/usr/sbin/useradd\" hostname=h addr=? terminal=pts/0 res=success'");
    assert_eq!(
        (e.category.as_str(), e.action.as_str()),
        ("account", "added-user")
    );
    assert_eq!(e.data.get("op").map(String::as_str), Some("adding user"));

    let e = one("type=USER_AUTH msg=audit(1700000000.000:3): pid=5 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct=\"bob\" exe=\"/usr/sbin/sshd\" hostname=10.0.0.9 addr=10.0.0.9 terminal=ssh res=failed'");
    assert_eq!(
        (e.category.as_str(), e.action.as_str(), e.outcome.as_str()),
        ("authentication", "authenticated", "failure")
    );
    assert_eq!(
        e.actor.as_ref().unwrap().auid,
        None,
        "unset auid is left out"
    );
    assert_eq!(e.data.get("acct").map(String::as_str), Some("bob"));

    for (t, action) in [
        ("USER_LOGIN", "logged-in"),
        ("USER_LOGOUT", "logged-out"),
        ("USER_CHAUTHTOK", "changed-password"),
        ("DEL_USER", "deleted-user"),
    ] {
        let e = one(&format!("type={t} msg=audit(1700000000.000:4): pid=1 uid=0 auid=0 ses=1 msg='op=x acct=\"a\" exe=\"/bin/x\" res=success'"));
        assert_eq!(e.action, action, "{t}");
    }
}

#[test]
fn audit_config_and_mac() {
    let e = one("type=CONFIG_CHANGE msg=audit(1700000000.000:5): auid=0 ses=1 op=add_rule key=\"k\" list=4 res=1");
    assert_eq!(
        (e.category.as_str(), e.action.as_str(), e.outcome.as_str()),
        ("audit", "changed-audit-rules", "success")
    );
    let e = one("type=CONFIG_CHANGE msg=audit(1700000000.000:6): op=set audit_backlog_limit=8192 old=64 auid=0 ses=1 res=1");
    assert_eq!(e.action, "changed-audit-config");
    let e = one("type=AVC msg=audit(1700000000.000:7): avc:  denied  { read } for  pid=9 comm=\"cat\" name=\"shadow\" scontext=u:r:t:s0 tcontext=u:object_r:shadow_t:s0 tclass=file permissive=0");
    assert_eq!(
        (e.category.as_str(), e.action.as_str(), e.outcome.as_str()),
        ("mac", "access-denied", "failure")
    );
    let e = one("type=APPARMOR_DENIED msg=audit(1700000000.000:8): apparmor=\"DENIED\" operation=\"open\" profile=\"p\" name=\"/etc/shadow\" pid=3 comm=\"cat\"");
    assert_eq!(
        (e.category.as_str(), e.action.as_str()),
        ("mac", "access-denied")
    );
}

#[test]
fn sockets_arches_and_failures() {
    let e = one("type=SYSCALL msg=audit(1700000000.000:9): arch=c000003e syscall=42 success=no exit=-111 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=77 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=2 comm=\"curl\" exe=\"/usr/bin/curl\" key=6E657401657870\n\
        type=SOCKADDR msg=audit(1700000000.000:9): saddr=020001BB5DB8D8220000000000000000\n\
        type=PROCTITLE msg=audit(1700000000.000:9): proctitle=6375726C");
    assert_eq!(
        (e.category.as_str(), e.action.as_str(), e.outcome.as_str()),
        ("network", "connected", "failure")
    );
    let n = e.network.as_ref().unwrap();
    assert_eq!(
        (n.family.as_str(), n.address.as_str(), n.port),
        ("inet", "93.184.216.34", Some(443))
    );
    assert_eq!(e.syscall.as_ref().unwrap().errno, "ECONNREFUSED");
    assert_eq!(e.keys, ["net", "exp"], "keys split on 0x01");
    assert_eq!(e.process.as_ref().unwrap().title, "curl");

    // aarch64 openat (56), i386 open (5), an unknown arch keeps the number.
    let e = one("type=SYSCALL msg=audit(1700000000.000:10): arch=c00000b7 syscall=56 success=yes exit=3 a0=ffffff9c a1=1 a2=0 a3=0 items=1 ppid=1 pid=2 uid=0 comm=\"cat\" exe=\"/bin/cat\" key=(null)\n\
        type=PATH msg=audit(1700000000.000:10): item=0 name=\"/etc/hosts\" inode=5 dev=fd:00 mode=0100644 ouid=0 ogid=0 nametype=NORMAL\n\
        type=PROCTITLE msg=audit(1700000000.000:10): proctitle=636174");
    let s = e.syscall.as_ref().unwrap();
    assert_eq!(
        (
            s.arch.as_str(),
            s.name.as_str(),
            e.action.as_str(),
            e.access.as_str()
        ),
        ("aarch64", "openat", "opened", "read")
    );
    assert_eq!(e.actor.as_ref().unwrap().uid, Some(0), "uid 0 is kept");
    let e = one("type=SYSCALL msg=audit(1700000000.000:11): arch=40000003 syscall=5 success=yes exit=3 a0=1 a1=241 a2=1b6 a3=0 items=2 ppid=1 pid=2 uid=0 comm=\"sh\" exe=\"/bin/sh\"\n\
        type=PATH msg=audit(1700000000.000:11): item=1 name=\"new.txt\" inode=9 nametype=CREATE\n\
        type=CWD msg=audit(1700000000.000:11): cwd=\"/tmp\"\n\
        type=PROCTITLE msg=audit(1700000000.000:11): proctitle=7368");
    assert_eq!(
        (e.syscall.as_ref().unwrap().name.as_str(), e.action.as_str()),
        ("open", "created")
    );
    assert_eq!(
        e.files[0].path, "/tmp/new.txt",
        "relative name resolved with CWD"
    );
    let e = one("type=SYSCALL msg=audit(1700000000.000:12): arch=80000016 syscall=5 success=yes exit=0 pid=2 uid=0\n\
        type=PROCTITLE msg=audit(1700000000.000:12): proctitle=7368");
    let s = e.syscall.as_ref().unwrap();
    assert_eq!(
        (s.arch.as_str(), s.name.as_str(), s.number),
        ("s390x", "", Some(5))
    );
}

#[test]
fn truncated_events_are_marked() {
    let mut c = Correlator::new(Config {
        max_records_per_event: 2,
        track_gaps: false,
        ..Config::default()
    });
    for l in [
        "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 success=yes exit=0 pid=1",
        "type=EXECVE msg=audit(1.000:1): argc=1 a0=\"x\"",
        "type=PATH msg=audit(1.000:1): item=0 name=\"/x\"",
        "type=EOE msg=audit(1.000:1): ",
    ] {
        c.push(audex_parse::parse_line(l.as_bytes()).unwrap());
    }
    let o = c.pop().unwrap();
    let e = Normalizer::new(NoNames, Default::default()).normalize(&o);
    assert!(e.truncated);
    assert_eq!(e.record_count, 4, "records kept + dropped + EOE");
}
