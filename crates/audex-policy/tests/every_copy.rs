//! Redaction covers every copy of a value: hashing a name hashes the other
//! name fields, owner names, `data` twins and the name inside paths and
//! command lines (whole words only); `hash_ids` pseudonymises the numeric ids;
//! dropping `process.cwd` drops `data.cwd`; `pid: never` drops pids in `data`;
//! field globs; tenant paths by whole components.
use audex_policy::{HashKey, Matcher, PidPolicy, Policy, RedactSpec, TenantSpec};
use audex_proto::v1::AuditEvent;

fn event() -> AuditEvent {
    serde_json::from_str(
        r#"{"id":"n:1.0:7","node":"n","category":"file","action":"opened","outcome":"success",
        "actor":{"auid":1000,"uid":1000,"euid":1000,"suid":1000,"fsuid":1000,"gid":1000,"egid":1000,
          "auid_name":"alice","uid_name":"alice","euid_name":"alice","suid_name":"alice","fsuid_name":"alice",
          "gid_name":"alice","egid_name":"alice"},
        "process":{"pid":4242,"ppid":4000,"exe":"/usr/bin/vim","comm":"vim","cwd":"/home/alice",
          "args":["vim","/home/alice/notes.txt","/home/alice2/x"],
          "command_line":"vim /home/alice/notes.txt /home/alice2/x",
          "title":"vim /home/alice/notes.txt /home/alice2/x"},
        "files":[{"path":"/home/alice/notes.txt","name":"notes.txt","nametype":"NORMAL","mode":"0100600",
          "ouid":1000,"ogid":1000,"ouid_name":"alice","ogid_name":"alice"}],
        "data":{"acct":"alice","cwd":"/home/alice","pid":"4242","obj_pid.opid":"99","login.old-auid":"1000","uid":"1000","op":"x"}}"#,
    )
    .unwrap()
}

fn policy(redact: RedactSpec, paths: Vec<String>) -> Policy {
    Policy::new(&[TenantSpec {
        name: "t".into(),
        matcher: Matcher {
            paths,
            ..Default::default()
        },
        redact,
    }])
    .unwrap()
}

fn hashing(fields: &[&str], ids: bool) -> RedactSpec {
    RedactSpec {
        hash: fields.iter().map(|s| s.to_string()).collect(),
        hash_key: Some(HashKey::new(b"tenant key, 16 bytes")),
        hash_ids: ids,
        ..Default::default()
    }
}

/// Occurrences of `word` in the JSON not followed by a word character.
fn plain(json: &str, word: &str) -> usize {
    json.match_indices(word)
        .filter(|(i, _)| {
            !json[i + word.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric())
        })
        .count()
}

#[test]
fn hashing_a_name_hashes_every_copy_of_it() {
    for field in ["actor.uid_name", "actor.*_name", "files[].ouid_name"] {
        let p = policy(hashing(&[field], false), vec![]);
        let out = p.copy_for(0, &event()).unwrap();
        let json = serde_json::to_string(&out).unwrap();
        assert_eq!(plain(&json, "alice"), 0, "{field}: {json}");
        assert!(
            json.contains("/home/alice2/x"),
            "another user's name stays: {json}"
        );
        let pseudonym = HashKey::new(b"tenant key, 16 bytes").pseudonym("alice");
        assert_eq!(out.actor.as_ref().unwrap().auid_name, pseudonym);
        assert_eq!(out.data["acct"], pseudonym);
        assert_eq!(
            out.process.as_ref().unwrap().cwd,
            format!("/home/{pseudonym}")
        );
        assert_eq!(out.files[0].ouid_name, pseudonym);
    }
}

#[test]
fn hash_ids_pseudonymises_every_numeric_id() {
    let key = HashKey::new(b"tenant key, 16 bytes");
    let p = policy(hashing(&["actor.uid_name"], true), vec![]);
    let out = p.copy_for(0, &event()).unwrap();
    let a = out.actor.as_ref().unwrap();
    let id = key.pseudonym_id(1000);
    assert!(id >= 1 << 31 && id != u32::MAX);
    for v in [a.auid, a.uid, a.euid, a.suid, a.fsuid, a.gid, a.egid] {
        assert_eq!(v, Some(id));
    }
    assert_eq!(out.files[0].ouid, Some(id));
    assert_eq!(out.data["uid"], id.to_string());
    assert_eq!(out.data["login.old-auid"], id.to_string());
    let json = serde_json::to_string(&out).unwrap();
    assert_eq!(plain(&json, "1000"), 0, "{json}");
    assert_eq!(out.data["op"], "x");
}

#[test]
fn dropping_cwd_and_hiding_pids_cover_their_data_twins() {
    let p = policy(
        RedactSpec {
            drop: vec!["process.cwd".into()],
            pid: PidPolicy::Never,
            ..Default::default()
        },
        vec![],
    );
    let out = p.copy_for(0, &event()).unwrap();
    assert!(out.process.as_ref().unwrap().cwd.is_empty());
    assert!(!out.data.contains_key("cwd"));
    for k in ["pid", "obj_pid.opid"] {
        assert!(!out.data.contains_key(k), "{k}");
    }
    assert_eq!(out.process.as_ref().unwrap().pid, None);
}

#[test]
fn a_glob_that_names_no_field_is_refused() {
    let err = Policy::new(&[TenantSpec {
        name: "t".into(),
        matcher: Matcher::default(),
        redact: hashing(&["actor.*_nope"], false),
    }])
    .unwrap_err();
    assert!(err.contains("matches no field"), "{err}");
}

#[test]
fn tenant_paths_match_whole_components() {
    let m = Matcher {
        paths: vec!["/home/alice".into()],
        ..Default::default()
    };
    let mut ev = event();
    assert!(m.matches(&ev));
    ev.files[0].path = "/home/alice2/notes.txt".into();
    assert!(!m.matches(&ev), "/home/alice is not /home/alice2");
    ev.files[0].path = "/home/alice".into();
    assert!(m.matches(&ev));
    let slash = Matcher {
        paths: vec!["/home/al/".into()],
        ..Default::default()
    };
    ev.files[0].path = "/home/alice/x".into();
    assert!(!slash.matches(&ev));
}

#[test]
fn every_builtin_secret_form_is_masked_in_args_command_line_title_and_data() {
    let p = policy(
        RedactSpec {
            mask: vec![audex_policy::MaskSpec {
                field: "process.command_line".into(),
                builtin: Some("secrets".into()),
                ..Default::default()
            }],
            ..Default::default()
        },
        vec![],
    );
    let forms: &[&[&str]] = &[
        &["login", "password", "=", "hunter2"],
        &["mysql", "-u", "root", "-phunter2", "shop"],
        &["curl", "-u", "admin:hunter2", "https://x"],
        &["git", "clone", "https://bob:hunter2@example.com/r.git"],
        &["env", "PGPASSWORD=hunter2", "psql"],
        &["app", "--db-password=hunter2"],
        &["gpg", "--passphrase", "hunter2", "-d", "f"],
        &["curl", "-d", r#"{"password":"hunter2"}"#],
        &["curl", "-H", "X-Auth-Token:", "hunter2"],
        &["git", "push", "ghp_hunter2hunter2hunter2hunter2hunter2"],
    ];
    for argv in forms {
        let line = argv.join(" ");
        let mut ev = event();
        let pr = ev.process.as_mut().unwrap();
        pr.args = argv.iter().map(|s| s.to_string()).collect();
        pr.command_line = line.clone();
        pr.title = line.clone();
        ev.data.insert("cmd".into(), line.clone());
        ev.data
            .insert("msg".into(), format!("op=run cmd=\"{line}\""));
        let out = p.copy_for(0, &ev).unwrap();
        let json = serde_json::to_string(&out).unwrap();
        assert!(!json.contains("hunter2"), "{line}: {json}");
        let pr = out.process.unwrap();
        assert_eq!(
            pr.args.len(),
            argv.len(),
            "only the secret is replaced: {:?}",
            pr.args
        );
        assert_eq!(pr.args[0], argv[0]);
    }
}
