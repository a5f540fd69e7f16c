//! The report as Markdown: the same sections as the HTML page, as tables.
use super::{Count, Example, Report, Section};
use std::fmt::Write;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn examples(o: &mut String, ex: &[Example]) {
    if ex.is_empty() {
        return;
    }
    o.push_str(
        "\n| time (UTC) | host | user | action | outcome | what |\n|---|---|---|---|---|---|\n",
    );
    for e in ex {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | `{}` |",
            cell(&e.time),
            cell(&e.host),
            cell(&e.user),
            cell(&e.action),
            cell(&e.outcome),
            cell(&e.what)
        );
    }
}

fn counts(o: &mut String, head: &str, rows: &[Count]) {
    if rows.is_empty() {
        return;
    }
    let _ = write!(o, "\n| {head} | events |\n|---|---:|\n");
    for r in rows {
        let _ = writeln!(o, "| `{}` | {} |", cell(&r.name), r.events);
    }
}

fn section(o: &mut String, title: &str, what: &str, s: &Section) {
    let _ = write!(
        o,
        "\n## {title}\n\n{} events, {} failed.\n",
        s.events, s.failures
    );
    counts(o, what, &s.top);
    counts(o, "user", &s.by_user);
    examples(o, &s.examples);
}

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let s = &r.summary;
    let _ = write!(
        o,
        "# {}\n\nGenerated {} from {} archive segment(s). Events from {} to {} (UTC).\n\n\
         | events | failures | hosts | controls with evidence | failed logins | records lost | gaps |\n|---:|---:|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} | {} | {} |\n",
        r.title,
        r.generated_at,
        s.segments,
        s.first_event,
        s.last_event,
        s.events,
        s.failures,
        s.hosts,
        r.controls.len(),
        r.logins.failed + r.logins.failed_authentications,
        r.lost_records,
        r.loss.len() + r.silences.len()
    );
    let _ = writeln!(o, "\n**Integrity:** {}", r.integrity.sentence());
    for f in &r.integrity.findings {
        let _ = writeln!(o, "- `{}`", f.replace('`', "'"));
    }
    o.push_str("\n## Evidence per control\n\n| control | events | failed | first seen | last seen | rule keys |\n|---|---:|---:|---|---|---|\n");
    for c in &r.controls {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | `{}` |",
            c.control,
            c.events,
            c.failures,
            c.first_seen,
            c.last_seen,
            cell(&c.keys.join(", "))
        );
    }
    if !r.controls_without_evidence.is_empty() {
        let _ = write!(
            o,
            "\nNo evidence for: {}.\n",
            r.controls_without_evidence.join(", ")
        );
    }
    let _ = write!(
        o,
        "\n## Logins\n\n{} successful and {} failed logins; {} failed authentications.\n",
        r.logins.succeeded, r.logins.failed, r.logins.failed_authentications
    );
    examples(&mut o, &r.logins.failures);
    let p = &r.privileged;
    let _ = write!(
        o,
        "\n## Privileged commands\n\n{} sudo commands, {} setuid runs, {} run as root by a person logged in as someone else.\n",
        p.sudo, p.setuid, p.as_root_by_login_user
    );
    counts(&mut o, "command", &p.top_commands);
    examples(&mut o, &p.examples);
    section(
        &mut o,
        "Changes to identity files and accounts",
        "file or operation",
        &r.identity_changes,
    );
    section(
        &mut o,
        "Changes to the audit configuration",
        "file or operation",
        &r.audit_changes,
    );
    section(&mut o, "Failed file access", "file", &r.failed_access);
    let _ = write!(
        o,
        "\n## Lost records and downtime\n\n{} record(s) lost.\n",
        r.lost_records
    );
    if !r.loss.is_empty() {
        o.push_str("\n| time | host | records | where | serials |\n|---|---|---:|---|---|\n");
        for l in &r.loss {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {}..{} |",
                l.time, l.host, l.count, l.source, l.first_serial, l.last_serial
            );
        }
    }
    if !r.silences.is_empty() {
        o.push_str("\n| host | from | to | seconds | why |\n|---|---|---|---:|---|\n");
        for g in &r.silences {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                g.host, g.from, g.to, g.seconds, g.reason
            );
        }
    }
    o.push_str("\n## Per tenant and per host\n");
    counts(&mut o, "tenant", &r.tenants);
    counts(&mut o, "host", &r.hosts);
    o.push_str("\n## Top users and programs\n");
    counts(&mut o, "user", &r.top_users);
    counts(&mut o, "program", &r.top_programs);
    o
}
