//! One golden per redaction operation: a fixed event through a one-tenant
//! policy, compared with tests/golden/<op>.json (AUDEX_REGENERATE_GOLDEN=1
//! rewrites them). Pseudonyms are checked against Python's hmac module.
use audex_policy::{HashKey, MaskSpec, Matcher, PidPolicy, Policy, RedactSpec, TenantSpec};
use audex_proto::v1::AuditEvent;
use std::path::Path;

const KEY: &[u8] = b"tenant-a hash key";

fn event() -> AuditEvent {
    serde_json::from_str(
        r#"{"id":"web-1:1700000000.100:42","time":"2023-11-14T22:13:20.100Z","serial":"42","node":"web-1",
        "category":"file","action":"opened","outcome":"success","access":"read","keys":["pci"],
        "syscall":{"name":"openat","number":257,"arch":"x86_64","exit":"3"},
        "actor":{"auid":1000,"uid":1000,"euid":1000,"session":3,"auid_name":"alice","uid_name":"alice","euid_name":"alice"},
        "process":{"pid":4242,"ppid":4000,"exe":"/usr/bin/mysql","comm":"mysql",
          "args":["mysql","-u","app","--password=hunter2","-h","db"],
          "command_line":"mysql -u app --password=hunter2 -h db",
          "title":"mysql -u app --password=hunter2 -h db",
          "parent":{"exe":"/usr/bin/bash","comm":"bash","args":["bash"]}},
        "files":[{"path":"/srv/payments","name":"/srv/payments","nametype":"PARENT","mode":"040750","ouid":1000,"ogid":1000},
                 {"path":"/srv/payments/cards.db","name":"cards.db","nametype":"NORMAL","mode":"0100640","ouid":1000,"ogid":1000,"inode":"77"}],
        "data":{"token":"abc"},
        "records":[{"type":"SYSCALL","text":"type=SYSCALL msg=audit(1700000000.100:42): pid=4242 auid=1000"}]}"#,
    )
    .unwrap()
}

fn one(redact: RedactSpec, uids: Vec<(u32, u32)>) -> Policy {
    Policy::new(&[TenantSpec {
        name: "tenant-a".into(),
        matcher: Matcher {
            uids,
            ..Default::default()
        },
        redact,
    }])
    .unwrap()
}

fn check(op: &str, p: &Policy, ev: &AuditEvent) -> Option<AuditEvent> {
    let out = p.copy_for(0, ev);
    let text = match &out {
        Some(e) => serde_json::to_string_pretty(e).unwrap(),
        None => "null".to_string(),
    } + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{op}.json"));
    if std::env::var("AUDEX_REGENERATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (regenerate with AUDEX_REGENERATE_GOLDEN=1)",
            path.display()
        )
    });
    assert_eq!(text, want, "{op}");
    out
}

fn python_hmac(key: &[u8], value: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest()[:32])",
            std::str::from_utf8(key).unwrap(),
            value,
        ])
        .output()
        .expect("python3");
    format!("hmac:{}", String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn drop_removes_fields_and_lists_them() {
    let spec = RedactSpec {
        drop: vec![
            "process.args".into(),
            "files[].inode".into(),
            "actor.auid".into(),
            "data.token".into(),
        ],
        ..Default::default()
    };
    let out = check("drop", &one(spec, vec![]), &event()).unwrap();
    // Dropping argv drops its twins too (command line, title, parent args).
    assert_eq!(
        out.redacted,
        [
            "process.args",
            "process.command_line",
            "process.title",
            "process.parent.args",
            "files.inode",
            "actor.auid",
            "data.token",
            "records"
        ]
    );
    let p = out.process.unwrap();
    assert!(p.args.is_empty() && p.command_line.is_empty() && p.title.is_empty());
}

#[test]
fn hash_gives_stable_keyed_pseudonyms() {
    let spec = RedactSpec {
        hash: vec![
            "actor.uid_name".into(),
            "actor.auid_name".into(),
            "files[].path".into(),
        ],
        hash_key: Some(HashKey::new(KEY)),
        ..Default::default()
    };
    let out = check("hash", &one(spec.clone(), vec![]), &event()).unwrap();
    let actor = out.actor.unwrap();
    assert_eq!(actor.uid_name, python_hmac(KEY, "alice"));
    assert_eq!(
        actor.uid_name, actor.auid_name,
        "same value, same pseudonym"
    );
    assert_eq!(
        out.files[1].path,
        python_hmac(KEY, "/srv/payments/cards.db")
    );
    // Another key, another pseudonym.
    let other = RedactSpec {
        hash_key: Some(HashKey::new(b"another key")),
        ..spec
    };
    let o2 = one(other, vec![]).copy_for(0, &event()).unwrap();
    assert_ne!(o2.actor.unwrap().uid_name, actor.uid_name);
}

#[test]
fn mask_replaces_matches_in_strings_and_each_array_element() {
    let spec = RedactSpec {
        mask: vec![MaskSpec {
            field: "process.command_line".into(),
            pattern: Some("(?i)(--password=)\\S+".into()),
            replace: "$1***".into(),
            builtin: None,
        }],
        ..Default::default()
    };
    let out = check("mask", &one(spec, vec![]), &event()).unwrap();
    let json = serde_json::to_string(&out).unwrap();
    assert!(!json.contains("hunter2"), "{json}");
    assert_eq!(out.process.unwrap().args[3], "--password=***");
    assert_eq!(
        out.redacted,
        [
            "process.args",
            "process.command_line",
            "process.title",
            "records"
        ]
    );
}

#[test]
fn builtin_secret_patterns() {
    let spec = RedactSpec {
        mask: vec![MaskSpec {
            field: "process.command_line".into(),
            builtin: Some("secrets".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let p = one(spec, vec![]);
    let mut ev = event();
    let lines = [
        ("mysql --password=hunter2 -h db", "hunter2"),
        ("psql password=s3cret host=db", "s3cret"),
        (
            "curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc' x",
            "eyJhbGciOiJIUzI1NiJ9",
        ),
        ("app --token abcdef123456", "abcdef123456"),
        ("app api_key=XYZ987654", "XYZ987654"),
        (
            "aws configure set aws_access_key_id AKIAIOSFODNN7EXAMPLE",
            "AKIAIOSFODNN7EXAMPLE",
        ),
        (
            "env AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI",
        ),
        (
            "echo -----BEGIN RSA PRIVATE KEY-----MIIEow-----END RSA PRIVATE KEY-----",
            "MIIEow",
        ),
    ];
    for (line, secret) in lines {
        ev.process.as_mut().unwrap().command_line = line.into();
        let out = p.copy_for(0, &ev).unwrap();
        let cl = out.process.unwrap().command_line;
        assert!(!cl.contains(secret), "{line} -> {cl}");
        assert!(cl.contains("***"), "{cl}");
    }
    ev.process.as_mut().unwrap().command_line = "ls -la /tmp".into();
    let out = p.copy_for(0, &ev).unwrap();
    assert_eq!(out.process.unwrap().command_line, "ls -la /tmp");
}

#[test]
fn pid_visibility() {
    let never = RedactSpec {
        pid: PidPolicy::Never,
        ..Default::default()
    };
    let out = check("pid-never", &one(never, vec![]), &event()).unwrap();
    assert_eq!(out.process.unwrap().pid, None);
    let same = RedactSpec {
        pid: PidPolicy::SameOwner,
        ..Default::default()
    };
    // alice (1000) is the tenant's: the pid stays.
    let own = check(
        "pid-same-owner-own",
        &one(same.clone(), vec![(1000, 1999)]),
        &event(),
    )
    .unwrap();
    assert_eq!(own.process.unwrap().pid, Some(4242));
    // Not the tenant's uid: hidden.
    let other = check(
        "pid-same-owner-other",
        &one(same, vec![(2000, 2999)]),
        &event(),
    )
    .unwrap();
    assert_eq!(other.process.unwrap().pid, None);
}

#[test]
fn dac_visibility_follows_the_parent_directory() {
    let dac = RedactSpec {
        visibility_dac: true,
        ..Default::default()
    };
    // The tenant owns the 0750 directory: delivered.
    assert!(check(
        "dac-visible",
        &one(dac.clone(), vec![(1000, 1000)]),
        &event()
    )
    .is_some());
    // Another tenant (uid 2000) cannot list it: held back.
    assert!(check(
        "dac-hidden",
        &one(dac.clone(), vec![(2000, 2000)]),
        &event()
    )
    .is_none());
    // After a chmod to 0755 anyone can list it.
    let mut ev = event();
    ev.files[0].mode = "040755".into();
    assert!(one(dac, vec![(2000, 2000)]).copy_for(0, &ev).is_some());
}

#[test]
fn bad_specs_are_refused_with_the_reason() {
    let bad = |r: RedactSpec, uids: Vec<(u32, u32)>| {
        Policy::new(&[TenantSpec {
            name: "t".into(),
            matcher: Matcher {
                uids,
                ..Default::default()
            },
            redact: r,
        }])
        .unwrap_err()
    };
    assert!(bad(
        RedactSpec {
            drop: vec!["process.argz".into()],
            ..Default::default()
        },
        vec![]
    )
    .contains("`process.argz` is not a field"));
    assert!(bad(
        RedactSpec {
            hash: vec!["process.pid".into()],
            hash_key: Some(HashKey::new(b"k")),
            ..Default::default()
        },
        vec![]
    )
    .contains("holds no text"));
    assert!(bad(
        RedactSpec {
            hash: vec!["actor.uid_name".into()],
            ..Default::default()
        },
        vec![]
    )
    .contains("needs a `hash_key_file`"));
    assert!(bad(
        RedactSpec {
            visibility_dac: true,
            ..Default::default()
        },
        vec![]
    )
    .contains("needs the tenant's uids"));
    assert!(bad(
        RedactSpec {
            mask: vec![MaskSpec {
                field: "process.title".into(),
                builtin: Some("ssn".into()),
                ..Default::default()
            }],
            ..Default::default()
        },
        vec![]
    )
    .contains("no built-in mask `ssn`"));
}
