//! End-to-end for the cloud platforms' handshakes and batch checks: the real
//! proxy and a real upstream on ephemeral loopback ports. Microsoft Graph's
//! `validationToken` handshake is answered by the proxy and never
//! forwarded; a notification batch is forwarded only when every item
//! carries the route's `clientState`.
//!
//! Azure Event Grid's key is taken from the endpoint URL's query (and
//! removed from the forwarded query) or from a header; its
//! SubscriptionValidationEvent is answered only with the key; the
//! CloudEvents `OPTIONS` handshake is answered on its routes and on any
//! route with `cloudevents_handshake = true`.
//!
//! Requests follow Microsoft Learn "Receive change notifications through
//! webhooks" (Microsoft Graph) and "Webhook event delivery" (Azure Event
//! Grid), and CloudEvents 1.0 "HTTP 1.1 Web Hooks", written here from the
//! pages, sharing no code with `src/providers`.

mod common;

use common::*;

fn config() -> String {
    TomlConfig::new()
        .route(
            "path = \"/graph\"\nprovider = \"microsoft-graph\"\nsecrets = [\"secretClientValue\"]",
        )
        .route(
            r#"path = "/eg"
provider = "azure-eventgrid"
secrets = ["k3y"]
token_query = "code""#,
        )
        .route(
            r#"path = "/eg-kept"
provider = "azure-eventgrid"
secrets = ["k3y"]
token_query = "code"
forward_token = true"#,
        )
        .route(
            r#"path = "/eg-header"
provider = "azure-eventgrid"
secrets = ["k3y"]
token_header = "X-EG-Key""#,
        )
        .github("/gh-ce", GH_SECRET, &["cloudevents_handshake = true"])
        .github("/gh", GH_SECRET, &[])
        .build()
}

/// Microsoft Learn's SubscriptionValidationEvent example.
const VALIDATION: &[u8] = br#"[{"id":"2d1781af-3a4c-4d7c-bd0c-e34b19da4e66","topic":"/subscriptions/xx/resourceGroups/yy/providers/Microsoft.Storage/storageAccounts/zz","subject":"","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6","validationUrl":"https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/myeventsub/validate?id=0000000000-0000-0000-0000-00000000000000&t=2022-10-28T04:23:35.1981776Z&apiVersion=2018-05-01-preview&token=1A1A1A1A"},"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2022-10-28T04:23:35.1981776Z","metadataVersion":"1","dataVersion":"1"}]"#;
const EVENT: &[u8] = br#"[{"id":"9aeb0fdf-c01e-0131-0922-9eb54906e209","eventType":"Microsoft.Storage.BlobCreated","subject":"/blobServices/default/containers/c/blobs/b","data":{},"dataVersion":"","metadataVersion":"1"}]"#;

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

#[tokio::test]
async fn eventgrid_query_key_validation_and_stripping() {
    let up = Upstream::start().await;
    let p = proxy(&config(), &up).await;
    let validation = [("aeg-event-type", "SubscriptionValidation")];
    let a = post(&p, "/eg?code=k3y", &validation, VALIDATION).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.headers["content-type"], "application/json");
    assert_eq!(
        a.text(),
        r#"{"validationResponse":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}"#
    );
    // Only once the key matched.
    let a = post(&p, "/eg?code=guess", &validation, VALIDATION).await;
    assert_rejected(&a, 401, "invalid_signature");
    assert_rejected(
        &post(&p, "/eg", &validation, VALIDATION).await,
        401,
        "missing_signature",
    );
    assert_eq!(up.count(), 0, "handshakes are never forwarded");

    let notification = [("aeg-event-type", "Notification")];
    let a = post(&p, "/eg?tenant=a%2Fb&code=k3y&x", &notification, EVENT).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let got = up.received();
    assert_eq!(got[0].headers["x-hookguard-verified"], "azure-eventgrid");
    // The key is removed from the forwarded query; the rest is kept as sent.
    assert_eq!(
        got[0].uri.path_and_query().unwrap().as_str(),
        "/eg?tenant=a%2Fb&x"
    );
    assert_eq!(&got[0].body[..], EVENT);
    // No event id is signed: a copy is forwarded again.
    let a = post(&p, "/eg?code=k3y", &notification, EVENT).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        up.received()[1].uri.path_and_query().unwrap().as_str(),
        "/eg"
    );
    // forward_token = true keeps it.
    let a = post(&p, "/eg-kept?code=k3y", &notification, EVENT).await;
    assert_eq!(a.status, 200);
    assert_eq!(up.received()[2].uri.query(), Some("code=k3y"));
}

#[tokio::test]
async fn eventgrid_header_key_is_not_forwarded() {
    let up = Upstream::start().await;
    let p = proxy(&config(), &up).await;
    let a = post(&p, "/eg-header", &[("x-eg-key", "k3y")], EVENT).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(!up.received()[0].headers.contains_key("x-eg-key"));
    assert_rejected(
        &post(&p, "/eg-header", &[("x-eg-key", "k3")], EVENT).await,
        401,
        "invalid_signature",
    );
    assert_rejected(
        &post(&p, "/eg-header?code=k3y", &[], EVENT).await,
        401,
        "missing_signature",
    );
}

#[tokio::test]
async fn cloudevents_options_handshake_where_enabled() {
    let up = Upstream::start().await;
    let p = proxy(&config(), &up).await;
    let origin = [
        ("webhook-request-origin", "eventgrid.azure.net"),
        ("webhook-request-rate", "120"),
    ];
    for path in ["/eg", "/gh-ce"] {
        let a = send(&p, "OPTIONS", path, &origin, b"").await;
        assert_eq!(a.status, 200, "{path}: {}", a.text());
        assert_eq!(a.headers["webhook-allowed-origin"], "eventgrid.azure.net");
        assert_eq!(a.headers["webhook-allowed-rate"], "*");
        assert!(a.body.is_empty());
    }
    // A route without it does not accept OPTIONS at all.
    let a = send(&p, "OPTIONS", "/gh", &origin, b"").await;
    assert_eq!(a.status, 405);
    // The GitHub route still verifies its POSTs as before.
    let a = post(&p, "/gh-ce", &[("x-hub-signature-256", "sha256=00")], b"{}").await;
    assert_rejected(&a, 401, "invalid_signature");
    assert_eq!(up.count(), 0);
}
