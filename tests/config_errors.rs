//! Golden tests for configuration errors: every `tests/config/<name>.toml`
//! must fail validation with exactly the lines in `tests/config/<name>.err`
//! (what `hookguard check` prints on stderr, the file path as given).
//!
//! Verifiers are built by a fake that accepts every known provider, so these
//! goldens test the configuration layer alone. The environment is a fixed map
//! (`ENV` below), never the process's. `UPDATE_GOLDEN=1 cargo test --test
//! config_errors` rewrites the `.err` files; review the diff before committing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hookguard::config;
use hookguard::providers::{
    BuildError, Inbound, ProviderParams, Rejection, SharedVerifier, Verified, Verifier,
};

/// The environment every golden case sees.
const ENV: &[(&str, &str)] = &[
    ("GITHUB_SECRET", "gh-secret-from-env"),
    (
        "STRIPE_SECRET",
        "whsec_ZGVtby1zdHJpcGUtc2lnbmluZy1zZWNyZXQ=",
    ),
    ("EMPTY_SECRET", ""),
];

struct Fake(String);

impl Verifier for Fake {
    fn provider(&self) -> &str {
        &self.0
    }

    fn tolerance(&self) -> Option<std::time::Duration> {
        None
    }

    fn precheck(&self, _: &Inbound<'_>) -> Result<(), Rejection> {
        Ok(())
    }

    fn verify(&self, _: &Inbound<'_>, _: &hookguard::body::Payload) -> Result<Verified, Rejection> {
        Err(Rejection::InvalidSignature {
            detail: "fake".into(),
        })
    }
}

fn fake_build(name: &str, _: ProviderParams<'_>) -> Result<SharedVerifier, BuildError> {
    Ok(Arc::new(Fake(name.to_owned())))
}

fn env(name: &str) -> Option<String> {
    ENV.iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| (*v).to_owned())
}

/// Every `<name>.toml` under tests/config, relative to the crate root (the
/// working directory of integration tests), sorted.
fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir("tests/config")
        .expect("tests/config exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| Path::new("tests/config").join(p.file_name().unwrap_or_default()))
        .collect();
    cases.sort();
    cases
}

#[test]
fn golden_config_errors() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    let cases = cases();
    assert!(
        cases.len() >= 14,
        "expected the golden cases, found {}",
        cases.len()
    );
    for toml_path in cases {
        let err_path = toml_path.with_extension("err");
        let src = std::fs::read_to_string(&toml_path).expect("readable case");
        let actual = match config::from_str_with(&src, &toml_path, &env, &fake_build) {
            Ok(_) => "(no errors)\n".to_owned(),
            Err(errors) => format!("{errors}\n"),
        };
        if update {
            std::fs::write(&err_path, &actual).expect("writable .err");
            continue;
        }
        let expected = std::fs::read_to_string(&err_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "--- {}\n+++ actual\n{}",
                err_path.display(),
                diff(&expected, &actual)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}

/// A minimal line diff: lines only in `expected` start with `-`, lines only
/// in `actual` with `+`.
fn diff(expected: &str, actual: &str) -> String {
    let mut out = String::new();
    for line in expected
        .lines()
        .filter(|l| !actual.lines().any(|a| a == *l))
    {
        out.push_str(&format!("-{line}\n"));
    }
    for line in actual
        .lines()
        .filter(|l| !expected.lines().any(|e| e == *l))
    {
        out.push_str(&format!("+{line}\n"));
    }
    out
}

#[test]
fn errors_never_contain_secret_values() {
    for toml_path in cases() {
        let src = std::fs::read_to_string(&toml_path).expect("readable case");
        if let Err(errors) = config::from_str_with(&src, &toml_path, &env, &fake_build) {
            let text = errors.to_string();
            for (_, value) in ENV.iter().filter(|(_, v)| !v.is_empty()) {
                assert!(!text.contains(value), "{}: {text}", toml_path.display());
            }
            assert!(!text.contains("file-secret-value"), "{text}");
            assert!(!text.contains("literal-secret-value"), "{text}");
        }
    }
}

/// Validation must answer every input with `Ok` or errors, never a panic:
/// every prefix of every case and example, and each with one line removed.
#[test]
fn mangled_inputs_never_panic() {
    let mut files = cases();
    files.push(PathBuf::from("config/example.toml"));
    files.push(PathBuf::from("config/production.toml"));
    for path in files {
        let src = std::fs::read_to_string(&path).expect("readable");
        let mut variants: Vec<String> = src
            .char_indices()
            .map(|(i, _)| src[..i].to_owned())
            .collect();
        let lines: Vec<&str> = src.lines().collect();
        for skip in 0..lines.len() {
            let kept: Vec<&str> = lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, l)| *l)
                .collect();
            variants.push(kept.join("\n"));
        }
        for variant in variants {
            let result = std::panic::catch_unwind(|| {
                let _ = config::from_str_with(&variant, &path, &env, &fake_build);
            });
            assert!(
                result.is_ok(),
                "panic on a variant of {}:\n{variant}",
                path.display()
            );
        }
    }
}
