//! One parser per kind of value, and the matching writers: sizes, durations, plain
//! numbers (DESIGN.md, "Command-line conventions").
//!
//! Every place that takes a size under the hutch name (`--size`, `--tmpfs-size`,
//! `--memory`, `--memory-swap`, `--rlimit as=200M`, a profile's `size = "1M"`) calls
//! [`parse_size`]; `--timeout` (and a profile's `timeout`) calls [`parse_duration`].
//! bwrap's own `--size` form under the bwrap name is [`parse_strtoull`]. Ports and
//! file modes have one parser each too, and so has a kernel release (`6.1.0-13-amd64`).
//!
//! A leaf module: it imports nothing from the crate, so any layer may use it. The
//! callers turn `None` into one error line naming the flag and the value.

use std::time::Duration;

/// `12`, `4k`, `200M`, `2G`: plain bytes or a binary suffix (k, M, G, either case).
pub fn parse_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1u64 << 10),
        b'm' | b'M' => (&s[..s.len() - 1], 1 << 20),
        b'g' | b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    parse_count(num)?.checked_mul(mult)
}

/// A size the way a person would write it back: the largest exact k/M/G unit, else bytes.
pub fn format_size(n: u64) -> String {
    for (unit, s) in [(1u64 << 30, "G"), (1 << 20, "M"), (1 << 10, "k")] {
        if n >= unit && n % unit == 0 {
            return format!("{}{s}", n / unit);
        }
    }
    n.to_string()
}

/// bwrap's `--size`: `strtoull(s, &end, 0)` with the whole string used and a leading
/// digit required (bwrap refuses a sign or a space): decimal, `0x…` hex, `0…` octal.
pub fn parse_strtoull(t: &str) -> Option<u64> {
    if !t.starts_with(|c: char| c.is_ascii_digit()) {
        None
    } else if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16)
            .ok()
            .filter(|_| !hex.starts_with('+'))
    } else if t.len() > 1 && t.starts_with('0') {
        u64::from_str_radix(&t[1..], 8)
            .ok()
            .filter(|_| !t[1..].starts_with('+'))
    } else {
        t.parse::<u64>().ok()
    }
}

/// `1.5` (seconds), `500ms`, `10s`, `2m`, `1h`; more than zero, at most about 31 years.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let (num, unit) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    let secs = parse_decimal(num)? * unit;
    // Up to about 31 years; anything longer is a typo.
    (secs > 0.0 && secs <= 1e9).then(|| Duration::from_secs_f64(secs))
}

/// A duration the way a person would write it back: `1s`, `1.5s`, `500ms`.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) && d.subsec_nanos() % 1_000_000 == 0 {
        format!("{}ms", d.as_millis())
    } else {
        let s = format!("{:.3}", d.as_secs_f64());
        format!("{}s", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// A plain decimal number: digits with at most one point (no sign, exponent, inf, nan).
pub fn parse_decimal(s: &str) -> Option<f64> {
    let ok = !s.is_empty()
        && s != "."
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.bytes().filter(|b| *b == b'.').count() <= 1;
    ok.then(|| s.parse::<f64>().ok()).flatten()
}

/// A whole number: ASCII digits only (no sign, space or suffix), fitting in a u64.
pub fn parse_count(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok()
}

/// A TCP port: a whole number from 0 to 65535 (the callers that need one refuse 0).
pub fn parse_port(s: &str) -> Option<u16> {
    parse_count(s).and_then(|n| u16::try_from(n).ok())
}

/// A file mode: octal digits only, at most 07777 (`--perms`, `--chmod`, a profile's `perms`).
pub fn parse_mode(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(s, 8).ok().filter(|m| *m <= 0o7777)
}

/// A kernel release (`/proc/sys/kernel/osrelease`, `6.1.0-13-amd64`) as (major, minor);
/// what cannot be read counts as 0.
pub fn kernel_version(release: &str) -> (u32, u32) {
    let mut it = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for (s, n) in [
            ("0", Some(0)),
            ("12", Some(12)),
            ("4k", Some(4096)),
            ("4K", Some(4096)),
            ("1m", Some(1 << 20)),
            ("200M", Some(200 << 20)),
            ("2G", Some(2 << 30)),
            ("2g", Some(2 << 30)),
            ("", None),
            ("M", None),
            ("12X", None),
            ("1.5G", None),
            ("-1", None),
            ("+1", None),
            (" 1", None),
            ("1 M", None),
            ("1MB", None),
            ("1T", None),
            ("0x10", None),
            ("99999999999G", None),
        ] {
            assert_eq!(parse_size(s), n, "{s:?}");
        }
        for (n, s) in [
            (0, "0"),
            (1000, "1000"),
            (4096, "4k"),
            (1 << 20, "1M"),
            (3 << 29, "1536M"),
            (2 << 30, "2G"),
        ] {
            assert_eq!(format_size(n), s);
            assert_eq!(parse_size(s), Some(n));
        }
    }

    #[test]
    fn bwrap_sizes() {
        for (s, n) in [
            ("1048576", Some(1 << 20)),
            ("0x100000", Some(1 << 20)),
            ("0X10", Some(16)),
            ("010", Some(8)),
            ("0", Some(0)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("", None),
            ("1M", None),
            ("123bogus", None),
            ("-1", None),
            ("+5", None),
            (" 5", None),
            ("08", None),
            ("0x", None),
            ("0x+1", None),
        ] {
            assert_eq!(parse_strtoull(s), n, "{s:?}");
        }
    }

    #[test]
    fn durations() {
        let ms = Duration::from_millis;
        for (s, d) in [
            ("1", Some(ms(1000))),
            ("1.5", Some(ms(1500))),
            (".5", Some(ms(500))),
            ("1s", Some(ms(1000))),
            ("250ms", Some(ms(250))),
            ("2m", Some(ms(120_000))),
            ("1h", Some(ms(3_600_000))),
            ("1000000000", Some(ms(1_000_000_000_000))),
            ("1000000001", None),
            ("", None),
            ("0", None),
            ("0s", None),
            ("-1", None),
            ("1e3", None),
            ("inf", None),
            ("nan", None),
            ("1.2.3", None),
            ("s", None),
            (".", None),
            ("1d", None),
            ("1 s", None),
        ] {
            assert_eq!(parse_duration(s), d, "{s:?}");
        }
        for (d, s) in [
            (ms(1000), "1s"),
            (ms(1500), "1.5s"),
            (ms(250), "250ms"),
            (ms(120_000), "120s"),
            (Duration::from_micros(1500), "0.002s"),
        ] {
            assert_eq!(format_duration(d), s);
        }
    }

    #[test]
    fn numbers() {
        for (s, n) in [
            ("0", Some(0.0)),
            ("1.5", Some(1.5)),
            (".25", Some(0.25)),
            ("2.", Some(2.0)),
            ("", None),
            (".", None),
            ("-1", None),
            ("1e3", None),
            ("inf", None),
            ("1.2.3", None),
        ] {
            assert_eq!(parse_decimal(s), n, "{s:?}");
        }
        for (s, n) in [
            ("0", Some(0)),
            ("256", Some(256)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("", None),
            ("+1", None),
            ("-1", None),
            ("1k", None),
            (" 1", None),
        ] {
            assert_eq!(parse_count(s), n, "{s:?}");
        }
        for (s, n) in [
            ("0", Some(0)),
            ("443", Some(443)),
            ("65535", Some(65535)),
            ("65536", None),
            ("+80", None),
            ("", None),
            ("http", None),
        ] {
            assert_eq!(parse_port(s), n, "{s:?}");
        }
        for (s, n) in [
            ("0700", Some(0o700)),
            ("755", Some(0o755)),
            ("01777", Some(0o1777)),
            ("07777", Some(0o7777)),
            ("000644", Some(0o644)),
            ("10000", None),
            ("0800", None),
            ("", None),
            ("+755", None),
            ("0o755", None),
        ] {
            assert_eq!(parse_mode(s), n, "{s:?}");
        }
        for (s, v) in [
            ("6.18.0\n", (6, 18)),
            ("6.1.0-13-amd64", (6, 1)),
            ("5.14.21-150500.55.39-default", (5, 14)),
            ("6.6rc1", (6, 6)),
            ("", (0, 0)),
        ] {
            assert_eq!(kernel_version(s), v, "{s:?}");
        }
    }
}
