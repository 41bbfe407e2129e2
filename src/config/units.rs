//! Human durations (`"30s"`, `"5m"`) and sizes (`"1MiB"`) as written in the
//! configuration and on the command line.
//!
//! One parser each, so `[server]`, routes and `hookguard verify --tolerance`
//! accept exactly the same spellings, and every error quotes the offending
//! text. Formatting back (for `check`) lives here too so round trips agree.
//! Whether a zero or a very small value makes sense is the caller's call.

use std::time::Duration;

/// The longest duration accepted anywhere: 100 years. Larger values are
/// typos, and would overflow deadline arithmetic downstream.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// A duration or size string that could not be read; the message quotes the
/// input and says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {text:?}: {reason}")]
pub(crate) struct UnitError {
    kind: &'static str,
    text: String,
    reason: String,
}

impl UnitError {
    fn new(kind: &'static str, text: &str, reason: impl Into<String>) -> Self {
        Self {
            kind,
            text: text.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Splits `"123abc"` into its leading decimal digits and the rest.
fn split_number(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}

/// Parses a duration: a non-negative integer immediately followed by one unit
/// of `ms`, `s`, `m`, `h` or `d` (`"500ms"`, `"30s"`, `"5m"`, `"24h"`, `"3d"`).
/// No sign, no fraction, no spaces, no compound forms like `"1h30m"`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    const UNITS: &str = "ms, s, m, h or d";
    let err = |reason: String| UnitError::new("duration", text, reason);
    if text.is_empty() {
        return Err(err(format!(
            "empty; expected a number and a unit ({UNITS}), e.g. \"30s\""
        )));
    }
    if text.starts_with('-') {
        return Err(err("durations cannot be negative".into()));
    }
    let (digits, unit) = split_number(text);
    if digits.is_empty() {
        return Err(err(format!(
            "expected a whole number followed by a unit ({UNITS}), e.g. \"30s\""
        )));
    }
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "" => return Err(err(format!("missing unit ({UNITS}), e.g. \"{digits}s\""))),
        other => return Err(err(format!("unknown unit {other:?}; expected {UNITS}"))),
    };
    let too_large = || {
        err(format!(
            "too large; the maximum is {}d",
            MAX_DURATION.as_secs() / 86_400
        ))
    };
    let n: u64 = digits.parse().map_err(|_| too_large())?;
    let millis = n.checked_mul(millis_per_unit).ok_or_else(too_large)?;
    let duration = Duration::from_millis(millis);
    if duration > MAX_DURATION {
        return Err(too_large());
    }
    Ok(duration)
}

/// Parses a size: a non-negative integer immediately followed by a unit:
/// `B`, binary `KiB`/`MiB`/`GiB`/`TiB` (powers of 1024) or decimal
/// `KB`/`MB`/`GB`/`TB` (powers of 1000, as the SI names promise).
pub(crate) fn parse_size(text: &str) -> Result<u64, UnitError> {
    const UNITS: &str = "B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)";
    let err = |reason: String| UnitError::new("size", text, reason);
    if text.is_empty() {
        return Err(err(format!(
            "empty; expected a number and a unit ({UNITS}), e.g. \"1MiB\""
        )));
    }
    if text.starts_with('-') {
        return Err(err("sizes cannot be negative".into()));
    }
    let (digits, unit) = split_number(text);
    if digits.is_empty() {
        return Err(err(format!(
            "expected a whole number followed by a unit ({UNITS}), e.g. \"1MiB\""
        )));
    }
    let multiplier: u64 = match unit {
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "" => return Err(err(format!("missing unit ({UNITS}), e.g. \"{digits}B\""))),
        other => return Err(err(format!("unknown unit {other:?}; expected {UNITS}"))),
    };
    let too_large = || err("too large".into());
    let n: u64 = digits.parse().map_err(|_| too_large())?;
    n.checked_mul(multiplier).ok_or_else(too_large)
}

/// Formats a duration in the largest unit that represents it exactly, so that
/// `parse_duration(&format_duration(d)) == d` for whole milliseconds.
pub(crate) fn format_duration(d: Duration) -> String {
    let millis = d.as_millis();
    if millis == 0 {
        return "0s".into();
    }
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if millis % size == 0 {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

/// Formats a byte count in the largest binary unit that represents it exactly.
pub(crate) fn format_size(bytes: u64) -> String {
    if bytes == 0 {
        return "0B".into();
    }
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes % (1u64 << shift) == 0 {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("3d"), Ok(Duration::from_secs(259_200)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_quote_the_text() {
        for (text, needle) in [
            ("", "empty"),
            ("-5s", "negative"),
            ("5", "missing unit"),
            ("s", "whole number"),
            ("1.5s", "unknown unit \".5s\""),
            ("5 m", "unknown unit \" m\""),
            ("5min", "unknown unit \"min\""),
            ("1h30m", "unknown unit \"h30m\""),
            ("99999999999999999999s", "too large"),
            ("999999999999999d", "too large"),
            ("36501d", "too large"),
        ] {
            let err = parse_duration(text).expect_err(text).to_string();
            assert!(err.contains(&format!("{text:?}")), "{err}");
            assert!(err.contains(needle), "{text}: {err}");
        }
        assert!(parse_duration("36500d").is_ok());
    }

    #[test]
    fn sizes_binary_and_decimal() {
        assert_eq!(parse_size("0B"), Ok(0));
        assert_eq!(parse_size("512B"), Ok(512));
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert_eq!(parse_size("1MiB"), Ok(1_048_576));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2TiB"), Ok(2 << 40));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("1KB"), Ok(1_000));
    }

    #[test]
    fn bad_sizes_quote_the_text() {
        for (text, needle) in [
            ("", "empty"),
            ("-1MiB", "negative"),
            ("1024", "missing unit"),
            ("MiB", "whole number"),
            ("1mib", "unknown unit \"mib\""),
            ("1.5MiB", "unknown unit"),
            ("99999999999TiB", "too large"),
            ("99999999999999999999B", "too large"),
        ] {
            let err = parse_size(text).expect_err(text).to_string();
            assert!(err.contains(&format!("{text:?}")), "{err}");
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn formatting_round_trips() {
        for text in ["250ms", "30s", "5m", "24h", "3d", "90s", "0s"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
        assert_eq!(format_duration(Duration::from_secs(300)), "5m");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_size(1 << 20), "1MiB");
        assert_eq!(format_size(1_500), "1500B");
        assert_eq!(format_size(5 << 20), "5MiB");
    }
}
