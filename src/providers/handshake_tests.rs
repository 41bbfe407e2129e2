//! The handshakes' recognition and replies, request by request: each
//! challenge's exact shape, what is refused, and what is left to the
//! pipeline (not a challenge).

use super::*;
use http::{HeaderMap, Uri};

use crate::providers::testutil::inbound;

#[test]
fn meta_challenge_needs_mode_and_the_right_token() {
    let (get, h) = (Method::GET, HeaderMap::new());
    let token = Secret::new(b"tok".to_vec());
    let ask = |q: &'static str, t: Option<&Secret>| {
        let uri = Uri::from_static(q);
        let keys = ChallengeKeys {
            verify_token: t,
            crc_key: None,
        };
        Handshake::MetaVerifyToken.challenge(&inbound(&get, &uri, &h), keys, false)
    };
    let ok = ask(
        "/m?hub.mode=subscribe&hub.verify_token=tok&hub.challenge=42",
        Some(&token),
    );
    assert_eq!(ok.unwrap().unwrap().body, b"42");
    // Not a subscribe: an ordinary request, not a challenge.
    assert!(ask("/m?hub.mode=other&hub.challenge=1", Some(&token)).is_none());
    assert!(ask("/m", Some(&token)).is_none());
    let missing = ask("/m?hub.mode=subscribe&hub.challenge=1", Some(&token));
    assert!(matches!(
        missing,
        Some(Err(Rejection::MissingSignature { .. }))
    ));
    let wrong = ask(
        "/m?hub.mode=subscribe&hub.verify_token=tok2&hub.challenge=1",
        Some(&token),
    );
    assert!(matches!(
        wrong,
        Some(Err(Rejection::InvalidSignature { .. }))
    ));
    let unconfigured = ask(
        "/m?hub.mode=subscribe&hub.verify_token=tok&hub.challenge=1",
        None,
    );
    assert!(matches!(
        unconfigured,
        Some(Err(Rejection::InvalidSignature { .. }))
    ));
    // POST is never a challenge.
    let post = Method::POST;
    let uri = Uri::from_static("/m?hub.mode=subscribe&hub.verify_token=tok&hub.challenge=1");
    assert!(Handshake::MetaVerifyToken
        .challenge(
            &inbound(&post, &uri, &h),
            ChallengeKeys {
                verify_token: Some(&token),
                crc_key: None,
            },
            false,
        )
        .is_none());
}

#[test]
fn signed_handshakes_recognise_only_their_message() {
    let (post, uri, h) = (Method::POST, Uri::from_static("/"), HeaderMap::new());
    let req = inbound(&post, &uri, &h);
    let slack = Handshake::SlackUrlVerification;
    assert!(slack
        .handshake(&req, br#"{"type":"event_callback"}"#, None)
        .is_none());
    assert!(slack.handshake(&req, b"not json", None).is_none());
    let long = format!(
        r#"{{"type":"url_verification","challenge":"{}"}}"#,
        "a".repeat(600)
    );
    assert!(slack.handshake(&req, long.as_bytes(), None).is_none());
    // Twitch needs its message-type header.
    let twitch = Handshake::TwitchCallbackVerification;
    assert!(twitch
        .handshake(&req, br#"{"challenge":"x"}"#, None)
        .is_none());
    // Zoom without the key that verified cannot answer.
    let zoom = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"p"}}"#;
    assert!(Handshake::ZoomUrlValidation
        .handshake(&req, zoom, None)
        .is_none());
    assert!(Handshake::None.handshake(&req, zoom, None).is_none());
}
/// A request with `method`, `uri` and `headers`, for a built verifier.
fn ask(
    name: &str,
    secret: &str,
    method: Method,
    uri: &'static str,
    headers: &[(&str, &[u8])],
) -> Option<Result<HandshakeReply, Rejection>> {
    let v = super::super::testutil::verifier(name, &super::super::testutil::secrets(&[secret]));
    let (uri, h) = (
        Uri::from_static(uri),
        super::super::testutil::headers(headers),
    );
    let mut req = inbound(&method, &uri, &h);
    req.now_ms = 1_700_000_000_000;
    v.challenge(&req)
}

fn json_body(reply: Option<Result<HandshakeReply, Rejection>>) -> serde_json::Value {
    let reply = reply.expect("a challenge").expect("answered");
    assert_eq!(
        (reply.status, reply.content_type),
        (200, "application/json")
    );
    serde_json::from_slice(&reply.body).unwrap()
}

fn refused(reply: Option<Result<HandshakeReply, Rejection>>) -> Rejection {
    reply.expect("a challenge").expect_err("refused")
}

#[test]
fn x_crc_answers_with_the_consumer_secret() {
    // comp (Python hmac): docs.x.com's example `crc_token=challenge_string`.
    for name in ["x", "twitter"] {
        let crc = |uri| ask(name, "x_consumer_secret", Method::GET, uri, &[]);
        let v = json_body(crc("/x?crc_token=challenge_string&nonce=1"));
        assert_eq!(
            v["response_token"],
            "sha256=R1pHvuTfpG71hzRFDyY0MFU5kcuPZW+3M/ZFT6LPMg0="
        );
        // Every GET on an X route is a CRC: without its token it is refused.
        let missing = refused(crc("/x?nonce=1"));
        assert!(matches!(missing, Rejection::MissingSignature { .. }));
        let unsafe_text = refused(crc("/x?crc_token=%3Cscript%3E%0A"));
        assert!(matches!(unsafe_text, Rejection::InvalidSignature { .. }));
        // POST is an event, never a CRC.
        assert!(ask(name, "s", Method::POST, "/x?crc_token=a", &[]).is_none());
    }
}

#[test]
fn onfleet_check_is_echoed_and_required() {
    let check = |uri| ask("onfleet", "c0ffee00", Method::GET, uri, &[]);
    let reply = check("/o?check=example").unwrap().unwrap();
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, &b"example"[..])
    );
    assert!(matches!(
        refused(check("/o")),
        Rejection::MissingSignature { .. }
    ));
    let long: &'static str = Box::leak(format!("/o?check={}", "a".repeat(513)).into_boxed_str());
    assert!(matches!(
        refused(check(long)),
        Rejection::InvalidSignature { .. }
    ));
}

#[test]
fn okta_verification_needs_the_credential_and_the_header() {
    // Okta docs: `{ "verification" : "value_from_header" }`.
    let auth: &[u8] = b"Basic YWRtaW46c3VwZXJzZWNyZXQ=";
    let secret = "Basic YWRtaW46c3VwZXJzZWNyZXQ=";
    let okta = |h: &[(&str, &[u8])]| ask("okta", secret, Method::GET, "/okta", h);
    let challenge: (&str, &[u8]) = (OKTA_CHALLENGE, b"aRx0DNe5wOSnRB9ShSP4Uq");
    let v = json_body(okta(&[("authorization", auth), challenge]));
    assert_eq!(
        v,
        serde_json::json!({ "verification": "aRx0DNe5wOSnRB9ShSP4Uq" })
    );
    let wrong = okta(&[("authorization", b"Basic bm9wZQ=="), challenge]);
    assert!(matches!(refused(wrong), Rejection::InvalidSignature { .. }));
    let anonymous = okta(&[challenge]);
    assert!(matches!(
        refused(anonymous),
        Rejection::MissingSignature { .. }
    ));
    let no_header = okta(&[("authorization", auth)]);
    assert!(matches!(
        refused(no_header),
        Rejection::MissingSignature { .. }
    ));
    let twice = okta(&[("authorization", auth), challenge, challenge]);
    assert!(matches!(refused(twice), Rejection::MissingSignature { .. }));
    // Events are POSTs: not a challenge.
    assert!(ask("okta", secret, Method::POST, "/okta", &[challenge]).is_none());
}

#[test]
fn smartsheet_challenge_is_echoed_in_header_and_json() {
    // Smartsheet "Webhook verification": the challenge header's value
    // back in Smartsheet-Hook-Response and as smartsheetHookResponse.
    let value: &[u8] = b"d78dd1d3-01ce-4481-81de-92b4f3aa5ab1";
    let smartsheet = |h: &[(&str, &[u8])]| ask("smartsheet", "s", Method::POST, "/ss", h);
    let reply = smartsheet(&[(SMARTSHEET_CHALLENGE, value)]);
    let answered = reply.as_ref().unwrap().as_ref().unwrap();
    let header = &answered.headers[..];
    assert_eq!(header.len(), 1);
    assert_eq!(header[0].0.as_str(), SMARTSHEET_RESPONSE);
    assert_eq!(header[0].1.as_bytes(), value);
    let v = json_body(reply);
    assert_eq!(
        v,
        serde_json::json!({ "smartsheetHookResponse": "d78dd1d3-01ce-4481-81de-92b4f3aa5ab1" })
    );
    let twice = smartsheet(&[(SMARTSHEET_CHALLENGE, value), (SMARTSHEET_CHALLENGE, value)]);
    assert!(matches!(refused(twice), Rejection::InvalidSignature { .. }));
    let empty = smartsheet(&[(SMARTSHEET_CHALLENGE, b"")]);
    assert!(matches!(refused(empty), Rejection::MissingSignature { .. }));
    // Without the header a POST is an event; on another provider's
    // route the header means nothing.
    assert!(smartsheet(&[]).is_none());
    let github = ask(
        "github",
        "s",
        Method::POST,
        "/g",
        &[(SMARTSHEET_CHALLENGE, value)],
    );
    assert!(github.is_none());
}

#[test]
fn trello_head_is_answered_empty() {
    let reply = ask("trello", "s", Method::HEAD, "/t", &[])
        .unwrap()
        .unwrap();
    assert_eq!((reply.status, reply.body.len()), (200, 0));
    assert!(ask("trello", "s", Method::GET, "/t", &[]).is_none());
    // Only Trello routes answer HEAD.
    assert!(ask("github", "s", Method::HEAD, "/t", &[]).is_none());
}

/// The methods each handshake opens its route to, beyond POST.
#[test]
fn each_handshake_adds_only_its_method() {
    assert_eq!(Handshake::XCrc.extra_methods(), &[Method::GET]);
    assert_eq!(Handshake::HeadOk.extra_methods(), &[Method::HEAD]);
    assert_eq!(
        Handshake::EventGridValidation.extra_methods(),
        &[Method::OPTIONS]
    );
    assert!(Handshake::SlackUrlVerification.extra_methods().is_empty());
}

/// Asana's handshake is an unsigned POST with `X-Hook-Secret`; a signed
/// POST, another method or a POST without the header is not one.
#[test]
fn asana_handshake_is_an_unsigned_post_with_the_secret() {
    let (uri, keys) = (Uri::from_static("/a"), ChallengeKeys::default());
    let with_secret = super::super::testutil::headers(&[(ASANA_SECRET, b"s3cret")]);
    let none = HeaderMap::new();
    let ask = |method: &Method, h: &HeaderMap, signed: bool| {
        Handshake::AsanaHookSecret.challenge(&inbound(method, &uri, h), keys, signed)
    };
    let reply = ask(&Method::POST, &with_secret, false).unwrap().unwrap();
    assert_eq!(reply.headers.len(), 1);
    assert_eq!(reply.headers[0].1, "s3cret");
    assert!(ask(&Method::POST, &with_secret, true).is_none());
    assert!(ask(&Method::GET, &with_secret, false).is_none());
    assert!(ask(&Method::POST, &none, false).is_none());
}

/// Only an unsigned POST declaring a body no longer than the handshake's
/// waits for its body; anything else is judged from its head.
#[test]
fn only_a_small_unsigned_post_awaits_a_body_handshake() {
    let uri = Uri::from_static("/w");
    let awaits = |h: Handshake, method: &Method, len: Option<&str>, signed: bool| {
        let mut map = HeaderMap::new();
        if let Some(len) = len {
            map.insert(http::header::CONTENT_LENGTH, len.parse().unwrap());
        }
        h.awaits_body(&inbound(method, &uri, &map), signed)
    };
    let (woo, notion, post) = (
        Handshake::WooCommercePing,
        Handshake::NotionVerification,
        Method::POST,
    );
    assert!(awaits(woo, &post, Some("31"), false));
    assert!(!awaits(woo, &post, Some("32"), false));
    assert!(awaits(notion, &post, Some("1024"), false));
    assert!(!awaits(notion, &post, Some("1025"), false));
    assert!(!awaits(woo, &post, None, false));
    assert!(!awaits(woo, &post, Some("31"), true));
    assert!(!awaits(woo, &Method::PUT, Some("31"), false));
    assert!(!awaits(
        Handshake::SlackUrlVerification,
        &post,
        Some("1"),
        false
    ));
}

#[test]
fn body_handshakes_answer_only_their_exact_shape() {
    let woo = Handshake::WooCommercePing;
    let twenty = format!("webhook_id={}", "9".repeat(20));
    for ok in [&b"webhook_id=123"[..], twenty.as_bytes()] {
        let reply = woo.body_challenge(ok).unwrap();
        assert_eq!((reply.status, reply.body.len()), (200, 0));
    }
    let too_long = format!("webhook_id={}", "9".repeat(21));
    for bad in [&b"webhook_id="[..], b"webhook_id=12a", too_long.as_bytes()] {
        assert!(matches!(
            woo.body_challenge(bad),
            Err(Rejection::MissingSignature { .. })
        ));
    }
    let notion = Handshake::NotionVerification;
    let reply = notion
        .body_challenge(br#"{"verification_token":"secret_abc"}"#)
        .unwrap();
    assert_eq!(reply.note, Some(NOTION_NOTE));
    for bad in [
        &br#"{"verification_token":"secret_abc","x":1}"#[..],
        br#"{"verification_token":""}"#,
        br#"{"verification_token":"a\u0001"}"#,
        b"webhook_id=123",
    ] {
        assert!(notion.body_challenge(bad).is_err(), "{bad:?}");
    }
    // A handshake answered from the head has no body form.
    assert!(Handshake::HeadOk.body_challenge(b"webhook_id=1").is_err());
}

#[test]
fn signed_handshakes_answer_their_message() {
    let (post, uri) = (Method::POST, Uri::from_static("/"));
    let plain = HeaderMap::new();
    let req = inbound(&post, &uri, &plain);
    let slack = br#"{"type":"url_verification","challenge":"3eZbrw1aB"}"#;
    let reply = Handshake::SlackUrlVerification
        .handshake(&req, slack, None)
        .unwrap();
    assert_eq!(reply.body, b"3eZbrw1aB");
    let twitch_body = br#"{"challenge":"pogchamp-kappa"}"#;
    let twitch = |kind: &'static [u8]| {
        let h = super::super::testutil::headers(&[("twitch-eventsub-message-type", kind)]);
        Handshake::TwitchCallbackVerification.handshake(
            &inbound(&post, &uri, &h),
            twitch_body,
            None,
        )
    };
    assert_eq!(
        twitch(b"webhook_callback_verification").unwrap().body,
        b"pogchamp-kappa"
    );
    assert!(twitch(b"notification").is_none());
    // comp (Python hmac): HMAC-SHA256("zoom_secret_token", plainToken).
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"zoom_secret_token");
    let zoom = |plain: &str| {
        let body = serde_json::json!({
            "event": "endpoint.url_validation",
            "payload": { "plainToken": plain },
        });
        let body = body.to_string();
        Handshake::ZoomUrlValidation.handshake(&req, body.as_bytes(), Some(&key))
    };
    let reply = zoom("qgg8vlvZRS6UYooatFL8Aw").unwrap();
    let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(
        v["encryptedToken"],
        "bd48235863f4a6323ccc4963c594908b7c97f88b4a6a95278f4f093690b12726"
    );
    assert_eq!(v["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
    // Up to MAX_CHALLENGE characters are answered, no more.
    assert!(zoom(&"a".repeat(MAX_CHALLENGE)).is_some());
    assert!(zoom(&"a".repeat(MAX_CHALLENGE + 1)).is_none());
    let other = br#"{"event":"meeting.started","payload":{"plainToken":"p"}}"#;
    assert!(Handshake::ZoomUrlValidation
        .handshake(&req, other, Some(&key))
        .is_none());
}

#[test]
fn echo_takes_up_to_max_challenge_printable_bytes() {
    assert!(echo(&"a".repeat(MAX_CHALLENGE)).is_ok());
    assert!(echo(&"a".repeat(MAX_CHALLENGE + 1)).is_err());
}

#[test]
fn monday_challenge_is_its_exact_shape_echoed_as_json() {
    // monday.com "Webhooks", URL verification: its docs' example challenge.
    let body = br#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#;
    let monday = Handshake::MondayChallenge;
    let reply = monday.body_challenge(body).expect("answered");
    assert_eq!(
        (reply.status, reply.content_type),
        (200, "application/json")
    );
    let sent: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&reply.body).unwrap(),
        sent
    );
    for other in [
        &br#"{"challenge":"c","event":{}}"#[..],
        br#"{"challenge":""}"#,
        br#"{"challenge":7}"#,
        br#"{"challenge":"a\u0007b"}"#,
        br#"["challenge"]"#,
    ] {
        assert!(monday.body_challenge(other).is_err(), "{other:?}");
    }
    // The same shape after the app's token verified (the signed path);
    // any other verified body is an event.
    let (post, uri, h) = (Method::POST, Uri::from_static("/m"), HeaderMap::new());
    let req = inbound(&post, &uri, &h);
    assert!(monday.handshake(&req, body, None).is_some());
    assert!(monday.handshake(&req, br#"{"event":{}}"#, None).is_none());
}
