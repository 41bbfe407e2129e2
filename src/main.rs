//! The `hookguard` binary.

fn main() {}
