//! hookguard: a reverse proxy that lets through only genuine webhooks.
//!
//! The crate is a library with a thin binary (`main.rs`) so that integration
//! tests and benchmarks drive the same code the binary runs. Map of the
//! problem, one module per concern:
//!
//! - [`config`]: TOML → validated [`config::Config`] (errors with file:line:col).
//! - [`providers`]: signature schemes, one file per family, behind one trait.
//! - [`body`]: a received body kept as its frames, hashed and sent in place.
//! - [`proxy`]: the request pipeline; the only place errors become responses.
//! - `upstream`: sending to the app: pooled client, URI, typed errors.
//! - `keystore`: keys and certificates fetched from providers (HTTPS only,
//!   bounded, cached, single-flight); the providers layer only names them.
//! - [`replay`]: de-duplication state machine and stores.
//! - `receipt`: hookguard's Standard Webhooks signature on what it forwards.
//! - [`spool`]: queue mode: durable spool, delivery worker, dead letters.
//! - `server`, [`tls`]: listener, HTTP/1.1 + HTTP/2, TLS, graceful drain.
//! - `audit`, [`telemetry`]: one decision event per request; log set-up.
//! - `metrics`, `report`, `admin`: Prometheus metrics, the request report,
//!   and the admin listener that serves them.
//! - `security`, `ratelimit`: suspicious sources / auto-block; token buckets.
//! - `recent`: the last decisions in a fixed ring (`/audit/recent`).
//! - [`secret`]: secret bytes that cannot be logged by accident.
//! - `clock`: wall-clock readings and their RFC 3339 text; `ip_text`: an IP
//!   address as text without allocating.
//! - [`ip_presets`]: provider webhook source ranges for `allow_ips`, built
//!   in or refreshed from the providers' feeds (`presets update`).
//! - `explain`: why a request was refused, in one line shared by `verify`
//!   and the audit event's `reason`.
//! - [`runtime`]: builds everything from a `Config`, serves, reloads, drains.
//! - [`cli`], [`tools`]: the command line; offline `sign` / `verify` /
//!   `providers` for testing a setup.
//!
//! Layers depend one way: `config` → `providers` → (`secret`, `body`,
//! `clock`); `config` parses TOML into the providers' own parameter types
//! and asks [`providers::build`] for verifiers.
//!
//! # Public surface
//!
//! Only what the binary, `tests/`, `benches/` and `examples/` use is `pub`;
//! everything else is `pub(crate)`, so the compiler reports dead code:
//!
//! - the binary: [`cli`], [`config::load`] and [`config::render_check`],
//!   [`telemetry::init`], [`runtime::start`], [`tools`], [`spool::ops::run`];
//! - tests and benches: [`config::from_str`] (and `from_str_with`, with a
//!   fake verifier builder) and the [`config::Config`] they inspect; the
//!   [`providers`] entry points ([`providers::build`], [`providers::sign`],
//!   the [`providers::Verifier`] trait, its inputs and outputs);
//!   [`body::Payload`] and [`secret::Secret`] to call them; the [`replay`]
//!   stores and keys; [`runtime::Running`] with the read-only accessors of
//!   [`proxy::App`] that tests assert on; [`tls::server_config`] and
//!   [`proxy::headers::prepare_upstream`] (property-tested).

#![forbid(unsafe_code)]
// Module docs are a map of the code for its maintainers (`cargo doc
// --document-private-items`) and link to crate-private items on purpose.
#![allow(rustdoc::private_intra_doc_links)]

pub(crate) mod admin;
pub(crate) mod audit;
pub mod body;
pub mod cli;
pub(crate) mod clock;
pub mod config;
pub(crate) mod explain;
pub mod ip_presets;
pub(crate) mod ip_text;
pub(crate) mod keystore;
pub(crate) mod metrics;
pub mod providers;
pub mod proxy;
pub(crate) mod ratelimit;
pub mod receipt;
pub(crate) mod recent;
pub mod replay;
pub(crate) mod report;
pub mod runtime;
pub mod secret;
pub(crate) mod security;
pub(crate) mod server;
pub mod spool;
pub mod telemetry;
pub mod tls;
pub mod tools;
pub(crate) mod upstream;
