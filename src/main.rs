//! The `hookguard` binary: CLI → config → telemetry → serve, and the mapping
//! of failures to exit codes (0 ok, 1 start-up failure, 2 invalid config).

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

use hookguard::cli::{Cli, Command, ConfigArg};
use hookguard::{config, runtime, telemetry, tools};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(&args),
        Command::Check(args) => check(&args),
        Command::Providers => {
            print!("{}", tools::providers_table());
            ExitCode::SUCCESS
        }
        Command::Spool(args) => ExitCode::from(hookguard::spool::ops::run(&args)),
        Command::Presets(args) => ExitCode::from(hookguard::ip_presets::update::run(&args)),
        Command::Sign(args) => report(tools::sign(&args)),
        Command::Verify(args) => report(tools::verify(&args)),
    }
}

/// Prints an offline tool's result: stdout and 0, or stderr and the
/// failure's exit status.
fn report(result: Result<String, tools::Failure>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

fn check(args: &ConfigArg) -> ExitCode {
    match config::load(&args.config) {
        Ok(cfg) => {
            print!("{}", config::render_check(&cfg));
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::from(2)
        }
    }
}

fn serve(args: &ConfigArg) -> ExitCode {
    let cfg = match config::load(&args.config) {
        Ok(cfg) => cfg,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    let log_guard = match telemetry::init(cfg.log.format) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("hookguard: cannot start the log writer: {e}");
            return ExitCode::from(1);
        }
    };
    for warning in &cfg.warnings {
        tracing::warn!(config = %cfg.source.display(), "{warning}");
    }
    let rt = match build_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hookguard: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = rt.block_on(async move {
        // Registered before the listener is up: an early SIGHUP must not kill us.
        let hangups = Hangups::register();
        let tls = cfg.server.tls.is_some();
        let running = match runtime::start(cfg).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "start-up failed");
                eprintln!("hookguard: {e}");
                return ExitCode::from(1);
            }
        };
        tracing::info!(
            addr = %running.addr,
            tls,
            routes = running.app().config().routes.len(),
            "listening"
        );
        serve_until_shutdown(&running, hangups).await;
        tracing::info!("shutdown signal received");
        if running.shutdown().await {
            tracing::info!("drained; exiting");
        }
        ExitCode::SUCCESS
    });
    drop(rt);
    // The last lines, within a bound: a stuck log consumer must not keep a
    // stopped proxy alive.
    let unwritten = log_guard.finish(telemetry::FINAL_FLUSH);
    if unwritten > 0 {
        report_unwritten(unwritten);
    }
    code
}

/// Says on stderr how many log lines could not be written at exit, from a
/// thread waited for only briefly: stderr may be as stuck as stdout.
fn report_unwritten(lines: u64) {
    let (done, written) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().spawn(move || {
        eprintln!(
            "hookguard: log output is stuck: {lines} log lines could not be written before exit"
        );
        let _ = done.send(());
    });
    if spawned.is_ok() {
        let _ = written.recv_timeout(std::time::Duration::from_millis(500));
    }
}

/// The async runtime: as many worker threads as `TOKIO_WORKER_THREADS` (else
/// one per CPU). With a single worker, a current-thread runtime: one thread
/// that owns every task, where a work-stealing scheduler would only add
/// cross-thread hand-offs and wake-ups to each request.
fn build_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let workers = std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    if workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    }
}

/// Waits for SIGTERM/SIGINT, reloading the configuration on every SIGHUP
/// (a failed reload is logged by `reload` and the old configuration stays).
async fn serve_until_shutdown(running: &runtime::Running, mut hangups: Hangups) {
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = hangups.recv() => {
                tracing::info!("SIGHUP received: reloading configuration");
                let _ = running.reload();
            }
        }
    }
}

/// The SIGHUP stream (never fires where there is no SIGHUP).
struct Hangups(#[cfg(unix)] Option<tokio::signal::unix::Signal>);

impl Hangups {
    fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Self(signal(SignalKind::hangup()).ok())
        }
        #[cfg(not(unix))]
        {
            Self()
        }
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(hup) = &mut self.0 {
            if hup.recv().await.is_some() {
                return;
            }
        }
        std::future::pending::<()>().await;
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
