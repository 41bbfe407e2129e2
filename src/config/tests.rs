//! Whole-file validation tests through the public seam, with a fake verifier
//! builder so that they do not depend on the real providers. (Error goldens
//! live in `tests/config_errors.rs`; real-provider checks of the shipped
//! example configs in `tests/config_examples.rs`.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::Method;

use super::*;
use crate::providers::{
    BuildError, HmacAlgorithm, Inbound, ProviderParams, Rejection, SignatureEncoding, Verified,
    Verifier,
};

/// A verifier named after its provider, timed only when the route set a
/// `tolerance`.
struct Fake(String, Option<Duration>);

static GET_ONLY: [Method; 1] = [Method::GET];

impl Verifier for Fake {
    fn provider(&self) -> &str {
        &self.0
    }

    fn tolerance(&self) -> Option<Duration> {
        self.1
    }

    fn precheck(&self, _: &Inbound<'_>) -> Result<(), Rejection> {
        Ok(())
    }

    fn verify(&self, _: &Inbound<'_>, _: &crate::body::Payload) -> Result<Verified, Rejection> {
        Err(Rejection::InvalidSignature {
            detail: "fake".into(),
        })
    }

    fn signs_url(&self) -> bool {
        self.0 == "twilio"
    }

    fn extra_methods(&self) -> &'static [Method] {
        if self.0 == "slack" {
            &GET_ONLY
        } else {
            &[]
        }
    }
}

pub(super) fn fake(name: &str, params: ProviderParams<'_>) -> Result<SharedVerifier, BuildError> {
    Ok(Arc::new(Fake(name.to_owned(), params.tolerance)))
}

pub(super) fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

pub(super) fn parse(src: &str) -> Result<Config, ConfigErrors> {
    from_str_with(
        src,
        Path::new("t.toml"),
        &env(&[("S", "secret-value")]),
        &fake,
    )
}

pub(super) fn errors(src: &str) -> String {
    match parse(src) {
        Ok(_) => panic!("expected errors for:\n{src}"),
        Err(e) => e.to_string(),
    }
}

pub(super) const MINIMAL: &str = r#"
[upstream]
url = "http://127.0.0.1:3000"

[[route]]
path = "/hook"
provider = "github"
secrets = ["env:S"]
"#;

#[test]
fn minimal_config_gets_every_default() {
    let cfg = parse(MINIMAL).unwrap();
    assert_eq!(cfg.server.listen, "0.0.0.0:8080".parse().unwrap());
    assert!(cfg.server.tls.is_none());
    assert_eq!(cfg.server.max_body, 1 << 20);
    assert!(cfg.server.trusted_proxies.is_empty());
    assert_eq!(cfg.server.request_timeout, Duration::from_secs(30));
    assert_eq!(cfg.server.idle_timeout, Duration::from_secs(60));
    assert_eq!(cfg.server.max_buffered, 64 << 20);
    assert_eq!(cfg.server.max_buffered_per_connection, 4 << 20);
    assert_eq!(cfg.server.max_concurrent_streams, 32);
    assert_eq!(cfg.server.shutdown_grace, Duration::from_secs(30));
    assert!(cfg.admin.is_none());
    assert_eq!(cfg.upstream.timeout, Duration::from_secs(30));
    assert_eq!(cfg.replay.store, ReplayStoreKind::Memory);
    assert_eq!(cfg.replay.ttl, Duration::from_secs(86_400));
    assert_eq!(cfg.replay.max_entries, 1_000_000);
    assert_eq!(cfg.replay.on_store_error, OnStoreError::Reject);
    assert_eq!(cfg.log.format, LogFormat::Json);
    assert!(cfg.log.audit);
    assert_eq!(cfg.spool.dir, PathBuf::from("./hookguard-spool"));
    assert_eq!(cfg.spool.max_size, 1 << 30);
    let route = &cfg.routes[0];
    assert_eq!(route.methods, vec![Method::POST]);
    assert_eq!(route.max_body, 1 << 20);
    assert_eq!(route.delivery, Delivery::Forward);
    assert!(!route.upstream_path_override);
    assert_eq!(route.secrets[0].origin, "env:S");
    assert_eq!(route.secrets[0].value.expose(), b"secret-value");
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

#[test]
fn idle_timeout_is_read_and_must_be_positive() {
    let src = format!("[server]\nidle_timeout = \"5s\"\n{MINIMAL}");
    assert_eq!(
        parse(&src).unwrap().server.idle_timeout,
        Duration::from_secs(5)
    );
    let zero = format!("[server]\nidle_timeout = \"0s\"\n{MINIMAL}");
    let err = errors(&zero);
    assert!(
        err.contains("t.toml:2:16: server.idle_timeout: must be greater than zero"),
        "{err}"
    );
}

#[test]
fn buffer_budgets_must_hold_the_largest_body() {
    let big_route = MINIMAL.replace("provider", "max_body = \"8MiB\"\nprovider");
    let cfg = parse(&big_route).unwrap();
    assert_eq!(
        cfg.server.max_buffered_per_connection,
        8 << 20,
        "an unset per-connection budget is raised to the largest max_body"
    );
    let set = |server: &str, src: &str| format!("[server]\n{server}\n{src}");
    let err = errors(&set("max_buffered_per_connection = \"4MiB\"", &big_route));
    assert!(
        err.contains(
            "t.toml:2:31: server.max_buffered_per_connection: 4MiB is less than \
             route[0].max_body (8MiB): a body that large could never be held; \
             set server.max_buffered_per_connection to at least that"
        ),
        "{err}"
    );
    let huge_route = MINIMAL.replace("provider", "max_body = \"100MiB\"\nprovider");
    let err = errors(&huge_route);
    assert!(
        err.contains(
            "t.toml:7:12: server.max_buffered: the default (64MiB) is less than \
             route[0].max_body (100MiB)"
        ),
        "{err}"
    );
    let err = errors(&set(
        "max_body = \"2MiB\"\nmax_buffered = \"1MiB\"",
        MINIMAL,
    ));
    assert!(
        err.contains("t.toml:3:16: server.max_buffered: 1MiB is less than server.max_body (2MiB)"),
        "{err}"
    );
    let cfg = parse(&set(
        "max_buffered = \"100MiB\"\nmax_concurrent_streams = 8",
        &huge_route,
    ))
    .unwrap();
    assert_eq!(cfg.server.max_buffered, 100 << 20);
    assert_eq!(cfg.server.max_concurrent_streams, 8);
    let err = errors(&set("max_concurrent_streams = 0", MINIMAL));
    assert!(
        err.contains("server.max_concurrent_streams: must be at least 1, got 0"),
        "{err}"
    );
}

#[test]
fn admin_defaults_and_token() {
    let src = format!("{MINIMAL}\n[admin]\ntoken = \"env:S\"\n");
    let admin = parse(&src).unwrap().admin.unwrap();
    assert_eq!(admin.listen, "127.0.0.1:9090".parse().unwrap());
    assert_eq!(admin.token.unwrap().expose(), b"secret-value");
    let open = format!("{MINIMAL}\n[admin]\nlisten = \"0.0.0.0:9090\"\n");
    let warnings = parse(&open).unwrap().warnings;
    assert!(warnings[0].starts_with("admin.listen: "), "{warnings:?}");
}

#[test]
fn admin_recent_is_bounded() {
    let admin = |extra: &str| format!("{MINIMAL}\n[admin]\n{extra}\n");
    assert_eq!(parse(&admin("")).unwrap().admin.unwrap().recent, 1000);
    assert_eq!(
        parse(&admin("recent = 0")).unwrap().admin.unwrap().recent,
        0
    );
    let err = errors(&admin("recent = 100001"));
    assert!(
        err.contains("admin.recent: must be at most 100000, got 100001"),
        "{err}"
    );
    let err = errors(&admin("recent = -1"));
    assert!(err.contains("admin.recent: must be at least 0"), "{err}");
}

#[test]
fn route_overrides() {
    let src = r#"
[server]
trusted_proxies = ["10.0.0.0/8", "192.0.2.7", "2001:db8::1", "10.1.2.3/16"]
[upstream]
url = "https://app.internal:8443"
timeout = "5s"
[[route]]
path = "/slack"
provider = "twilio"
secrets = [{ value = "env:S", expires = 2027-01-01T00:00:00Z }, "env:S"]
upstream = "http://127.0.0.1:3000/in/slack"
tolerance = "2m"
max_body = "64KiB"
allow_ips = ["2a0a:a440::/29"]
methods = ["post", "Get", "POST"]
public_url = "https://hooks.example.com/slack"
verify_token = "env:S"
"#;
    let cfg = parse(src).unwrap();
    let nets: Vec<String> = cfg
        .server
        .trusted_proxies
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        nets,
        [
            "10.0.0.0/8",
            "192.0.2.7/32",
            "2001:db8::1/128",
            "10.1.0.0/16"
        ]
    );
    let r = &cfg.routes[0];
    assert_eq!(r.upstream.url.to_string(), "http://127.0.0.1:3000/in/slack");
    assert_eq!(r.upstream.timeout, Duration::from_secs(5));
    assert!(r.upstream_path_override);
    assert_eq!(r.tolerance, Some(Duration::from_secs(120)));
    assert_eq!(r.max_body, 65_536);
    assert_eq!(r.methods, vec![Method::POST, Method::GET]);
    assert_eq!(r.secrets[0].expires, Some(1_798_761_600));
    assert_eq!(
        r.public_url.as_deref(),
        Some("https://hooks.example.com/slack")
    );
}

#[test]
fn default_methods_add_the_providers_extras() {
    let src = MINIMAL.replace("github", "slack");
    assert_eq!(
        parse(&src).unwrap().routes[0].methods,
        vec![Method::POST, Method::GET]
    );
}

/// A self-signed certificate and its key, written as PEM files.
fn write_cert_and_key(cert: &Path, key: &Path) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::create_dir_all(cert.parent().unwrap()).unwrap();
    std::fs::write(cert, certified.cert.pem()).unwrap();
    std::fs::write(key, certified.key_pair.serialize_pem()).unwrap();
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
    std::fs::write(dir.path().join("secrets/gh"), "from-file\r\n").unwrap();
    let key = dir.path().join("abs/key.pem");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    write_cert_and_key(&dir.path().join("tls/cert.pem"), &key);
    std::fs::copy(dir.path().join("tls/cert.pem"), dir.path().join("ca.pem")).unwrap();
    let src = r#"
[server]
tls = { cert = "tls/cert.pem", key = "KEY" }
[upstream]
url = "https://127.0.0.1:3000"
ca = "ca.pem"
[[route]]
path = "/hook"
provider = "github"
secrets = "file:secrets/gh"
"#;
    let src = src.replace("KEY", key.to_str().unwrap());
    let file = dir.path().join("app.toml");
    let cfg = from_str_with(&src, &file, &env(&[]), &fake).unwrap();
    let tls = cfg.server.tls.unwrap();
    assert_eq!(tls.cert, dir.path().join("tls/cert.pem"));
    assert_eq!(tls.key, key);
    assert_eq!(cfg.upstream.ca, Some(dir.path().join("ca.pem")));
    let secret = &cfg.routes[0].secrets[0];
    assert_eq!(secret.value.expose(), b"from-file");
    assert_eq!(
        secret.origin,
        format!("file:{}", dir.path().join("secrets/gh").display())
    );
}

/// Errors of a config whose `[server] tls` names `cert` and `key` in `dir`.
fn tls_errors(dir: &Path, cert: &str, key: &str) -> Vec<(usize, String, String)> {
    let src = format!(
        "[server]\n[server.tls]\ncert = \"{cert}\"\nkey = \"{key}\"\n\
         [upstream]\nurl = \"http://127.0.0.1:3000\"\n"
    );
    let errors = match from_str_with(&src, &dir.join("app.toml"), &env(&[]), &fake) {
        Ok(_) => return Vec::new(),
        Err(e) => e.errors,
    };
    errors
        .into_iter()
        .map(|e| (e.line, e.field, e.message))
        .collect()
}

#[test]
fn tls_files_are_loaded_as_serve_loads_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_cert_and_key(&d.join("a.crt"), &d.join("a.key"));
    write_cert_and_key(&d.join("b.crt"), &d.join("b.key"));
    std::fs::write(d.join("empty"), "").unwrap();
    std::fs::create_dir(d.join("dir")).unwrap();
    assert_eq!(tls_errors(d, "a.crt", "a.key"), Vec::new());

    let errors = tls_errors(d, "a.crt", "empty");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].0, errors[0].1.as_str()), (4, "server.tls.key"));
    assert!(errors[0].2.contains("no usable private key"), "{errors:?}");

    let errors = tls_errors(d, "dir", "dir");
    let fields: Vec<(usize, &str)> = errors.iter().map(|e| (e.0, e.1.as_str())).collect();
    assert_eq!(fields, [(3, "server.tls.cert"), (4, "server.tls.key")]);

    let errors = tls_errors(d, "empty", "a.key");
    assert_eq!((errors[0].0, errors[0].1.as_str()), (3, "server.tls.cert"));
    assert!(
        errors[0].2.contains("no PEM certificate found"),
        "{errors:?}"
    );

    let errors = tls_errors(d, "a.crt", "b.key");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].0, errors[0].1.as_str()), (2, "server.tls"));
    assert!(errors[0].2.contains("does not belong"), "{errors:?}");

    let errors = tls_errors(d, "missing.crt", "a.key");
    assert_eq!((errors[0].0, errors[0].1.as_str()), (3, "server.tls.cert"));
}

#[test]
fn build_errors_point_at_the_field_they_name() {
    let src = "[upstream]\nurl = \"http://a\"\n[[route]]\npath = \"/h\"\nprovider = \"svix\"\nsecrets = [\n  \"env:S\",\n  \"whsec_AAAA\",\n]\n";
    let build = |_: &str, _: ProviderParams<'_>| -> Result<SharedVerifier, BuildError> {
        Err(BuildError {
            field: "secrets[1]".into(),
            message: "whsec_ secret decodes to 3 bytes; at least 16 are required".into(),
        })
    };
    let err = from_str_with(src, Path::new("t.toml"), &env(&[("S", "x")]), &build)
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        err,
        "t.toml:8:3: route[0].secrets[1]: whsec_ secret decodes to 3 bytes; at least 16 are required"
    );
    // A field the file does not have falls back to the provider.
    let build = |_: &str, _: ProviderParams<'_>| -> Result<SharedVerifier, BuildError> {
        Err(BuildError {
            field: "tolerance".into(),
            message: "too long".into(),
        })
    };
    let err = from_str_with(src, Path::new("t.toml"), &env(&[("S", "x")]), &build)
        .err()
        .unwrap()
        .to_string();
    assert_eq!(err, "t.toml:5:12: route[0].tolerance: too long");
}

#[test]
fn verifiers_are_built_only_for_routes_without_errors() {
    let calls = std::cell::Cell::new(0);
    let build = |name: &str, p: ProviderParams<'_>| {
        calls.set(calls.get() + 1);
        fake(name, p)
    };
    let src = format!("{MINIMAL}\n[[route]]\npath = \"/two\"\nprovider = \"github\"\nsecrets = [\"env:MISSING\"]\n");
    assert!(from_str_with(&src, Path::new("t.toml"), &env(&[("S", "x")]), &build).is_err());
    assert_eq!(calls.get(), 1);
}

#[test]
fn literal_and_expired_secrets_are_warnings_and_never_printed() {
    let src = r#"
[upstream]
url = "http://127.0.0.1:3000"
[[route]]
path = "/hook"
provider = "github"
secrets = ["hunter2-literal", { value = "env:S", expires = "2001-01-01T00:00:00Z" }]
"#;
    let cfg = parse(src).unwrap();
    assert_eq!(
        cfg.warnings,
        [
            "route[0].secrets[0]: literal secret in the config file; prefer env: or file:",
            "route[0].secrets[1]: expired at 2001-01-01T00:00:00Z; it no longer verifies anything",
        ]
    );
    let out = render_check(&cfg);
    assert!(
        out.contains("2: literal, env:S (expires 2001-01-01T00:00:00Z)"),
        "{out}"
    );
    assert!(
        !out.contains("hunter2") && !out.contains("secret-value"),
        "{out}"
    );
    assert!(!format!("{:?}", cfg.routes).contains("hunter2"));
}

#[test]
fn render_check_lists_routes_then_warnings() {
    let src = format!(
        "{MINIMAL}\n[[route]]\npath = \"/payments\"\nprovider = \"hmac\"\nsecrets = [\"lit\"]\ntolerance = \"5m\"\n[route.hmac]\nheader = \"X-Sig\"\ntimestamp_header = \"X-Ts\"\nsigned = \"{{timestamp}}.{{body}}\"\n"
    );
    let out = render_check(&parse(&src).unwrap());
    let expected = "\
listen    0.0.0.0:8080 (http)
admin     off
upstream  http://127.0.0.1:3000/ (timeout 30s)
log       json, audit on

PATH       PROVIDER  SECRETS     UPSTREAM                METHODS  MAX_BODY  TOLERANCE
/hook      github    1: env:S    http://127.0.0.1:3000/  POST     1MiB      none
/payments  hmac      1: literal  http://127.0.0.1:3000/  POST     1MiB      5m

warnings:
  route[1].secrets[0]: literal secret in the config file; prefer env: or file:
";
    assert_eq!(out, expected);
}

#[test]
fn generic_hmac_is_normalised_and_passed_to_the_builder() {
    let src = format!(
        "{}\n[route.hmac]\nalgorithm = \"sha512\"\nheader = \"X-Signature\"\nprefix = \"\"\n\
         encoding = \"base64\"\ntimestamp_header = \"X-Timestamp\"\ntimestamp_format = \"unix_ms\"\n\
         id_header = \"X-Id\"\n\
         signed = \"{{id}}.{{timestamp}}.{{body}}\"\n",
        MINIMAL.replace("github", "hmac")
    );
    let seen = std::cell::RefCell::new(None);
    let build = |name: &str, p: ProviderParams<'_>| {
        *seen.borrow_mut() = p.hmac.cloned();
        fake(name, p)
    };
    from_str_with(&src, Path::new("t.toml"), &env(&[("S", "x")]), &build).unwrap();
    let hmac = seen.into_inner().unwrap();
    assert_eq!(
        hmac,
        GenericHmac {
            algorithm: HmacAlgorithm::Sha512,
            header: "x-signature".into(),
            fallback_headers: Vec::new(),
            prefix: None,
            encoding: SignatureEncoding::Base64,
            timestamp_header: Some("x-timestamp".into()),
            timestamp_format: Some(crate::providers::HmacTimestampFormat::UnixMs),
            id_header: Some("x-id".into()),
            signed: "{id}.{timestamp}.{body}".into(),
            key_encoding: crate::providers::HmacKeyEncoding::Utf8,
            key_prefix: None,
            signature_keys: Vec::new(),
            timestamp_key: None,
            pair_separator: None,
            mode: crate::providers::HmacMode::Hmac,
        }
    );
    // defaults: sha256, hex, "{body}"
    let src = format!(
        "{}\n[route.hmac]\nheader = \"X-Sig\"\n",
        MINIMAL.replace("github", "hmac")
    );
    let seen = std::cell::RefCell::new(None);
    let build = |name: &str, p: ProviderParams<'_>| {
        *seen.borrow_mut() = p.hmac.cloned();
        fake(name, p)
    };
    from_str_with(&src, Path::new("t.toml"), &env(&[("S", "x")]), &build).unwrap();
    let hmac = seen.into_inner().unwrap();
    assert_eq!(hmac.algorithm, HmacAlgorithm::Sha256);
    assert_eq!(hmac.encoding, SignatureEncoding::Hex);
    assert_eq!(hmac.signed, "{body}");
}

#[test]
fn log_audit_is_a_boolean() {
    let off = parse(&format!("{MINIMAL}\n[log]\naudit = false\n")).unwrap();
    assert!(!off.log.audit);
    assert_eq!(off.log.format, LogFormat::Json);
    let on = parse(&format!(
        "{MINIMAL}\n[log]\nformat = \"pretty\"\naudit = true\n"
    ))
    .unwrap();
    assert!(on.log.audit);
    let err = errors(&format!("{MINIMAL}\n[log]\naudit = \"no\"\n"));
    assert!(
        err.starts_with("t.toml:11:9: log.audit: invalid type"),
        "{err}"
    );
}

#[test]
fn secret_type_errors_are_located_and_redacted() {
    let src = MINIMAL.replace("[\"env:S\"]", "98765432123");
    assert_eq!(
        errors(&src),
        "t.toml:8:11: route[0].secrets: invalid type: integer, expected a secret: \
         \"env:NAME\", \"file:PATH\", a literal, or { value = ..., expires = ... }"
    );
}

#[test]
fn example_configs_are_valid_with_any_verifier() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("config/example.toml");
    let src = std::fs::read_to_string(&path).unwrap();
    let cfg = from_str_with(&src, &path, &env(&[]), &fake).unwrap();
    let paths: Vec<&str> = cfg.routes.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/webhooks/github",
            "/webhooks/stripe",
            "/webhooks/payments",
            "/webhooks/orders"
        ]
    );
    assert_eq!(cfg.server.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(cfg.warnings.len(), 4);

    // production.toml references files that exist only in a deployment:
    // with its environment supplied, those are the only errors.
    let path = root.join("config/production.toml");
    let src = std::fs::read_to_string(&path).unwrap();
    let vars = [
        ("HOOKGUARD_ADMIN_TOKEN", "t"),
        ("GITHUB_WEBHOOK_SECRET_OLD", "old"),
        (
            "STRIPE_WEBHOOK_SECRET",
            "whsec_ZGVtby1zdHJpcGUtc2lnbmluZy1zZWNyZXQ=",
        ),
        (
            "SVIX_WEBHOOK_SECRET",
            "whsec_ZGVtby1zdml4LXNpZ25pbmctc2VjcmV0",
        ),
        ("PAYMENTS_WEBHOOK_SECRET", "p"),
    ];
    let errs = from_str_with(&src, &path, &env(&vars), &fake)
        .err()
        .unwrap();
    for e in &errs.errors {
        assert!(
            e.message
                .starts_with("cannot read secret file /run/secrets/")
                || e.message.starts_with("/etc/hookguard/tls/tls."),
            "{e}"
        );
    }
}

// --- ops: [security], max_connections, rate_limit ---

#[test]
fn security_section_defaults_and_overrides() {
    let cfg = parse(MINIMAL).unwrap();
    assert_eq!(cfg.security, SecurityConfig::default());
    assert_eq!(cfg.server.max_connections, 10_000);
    let src = format!(
        "{MINIMAL}\n[security]\nfailure_threshold = 5\nwindow = \"30s\"\nauto_block = \"15m\"\nmax_tracked_ips = 100\n"
    );
    let cfg = parse(&src).unwrap();
    assert_eq!(
        cfg.security,
        SecurityConfig {
            failure_threshold: 5,
            window: Duration::from_secs(30),
            auto_block: Some(Duration::from_secs(900)),
            max_tracked_ips: 100,
        }
    );
    let bad = format!("{MINIMAL}\n[security]\nfailure_threshold = 0\nauto_block = \"soon\"\n");
    let err = errors(&bad);
    assert!(
        err.contains("security.failure_threshold: must be at least 1"),
        "{err}"
    );
    assert!(err.contains("security.auto_block"), "{err}");
}

#[test]
fn credentials_in_upstream_urls_are_refused_and_never_echoed() {
    let route_upstream =
        |url: &str| MINIMAL.replace("[[route]]", &format!("[[route]]\nupstream = \"{url}\""));
    let cases = [
        (
            MINIMAL.replace("http://127.0.0.1:3000", "http://hg:s3cret@127.0.0.1:3000/"),
            "upstream.url",
        ),
        (
            MINIMAL.replace("http://127.0.0.1:3000", "s3cret@127.0.0.1:3000"),
            "upstream.url",
        ),
        (
            route_upstream("https://hg:s3cret@app.internal/hooks"),
            "route[0].upstream",
        ),
        (route_upstream("http://:s3cret@/"), "route[0].upstream"),
    ];
    for (src, field) in cases {
        let err = errors(&src);
        assert!(
            err.contains(&format!(
                "{field}: a user name or password in the URL is not supported"
            )),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }
    // An `@` in the path is not a credential.
    let cfg = parse(&route_upstream("http://127.0.0.1:3000/a@b")).unwrap();
    assert_eq!(cfg.routes[0].upstream.url.path(), "/a@b");
}

#[test]
fn auto_block_without_trusted_proxies_warns_on_a_public_listener() {
    let warned =
        |server: &str, security: &str| {
            let src = format!("[server]\n{server}\n{MINIMAL}\n[security]\n{security}\n");
            parse(&src).unwrap().warnings.iter().any(|w| {
                w.starts_with("security.auto_block: on, and server.trusted_proxies is empty")
            })
        };
    let block = "auto_block = \"15m\"";
    assert!(warned("", block));
    assert!(warned("listen = \"[::]:8443\"", block));
    assert!(!warned("listen = \"127.0.0.1:8443\"", block));
    assert!(!warned("listen = \"[::1]:8443\"", block));
    assert!(!warned("trusted_proxies = [\"10.0.0.0/8\"]", block));
    assert!(!warned("", "failure_threshold = 5"));
}

#[test]
fn tolerance_is_applied_or_refused_by_the_real_builder() {
    let real = |src: &str| from_str(src, Path::new("t.toml"), &env(&[("S", "secret-value")]));
    let route = |provider: &str, extra: &str| {
        format!(
            "[upstream]\nurl = \"http://127.0.0.1:3000\"\n[[route]]\npath = \"/h\"\n\
             provider = \"{provider}\"\nsecrets = [\"env:S\"]\ntolerance = \"2m\"\n{extra}"
        )
    };
    let err = real(&route("github", "")).err().unwrap().to_string();
    assert_eq!(
        err,
        "t.toml:7:13: route[0].tolerance: provider \"github\" signs no timestamp: \
         there is no window to set; remove tolerance"
    );
    let err = real(&route("hmac", "[route.hmac]\nheader = \"X-Sig\"\n"))
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        err,
        "t.toml:7:13: route[0].tolerance: [route.hmac] has no timestamp_header, so no \
         timestamp is signed: there is no window to set; remove tolerance"
    );
    // Where a timestamp is signed, the override is what runs, and `check`
    // prints it; without one, the provider's default.
    let cfg = real(&route("stripe", "")).unwrap();
    assert_eq!(
        cfg.routes[0].timestamp_window(),
        Some(Duration::from_secs(120))
    );
    let out = render_check(&cfg);
    assert!(out.contains("POST     1MiB      2m\n"), "{out}");
    let cfg = real(&route("paddle", "").replace("tolerance = \"2m\"\n", "")).unwrap();
    assert_eq!(
        cfg.routes[0].timestamp_window(),
        Some(Duration::from_secs(5))
    );
    assert!(render_check(&cfg).contains("POST     1MiB      5s\n"));
}

#[test]
fn replay_ttl_shorter_than_twice_a_window_is_a_warning() {
    // The fake verifier is timed by the route's `tolerance` alone.
    let src = format!(
        "[replay]\nttl = \"10m\"\n{MINIMAL}tolerance = \"5m\"\n\n[[route]]\npath = \"/b\"\n\
         provider = \"stripe\"\nsecrets = [\"env:S\"]\ntolerance = \"6m\"\n"
    );
    assert_eq!(
        parse(&src).unwrap().warnings,
        [
            "replay.ttl: 10m is shorter than twice the tolerance of route \"/b\" (6m): its \
          signatures stay valid for 12m, so a copy replayed more than 10m after a delivery \
          would be forwarded again; set ttl to at least 12m"
        ]
    );
    // With the real verifiers, provider defaults count too (Stripe: 5m).
    let real = |ttl: &str| {
        let src = format!(
            "[replay]\nttl = \"{ttl}\"\n[upstream]\nurl = \"http://127.0.0.1:3000\"\n\
             [[route]]\npath = \"/s\"\nprovider = \"stripe\"\nsecrets = [\"env:S\"]\n\
             [[route]]\npath = \"/g\"\nprovider = \"github\"\nsecrets = [\"env:S\"]\n"
        );
        from_str(&src, Path::new("t.toml"), &env(&[("S", "x")]))
            .unwrap()
            .warnings
    };
    let warnings = real("9m");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0]
        .starts_with("replay.ttl: 9m is shorter than twice the tolerance of route \"/s\" (5m)"));
    assert!(real("10m").is_empty());
    assert!(real("24h").is_empty());
}
