//! Logging set-up: JSON (default) or pretty lines on stdout, written by a
//! background thread so a slow terminal or log pipe never stalls a request.
//!
//! The level comes from `HOOKGUARD_LOG`, else `RUST_LOG`, else `info`.

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Keep the returned guard alive for the
/// process lifetime: dropping it flushes buffered events.
pub fn init(format: LogFormat) -> WorkerGuard {
    let filter = std::env::var("HOOKGUARD_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // Lossless: under a flood the writer applies back-pressure rather than
    // silently dropping audit events.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(true)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    // A second init (tests in one process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    guard
}
