//! hookguard: a reverse proxy that lets through only genuine webhooks.
//!
//! The crate is a library with a thin binary (`main.rs`) so that integration
//! tests and benchmarks drive the same code the binary runs. Map of the
//! problem, one module per concern:
//!
//! - [`config`]: TOML → validated [`config::Config`] (errors with file:line:col).
//! - [`providers`]: signature schemes, one file per family, behind one trait.
//! - [`body`]: a received body kept as its frames, hashed and sent in place.
//! - [`proxy`]: the SPEC §3 pipeline; the only place errors become responses.
//! - [`replay`]: de-duplication state machine and stores.
//! - [`spool`]: queue mode: durable spool, delivery worker, dead letters.
//! - [`server`], [`tls`]: listener, HTTP/1.1 + HTTP/2, TLS, graceful drain.
//! - [`audit`], [`telemetry`]: one decision event per request; log set-up.
//! - [`metrics`], [`report`], [`admin`]: Prometheus metrics, the request
//!   report, and the admin listener that serves them.
//! - [`security`], [`ratelimit`]: suspicious sources / auto-block; token buckets.
//! - [`secret`]: secret bytes that cannot be logged by accident.
//! - [`tools`]: offline `sign` / `verify` / `providers` for testing a setup.

#![forbid(unsafe_code)]

pub mod admin;
pub mod audit;
pub mod body;
pub mod cli;
pub mod clock;
pub mod config;
pub mod metrics;
pub mod providers;
pub mod proxy;
pub mod ratelimit;
pub mod replay;
pub mod report;
pub mod runtime;
pub mod secret;
pub mod security;
pub mod server;
pub mod spool;
pub mod telemetry;
pub mod tls;
pub mod tools;
