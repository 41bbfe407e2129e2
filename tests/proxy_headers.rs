//! End-to-end: header names at the trust boundary. A genuine signed request
//! carries extra headers spelled to land, in a CGI/WSGI/Rack/PHP app, on the
//! variables hookguard sets (`HTTP_X_HOOKGUARD_VERIFIED`, ...) or on headers
//! only a proxy in front may state (`Forwarded`, `X-Real-IP`, ...). The real
//! upstream records what arrived; the app's view is rebuilt from that the way
//! Python's `wsgiref` builds its environ.

mod common;

use std::collections::BTreeMap;

use common::*;

const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
TRUSTED

[upstream]
url = "{upstream}"

[[route]]
path = "/sw"
provider = "standard-webhooks"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
"#;

/// Headers an attacker adds to a request it replays or relays.
const SPOOFED: &[(&str, &str)] = &[
    ("X_Hookguard_Verified", "stripe"),
    ("X_Hookguard_Event_Id", "evt_attacker"),
    ("X.Hookguard.Verified", "stripe"),
    ("X_Forwarded_For", "10.6.6.6"),
    ("X_Forwarded_Host", "evil.example"),
    ("X-Forwarded-Port", "443"),
    ("X-Forwarded-Prefix", "/admin"),
    ("Forwarded", "for=10.6.6.6;host=evil.example"),
    ("X-Real-IP", "10.6.6.6"),
    ("X_Real_Ip", "10.6.6.6"),
    ("X-Original-URL", "/admin"),
    ("X-Rewrite-URL", "/admin"),
    ("X-HTTP-Method-Override", "DELETE"),
    ("X-HTTP-Method", "DELETE"),
    ("X-Method-Override", "DELETE"),
    ("Webhook_Id", "msg_attacker"),
];

/// The request environment a WSGI server builds: `HTTP_` plus the name
/// upper-cased with `-` as `_`, repeated variables joined with `,`.
fn wsgi_environ(headers: &http::HeaderMap) -> BTreeMap<String, String> {
    let mut env = BTreeMap::<String, String>::new();
    for (name, value) in headers {
        let key = format!("HTTP_{}", name.as_str().replace('-', "_").to_uppercase());
        let value = value.to_str().unwrap();
        env.entry(key)
            .and_modify(|v| {
                v.push(',');
                v.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    env
}

/// Sends one genuine Standard Webhooks request with `SPOOFED` added and
/// returns the app's view of what the upstream received.
async fn delivered_environ(trusted_proxies: &str) -> BTreeMap<String, String> {
    let up = Upstream::start().await;
    let p = proxy(&CONFIG.replace("TRUSTED", trusted_proxies), &up).await;
    let body = br#"{"type":"invoice.paid"}"#;
    let mut headers = standard_webhooks_headers(SW_SECRET, "msg_genuine", now_secs(), body);
    headers.extend(
        SPOOFED
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let a = post(&p, "/sw", &refs, body).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let got = up.received();
    assert_eq!(got.len(), 1);
    for name in got[0].headers.keys() {
        assert!(
            name.as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{name} reached the upstream"
        );
    }
    wsgi_environ(&got[0].headers)
}

#[tokio::test]
async fn spoofed_header_names_never_reach_the_app() {
    let env = delivered_environ("").await;
    assert_eq!(env["HTTP_X_HOOKGUARD_VERIFIED"], "standard-webhooks");
    assert_eq!(env["HTTP_X_HOOKGUARD_EVENT_ID"], "msg_genuine");
    assert_eq!(env["HTTP_WEBHOOK_ID"], "msg_genuine");
    assert_eq!(env["HTTP_X_FORWARDED_FOR"], "127.0.0.1");
    assert_eq!(env["HTTP_X_FORWARDED_PROTO"], "http");
    assert!(!env["HTTP_X_FORWARDED_HOST"].contains("evil"), "{env:?}");
    // hookguard's own `Forwarded`, nothing of the client's.
    assert!(
        env["HTTP_FORWARDED"].starts_with("for=127.0.0.1;proto=http;host=\"127.0.0.1:"),
        "{env:?}"
    );
    for gone in [
        "HTTP_X_FORWARDED_PORT",
        "HTTP_X_FORWARDED_PREFIX",
        "HTTP_X_REAL_IP",
        "HTTP_X_ORIGINAL_URL",
        "HTTP_X_REWRITE_URL",
        "HTTP_X_HTTP_METHOD_OVERRIDE",
        "HTTP_X_HTTP_METHOD",
        "HTTP_X_METHOD_OVERRIDE",
    ] {
        assert!(!env.contains_key(gone), "{gone} reached the app: {env:?}");
    }
}

#[tokio::test]
async fn a_trusted_proxy_still_cannot_smuggle_underscored_names() {
    let env = delivered_environ("trusted_proxies = [\"127.0.0.1/32\"]").await;
    assert_eq!(env["HTTP_X_HOOKGUARD_VERIFIED"], "standard-webhooks");
    assert_eq!(env["HTTP_X_HOOKGUARD_EVENT_ID"], "msg_genuine");
    assert_eq!(env["HTTP_WEBHOOK_ID"], "msg_genuine");
    // The proxy in front is believed about the original request ...
    assert_eq!(env["HTTP_X_REAL_IP"], "10.6.6.6");
    assert_eq!(env["HTTP_X_FORWARDED_PORT"], "443");
    assert_eq!(env["HTTP_X_HTTP_METHOD_OVERRIDE"], "DELETE");
    // ... but the chain is the one hookguard built from real headers only.
    assert_eq!(env["HTTP_X_FORWARDED_FOR"], "127.0.0.1");
    // `Forwarded`: what the proxy stated, then hookguard's element.
    assert!(
        env["HTTP_FORWARDED"]
            .starts_with("for=10.6.6.6;host=evil.example, for=127.0.0.1;proto=http;host="),
        "{env:?}"
    );
}

/// A GitHub route open only to 203.0.113.0/24, behind a trusted proxy on
/// loopback: what it answers tells which address hookguard took for the
/// client.
const ALLOWED: &str = r#"
[server]
listen = "127.0.0.1:0"
trusted_proxies = ["127.0.0.1/32"]

[upstream]
url = "{upstream}"

[[route]]
path = "/gh"
provider = "github"
secrets = ["It's a Secret to Everybody"]
allow_ips = ["203.0.113.0/24", "2001:db8:cafe::/48"]

[replay]
ttl = "1s"
"#;

/// The status of a GitHub delivery with `headers` added; each a new
/// delivery (its body names the headers), so none is a duplicate.
async fn status_with(p: &hookguard::runtime::Running, headers: &[(&str, &str)]) -> u16 {
    let body = format!("{{\"headers\":\"{headers:?}\"}}");
    let sig = format!("sha256={}", hmac256_hex(GH_SECRET, &[body.as_bytes()]));
    let mut all = vec![("x-hub-signature-256", sig.as_str())];
    all.extend_from_slice(headers);
    post(p, "/gh", &all, body.as_bytes()).await.status.as_u16()
}

#[tokio::test]
async fn the_client_address_is_read_from_forwarded_when_there_is_no_x_forwarded_for() {
    let up = Upstream::start().await;
    let p = proxy(ALLOWED, &up).await;
    // Forwarded alone, in its forms: quoted IPv6 with a port, IPv4 with a
    // port, trusted hops skipped right to left.
    assert_eq!(
        status_with(&p, &[("forwarded", "for=\"[2001:db8:cafe::17]:4711\"")]).await,
        200
    );
    assert_eq!(
        status_with(
            &p,
            &[("forwarded", "for=\"203.0.113.9:47011\";proto=https")]
        )
        .await,
        200
    );
    assert_eq!(
        status_with(
            &p,
            &[(
                "forwarded",
                "for=198.51.100.1, for=203.0.113.9, for=127.0.0.1"
            )]
        )
        .await,
        200
    );
    assert_eq!(
        status_with(&p, &[("forwarded", "for=203.0.113.9, for=198.51.100.1")]).await,
        403
    );
    // unknown and obfuscated identifiers: the client is the last trusted
    // hop (the proxy itself, not allowed here).
    assert_eq!(
        status_with(&p, &[("forwarded", "for=203.0.113.9, for=unknown")]).await,
        403
    );
    assert_eq!(
        status_with(&p, &[("forwarded", "for=203.0.113.9, for=_hidden")]).await,
        403
    );
    // Both headers: X-Forwarded-For decides, in either order.
    for (xff, fwd, expected) in [
        ("198.51.100.1", "for=203.0.113.9", 403),
        ("203.0.113.9", "for=198.51.100.1", 200),
    ] {
        let first = [("x-forwarded-for", xff), ("forwarded", fwd)];
        assert_eq!(status_with(&p, &first).await, expected, "{xff} / {fwd}");
        let second = [("forwarded", fwd), ("x-forwarded-for", xff)];
        assert_eq!(status_with(&p, &second).await, expected, "{fwd} / {xff}");
    }
    let got = up.received();
    let last = got.last().unwrap();
    assert!(
        last.headers["forwarded"]
            .to_str()
            .unwrap()
            .starts_with("for=198.51.100.1, for=127.0.0.1;proto=http;host="),
        "{:?}",
        last.headers
    );
}

#[tokio::test]
async fn a_long_signed_event_id_is_forwarded_whole() {
    // The audit log cuts ids past 128 characters; the app gets the id as
    // signed.
    let up = Upstream::start().await;
    let p = proxy(&CONFIG.replace("TRUSTED", ""), &up).await;
    let id = format!("msg_{}", "a".repeat(2_996));
    let body = br#"{"type":"long.id"}"#;
    let headers = standard_webhooks_headers(SW_SECRET, &id, now_secs(), body);
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let a = post(&p, "/sw", &refs, body).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(
        up.received()[0].headers["x-hookguard-event-id"],
        id.as_str()
    );
}
