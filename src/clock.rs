//! Wall-clock time in the two forms hookguard uses: Unix milliseconds (the
//! one reading per request every check agrees on; spool schedules) and
//! RFC 3339 text for people (reports, warnings, `spool ls`).

use std::time::{SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Now as Unix milliseconds (0 before 1970, saturating far in the future).
pub fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Unix seconds as RFC 3339 (`2023-11-14T22:13:20Z`); `None` outside the
/// years the format can express. Callers choose their own fallback.
pub fn rfc3339(unix_secs: i64) -> Option<String> {
    rfc3339_nanos(i128::from(unix_secs) * 1_000_000_000)
}

/// Unix milliseconds as RFC 3339, with the fraction when there is one.
pub fn rfc3339_millis(unix_ms: i64) -> Option<String> {
    rfc3339_nanos(i128::from(unix_ms) * 1_000_000)
}

fn rfc3339_nanos(nanos: i128) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_forms() {
        assert_eq!(
            rfc3339(1_700_000_000).as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
        assert_eq!(
            rfc3339_millis(1_700_000_000_250).as_deref(),
            Some("2023-11-14T22:13:20.25Z")
        );
        assert_eq!(rfc3339(i64::MAX), None);
        assert!(unix_millis() > 1_700_000_000_000);
    }
}
