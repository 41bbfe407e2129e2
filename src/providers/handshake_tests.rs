//! The handshakes' recognition and replies, request by request: each
//! challenge's exact shape, what is refused, and what is left to the
//! pipeline (not a challenge).

use super::*;
use http::{HeaderMap, Uri};

fn inbound<'a>(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> Inbound<'a> {
    Inbound {
        method,
        uri,
        headers,
        public_url: "",
        now_ms: 0,
        key: None,
    }
}

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
