//! Command line (SPEC §1): one subcommand per job, one name per option.
//! The offline tools' logic lives in `tools.rs`.

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
    /// Print the headers a provider would send for a body (to test a setup).
    Sign(SignArgs),
    /// Check a captured request offline and explain why it fails.
    Verify(VerifyArgs),
    /// Inspect or repair the queue-mode spool of a stopped proxy.
    Spool(SpoolArgs),
}

/// `hookguard sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Provider name (see `hookguard providers`).
    #[arg(long)]
    pub provider: String,
    /// The secret: literal, `env:NAME` or `file:PATH`.
    #[arg(long)]
    pub secret: String,
    /// Signing time, Unix seconds (default: now).
    #[arg(long)]
    pub timestamp: Option<i64>,
    /// Event/message id, for schemes that sign one.
    #[arg(long)]
    pub id: Option<String>,
    /// Public URL, for schemes that sign it.
    #[arg(long)]
    pub url: Option<String>,
    /// Body file; `-` or absent reads stdin.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `hookguard verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Provider name (see `hookguard providers`).
    #[arg(long)]
    pub provider: String,
    /// A secret (repeat for rotation): literal, `env:NAME` or `file:PATH`.
    /// For a public-key scheme (Ed25519, ECDSA) the same as `--public-key`.
    #[arg(
        long,
        value_name = "SECRET",
        required_unless_present = "public_key",
        allow_hyphen_values = true
    )]
    pub secret: Vec<String>,
    /// A public key of an asymmetric scheme (repeatable), as the provider
    /// shows it: Discord 64 hex characters, SendGrid base64 DER, Standard
    /// Webhooks `whpk_...`; literal, `env:NAME` or `file:PATH`.
    #[arg(long = "public-key", value_name = "KEY", allow_hyphen_values = true)]
    pub public_key: Vec<String>,
    /// A received header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Public URL the provider called, for schemes that sign it.
    #[arg(long)]
    pub url: Option<String>,
    /// Override the provider's default tolerance, e.g. `10m`.
    #[arg(long)]
    pub tolerance: Option<String>,
    /// Body file; `-` or absent reads stdin.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `hookguard spool ls|retry|purge --dir PATH`.
#[derive(Debug, clap::Args)]
pub struct SpoolArgs {
    /// What to do with the spool.
    #[command(subcommand)]
    pub action: SpoolAction,
    /// The spool directory (`[spool] dir`).
    #[arg(
        long,
        global = true,
        default_value = "./hookguard-spool",
        value_name = "PATH"
    )]
    pub dir: PathBuf,
}

/// Operations on a stopped proxy's spool.
#[derive(Debug, Subcommand)]
pub enum SpoolAction {
    /// List records (metadata only, never bodies); `--dead` for dead letters only.
    Ls {
        /// Only dead letters.
        #[arg(long)]
        dead: bool,
    },
    /// Put dead letters back in the queue: one by id, or `--all`.
    Retry {
        /// The record id (first column of `ls`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<u64>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
    },
    /// Delete every dead letter.
    Purge,
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
