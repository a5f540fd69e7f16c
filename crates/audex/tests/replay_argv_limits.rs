//! `max_args` / `max_argv_bytes` through `audex replay --config`: a long
//! exec keeps its first and last arguments, a marker in place of the middle
//! and the count of what was cut, on every exporter's copy, in the JSON and
//! the ECS form; `validate` refuses a zero limit at its line.
mod common;

use serde_json::Value;
use std::fmt::Write;

/// One exec of `rm` with `n` file arguments `f1`..`fn`, as auditd logs it.
fn long_exec(n: usize) -> String {
    let mut execve = format!("argc={} a0=\"rm\"", n + 1);
    for i in 1..=n {
        write!(execve, " a{i}=\"f{i}\"").unwrap();
    }
    format!(
        "type=SYSCALL msg=audit(1700000000.000:100): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=200 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=1 comm=\"rm\" exe=\"/usr/bin/rm\" key=\"exec\"\n\
         type=EXECVE msg=audit(1700000000.000:100): {execve}\n\
         type=EOE msg=audit(1700000000.000:100):\n"
    )
}

#[test]
fn a_long_argv_keeps_both_ends_and_counts_the_middle() {
    let d = common::out_dir("argv-limits");
    let input = d.join("audit.log");
    std::fs::write(&input, long_exec(11)).unwrap();
    common::replay_config(
        &d,
        &format!(
            "max_args: 5\nmax_argv_bytes: 4096\ntenants:\n  - name: default\n    exporters: [out, ecs]\nexporters:\n  - {{name: out, type: jsonl, path: {d}/out.jsonl}}\n  - {{name: ecs, type: jsonl, format: ecs, path: {d}/ecs.jsonl}}\nspool: {{dir: {d}/spool, max_bytes: 67108864}}\n",
            d = d.display()
        ),
        &input,
    );
    let one = |name: &str| -> Value {
        let text = std::fs::read_to_string(d.join(name)).unwrap();
        let mut lines = text.lines();
        let v = serde_json::from_str(lines.next().expect("one event")).unwrap();
        assert!(lines.next().is_none(), "{text}");
        v
    };
    let ev = one("out.jsonl");
    let p = &ev["process"];
    // rm, f11, f1, f10, f2 kept (alternately from both ends); f3..f9 cut.
    let marker = "[... 7 args, 14 bytes cut ...]";
    assert_eq!(
        p["args"],
        serde_json::json!(["rm", "f1", "f2", marker, "f10", "f11"])
    );
    assert_eq!(p["args_cut"], 7);
    assert_eq!(p["args_bytes_cut"], "14");
    assert_eq!(p["command_line"], format!("rm f1 f2 {marker} f10 f11"));
    let ecs = one("ecs.jsonl");
    assert_eq!(ecs["process"]["args_count"], 12, "{ecs}");
    assert_eq!(ecs["auditd"]["process"]["args_cut"], 7, "{ecs}");
}

#[test]
fn validate_refuses_a_zero_limit_at_its_line() {
    let (code, err) = common::validate_text(
        "argv-limits-validate",
        "tenants:\n  - name: default\n    exporters: [out]\nexporters:\n  - {name: out, type: jsonl, path: \"-\"}\nmax_args: 0\n",
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(":6:") && err.contains("`max_args` must be at least 1"),
        "{err}"
    );
}
