//! The shipped example configuration must pass `hookguard check` as is, with
//! the real providers and an empty environment.
//!
//! `example_config_loads_with_real_providers` needs the real provider
//! implementations (`providers::build`); it fails on a tree where `build` is
//! still a placeholder.

use std::path::Path;

use hookguard::config;

#[test]
fn example_config_loads_with_real_providers() {
    let cfg = match config::load(Path::new("config/example.toml")) {
        Ok(cfg) => cfg,
        Err(errors) => panic!("config/example.toml:\n{errors}"),
    };
    let out = config::render_check(&cfg);
    for path in [
        "/webhooks/github",
        "/webhooks/stripe",
        "/webhooks/payments",
        "/webhooks/orders",
    ] {
        assert!(out.contains(path), "{out}");
    }
    assert!(!out.contains("demo-github-secret"), "{out}");
}

#[test]
fn unreadable_file_is_one_error_without_a_position() {
    let errors = config::load(Path::new("config/no-such-file.toml"))
        .err()
        .expect("a missing file is an error");
    assert_eq!(
        errors.to_string(),
        "config/no-such-file.toml: cannot read: no such file"
    );
}

/// `check` prints its errors one per line, the last one ended too, so that
/// the shell prompt (or the next message) starts on a line of its own.
#[test]
fn check_ends_every_error_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["check", "-c", "config/no-such-file.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "config/no-such-file.toml: cannot read: no such file\n"
    );
}
