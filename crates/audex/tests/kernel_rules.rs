//! Rules parity on the real kernel: for every rule file in the peer corpora
//! (control lines left out), `audex rules load` leaves exactly the `auditctl -l`
//! that `auditctl -R` leaves. One known difference is allowed and checked:
//! rules naming syscalls newer than Debian auditctl 3.0.9's table (fchmodat2,
//! setxattrat, ...) are refused whole by auditctl but loaded by audex, whose
//! table follows current audit-userspace and this kernel.
mod common;
use std::process::Command;

fn control_line(l: &str) -> bool {
    let w = l.split_whitespace().next().unwrap_or("");
    matches!(
        w,
        "-D" | "-b"
            | "-f"
            | "-e"
            | "-r"
            | "-i"
            | "-c"
            | "--backlog_wait_time"
            | "--loginuid-immutable"
            | "--reset-lost"
    )
}

/// True when the rule line's -S names a syscall that `ausyscall --exact` (the
/// table auditctl uses) does not know for the rule's arch.
fn names_unknown_syscall(
    line: &str,
    known: &mut std::collections::HashMap<(String, String), bool>,
) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let arch = if words.contains(&"arch=b32") {
        "i386"
    } else {
        "x86_64"
    };
    let mut unknown = false;
    for w in words.windows(2).filter(|w| w[0] == "-S") {
        for name in w[1]
            .split(',')
            .filter(|n| *n != "all" && n.parse::<u32>().is_err())
        {
            let ok = *known
                .entry((arch.to_string(), name.to_string()))
                .or_insert_with(|| {
                    Command::new("ausyscall")
                        .args([arch, name, "--exact"])
                        .output()
                        .is_ok_and(|o| o.status.success())
                });
            unknown |= !ok;
        }
    }
    unknown
}

#[test]
fn audex_rules_load_matches_auditctl() {
    let Some(k) = common::kernel() else { return };
    let mut files: Vec<_> = std::fs::read_dir(common::corpora().join("audit-userspace/rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
        .collect();
    files.sort();
    files.push(common::corpora().join("neo23x0-auditd/audit.rules"));
    assert!(files.len() >= 30);
    let mut total = 0;
    let mut newer_syscalls = 0;
    let mut known = std::collections::HashMap::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        // auditctl's -c (continue past errors) is a rule-file line, not a flag.
        let lines: Vec<&str> = text.lines().filter(|l| !control_line(l)).collect();
        let tmp = k.dir.join("parity.rules");
        let write =
            |lines: &[&str]| std::fs::write(&tmp, format!("-c\n{}\n", lines.join("\n"))).unwrap();
        write(&lines);
        // Lines naming a syscall auditctl's own table lacks (it drops those rules
        // silently inside a rule file): asked of that table with ausyscall.
        let newer_lines: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| names_unknown_syscall(l, &mut known))
            .map(|(i, _)| i)
            .collect();
        type Numbered<'a> = Vec<(usize, &'a str)>;
        let (newer, kept): (Numbered, Numbered) = lines
            .iter()
            .copied()
            .enumerate()
            .partition(|(i, _)| newer_lines.contains(i));
        if !newer.is_empty() {
            // audex knows these syscalls: the rules parse.
            let only: Vec<&str> = newer.iter().map(|(_, l)| *l).collect();
            write(&only);
            let check = common::audex()
                .args(["rules", "check"])
                .arg(&tmp)
                .output()
                .unwrap();
            assert!(
                check.status.success(),
                "{}: audex rejects {only:?}: {}",
                f.display(),
                String::from_utf8_lossy(&check.stderr)
            );
            newer_syscalls += newer.len();
        }
        let kept: Vec<&str> = kept.into_iter().map(|(_, l)| l).collect();
        write(&kept);
        k.clear_rules();
        Command::new("auditctl")
            .arg("-R")
            .arg(&tmp)
            .output()
            .unwrap();
        let by_auditctl = k.rules_text();
        k.clear_rules();
        common::audex()
            .args(["rules", "load"])
            .arg(&tmp)
            .output()
            .unwrap();
        let by_audex = k.rules_text();
        k.clear_rules();
        assert_eq!(
            by_audex,
            by_auditctl,
            "{}: auditctl -l differs",
            f.display()
        );
        total += by_audex.lines().filter(|l| l.starts_with('-')).count();
    }
    eprintln!("{} files, {total} rules identical; {newer_syscalls} rules with syscalls newer than auditctl's table", files.len());
    assert!(total > 500, "only {total} rules compared");
}

#[test]
fn rules_list_and_delete_round_trip() {
    let Some(k) = common::kernel() else { return };
    k.clear_rules();
    let f = k.dir.join("mine.rules");
    std::fs::write(&f, "-w /etc/passwd -p wa -k audex-rt\n-a always,exit -F arch=b64 -S openat -F exit=-EACCES -F auid>=1000 -F auid!=unset -k audex-rt\n").unwrap();
    let load = common::audex()
        .args(["rules", "load"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    let list = common::audex().args(["rules", "list"]).output().unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("-w /etc/passwd -p wa -k audex-rt"),
        "{listed}"
    );
    assert!(listed.contains("-a always,exit -F arch=b64 -S openat -F exit=-EACCES -F auid>=1000 -F auid!=unset -F key=audex-rt"), "{listed}");
    // What audex lists loads back into the same rules.
    std::fs::write(&f, listed.as_bytes()).unwrap();
    let del = common::audex()
        .args(["rules", "delete"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        del.status.success(),
        "{}",
        String::from_utf8_lossy(&del.stderr)
    );
    assert!(k.rules_text().starts_with("No rules"));
    // A rule the kernel refuses is reported with its line, and loading goes on.
    std::fs::write(&f, "-a always,exit -F arch=b64 -S openat -F dir=/nonexistent/audex -k audex-rt\n-w /etc/group -p wa -k audex-rt\n").unwrap();
    let load = common::audex()
        .args(["rules", "load"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(!load.status.success());
    let err = String::from_utf8_lossy(&load.stderr);
    assert!(err.contains("mine.rules:1:"), "{err}");
    assert!(k.rules_text().contains("-w /etc/group -p wa -k audex-rt"));
}

/// Every shipped rule pack loads whole on the real kernel (and deletes whole),
/// the kernel then lists each of its rule keys, and each key names a control.
#[test]
fn every_rule_pack_loads_on_the_kernel_and_its_keys_name_controls() {
    let Some(k) = common::kernel() else { return };
    let table = audex_compliance::controls::ControlMap::builtin();
    let list = common::audex().args(["rules", "packs"]).output().unwrap();
    let listing = String::from_utf8_lossy(&list.stdout);
    for pack in audex_compliance::packs::PACKS {
        assert!(listing.contains(pack.name), "{listing}");
        k.clear_rules();
        let load = common::audex()
            .args(["rules", "load", "--pack", pack.name])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&load.stderr);
        assert!(load.status.success(), "pack {}: {err}", pack.name);
        assert!(
            err.contains(&format!("{} rules loaded, 0 refused", pack.rule_count())),
            "pack {}: {err}",
            pack.name
        );
        let listed = k.rules_text();
        for key in pack.keys() {
            assert!(
                listed.contains(&format!("-k {key}")) || listed.contains(&format!("key={key}")),
                "pack {}: key {key} not in the kernel's rules:\n{listed}",
                pack.name
            );
            assert!(
                table.get(key).is_some_and(|c| !c.is_empty()),
                "pack {}: key {key} names no control",
                pack.name
            );
        }
        let del = common::audex()
            .args(["rules", "delete", "--pack", pack.name])
            .output()
            .unwrap();
        assert!(
            del.status.success(),
            "{}",
            String::from_utf8_lossy(&del.stderr)
        );
        assert!(
            k.rules_text().starts_with("No rules"),
            "pack {} left rules",
            pack.name
        );
    }
    let bad = common::audex()
        .args(["rules", "check", "--pack", "hipaa"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("no rule pack named `hipaa`; the packs are pci-dss, stig, cis, k8s-node"));
}
