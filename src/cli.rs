//! Command line (SPEC §1): one subcommand per job, one name per option.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A reverse proxy that forwards only genuinely signed webhooks.
#[derive(Debug, Parser)]
#[command(name = "hookguard", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy.
    Serve(ConfigArg),
    /// Validate a config and print its route table; exit 0, or 2 with errors.
    Check(ConfigArg),
    /// List every built-in provider scheme.
    Providers,
}

/// Where the configuration file is.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Configuration file.
    #[arg(
        short,
        long,
        env = "HOOKGUARD_CONFIG",
        default_value = "hookguard.toml",
        value_name = "PATH"
    )]
    pub config: PathBuf,
}
