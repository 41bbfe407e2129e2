//! The module's own surface: what the `Verifier` trait answers for a
//! scheme that overrides none of its optional methods (Adyen: HMACs in the
//! body, nothing else), each default being what lets the proxy skip that
//! step; `Inbound`'s `Debug`, which never shows a header; and signing for
//! a configured token route.

use http::{HeaderMap, Method, Uri};

use super::testutil::{headers, inbound, secrets, verifier};
use super::{
    cloudevents_options, fetches_keys, sign_token_route, takes_either_key, Inbound, SignRequest,
    UrlTarget,
};
use crate::body::Payload;

/// An Adyen HMAC key (hex, as the Customer Area shows it).
const KEY: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";

fn request<T>(map: &HeaderMap, uri: &Uri, f: impl FnOnce(&Inbound<'_>) -> T) -> T {
    f(&Inbound {
        method: &Method::POST,
        uri,
        headers: map,
        public_url: "",
        now_ms: 0,
        key: None,
    })
}

#[test]
fn a_scheme_asks_for_nothing_it_does_not_override() {
    let v = verifier("adyen", &secrets(&[KEY]));
    let uri = Uri::from_static("/hook?x=1");
    let target = UrlTarget {
        configured: Some("https://example.com/hook?x=1"),
        scheme: "https",
        host: Some("example.com"),
        uri: &uri,
    };
    assert!(!v.signs_url());
    assert!(!v.uses_public_url());
    assert_eq!(v.signed_url(&target), Ok(String::new()));
    assert_eq!(v.credential_query(), None);
    assert_eq!(v.key_rule(), None);
    let map = headers(&[("content-length", b"2")]);
    let body = Payload::from(&b"{}"[..]);
    request(&map, &uri, |req| {
        assert!(v.key_needed(req, &body).unwrap().is_none());
        assert_eq!(v.confirm_url(req, &body), None);
        assert!(v.challenge(req).is_none());
        assert!(!v.awaits_body_challenge(req));
        assert!(v.handshake(req, &body).is_none());
    });
}

#[test]
fn inbound_debug_shows_the_request_line_never_a_header() {
    let map = headers(&[("authorization", b"Bearer secret-token")]);
    let uri = Uri::from_static("/hook?x=1");
    let shown = request(&map, &uri, |req| format!("{req:?}"));
    assert!(shown.contains("/hook?x=1"), "{shown}");
    assert!(shown.contains("now_ms: 0"), "{shown}");
    assert!(!shown.contains("secret-token"), "{shown}");
}

#[test]
fn a_token_route_signs_with_its_configured_header() {
    let req = SignRequest {
        body: b"{}",
        timestamp: 0,
        id: None,
        url: None,
        method: "POST",
    };
    let signed = sign_token_route("token", "x-my-token", b"t0ken", &req).unwrap();
    assert_eq!(signed, vec![("x-my-token".into(), "t0ken".into())]);
    // Any other provider signs as it always does.
    let github = sign_token_route("github", "x-my-token", b"s", &req).unwrap();
    assert_eq!(github[0].0, "x-hub-signature-256");
}

#[test]
fn only_schemes_keyed_either_way_take_either_key() {
    assert!(takes_either_key("jwt"));
    assert!(takes_either_key("fusionauth"));
    assert!(!takes_either_key("netlify"));
    assert!(!takes_either_key("github"));
    assert!(!takes_either_key("no-such-provider"));
}

#[test]
fn only_schemes_with_fetched_keys_fetch_keys() {
    assert!(fetches_keys("aws-sns"));
    assert!(fetches_keys("paypal"));
    assert!(!fetches_keys("github"));
    assert!(!fetches_keys("no-such-provider"));
}

#[test]
fn a_cloudevents_options_request_is_answered() {
    let map = headers(&[("webhook-request-origin", b"eventemitter.example.com")]);
    let uri = Uri::from_static("/hook");
    let req = inbound(&Method::OPTIONS, &uri, &map);
    let reply = cloudevents_options(&req).unwrap().unwrap();
    assert_eq!(reply.status, 200);
    assert!(!reply.headers.is_empty());
    assert!(cloudevents_options(&Inbound {
        method: &Method::POST,
        ..req
    })
    .is_none());
}
