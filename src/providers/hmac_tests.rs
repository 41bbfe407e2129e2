//! The one-header HMAC family against published vectors (GitHub's docs
//! example and others), its header, prefix and encoding rules, rotation,
//! windows, the handshakes it answers and how a built scheme is checked.

use super::super::testutil::{
    build_with, headers, kind, precheck_at, run, secrets, verifier, Garbage,
};
use super::*;

// GitHub docs "Validating webhook deliveries" test values
// (re-verified with @octokit/webhooks-methods).
const GH_SECRET: &str = "It's a Secret to Everybody";
const GH_BODY: &[u8] = b"Hello, World!";
const GH_SIG: &[u8] = b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

#[test]
fn github_docs_vector() {
    let v = verifier("github", &secrets(&[GH_SECRET]));
    assert_eq!(v.provider(), "github");
    let h = headers(&[("X-Hub-Signature-256", GH_SIG)]);
    let ok = run(&v, &h, GH_BODY, 1_700_000_000).unwrap();
    assert_eq!(ok.secret_index, 0);
    assert_eq!(ok.event_id, None);
    let expected = hex::decode(&GH_SIG[7..]).unwrap();
    assert_eq!(ok.dedup, Dedup::Signature(expected));
    // Upper-case hex and prefix are the same signature.
    let upper = GH_SIG.to_ascii_uppercase();
    assert!(run(&v, &headers(&[("x-hub-signature-256", &upper)]), GH_BODY, 0).is_ok());
}

#[test]
fn github_tampered_body_and_wrong_secret_fail() {
    let v = verifier("github", &secrets(&[GH_SECRET]));
    let h = headers(&[("X-Hub-Signature-256", GH_SIG)]);
    let r = run(&v, &h, b"Hello, World?", 0);
    assert_eq!(
        r,
        Err(Rejection::InvalidSignature {
            detail: "signature does not match: 1 signature tried against 1 unexpired secret (#0)"
                .into()
        })
    );
    let other = verifier("github", &secrets(&["not it"]));
    assert_eq!(kind(&run(&other, &h, GH_BODY, 0)), "invalid");
}

#[test]
fn rotation_expired_secret_never_verifies() {
    // Expected value for "new-secret" computed with
    // `printf 'Hello, World!' | openssl dgst -sha256 -hmac new-secret`.
    let new_sig = b"sha256=693585aa43518a80e267fbc0ace9296f035480e1a1b11cd09cf6a9b8a7ef0330";
    let mut s = secrets(&[GH_SECRET, "new-secret"]);
    s[0].expires = Some(1_700_000_000);
    let v = verifier("github", &s);
    // Before expiry the old secret still verifies, as index 0.
    let old = headers(&[("x-hub-signature-256", GH_SIG)]);
    assert_eq!(
        run(&v, &old, GH_BODY, 1_699_999_999).unwrap().secret_index,
        0
    );
    // At and after expiry it never does, even with a valid signature.
    let r = run(&v, &old, GH_BODY, 1_700_000_000);
    assert_eq!(
        r,
        Err(Rejection::InvalidSignature {
            detail: "signature does not match: 1 signature tried against 1 unexpired secret (#1), 1 expired".into()
        })
    );
    let new = headers(&[("x-hub-signature-256", new_sig)]);
    assert_eq!(
        run(&v, &new, GH_BODY, 1_800_000_000).unwrap().secret_index,
        1
    );
    // All expired: says so, without values.
    let mut gone = s.clone();
    gone[1].expires = Some(1);
    let v = verifier("github", &gone);
    let detail = format!("{:?}", run(&v, &new, GH_BODY, 1_800_000_000));
    assert!(
        detail.contains("no active secret: all 2 have expired"),
        "{detail}"
    );
}

#[test]
fn github_malformed_headers() {
    let v = verifier("github", &secrets(&[GH_SECRET]));
    let cases: &[(&[u8], &str, &str)] = &[
        (b"", "missing", "is empty"),
        (b"   ", "missing", "is empty"),
        (
            b"sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "invalid",
            "unexpected prefix",
        ),
        (
            b"sha256=75710",
            "invalid",
            "expected 64 hex characters, got 5",
        ),
        (
            b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
            "invalid",
            "got 63",
        ),
        (
            b"sha256=dXY3MTA3ZWEwZWIyNTA5ZmMyMTEyMjFjY2U5ODRiOGE=",
            "invalid",
            "looks like base64",
        ),
        (b"sha256=\xff\xfe", "invalid", "non-hex"),
        (b"sha256=", "invalid", "got 0"),
    ];
    for (value, want, needle) in cases {
        let r = run(&v, &headers(&[("x-hub-signature-256", value)]), GH_BODY, 0);
        assert_eq!(kind(&r), *want, "{value:?}");
        let detail = format!("{r:?}");
        assert!(detail.contains(needle), "{detail}");
        assert!(
            !detail.contains("757107"),
            "detail echoes the signature: {detail}"
        );
    }
    let huge = [b'a'; 5000];
    assert_eq!(
        kind(&run(
            &v,
            &headers(&[("x-hub-signature-256", &huge)]),
            GH_BODY,
            0
        )),
        "invalid"
    );
    let twice = headers(&[
        ("x-hub-signature-256", GH_SIG),
        ("x-hub-signature-256", GH_SIG),
    ]);
    assert_eq!(kind(&run(&v, &twice, GH_BODY, 0)), "invalid");
    assert_eq!(kind(&run(&v, &headers(&[]), GH_BODY, 0)), "missing");
    // The legacy SHA-1 header alone is not accepted.
    assert_eq!(
        kind(&run(
            &v,
            &headers(&[("x-hub-signature", b"sha1=00")]),
            GH_BODY,
            0
        )),
        "missing"
    );
}

// Shopify: vector from @shopify/shopify-api `createSHA256HMAC`
// (cross-checked with Python's hmac).
#[test]
fn shopify_sdk_vector() {
    let v = verifier("shopify", &secrets(&["hush"]));
    let body = br#"{"id":1,"topic":"orders/create"}"#;
    let h = headers(&[(
        "X-Shopify-Hmac-Sha256",
        b"rlYwtxSz64KhPygOLXbekmzsjq0OqrcotnlUzAe2yuQ=",
    )]);
    assert!(matches!(run(&v, &h, body, 0).unwrap().dedup, Dedup::Signature(s) if s.len() == 32));
    assert_eq!(kind(&run(&v, &h, b"{}", 0)), "invalid");
    let hexed = headers(&[("X-Shopify-Hmac-Sha256", &[b'a'; 64][..])]);
    let r = format!("{:?}", run(&v, &hexed, body, 0));
    assert!(r.contains("looks like hex"), "{r}");
}

// Slack docs "Verifying requests from Slack" worked example
// (reproduced with slack-sdk `generate_signature`).
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_TS: i64 = 1_531_420_618;
const SLACK_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SLACK_SIG: &[u8] = b"v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

fn slack_headers(ts: &[u8]) -> HeaderMap {
    headers(&[
        ("X-Slack-Signature", SLACK_SIG),
        ("X-Slack-Request-Timestamp", ts),
    ])
}

#[test]
fn slack_docs_vector_and_window() {
    let v = verifier("slack", &secrets(&[SLACK_SECRET]));
    let h = slack_headers(b"1531420618");
    assert!(run(&v, &h, SLACK_BODY, SLACK_TS).is_ok());
    assert!(run(&v, &h, SLACK_BODY, SLACK_TS + 300).is_ok());
    assert!(run(&v, &h, SLACK_BODY, SLACK_TS - 300).is_ok());
    let stale = run(&v, &h, SLACK_BODY, SLACK_TS + 301);
    assert_eq!(
        stale,
        Err(Rejection::TimestampOutOfTolerance {
            detail:
                "header \"x-slack-request-timestamp\": timestamp is 301 s old (tolerance 300 s)"
                    .into()
        })
    );
    assert_eq!(kind(&run(&v, &h, SLACK_BODY, SLACK_TS - 301)), "timestamp");
    // Tampered body fails on the signature before the (stale) timestamp.
    assert_eq!(kind(&run(&v, &h, b"x", SLACK_TS + 10_000)), "invalid");
    // A changed timestamp changes the message: invalid, not a stale pass.
    assert_eq!(
        kind(&run(
            &v,
            &slack_headers(b"1531420619"),
            SLACK_BODY,
            SLACK_TS
        )),
        "invalid"
    );
    // Route override widens the window.
    let wide = build_with(
        "slack",
        &secrets(&[SLACK_SECRET]),
        Some(std::time::Duration::from_secs(3600)),
        None,
    )
    .unwrap();
    assert!(run(&wide, &h, SLACK_BODY, SLACK_TS + 3000).is_ok());
}

#[test]
fn slack_timestamp_header_problems() {
    let v = verifier("slack", &secrets(&[SLACK_SECRET]));
    let only_sig = headers(&[("X-Slack-Signature", SLACK_SIG)]);
    assert_eq!(kind(&run(&v, &only_sig, SLACK_BODY, SLACK_TS)), "missing");
    for ts in [
        &b"-1"[..],
        b"abc",
        b"99999999999999999999999",
        b"1531420618.5",
        b"\xff",
    ] {
        // The signature no longer matches the message, so invalid comes first...
        assert_eq!(
            kind(&run(&v, &slack_headers(ts), SLACK_BODY, SLACK_TS)),
            "invalid"
        );
    }
    // ...but the head-only precheck already refuses the unusable timestamp.
    let h = slack_headers(b"not-a-time");
    assert_eq!(
        precheck_at(&v, &h, 0),
        Err(Rejection::TimestampOutOfTolerance {
            detail: "header \"x-slack-request-timestamp\": not a unix timestamp".into()
        })
    );
}

/// Slack's spec from the catalog, for tests that vary one field.
fn slack_spec() -> HmacSpec {
    match &super::super::catalog::lookup("slack").unwrap().family {
        super::super::catalog::Family::Hmac(spec) => spec.clone(),
        _ => unreachable!("slack is a one-header HMAC scheme"),
    }
}

/// A scheme whose template and headers disagree is refused when built,
/// never run: each inconsistency alone is enough.
#[test]
fn an_inconsistent_scheme_is_refused_when_built() {
    let s = secrets(&[SLACK_SECRET]);
    let build = |spec: &HmacSpec| {
        let params = ProviderParams {
            secrets: &s,
            ..ProviderParams::default()
        };
        HmacVerifier::build("slack", spec, params).map(|_| ())
    };
    let padded = |n: usize| {
        let mut parts = slack_spec().signed.to_vec();
        parts.resize(n, Part::Literal(Cow::Borrowed(".")));
        HmacSpec {
            signed: parts.into(),
            ..slack_spec()
        }
    };
    assert_eq!(build(&slack_spec()), Ok(()));
    // Up to MAX_PARTS pieces fit the stack array; one more does not.
    assert_eq!(build(&padded(MAX_PARTS)), Ok(()));
    let mut with_id = slack_spec().signed.to_vec();
    with_id.push(Part::Id);
    let refused = [
        padded(MAX_PARTS + 1),
        // A signed timestamp without its header.
        HmacSpec {
            timestamp: None,
            ..slack_spec()
        },
        // A signed id without its header.
        HmacSpec {
            signed: with_id.into(),
            ..slack_spec()
        },
    ];
    for spec in &refused {
        let e = build(spec).unwrap_err();
        assert_eq!(e.field, "provider", "{spec:?}");
        assert!(e.message.contains("inconsistent"), "{spec:?}");
    }
}

/// Only a provider with a GET or HEAD handshake opens its route to
/// that method; every other route takes POST alone.
#[test]
fn only_a_handshake_adds_methods() {
    let plain = verifier("github", &secrets(&[GH_SECRET]));
    assert_eq!(plain.extra_methods(), &[] as &[http::Method]);
    let dropbox = verifier("dropbox", &secrets(&["s"]));
    assert_eq!(dropbox.extra_methods(), &[http::Method::GET]);
}

#[test]
fn garbage_never_panics() {
    let slack = verifier("slack", &secrets(&[SLACK_SECRET]));
    let shopify = verifier("shopify", &secrets(&["hush"]));
    let mut g = Garbage::new(5);
    for _ in 0..3000 {
        let mut h = slack_headers(b"1531420618");
        for (name, seed) in [
            ("x-slack-signature", SLACK_SIG),
            ("x-slack-request-timestamp", &b"1531420618"[..]),
        ] {
            if g.next() % 2 == 0 {
                if let Ok(hv) = http::HeaderValue::from_bytes(&g.value(seed)) {
                    h.insert(name, hv);
                }
            }
        }
        let _ = run(&slack, &h, SLACK_BODY, SLACK_TS);
        let seed = b"rlYwtxSz64KhPygOLXbekmzsjq0OqrcotnlUzAe2yuQ=";
        if let Ok(hv) = http::HeaderValue::from_bytes(&g.value(seed)) {
            let mut h = HeaderMap::new();
            h.insert("x-shopify-hmac-sha256", hv);
            let _ = run(&shopify, &h, b"{}", 0);
        }
    }
}
