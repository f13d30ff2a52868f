//! The one JSON writer: every JSON text hutch prints (`--info-fd`, `--json-status-fd`,
//! `--report`, `--stats`, the slirp4netns API requests) builds its strings here.
//!
//! A leaf module: it imports nothing from the crate, so any layer may use it.

/// A JSON string literal, quotes included (RFC 8259 section 7): `"` and `\` escaped,
/// the control characters as `\b \f \n \r \t` or `\u00XX`; everything else, non-ASCII
/// included, as it is (JSON text is UTF-8).
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON array of strings on one line: `["a", "b"]`.
pub fn list<S: AsRef<str>>(items: &[S]) -> String {
    let v: Vec<String> = items.iter().map(|s| string(s.as_ref())).collect();
    format!("[{}]", v.join(", "))
}

/// A string, or `null`.
pub fn opt_string(s: Option<&str>) -> String {
    s.map_or_else(|| "null".to_string(), string)
}

/// A number, or `null`.
pub fn opt_number(n: Option<u64>) -> String {
    n.map_or_else(|| "null".to_string(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        for (s, json) in [
            ("", r#""""#),
            ("plain", r#""plain""#),
            ("a\"b", r#""a\"b""#),
            ("a\\b", r#""a\\b""#),
            ("two\nlines", r#""two\nlines""#),
            ("\t\r\u{8}\u{c}", r#""\t\r\b\f""#),
            (
                "\u{0}\u{1}\u{1b}[0m\u{1f}",
                r#""\u0000\u0001\u001b[0m\u001f""#,
            ),
            // DEL and what is above ASCII need no escape.
            ("\u{7f}", "\"\u{7f}\""),
            ("/home/zoë/日本", "\"/home/zoë/日本\""),
            ("/", r#""/""#),
        ] {
            assert_eq!(string(s), json, "{s:?}");
        }
    }

    #[test]
    fn lists_and_nulls() {
        assert_eq!(list::<&str>(&[]), "[]");
        assert_eq!(list(&["a", "b\n"]), r#"["a", "b\n"]"#);
        assert_eq!(opt_string(None), "null");
        assert_eq!(opt_string(Some("x")), r#""x""#);
        assert_eq!(opt_number(None), "null");
        assert_eq!(opt_number(Some(7)), "7");
    }
}
