//! `-c CONFIG --route PATH`: loads the configuration exactly as `serve` and
//! `check` do (so `env:` and `file:` references resolve and every error
//! reads the same) and picks one route to sign or verify for.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::cli::RouteArgs;
use crate::config::{self, Config};

use super::target::Target;
use super::Failure;

/// The configured route the flags name, as a [`Target`]; `None` when
/// neither `-c` nor `--route` was given.
pub(crate) fn target(args: &RouteArgs) -> Result<Option<Target>, Failure> {
    if args.config.is_none() && args.route.is_none() {
        return Ok(None);
    }
    let file = config_path(args);
    let cfg = config::load(&file).map_err(Failure::Config)?;
    let Some(path) = &args.route else {
        return Err(Failure::Tool(format!(
            "-c needs --route PATH, the route to use; {}",
            route_list(&cfg)
        )));
    };
    let Some(route) = cfg.routes.iter().find(|r| r.path == *path) else {
        return Err(Failure::Tool(format!(
            "{}: no [[route]] has path {path:?}; {}",
            file.display(),
            route_list(&cfg)
        )));
    };
    Ok(Some(Target::from_route(route, cfg.server.tls.is_some())))
}

/// `-c`, else the file `serve` would read: `$HOOKGUARD_CONFIG`, else
/// `./hookguard.toml`.
fn config_path(args: &RouteArgs) -> PathBuf {
    args.config.clone().unwrap_or_else(|| {
        std::env::var_os("HOOKGUARD_CONFIG")
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from("hookguard.toml"), PathBuf::from)
    })
}

/// `configured routes: /a (github), /b (hmac)`.
fn route_list(cfg: &Config) -> String {
    if cfg.routes.is_empty() {
        return "the configuration has no [[route]]".into();
    }
    let mut out = String::from("configured routes:");
    for (i, r) in cfg.routes.iter().enumerate() {
        let sep = if i == 0 { " " } else { ", " };
        let _ = write!(out, "{sep}{} ({})", r.path, r.provider);
    }
    out
}
