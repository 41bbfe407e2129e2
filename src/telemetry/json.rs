//! One JSON object per log line, written straight into the line buffer.
//!
//! The output is the shape tracing-subscriber's JSON formatter produces with
//! `flatten_event(true)` (`timestamp`, `level`, the event's fields, `target`),
//! so log pipelines see no difference; a test holds the two equal. Why our
//! own: the library formatter goes through serde's map serializer and a
//! visitor per field and formats the timestamp into a fresh `String`, which
//! made the per-request audit line cost more than verifying the request.
//! Here every field is escaped and written in place, with no allocation.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The JSON event format (`[log] format = "json"`, the default).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write_head(&mut w, meta.level())?;
        let mut fields = Fields {
            w: &mut w,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        write_tail(&mut w, meta.target())
    }
}

/// `{"timestamp":"…","level":"…"`: how every line begins, at the current time.
fn write_head(w: &mut impl fmt::Write, level: &tracing::Level) -> fmt::Result {
    w.write_str("{\"timestamp\":\"")?;
    write_rfc3339_micros(w, SystemTime::now())?;
    w.write_str("\",\"level\":\"")?;
    w.write_str(level.as_str())?;
    w.write_char('"')
}

/// `,"target":"…"}` and the newline: how every line ends.
fn write_tail(w: &mut impl fmt::Write, target: &str) -> fmt::Result {
    w.write_str(",\"target\":")?;
    write_json_str(w, target)?;
    w.write_str("}\n")
}

/// Writes each field as `,"name":value`; the first error sticks.
struct Fields<'a, W: fmt::Write> {
    w: &'a mut W,
    result: fmt::Result,
}

impl<W: fmt::Write> Fields<'_, W> {
    fn entry(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = (|| {
                // Each write is a dynamic call into the line buffer: as few
                // as the escaping allows.
                self.w.write_str(",\"")?;
                Escaping(&mut *self.w).write_str(field.name())?;
                self.w.write_str("\":")?;
                value(self.w)
            })();
        }
    }
}

impl<W: fmt::Write> Visit for Fields<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, |w| write_json_str(w, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, |w| {
            w.write_char('"')?;
            write!(Escaping(w), "{value:?}")?;
            w.write_char('"')
        });
    }

    // Integers through itoa: `write!` goes through the formatting machinery,
    // which cost several times the digits themselves.
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.entry(field, |w| write_f64(w, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, |w| w.write_str(if value { "true" } else { "false" }));
    }
}

/// serde_json's float text (what the library formatter wrote: serde_json
/// prints finite floats with zmij), and null for NaN and infinities, which
/// JSON cannot express. zmij directly, not serde_json's `Number` through
/// `write!`: the formatting machinery cost more than the digits.
fn write_f64(w: &mut impl fmt::Write, value: f64) -> fmt::Result {
    if value.is_finite() {
        w.write_str(zmij::Buffer::new().format_finite(value))
    } else {
        w.write_str("null")
    }
}

/// One log line in the [`JsonLines`] shape, written field by field without
/// going through tracing: for the per-request audit event, whose fields are
/// known in advance (see `audit::emit`). Field names must be plain JSON
/// string content (they are not escaped); values are.
pub(crate) struct Line<'a> {
    out: &'a mut String,
}

impl<'a> Line<'a> {
    /// Starts a line at the current time: timestamp, level and message.
    pub(crate) fn start(out: &'a mut String, level: tracing::Level, message: &str) -> Self {
        // Writing into a String cannot fail: the results are ignored below.
        let _ = write_head(out, &level);
        out.push_str(",\"message\":");
        let _ = write_json_str(out, message);
        Self { out }
    }

    fn name(&mut self, name: &str) -> &mut String {
        // Single characters are pushed inline; a `push_str` is a copy call.
        self.out.push(',');
        self.out.push('"');
        self.out.push_str(name);
        self.out.push('"');
        self.out.push(':');
        self.out
    }

    /// A string field; none is no field, as tracing records an absent `Option`.
    pub(crate) fn str(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            let _ = write_json_str(self.name(name), value);
        }
    }

    /// An integer field; none is no field.
    pub(crate) fn u64(&mut self, name: &str, value: Option<u64>) {
        if let Some(value) = value {
            self.name(name).push_str(itoa::Buffer::new().format(value));
        }
    }

    /// A float field; none is no field.
    pub(crate) fn f64(&mut self, name: &str, value: Option<f64>) {
        if let Some(value) = value {
            let _ = write_f64(self.name(name), value);
        }
    }

    /// Ends the line with the event's target and a newline.
    pub(crate) fn finish(self, target: &str) {
        let _ = write_tail(self.out, target);
    }
}

/// Writes `s` as a JSON string literal (RFC 8259 §7): quote, backslash and
/// control characters escaped, everything else (valid UTF-8) as is.
pub(crate) fn write_json_str(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    w.write_str("\"")?;
    Escaping(&mut *w).write_str(s)?;
    w.write_str("\"")
}

/// A `fmt::Write` adapter that escapes what passes through it for the inside
/// of a JSON string, so `Debug` output can be written without a buffer.
struct Escaping<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let bytes = s.as_bytes();
        // Every byte is tested without an early exit, so the scan compiles
        // to vector compares: most strings have nothing to escape.
        let dirty = bytes.iter().fold(false, |dirty, &b| {
            dirty | (b < 0x20) | (b == b'"') | (b == b'\\')
        });
        if !dirty {
            return self.0.write_str(s); // the common case: nothing to escape
        }
        let mut clean = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let escape: &str = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0x00..=0x1f => "",
                _ => continue,
            };
            // Only ASCII bytes are escaped, so `i` is a char boundary.
            self.0.write_str(&s[clean..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{b:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            clean = i + 1;
        }
        self.0.write_str(&s[clean..])
    }
}

/// `2026-11-23T14:26:47.013908Z`: UTC, microseconds, as tracing-subscriber's
/// default timer prints it.
pub(crate) fn write_rfc3339_micros(w: &mut impl fmt::Write, at: SystemTime) -> fmt::Result {
    // The calendar from the `time` crate; digits placed by hand, because
    // `write!` with padding (or `time`'s formatter, which allocates) cost
    // more than the rest of the line put together.
    let at = time::OffsetDateTime::from(at.max(UNIX_EPOCH));
    let (year, month, day) = at.to_calendar_date();
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |from: usize, width: usize, mut value: u32| {
        for slot in text[from..from + width].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, u32::try_from(year.clamp(0, 9999)).unwrap_or(0));
    put(5, 2, u32::from(u8::from(month)));
    put(8, 2, u32::from(day));
    put(11, 2, u32::from(at.hour()));
    put(14, 2, u32::from(at.minute()));
    put(17, 2, u32::from(at.second()));
    put(20, 6, at.microsecond());
    // Only ASCII digits were written into an ASCII template.
    w.write_str(std::str::from_utf8(&text).unwrap_or_default())
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
