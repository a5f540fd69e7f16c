//! Inline SVG charts for the HTML report: no scripts, no fonts beyond the
//! page's own, printable.
use super::html::esc;

/// Vertical bars over time; failures drawn over the events in red.
pub fn timeline(events: &[u64], failures: &[u64], first_label: &str, last_label: &str) -> String {
    let (w, h, pad) = (760.0, 180.0, 28.0);
    let max = events.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = events.len().max(1) as f64;
    let bw = (w - 2.0 * pad) / n;
    let mut s = format!(
        r##"<svg class="chart" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="events over time"><line x1="{pad}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#888"/>"##,
        y0 = h - pad,
        x1 = w - pad
    );
    for (i, (&e, &f)) in events.iter().zip(failures).enumerate() {
        let x = pad + i as f64 * bw;
        let eh = (h - 2.0 * pad) * e as f64 / max;
        let fh = (h - 2.0 * pad) * f as f64 / max;
        s.push_str(&format!(
            r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{eh:.1}" fill="#4a78b5"><title>{e} events</title></rect>"##,
            h - pad - eh,
            (bw - 1.0).max(0.5)
        ));
        if f > 0 {
            s.push_str(&format!(
                r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{fh:.1}" fill="#c0392b"><title>{f} failures</title></rect>"##,
                h - pad - fh,
                (bw - 1.0).max(0.5)
            ));
        }
    }
    s.push_str(&format!(
        r#"<text x="{pad}" y="{:.0}" font-size="11">{}</text><text x="{:.0}" y="{:.0}" font-size="11" text-anchor="end">{}</text><text x="{pad}" y="14" font-size="11">max {} per bar</text></svg>"#,
        h - 8.0,
        esc(first_label),
        w - pad,
        h - 8.0,
        esc(last_label),
        max as u64
    ));
    s
}

/// Horizontal bars, one per (label, value).
pub fn bars(items: &[(String, u64)], color: &str) -> String {
    if items.is_empty() {
        return String::new();
    }
    let (w, row, label_w) = (760.0, 22.0, 260.0);
    let h = row * items.len() as f64 + 8.0;
    let max = items.iter().map(|i| i.1).max().unwrap_or(1).max(1) as f64;
    let mut s = format!(r#"<svg class="chart" viewBox="0 0 {w} {h}" width="100%" role="img">"#);
    for (i, (label, v)) in items.iter().enumerate() {
        let y = 4.0 + i as f64 * row;
        let bw = (w - label_w - 70.0) * *v as f64 / max;
        let short: String = label.chars().take(40).collect();
        s.push_str(&format!(
            r#"<text x="{:.0}" y="{:.1}" font-size="12" text-anchor="end">{}</text><rect x="{label_w}" y="{y:.1}" width="{bw:.1}" height="{:.1}" fill="{color}"><title>{}: {v}</title></rect><text x="{:.1}" y="{:.1}" font-size="12">{v}</text>"#,
            label_w - 6.0,
            y + 14.0,
            esc(&short),
            row - 6.0,
            esc(label),
            label_w + bw + 4.0,
            y + 14.0
        ));
    }
    s.push_str("</svg>");
    s
}
