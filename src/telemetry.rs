//! Logging set-up: JSON (default) or pretty lines on stdout, written by a
//! background thread so a slow terminal or log pipe never stalls a request.
//!
//! The level comes from `HOOKGUARD_LOG`, else `RUST_LOG`, else `info`.

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Log lines that may wait for the writer thread before requests block.
const LOG_QUEUE_LINES: usize = 8 * 1024;
/// Bytes of log lines gathered into one write while the queue is non-empty.
const LOG_WRITE_BUFFER: usize = 64 * 1024;

/// Installs the global subscriber. Keep the returned guard alive for the
/// process lifetime: dropping it flushes buffered events.
pub fn init(format: LogFormat) -> WorkerGuard {
    let filter = std::env::var("HOOKGUARD_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // Lossless: under a flood the writer applies back-pressure rather than
    // silently dropping audit events. The queue is bounded well below the
    // library default (128,000 lines, tens of MiB when the writer lags), and
    // the writer batches lines: the worker flushes whenever the queue runs
    // empty, so at low rates every line is still written at once, and under
    // load one write(2) carries many lines instead of one each.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .finish(std::io::BufWriter::with_capacity(
            LOG_WRITE_BUFFER,
            std::io::stdout(),
        ));
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
