//! Durations written as Go writes them (`1h2m3.5s`, `-5m`, `300ms`), which
//! uhaha's users know from its replies (`MACHINE HUMAN`, timeseries'
//! `RETAIN`) and its arguments.

/// Nanoseconds per unit, for the units Go accepts.
const UNITS: &[(&str, f64)] = &[
    ("ns", 1.0),
    ("us", 1e3),
    ("µs", 1e3),
    ("μs", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("m", 60e9),
    ("h", 3600e9),
];

/// Parses a Go duration (`1h30m`, `-10s`, `1.5h`, `0`) into nanoseconds.
/// The error reads as Go's: `time: invalid duration "x"`.
///
/// ```
/// assert_eq!(uhaha::duration::parse("1h30m"), Ok(5_400_000_000_000));
/// assert_eq!(uhaha::duration::parse("-5m"), Ok(-300_000_000_000));
/// assert!(uhaha::duration::parse("5 minutes").is_err());
/// ```
pub fn parse(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration \"{text}\"");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number = &rest[..number_len];
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = UNITS
            .iter()
            .find(|(u, _)| *u == &rest[..unit_len])
            .ok_or_else(invalid)?
            .1;
        total += value * scale;
        rest = &rest[unit_len..];
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    let nanos = total.round() as i64;
    Ok(if negative { -nanos } else { nanos })
}

/// Formats nanoseconds as Go does: `1h2m3.5s`, `20.887440782s`, `1.5ms`,
/// `168h0m0s`, `0s`.
///
/// ```
/// assert_eq!(uhaha::duration::format(604_800_000_000_000), "168h0m0s");
/// assert_eq!(uhaha::duration::format(-1_500_000), "-1.5ms");
/// ```
pub fn format(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let body = match n {
        0 => return "0s".into(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", decimal(n, 1_000)),
        n if n < 1_000_000_000 => format!("{}ms", decimal(n, 1_000_000)),
        n => {
            let secs = n / 1_000_000_000;
            let (h, m) = (secs / 3_600, secs % 3_600 / 60);
            let s = decimal(n % 60_000_000_000, 1_000_000_000);
            match (h, m) {
                (0, 0) => format!("{s}s"),
                (0, m) => format!("{m}m{s}s"),
                (h, m) => format!("{h}h{m}m{s}s"),
            }
        }
    };
    format!("{sign}{body}")
}

/// `value / unit` with the fraction's trailing zeros trimmed.
fn decimal(value: u64, unit: u64) -> String {
    let frac = value % unit;
    if frac == 0 {
        return (value / unit).to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{}.{}", value / unit, digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        let cases = [
            ("0", 0),
            ("1ns", 1),
            ("1.5us", 1_500),
            ("2µs", 2_000),
            ("300ms", 300_000_000),
            ("10s", 10_000_000_000),
            ("-5m", -300_000_000_000),
            ("+1h", 3_600_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("1.5h", 5_400_000_000_000),
            ("2h45m10.5s", 9_910_500_000_000),
            (".5s", 500_000_000),
        ];
        for (text, nanos) in cases {
            assert_eq!(parse(text), Ok(nanos), "{text}");
        }
        for bad in ["", "-", "5", "1x", "h", "1h5", "abc", "1..5s", "."] {
            assert_eq!(
                parse(bad),
                Err(format!("time: invalid duration \"{bad}\"")),
                "{bad}"
            );
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(0), "0s");
        assert_eq!(format(999), "999ns");
        assert_eq!(format(1_500), "1.5µs");
        assert_eq!(format(13_992_716), "13.992716ms");
        assert_eq!(format(20_887_440_782), "20.887440782s");
        assert_eq!(format(3_723_500_000_000), "1h2m3.5s");
        assert_eq!(format(60_000_000_000), "1m0s");
        assert_eq!(format(-3_600_000_000_000), "-1h0m0s");
    }

    #[test]
    fn round_trips() {
        for nanos in [
            1,
            1_234,
            5_400_000_000_000,
            -42_000_000_000,
            604_800_000_000_000,
        ] {
            assert_eq!(parse(&format(nanos)), Ok(nanos));
        }
    }
}
