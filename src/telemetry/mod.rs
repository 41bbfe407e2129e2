//! Logging set-up: JSON (default) or pretty lines on stdout, written in
//! batches by a background thread ([`batch_writer`]) so neither a slow log
//! pipe nor a write per line costs a request anything.
//!
//! The level comes from `HOOKGUARD_LOG`, else `RUST_LOG`, else `info`.

pub mod batch_writer;
pub mod json;

use std::sync::OnceLock;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
pub use batch_writer::{BatchWriter, FlushGuard};

/// The log writer, when the installed subscriber writes JSON lines to it.
static JSON_SINK: OnceLock<BatchWriter> = OnceLock::new();

/// Where a JSON line formatted outside tracing goes (the audit event, see
/// `audit::emit`): the same batch writer the subscriber writes to. None
/// before [`init`], with the pretty format, or when another subscriber was
/// installed first (tests), so callers fall back to a tracing event.
pub fn json_sink() -> Option<&'static BatchWriter> {
    JSON_SINK.get()
}

/// Installs the global subscriber. Keep the returned guard alive for the
/// process lifetime: dropping it writes every pending line. Fails only when
/// the writer thread cannot be started: better not to serve than to serve
/// without an audit trail.
pub fn init(format: LogFormat) -> std::io::Result<FlushGuard> {
    // An empty variable counts as unset (`HOOKGUARD_LOG= hookguard ...`
    // must not silence the audit trail).
    let var = |name| {
        std::env::var(name)
            .ok()
            .filter(|v: &String| !v.trim().is_empty())
    };
    let filter = var("HOOKGUARD_LOG")
        .or_else(|| var("RUST_LOG"))
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let (writer, guard) = batch_writer::spawn(std::io::stdout())?;
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
    Ok(guard)
}
