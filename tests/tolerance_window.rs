//! Every preset's timestamp window, through the real proxy, driven by the
//! catalog (not a hand list): a route `tolerance` is applied where the
//! scheme signs a timestamp, in both directions, and refused where it signs
//! none.
//!
//! The window under test is the one `hookguard check` prints (the route's
//! `timestamp_window()`, the verifier's own answer), cross-checked against
//! `hookguard providers`' default. For each timed preset, a route with a
//! non-default `tolerance` gets requests dated just inside and just outside
//! the window, in the past and in the future: forwarded, or 401
//! `timestamp_out_of_tolerance`. Requests are signed with `providers::sign`
//! (the generic `hmac` route with `ring` here): the assertions are about the
//! window, and the signatures are checked against external vectors in
//! `src/providers/vectors.rs`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use hookguard::config::{self, render_check};
use hookguard::providers::{self, ProviderInfo, SignRequest};
use hookguard::runtime;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

/// The route override: no provider's default.
const TOLERANCE: &str = "2m";
/// How far inside or outside the window requests are dated, seconds; the
/// time from signing to the proxy's check must stay below it.
const MARGIN: i64 = 10;

const SECRET: &str = "window-test-secret";
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const HEX_AND_BASE64_SECRET: &str = "c0ffee00c0ffee00c0ffee00c0ffee00";
/// HTTP Basic presets take `user:password`.
const USER_PASSWORD: &str = "window-user:window-password";
const CANONICAL_SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const ED_SEED: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const PUBLIC_URL: &str = "https://hooks.example.com/signed";
/// The generic route signs a timestamp so that it has a window.
const GENERIC_HMAC: &str = "[route.hmac]\nheader = \"x-signature\"\ntimestamp_header = \"x-timestamp\"\nsigned = \"{timestamp}.{body}\"\n";

/// How a preset's route is keyed and its requests signed.
struct Keys {
    /// `secrets = [...]` or `public_key = "..."` (plus other route lines).
    route_lines: String,
    /// What `providers::sign` takes: a secret, or a private key.
    signing: String,
}

/// The keys of `row`'s family; a family this test does not know fails it,
/// so a new one cannot go untested.
fn keys(row: &ProviderInfo, ecdsa_pkcs8: &[u8]) -> Keys {
    let secret = |s: &str| Keys {
        route_lines: format!("secrets = [\"{s}\"]\n"),
        signing: s.to_owned(),
    };
    let ed25519_public = || {
        let pair = Ed25519KeyPair::from_seed_unchecked(&hex::decode(ED_SEED).unwrap()).unwrap();
        pair.public_key().as_ref().to_vec()
    };
    let public = |key: String, signing: String| Keys {
        route_lines: format!("public_key = \"{key}\"\n"),
        signing,
    };
    match (row.family, row.name) {
        ("hmac", "hmac") => Keys {
            route_lines: format!("secrets = [\"{SECRET}\"]\n{GENERIC_HMAC}"),
            signing: SECRET.into(),
        },
        // Keys decoded from base64 / hex text (`microsoft-teams`, `onfleet`).
        ("hmac", "microsoft-teams" | "onfleet" | "adyen-banking") => {
            secret(HEX_AND_BASE64_SECRET)
        }
        ("body-fields", "adyen") => secret(HEX_AND_BASE64_SECRET),
        // A Braintree secret is the public_key:private_key pair.
        ("body-fields", "braintree") => secret(USER_PASSWORD),
        ("token", "token") => Keys {
            route_lines: format!("secrets = [\"{SECRET}\"]\ntoken_header = \"x-window-token\"\n"),
            signing: SECRET.into(),
        },
        ("token", name) if providers::takes_user_password(name) => secret(USER_PASSWORD),
        ("hmac" | "structured" | "token" | "body-fields", _) => secret(SECRET),
        ("url", _) => Keys {
            route_lines: format!("secrets = [\"{SECRET}\"]\npublic_url = \"{PUBLIC_URL}\"\n"),
            signing: SECRET.into(),
        },
        ("standard-webhooks", _) => secret(SW_SECRET),
        // MessageBird signs the URL it called (`url_hash`).
        ("jwt", "messagebird") => Keys {
            route_lines: format!(
                "secrets = [\"{SECRET}\"]\npublic_url = \"http://hooks.example.com/w/messagebird\"\n"
            ),
            signing: SECRET.into(),
        },
        // Wix's token is the whole body, under an RSA key: built here,
        // signed in `jwt_tests.rs` (hookguard sign cannot make it).
        ("jwt", "wix") => Keys {
            route_lines: format!(
                "public_keys = [\"file:{}/src/providers/testdata/rsa_test_public.pem\"]\n",
                env!("CARGO_MANIFEST_DIR")
            ),
            signing: String::new(),
        },
        ("jwt" | "graph", _) => secret(SECRET),
        // Strava signs nothing; its secret is a subscription id.
        ("unsigned", "strava") => Keys {
            route_lines: "secrets = [\"120475\"]\n".into(),
            signing: String::new(),
        },
        ("eventgrid", _) => Keys {
            route_lines: format!("secrets = [\"{SECRET}\"]\ntoken_query = \"code\"\n"),
            signing: SECRET.into(),
        },
        ("canonical", _) => secret(CANONICAL_SECRET),
        ("asymmetric", "discord") => public(hex::encode(ed25519_public()), ED_SEED.into()),
        ("asymmetric", "standard-webhooks-ed25519") => {
            public(format!("whpk_{}", b64(&ed25519_public())), ED_SEED.into())
        }
        ("asymmetric", "telnyx") => public(b64(&ed25519_public()), ED_SEED.into()),
        ("asymmetric", "sendgrid") => {
            let pair = EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_ASN1_SIGNING,
                ecdsa_pkcs8,
                &SystemRandom::new(),
            )
            .unwrap();
            // SubjectPublicKeyInfo for P-256: fixed DER header + the point.
            let prefix =
                hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
            let spki = [&prefix[..], pair.public_key().as_ref()].concat();
            public(b64(&spki), b64(ecdsa_pkcs8))
        }
        // Certificates are fetched: the window is applied by the proxy here
        // (check prints it); signed requests through it are in sns.rs,
        // paypal.rs, gcp_pubsub.rs, fal.rs, kinde.rs and plaid.rs, with a key server.
        ("fetched-cert", "aws-sns") => Keys {
            route_lines: "topics = [\"arn:aws:sns:us-east-1:123456789012:w\"]\n".into(),
            signing: String::new(),
        },
        ("fetched-cert", "paypal") => Keys {
            route_lines: "webhook_id = \"W1\"\n[route.keys]\nallow = [\"https://127.0.0.1:1/\"]\n"
                .into(),
            signing: String::new(),
        },
        ("fetched-jwks", "gcp-pubsub") => Keys {
            route_lines: "service_account = \"w@p.iam.gserviceaccount.com\"\n\
                          audience = \"https://hooks.example.com/w\"\n"
                .into(),
            signing: String::new(),
        },
        ("fetched-jwks", "kinde") => Keys {
            route_lines: "[route.keys]\nurl = \"https://acme.kinde.com/.well-known/jwks.json\"\n"
                .into(),
            signing: String::new(),
        },
        ("fetched-key", "plaid") => Keys {
            route_lines: "[route.keys]\nclient_id = \"w-client\"\nclient_secret = \"w-secret\"\n"
                .into(),
            signing: String::new(),
        },
        ("fetched-jwks", "fal") => Keys {
            route_lines: String::new(),
            signing: String::new(),
        },
        (family, name) => panic!("{name}: family {family:?} is not known to this test"),
    }
}

/// A config with one route per preset at `/w/<name>`; `tolerance` on the
/// presets `timed` says are timed (`None`: on none).
fn config(
    upstream: &str,
    rows: &[(ProviderInfo, Keys)],
    timed: Option<&dyn Fn(&str) -> bool>,
) -> String {
    let mut toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[upstream]\nurl = \"{upstream}\"\ntimeout = \"5s\"\n"
    );
    for (row, keys) in rows {
        toml.push_str(&format!(
            "\n[[route]]\npath = \"/w/{0}\"\nprovider = \"{0}\"\n",
            row.name
        ));
        if timed.is_some_and(|t| t(row.name)) {
            toml.push_str(&format!("tolerance = \"{TOLERANCE}\"\n"));
        }
        // Route keys last: `[route.hmac]` opens a table.
        toml.push_str(&keys.route_lines);
    }
    toml
}

fn parse(toml: &str) -> Result<config::Config, String> {
    config::from_str(toml, Path::new("w.toml"), &|_| None).map_err(|e| e.to_string())
}

/// The headers and body of a request from `row`'s provider dated `ts`.
fn request(
    row: &ProviderInfo,
    keys: &Keys,
    ts: i64,
    case: &str,
) -> (Vec<(String, String)>, Vec<u8>) {
    // `type` 2: not a Discord PING; `webhookTimestamp`: Linear's signed time.
    let body = format!(
        r#"{{"type":2,"case":"{case}","provider":"{}","webhookTimestamp":{}}}"#,
        row.name,
        ts * 1000
    )
    .into_bytes();
    if row.name == "hmac" {
        let sig = hmac256_hex(SECRET, &[ts.to_string().as_bytes(), b".", &body]);
        let h = vec![
            ("x-signature".to_owned(), sig),
            ("x-timestamp".to_owned(), ts.to_string()),
        ];
        return (h, body);
    }
    if row.name == "dropbox-sign" {
        return dropbox_sign_request(keys, ts, case);
    }
    let path_url = format!("http://hooks.example.com/w/{}", row.name);
    let req = SignRequest {
        body: &body,
        timestamp: ts,
        id: Some(case),
        url: Some(if row.family == "url" {
            PUBLIC_URL
        } else {
            &path_url
        }),
        method: "POST",
    };
    let signed = providers::sign(row.name, keys.signing.as_bytes(), &req)
        .unwrap_or_else(|e| panic!("{}: cannot sign: {e}", row.name));
    if row.family == "body-fields" {
        // Mailgun's signature travels as form fields of the body.
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &signed {
            form.append_pair(k, v);
        }
        form.append_pair("event", case);
        let h = vec![(
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        )];
        return (h, form.finish().into_bytes());
    }
    (signed, body)
}

/// Dropbox Sign's multipart callback, its `event_hash` from `providers::sign`
/// over the event in the `json` field.
fn dropbox_sign_request(keys: &Keys, ts: i64, case: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let event = |hash: &str| {
        format!(
            r#"{{"event":{{"event_time":"{ts}","event_type":"window_{case}","event_hash":"{hash}"}}}}"#
        )
    };
    let unsigned = event("");
    let req = SignRequest {
        body: unsigned.as_bytes(),
        timestamp: ts,
        id: None,
        url: None,
        method: "POST",
    };
    let signed = providers::sign("dropbox-sign", keys.signing.as_bytes(), &req).unwrap();
    let body = format!(
        "--wb\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n{}\r\n--wb--\r\n",
        event(&signed[0].1)
    );
    let h = vec![(
        "content-type".to_owned(),
        "multipart/form-data; boundary=wb".to_owned(),
    )];
    (h, body.into_bytes())
}

/// `hookguard providers`' default window, seconds; `None` for "none".
fn catalog_default(row: &ProviderInfo) -> Option<u64> {
    let secs = row.tolerance.strip_suffix(" s, both ways")?;
    Some(secs.parse().unwrap())
}

#[tokio::test]
async fn every_timed_preset_applies_its_window_both_ways() {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let rows: Vec<(ProviderInfo, Keys)> = providers::describe_all()
        .into_iter()
        .map(|row| {
            let k = keys(&row, pkcs8.as_ref());
            (row, k)
        })
        .collect();
    let up = Upstream::start().await;

    // The model `check` prints, with every default: it agrees with the
    // catalog (the generic route's window comes from its [route.hmac]).
    let defaults = parse(&config(&up.url(), &rows, None)).unwrap();
    let mut timed_names = Vec::new();
    for ((row, _), route) in rows.iter().zip(&defaults.routes) {
        let window = route.timestamp_window();
        if row.name == "hmac" {
            assert_eq!(window, Some(Duration::from_secs(300)));
        } else {
            assert_eq!(
                window.map(|w| w.as_secs()),
                catalog_default(row),
                "{}: check and providers disagree",
                row.name
            );
        }
        if window.is_some() {
            timed_names.push(row.name);
        }
    }
    for expected in [
        "stripe",
        "sendgrid",
        "hubspot",
        "mailgun",
        "dropbox-sign",
        "contentful",
        "twitch",
        "linear",
    ] {
        assert!(timed_names.contains(&expected), "{expected} is not timed");
    }

    // The override is what runs, and what `check` prints.
    let is_timed = |name: &str| timed_names.contains(&name);
    let cfg = parse(&config(&up.url(), &rows, Some(&is_timed))).unwrap();
    let printed = render_check(&cfg);
    for route in &cfg.routes {
        let line = printed
            .lines()
            .find(|l| l.split_whitespace().next() == Some(route.path.as_str()))
            .unwrap();
        let (want, window) = match route.timestamp_window() {
            Some(w) => (TOLERANCE, w),
            None => ("none", Duration::ZERO),
        };
        assert!(
            line.ends_with(want),
            "{}: check prints {line:?}",
            route.path
        );
        if want == TOLERANCE {
            assert_eq!(window, Duration::from_secs(120), "{}", route.path);
        }
    }

    let proxy = runtime::start(cfg.clone()).await.expect("proxy starts");
    let mut exercised = 0;
    for ((row, keys), route) in rows.iter().zip(&cfg.routes) {
        let Some(window) = route.timestamp_window() else {
            continue;
        };
        if row.family.starts_with("fetched-") || row.name == "wix" {
            continue; // see `keys`
        }
        exercised += 1;
        let window = i64::try_from(window.as_secs()).unwrap();
        let now = now_secs();
        // JWT schemes with `exp`: `hookguard sign` issues tokens valid for
        // 60 s from their `nbf`, and the tolerance extends `exp` (and `nbf`)
        // as clock skew, so the past side of the window is 60 s longer.
        let lifetime = if row.family == "jwt" && row.signed.contains("exp") {
            60
        } else {
            0
        };
        let cases = [
            ("past-inside", now - lifetime - window + MARGIN, true),
            ("future-inside", now + window - MARGIN, true),
            ("past-outside", now - lifetime - window - MARGIN, false),
            ("future-outside", now + window + MARGIN, false),
        ];
        for (case, ts, inside) in cases {
            let before = up.count();
            let (h, body) = request(row, keys, ts, &format!("{case}-{}", row.name));
            let refs: Vec<(&str, &str)> = h.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let a = post(&proxy, &route.path, &refs, &body).await;
            if inside {
                assert_eq!(
                    (a.status.as_u16(), a.text().as_str()),
                    (200, "ok from upstream"),
                    "{}: {case}",
                    row.name
                );
                assert_eq!(up.count(), before + 1, "{}: {case}", row.name);
            } else {
                assert_eq!(a.status, 401, "{}: {case}: {}", row.name, a.text());
                assert_rejected(&a, 401, "timestamp_out_of_tolerance");
                assert_eq!(up.count(), before, "{}: {case}", row.name);
            }
        }
    }
    assert!(exercised > 20, "only {exercised} timed presets");
}

#[test]
fn tolerance_on_an_untimed_preset_is_a_config_error() {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
        .unwrap();
    let mut refused = 0;
    for row in providers::describe_all() {
        let mut keys = keys(&row, pkcs8.as_ref());
        if row.name == "hmac" {
            // Without a timestamp_header the generic route is untimed.
            keys.route_lines =
                format!("secrets = [\"{SECRET}\"]\n[route.hmac]\nheader = \"x-signature\"\n");
        } else if catalog_default(&row).is_some() {
            continue;
        }
        let rows = [(row, keys)];
        let toml = config("http://127.0.0.1:9", &rows, Some(&|_| true));
        let line = toml
            .lines()
            .position(|l| l.starts_with("tolerance"))
            .unwrap()
            + 1;
        let err = parse(&toml)
            .err()
            .unwrap_or_else(|| panic!("{}: accepted", rows[0].0.name));
        let at = format!("w.toml:{line}:13: route[0].tolerance: ");
        assert!(err.starts_with(&at), "{}: {err}", rows[0].0.name);
        assert!(err.contains("there is no window to set"), "{err}");
        refused += 1;
    }
    assert!(refused > 40, "only {refused} untimed presets");
}
