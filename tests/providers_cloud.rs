//! End-to-end for the cloud platforms' handshakes and batch checks: the real
//! proxy and a real upstream on ephemeral loopback ports. Microsoft Graph's
//! `validationToken` handshake is answered by the proxy and never
//! forwarded; a notification batch is forwarded only when every item
//! carries the route's `clientState`.
//!
//! Requests follow Microsoft Learn "Receive change notifications through
//! webhooks" (Microsoft Graph), written here from the page, sharing no code
//! with `src/providers`.

mod common;

use common::*;

fn config() -> String {
    TomlConfig::new()
        .route(
            "path = \"/graph\"\nprovider = \"microsoft-graph\"\nsecrets = [\"secretClientValue\"]",
        )
        .build()
}

fn batch(states: &[&str]) -> Vec<u8> {
    let items: Vec<String> = states
        .iter()
        .map(|s| {
            format!(
                r#"{{"subscriptionId":"sub-1","clientState":"{s}","changeType":"created","resource":"users/u/messages/m","tenantId":"t"}}"#
            )
        })
        .collect();
    format!(r#"{{"value":[{}]}}"#, items.join(",")).into_bytes()
}

#[tokio::test]
async fn graph_validation_token_is_answered_and_never_forwarded() {
    let up = Upstream::start().await;
    let p = proxy(&config(), &up).await;
    let path = "/graph?validationToken=Validation%3a+Testing+client+application+reachability+for+subscription+Request-Id%3a+9f0c3b53";
    let a = send(&p, "POST", path, &[("content-type", "text/plain")], b"").await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.headers["content-type"], "text/plain");
    assert_eq!(
        a.text(),
        "Validation: Testing client application reachability for subscription Request-Id: 9f0c3b53"
    );
    // A body alongside is neither read nor forwarded.
    let a = send(&p, "POST", path, &[], &batch(&["forged"])).await;
    assert_eq!(a.status, 200);
    // Markup or an oversized token is not reflected.
    let a = send(&p, "POST", "/graph?validationToken=%3Cb%3E%0A", &[], b"").await;
    assert_rejected(&a, 401, "invalid_signature");
    let long = format!("/graph?validationToken={}", "a".repeat(600));
    assert_rejected(
        &send(&p, "POST", &long, &[], b"").await,
        401,
        "invalid_signature",
    );
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn graph_batch_needs_client_state_on_every_item() {
    let up = Upstream::start().await;
    let p = proxy(&config(), &up).await;
    let good = batch(&["secretClientValue", "secretClientValue"]);
    let a = post(&p, "/graph", &[("content-type", "application/json")], &good).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let got = up.received();
    assert_eq!(got[0].headers["x-hookguard-verified"], "microsoft-graph");
    assert_eq!(&got[0].body[..], &good[..]);
    let mixed = batch(&["secretClientValue", "forged"]);
    assert_rejected(
        &post(&p, "/graph", &[], &mixed).await,
        401,
        "invalid_signature",
    );
    assert_rejected(
        &post(&p, "/graph", &[], br#"{"value":[]}"#).await,
        401,
        "missing_signature",
    );
    assert_rejected(
        &post(
            &p,
            "/graph",
            &[],
            br#"{"value":[{"changeType":"created"}]}"#,
        )
        .await,
        401,
        "missing_signature",
    );
    assert_eq!(up.count(), 1);
}
