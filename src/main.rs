//! The `hookguard` binary: CLI → config → telemetry → serve, and the mapping
//! of failures to exit codes (0 ok, 1 start-up failure, 2 invalid config).

use std::process::ExitCode;

use clap::Parser;

use hookguard::cli::{Cli, Command, ConfigArg};
use hookguard::{config, providers, runtime, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(&args),
        Command::Check(args) => check(&args),
        Command::Providers => {
            print_providers();
            ExitCode::SUCCESS
        }
        Command::Spool(args) => ExitCode::from(hookguard::spool::ops::run(&args)),
    }
}

fn print_providers() {
    let rows = providers::describe_all();
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4);
    println!("{:width$}  ALGORITHM / HEADERS / SIGNED", "NAME");
    for r in rows {
        println!("{:width$}  {}", r.name, r.algorithm);
        println!("{:width$}    headers: {}", "", r.headers);
        println!("{:width$}    signed:  {}", "", r.signed);
    }
}

fn check(args: &ConfigArg) -> ExitCode {
    match config::load(&args.config) {
        Ok(cfg) => {
            print!("{}", config::render_check(&cfg));
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprint!("{errors}");
            ExitCode::from(2)
        }
    }
}

fn serve(args: &ConfigArg) -> ExitCode {
    let cfg = match config::load(&args.config) {
        Ok(cfg) => cfg,
        Err(errors) => {
            eprint!("{errors}");
            return ExitCode::from(2);
        }
    };
    let _log_guard = telemetry::init(cfg.log.format);
    for warning in &cfg.warnings {
        tracing::warn!(config = %cfg.source.display(), "{warning}");
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hookguard: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async move {
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
        shutdown_signal().await;
        tracing::info!("shutdown signal received");
        if running.shutdown().await {
            tracing::info!("drained; exiting");
        }
        ExitCode::SUCCESS
    })
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
