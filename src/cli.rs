//! Command line: one subcommand per job, one name per option.
//! The offline tools' logic lives in `tools/`.

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
    ///
    /// Either name a provider and its secret (`--provider P --secret S`), or
    /// use a configured route (`-c CONFIG --route PATH`): its provider,
    /// `[route.hmac]`, first unexpired secret and `public_url`. Public-key
    /// schemes (Ed25519, ECDSA) sign with the private key, given as
    /// `--secret` in both forms. Prints one `Name: value` line per header.
    #[command(
        override_usage = "hookguard sign (--provider P --secret S | -c CONFIG --route PATH) \
                          [--secret S] [--timestamp UNIX] [--id ID] [--url URL] [FILE|-]"
    )]
    Sign(SignArgs),
    /// Check a captured request offline and explain why it fails.
    ///
    /// Either name a provider and its keys (`--provider P --secret S`, or
    /// `--public-key K` for Ed25519/ECDSA schemes, where `--secret` means
    /// the same), or use a configured route (`-c CONFIG --route PATH`): its
    /// provider, `[route.hmac]`, secrets or public keys, `public_url` and
    /// tolerance. Checks in the proxy's order. Exit 0 "valid ...", or 1 with
    /// the error code the proxy would answer and why; 2 when the
    /// configuration is invalid. Never prints a secret, a received signature
    /// or the body: only its length and SHA-256.
    #[command(
        override_usage = "hookguard verify (--provider P ((--secret S | --public-key K)... \
                          | --key-file PATH) | -c CONFIG --route PATH) [-H \"Name: value\"]... \
                          [--url URL] [--tolerance DUR] [--key-file PATH] [FILE|-]"
    )]
    Verify(VerifyArgs),
    /// Inspect or repair the queue-mode spool of a stopped proxy.
    Spool(SpoolArgs),
    /// Provider IP presets for `allow_ips = ["preset:NAME"]`.
    Presets(PresetsArgs),
}

/// `hookguard presets update [--out FILE]`.
#[derive(Debug, clap::Args)]
pub struct PresetsArgs {
    /// What to do with the presets.
    #[command(subcommand)]
    pub action: PresetsAction,
}

/// Operations on the presets.
#[derive(Debug, Subcommand)]
pub enum PresetsAction {
    /// Fetch the providers' published lists and write a presets file.
    ///
    /// Starts from FILE when it exists (else from the built-in presets); a
    /// feed that cannot be fetched keeps that provider's previous list.
    /// Exit 0 when every feed was fetched, 1 when some were not (the file
    /// is still written), 2 when nothing could be written.
    Update {
        /// Where to write the presets (read first, when it exists);
        /// stdout when absent. Point `[server] ip_presets = "file:FILE"`
        /// at it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// For tests: fetch `https://host/path` as `URL/NAME/path`.
        #[arg(long, value_name = "URL", hide = true)]
        feed_base: Option<String>,
    },
}

/// `-c CONFIG --route PATH`: take the scheme and its parameters from a
/// configured route rather than from flags.
#[derive(Debug, clap::Args)]
pub struct RouteArgs {
    /// Configuration file holding the route (with --route, default:
    /// $HOOKGUARD_CONFIG, else ./hookguard.toml); loaded as `check` loads it.
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// Exact path of the `[[route]]` to use, e.g. `/webhooks/payments`.
    #[arg(long, value_name = "PATH")]
    pub route: Option<String>,
}

/// `hookguard sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Provider name (see `hookguard providers`).
    #[arg(
        long,
        required_unless_present_any = ["route", "config"],
        conflicts_with_all = ["route", "config"]
    )]
    pub provider: Option<String>,
    /// The secret: literal, `env:NAME` or `file:PATH`. For a public-key
    /// scheme the private key (Ed25519 seed as hex or base64, SendGrid
    /// base64 PKCS#8). With --route: signs instead of the route's secrets,
    /// and required when the route holds public keys.
    #[arg(
        long,
        required_unless_present_any = ["route", "config"],
        allow_hyphen_values = true
    )]
    pub secret: Option<String>,
    /// The route to sign for, instead of --provider.
    #[command(flatten)]
    pub route: RouteArgs,
    /// Signing time, Unix seconds (default: now).
    #[arg(long)]
    pub timestamp: Option<i64>,
    /// Event/message id, for schemes that sign one.
    #[arg(long)]
    pub id: Option<String>,
    /// Public URL, for schemes that sign it (default with --route: its `public_url`).
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
    #[arg(
        long,
        required_unless_present_any = ["route", "config"],
        conflicts_with_all = ["route", "config"]
    )]
    pub provider: Option<String>,
    /// A secret (repeat for rotation): literal, `env:NAME` or `file:PATH`.
    /// For a public-key scheme (Ed25519, ECDSA) the same as --public-key.
    /// With --route: replaces the route's secrets or keys.
    #[arg(
        long,
        value_name = "SECRET",
        required_unless_present_any = ["public_key", "route", "config", "key_file"],
        allow_hyphen_values = true
    )]
    pub secret: Vec<String>,
    /// A public key of an asymmetric scheme (repeatable), as the provider
    /// shows it: Discord 64 hex characters, SendGrid base64 DER, Standard
    /// Webhooks `whpk_...`; literal, `env:NAME` or `file:PATH`.
    #[arg(long = "public-key", value_name = "KEY", allow_hyphen_values = true)]
    pub public_key: Vec<String>,
    /// The route to verify for, instead of --provider.
    #[command(flatten)]
    pub route: RouteArgs,
    /// A received header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Public URL the provider called, for schemes that sign it (default
    /// with --route: its `public_url`, else rebuilt from the Host header).
    #[arg(long)]
    pub url: Option<String>,
    /// Tolerance instead of the provider's default (or the route's), e.g. `10m`.
    #[arg(long)]
    pub tolerance: Option<String>,
    /// For providers whose keys are fetched: the document to verify with
    /// instead of fetching it (a PEM certificate for `aws-sns` and `paypal`,
    /// given with --route; a JWKS for `fal`).
    #[arg(long = "key-file", value_name = "PATH")]
    pub key_file: Option<PathBuf>,
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
