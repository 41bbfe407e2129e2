//! Logging set-up: JSON (default) or pretty lines on stdout, written in
//! batches by a background thread ([`batch_writer`]) so neither a slow log
//! pipe nor a write per line costs a request anything, and a stuck one costs
//! dropped (and counted) lines rather than stalled requests.
//!
//! Two streams share stdout. Diagnostics are filtered by `HOOKGUARD_LOG`,
//! else `RUST_LOG`, else `info`. The audit trail (one event per request, see
//! `audit`) is not a diagnostic: those variables never filter it, only
//! `[log] audit` turns it off, so that tuning the noise of the logs cannot
//! silently lose the record of what was forwarded.

pub(crate) mod batch_writer;
pub(crate) mod json;

use std::sync::OnceLock;

use tracing_subscriber::filter::Directive;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
pub(crate) use batch_writer::BatchWriter;
pub use batch_writer::{FlushGuard, FINAL_FLUSH};

/// Target of the line that reports dropped log lines.
const TARGET: &str = "hookguard::telemetry";

/// The log writer, when the installed subscriber writes JSON lines to it.
static JSON_SINK: OnceLock<BatchWriter> = OnceLock::new();

/// Where a JSON line formatted outside tracing goes (the audit event, see
/// `audit::emit`): the same batch writer the subscriber writes to. None
/// before [`init`], with the pretty format, or when another subscriber was
/// installed first (tests), so callers fall back to a tracing event.
pub(crate) fn json_sink() -> Option<&'static BatchWriter> {
    JSON_SINK.get()
}

/// Installs the global subscriber. Keep the returned guard alive for the
/// process lifetime: dropping it writes every pending line. Fails only when
/// the writer thread cannot be started: better not to serve than to serve
/// without an audit trail.
pub fn init(format: LogFormat) -> std::io::Result<FlushGuard> {
    let (filter, invalid) = diagnostic_filter();
    let filter = filter.add_directive(audit_passes());
    let report = match format {
        LogFormat::Json => report_dropped_json,
        LogFormat::Pretty => report_dropped_pretty,
    };
    let dropped = crate::metrics::log_dropped().clone();
    let (writer, guard) = batch_writer::spawn(std::io::stdout(), dropped, report)?;
    let sink = writer.clone();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(true)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    // A second init (tests in one process) keeps the first subscriber.
    match format {
        LogFormat::Json => {
            if builder.event_format(json::JsonLines).try_init().is_ok() {
                let _ = JSON_SINK.set(sink);
            }
        }
        LogFormat::Pretty => {
            let _ = builder.compact().try_init();
        }
    }
    if let Some(problem) = invalid {
        tracing::warn!("{problem}; logging diagnostics at info");
    }
    Ok(guard)
}

/// The diagnostic filter from `HOOKGUARD_LOG`, else `RUST_LOG`, else
/// `info`; with the reason when the variable's value was not a valid filter
/// (then `info`, and the caller says so once logging works).
fn diagnostic_filter() -> (EnvFilter, Option<String>) {
    // An empty variable counts as unset (`HOOKGUARD_LOG= hookguard ...`).
    let var = |name: &'static str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (name, v))
    };
    match var("HOOKGUARD_LOG").or_else(|| var("RUST_LOG")) {
        None => (EnvFilter::new("info"), None),
        Some((name, spec)) => match EnvFilter::try_new(&spec) {
            Ok(filter) => (filter, None),
            Err(e) => (
                EnvFilter::new("info"),
                Some(format!("{name} is not a valid filter ({e})")),
            ),
        },
    }
}

/// The directive that lets every audit event through the diagnostic filter
/// (it replaces any the variables gave for the `audit` target). Only the
/// pretty format needs it: JSON audit lines do not go through tracing.
fn audit_passes() -> Directive {
    AUDIT_PASSES
        .parse()
        .expect("a constant, valid directive (tested)")
}

/// `audit=trace`, spelled out for [`audit_passes`].
const AUDIT_PASSES: &str = "audit=trace";

/// The dropped-lines report as a JSON line (see [`json::Line`]).
fn report_dropped_json(dropped: u64, batch: &mut Vec<u8>) {
    let mut text = String::with_capacity(160);
    let mut line = json::Line::start(&mut text, tracing::Level::WARN, &dropped_message(dropped));
    line.u64("dropped", Some(dropped));
    line.finish(TARGET);
    batch.extend_from_slice(text.as_bytes());
}

/// The dropped-lines report in the pretty (compact) format.
fn report_dropped_pretty(dropped: u64, batch: &mut Vec<u8>) {
    let mut text = String::with_capacity(160);
    let _ = json::write_rfc3339_micros(&mut text, std::time::SystemTime::now());
    text.push_str("  WARN ");
    text.push_str(TARGET);
    text.push_str(": ");
    text.push_str(&dropped_message(dropped));
    text.push_str(" dropped=");
    text.push_str(itoa::Buffer::new().format(dropped));
    text.push('\n');
    batch.extend_from_slice(text.as_bytes());
}

fn dropped_message(dropped: u64) -> String {
    format!("log output fell behind: dropped {dropped} lines")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn audit_events_pass_the_strictest_diagnostic_filter_and_an_audit_off() {
        for spec in ["off", "error", "warn,audit=off"] {
            let capture = Capture::default();
            let writer = capture.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter(EnvFilter::new(spec).add_directive(audit_passes()))
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::with_default(subscriber, || {
                tracing::info!(target: "audit", "a decision");
                tracing::info!("a diagnostic");
            });
            let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
            assert!(text.contains("a decision"), "{spec}: {text}");
            assert!(!text.contains("a diagnostic"), "{spec}: {text}");
        }
    }

    #[test]
    fn the_dropped_report_is_one_json_line_with_the_count() {
        let mut batch = b"before\n".to_vec();
        report_dropped_json(1234, &mut batch);
        let text = String::from_utf8(batch).unwrap();
        let line = text.strip_prefix("before\n").unwrap();
        assert!(
            line.ends_with('\n') && line.matches('\n').count() == 1,
            "{line}"
        );
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["message"], "log output fell behind: dropped 1234 lines");
        assert_eq!(v["dropped"], 1234);
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["target"], TARGET);
    }
}
