//! hookguard: a reverse proxy that lets through only genuine webhooks.
//!
//! The crate is a library with a thin binary (`main.rs`) so that integration
//! tests and benchmarks can drive the same code the binary runs.

pub mod config;
pub mod providers;
pub mod secret;
