//! Text from outside (a receiver's reply, a file name, a record) made safe for
//! a terminal or a text log line: control characters, DEL, C1 controls and
//! bidirectional overrides become visible escapes, so such text can neither
//! move the cursor, recolour the terminal nor forge a second log line.
use std::borrow::Cow;
use std::fmt;

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// `s` with unsafe characters escaped (`\n`, `\t`, `\r`, `\x1b`, `\u{202e}`);
/// borrowed when nothing needed escaping.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 && needs_escape(c) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Displays a string escaped (for `format!` arguments).
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn controls_become_visible() {
        assert_eq!(escape("plain /srv/a b"), "plain /srv/a b");
        assert_eq!(
            escape("ok\naudex: error: forged\x1b[31m\u{202e}"),
            "ok\\naudex: error: forged\\x1b[31m\\u{202e}"
        );
        assert_eq!(escape("\u{85}\x7f"), "\\x85\\x7f");
    }
}
