//! The report as one self-contained HTML page: inline CSS and SVG, no scripts,
//! no external fonts or images; laid out to print.
use super::{svg, Count, Example, Report, Section};
use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:60em;color:#222;line-height:1.4;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
h3{font-size:1.05em;margin-bottom:.3em}
table{border-collapse:collapse;width:100%;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f4f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
.meta{color:#555}.ok{color:#1e7d32}.bad{color:#b71c1c;font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:.6em;margin:1em 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.5em .8em;min-width:9em}
.card b{display:block;font-size:1.4em}
.chart{max-width:100%;height:auto}
code{font-size:.9em;word-break:break-all}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}table,svg{break-inside:avoid}a{color:inherit}}
"#;

fn n(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn examples(out: &mut String, ex: &[Example]) {
    if ex.is_empty() {
        return;
    }
    out.push_str("<table><tr><th>time (UTC)</th><th>host</th><th>user</th><th>action</th><th>outcome</th><th>what</th></tr>");
    for e in ex {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&e.time),
            esc(&e.host),
            esc(&e.user),
            esc(&e.action),
            esc(&e.outcome),
            esc(&e.what)
        );
    }
    out.push_str("</table>");
}

fn counts(out: &mut String, head: &str, rows: &[Count]) {
    if rows.is_empty() {
        return;
    }
    let _ = write!(out, "<table><tr><th>{}</th><th>events</th></tr>", esc(head));
    for r in rows {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td class=n>{}</td></tr>",
            esc(&r.name),
            n(r.events)
        );
    }
    out.push_str("</table>");
}

fn section(out: &mut String, title: &str, what: &str, s: &Section, none: &str) {
    let _ = write!(out, "<h2>{}</h2>", esc(title));
    if s.events == 0 {
        let _ = write!(out, "<p>{}</p>", esc(none));
        return;
    }
    let _ = write!(
        out,
        "<p>{} events, {} failed.</p>",
        n(s.events),
        n(s.failures)
    );
    counts(out, what, &s.top);
    counts(out, "user", &s.by_user);
    examples(out, &s.examples);
}

/// The whole page.
pub fn render(r: &Report) -> String {
    let mut o = String::with_capacity(64 << 10);
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>",
        esc(&r.title)
    );
    let _ = write!(o, "<h1>{}</h1>", esc(&r.title));
    let window = match (&r.window_from, &r.window_to) {
        (None, None) => "all events in the archives".to_string(),
        (f, t) => format!(
            "from {} to {}",
            f.as_deref().unwrap_or("the start"),
            t.as_deref().unwrap_or("the end")
        ),
    };
    let _ = write!(
        o,
        "<p class=meta>Generated {} by audex from {} archive segment(s); window: {}. Events from {} to {} (UTC).</p>",
        esc(&r.generated_at),
        r.summary.segments,
        esc(&window),
        esc(&r.summary.first_event),
        esc(&r.summary.last_event)
    );
    let s = &r.summary;
    let gaps = r.loss.len() + r.silences.len();
    let _ = write!(
        o,
        "<div class=cards><div class=card><b>{}</b>events</div><div class=card><b>{}</b>failures</div><div class=card><b>{}</b>hosts</div><div class=card><b>{}</b>controls with evidence</div><div class=card><b>{}</b>failed logins</div><div class=card><b class={}>{}</b>records lost</div><div class=card><b class={}>{}</b>gaps to review</div></div>",
        n(s.events),
        n(s.failures),
        s.hosts,
        r.controls.len(),
        n(r.logins.failed + r.logins.failed_authentications),
        if r.lost_records > 0 { "bad" } else { "ok" },
        n(r.lost_records),
        if gaps > 0 { "bad" } else { "ok" },
        gaps
    );
    let i = &r.integrity;
    let _ = write!(
        o,
        "<p id=integrity class={}>{}</p>",
        if i.verified && i.intact { "ok" } else { "bad" },
        esc(&i.sentence())
    );
    if !i.findings.is_empty() {
        o.push_str("<ul class=findings>");
        for f in &i.findings {
            let _ = write!(o, "<li><code>{}</code></li>", esc(f));
        }
        o.push_str("</ul>");
    }
    if s.unreadable > 0 {
        let _ = write!(o, "<p class=bad>{} record(s) of the archives could not be read: run <code>audex verify</code>.</p>", s.unreadable);
    }

    o.push_str("<h2>Events over time</h2>");
    let last = if r.timeline.events.is_empty() {
        String::new()
    } else {
        format!("{} s per bar", r.timeline.bucket_seconds)
    };
    o.push_str(&svg::timeline(
        &r.timeline.events,
        &r.timeline.failures,
        &r.timeline.start,
        &last,
    ));
    let cats: Vec<String> = r
        .by_category
        .iter()
        .map(|c| format!("{} {}", esc(&c.name), n(c.events)))
        .collect();
    let _ = write!(o, "<p>By category: {}.</p>", cats.join(", "));

    o.push_str("<h2>Evidence per control</h2>");
    if r.controls.is_empty() {
        o.push_str("<p>No event carries a control: load a rule pack (<code>rules: {packs: [...]}</code>) or map your rule keys with <code>rules.controls</code>.</p>");
    } else {
        let items: Vec<(String, u64)> = r
            .controls
            .iter()
            .map(|c| (c.control.clone(), c.events))
            .collect();
        o.push_str(&svg::bars(&items, "#2e7d32"));
        o.push_str("<table><tr><th>control</th><th>events</th><th>failed</th><th>first seen</th><th>last seen</th><th>rule keys</th><th>hosts</th></tr>");
        for c in &r.controls {
            let _ = write!(
                o,
                "<tr><td><b>{}</b></td><td class=n>{}</td><td class=n>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&c.control),
                n(c.events),
                n(c.failures),
                esc(&c.first_seen),
                esc(&c.last_seen),
                esc(&c.keys.join(", ")),
                esc(&c.hosts.join(", "))
            );
        }
        o.push_str("</table>");
        for c in &r.controls {
            let _ = write!(o, "<h3>{}: examples</h3>", esc(&c.control));
            examples(&mut o, &c.examples);
        }
    }
    if !r.controls_without_evidence.is_empty() {
        let _ = write!(
            o,
            "<p class=bad>No evidence for: {}.</p>",
            esc(&r.controls_without_evidence.join(", "))
        );
    }

    o.push_str("<h2>Logins</h2>");
    let _ = write!(
        o,
        "<p>{} successful and {} failed logins; {} failed authentications.</p>",
        n(r.logins.succeeded),
        n(r.logins.failed),
        n(r.logins.failed_authentications)
    );
    if !r.logins.by_user.is_empty() {
        o.push_str("<table><tr><th>user</th><th>succeeded</th><th>failed</th></tr>");
        for u in &r.logins.by_user {
            let _ = write!(
                o,
                "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
                esc(&u.user),
                n(u.succeeded),
                n(u.failed)
            );
        }
        o.push_str("</table>");
    }
    examples(&mut o, &r.logins.failures);

    o.push_str("<h2>Privileged commands</h2>");
    let p = &r.privileged;
    let _ = write!(
        o,
        "<p>{} sudo commands, {} setuid program runs (uid ≠ euid), {} programs run as root by a person logged in as someone else.</p>",
        n(p.sudo),
        n(p.setuid),
        n(p.as_root_by_login_user)
    );
    counts(&mut o, "command", &p.top_commands);
    examples(&mut o, &p.examples);

    section(
        &mut o,
        "Changes to identity files and accounts",
        "file or operation",
        &r.identity_changes,
        "No changes to identity files or accounts.",
    );
    section(
        &mut o,
        "Changes to the audit configuration",
        "file or operation",
        &r.audit_changes,
        "No changes to the audit configuration.",
    );
    section(
        &mut o,
        "Failed file access",
        "file",
        &r.failed_access,
        "No failed file access.",
    );

    o.push_str("<h2>Lost records and downtime</h2>");
    if r.loss.is_empty() && r.silences.is_empty() {
        o.push_str("<p class=ok>No records were reported lost and no host went silent.</p>");
    }
    if !r.loss.is_empty() {
        let _ = write!(o, "<p class=bad>{} record(s) lost in {} report(s): these events are not in the trail.</p>", n(r.lost_records), r.loss.len());
        o.push_str("<table><tr><th>time</th><th>host</th><th>records</th><th>where</th><th>serials</th></tr>");
        for l in &r.loss {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td>{}</td><td>{}..{}</td></tr>",
                esc(&l.time),
                esc(&l.host),
                n(l.count),
                esc(&l.source),
                l.first_serial,
                l.last_serial
            );
        }
        o.push_str("</table>");
    }
    if !r.silences.is_empty() {
        o.push_str("<table><tr><th>host</th><th>from</th><th>to</th><th>seconds</th><th>why it matters</th></tr>");
        for g in &r.silences {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td>{}</td></tr>",
                esc(&g.host),
                esc(&g.from),
                esc(&g.to),
                g.seconds,
                esc(&g.reason)
            );
        }
        o.push_str("</table>");
    }

    o.push_str("<h2>Per tenant and per host</h2>");
    counts(&mut o, "tenant", &r.tenants);
    counts(&mut o, "host", &r.hosts);

    o.push_str("<h2>Top users and programs</h2>");
    let users: Vec<(String, u64)> = r
        .top_users
        .iter()
        .map(|c| (c.name.clone(), c.events))
        .collect();
    o.push_str(&svg::bars(&users, "#6a4c93"));
    counts(&mut o, "program", &r.top_programs);
    o.push_str("<p class=meta>Counts include every event in the window; examples are the first ones seen, failures preferred. Verify the archive's integrity with <code>audex verify</code>.</p></body></html>\n");
    o
}
