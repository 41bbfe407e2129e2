//! Logging set-up: JSON (default) or pretty lines on stdout, written in
//! batches by a background thread ([`batch_writer`]) so neither a slow log
//! pipe nor a write per line costs a request anything.
//!
//! The level comes from `HOOKGUARD_LOG`, else `RUST_LOG`, else `info`.

pub mod batch_writer;
pub mod json;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
pub use batch_writer::FlushGuard;

/// Installs the global subscriber. Keep the returned guard alive for the
/// process lifetime: dropping it writes every pending line. Fails only when
/// the writer thread cannot be started: better not to serve than to serve
/// without an audit trail.
pub fn init(format: LogFormat) -> std::io::Result<FlushGuard> {
    let filter = std::env::var("HOOKGUARD_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let (writer, guard) = batch_writer::spawn(std::io::stdout())?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(true)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    // A second init (tests in one process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.event_format(json::JsonLines).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    Ok(guard)
}
