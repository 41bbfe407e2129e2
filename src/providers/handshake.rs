//! Provider handshakes the proxy answers itself, never forwarding them:
//! unsigned challenges read from the request head (Meta `hub.challenge` with
//! `hub.verify_token`, Dropbox `?challenge=`, X's CRC `?crc_token=`, Onfleet
//! `?check=`, Okta's verification header, Trello's and Mandrill's HEAD,
//! Asana's `X-Hook-Secret` POST, Smartsheet's `Smartsheet-Hook-Challenge`
//! POST), unsigned set-up POSTs recognised by their
//! body (WooCommerce's ping, Notion's verification token) and signed set-up
//! messages (Slack `url_verification`, Zoom `endpoint.url_validation`,
//! Twitch `webhook_callback_verification`).
//!
//! Each challenge claims every request of its method on a route of its
//! provider (these providers send no other request with it), so a malformed
//! one is refused rather than forwarded, and a value is echoed only when it
//! is short printable text.
//!
//! Owns recognising each handshake and building its reply. Does not own
//! verification: signed handshakes are recognised only after the family's
//! `verify` succeeded, and the pipeline decides when each hook runs.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use http::{HeaderName, Method};
use ring::hmac;

use super::{HandshakeReply, Inbound, Rejection};
use crate::secret::Secret;

/// Longest challenge we echo back; real ones are a few dozen characters.
const MAX_CHALLENGE: usize = 512;

/// Okta's one-time verification GET carries its challenge in this header.
const OKTA_CHALLENGE: &str = "x-okta-verification-challenge";

/// Asana's handshake POST carries the webhook's new secret in this header,
/// which the reply must echo.
const ASANA_SECRET: &str = "x-hook-secret";

/// Smartsheet's verification POST carries its challenge in this header; the
/// reply echoes it in [`SMARTSHEET_RESPONSE`] and as JSON.
const SMARTSHEET_CHALLENGE: &str = "smartsheet-hook-challenge";

/// The reply header Smartsheet reads the echoed challenge from.
const SMARTSHEET_RESPONSE: &str = "smartsheet-hook-response";

/// Longest WooCommerce ping body: `webhook_id=` and a 20-digit id.
const MAX_PING: usize = 31;

/// Longest Notion verification body: `{"verification_token":"..."}` with
/// a token of at most [`MAX_CHALLENGE`] characters, and some whitespace.
const MAX_NOTION_BODY: u64 = 1024;

/// Longest monday.com challenge body: `{"challenge":"..."}` with a value
/// of at most [`MAX_CHALLENGE`] characters, and some whitespace.
const MAX_MONDAY_BODY: u64 = 1024;

/// Audit note of Asana's handshake: the secret it just set is the key of
/// every later event, and only the operator can configure it.
const ASANA_NOTE: &str =
    "Asana handshake answered: events are signed with the X-Hook-Secret value \
     of this handshake, which hookguard does not record; configure that value as this route's \
     secret";

/// Audit note of Notion's first POST.
const NOTION_NOTE: &str = "Notion verification request answered: events are signed with its \
     verification_token, which hookguard does not record; paste that token into Notion's \
     Verify dialog and configure it as this route's secret";

/// What a challenge may need besides the request: Meta's `verify_token`,
/// and the key X's CRC is answered with (the route's first unexpired
/// secret).
#[derive(Default, Clone, Copy)]
pub(crate) struct ChallengeKeys<'a> {
    pub(crate) verify_token: Option<&'a Secret>,
    pub(crate) crc_key: Option<&'a hmac::Key>,
}

/// Which handshake a provider performs, as catalog data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handshake {
    /// None: every request is an event.
    None,
    /// Slack: signed JSON `{"type":"url_verification","challenge":..}` →
    /// the challenge as text.
    SlackUrlVerification,
    /// Zoom: signed `endpoint.url_validation` → JSON with `plainToken` and
    /// `encryptedToken = hex(HMAC-SHA256(secret, plainToken))`.
    ZoomUrlValidation,
    /// Twitch: signed `Twitch-Eventsub-Message-Type:
    /// webhook_callback_verification` → the body's `challenge` as text.
    TwitchCallbackVerification,
    /// Meta: unsigned GET `hub.mode=subscribe&hub.verify_token=..&hub.challenge=..`.
    MetaVerifyToken,
    /// Strava: unsigned GET `hub.mode=subscribe&hub.verify_token=..&
    /// hub.challenge=..`, Meta's shape → JSON `{"hub.challenge": ..}`.
    StravaSubscribe,
    /// Dropbox: unsigned GET `?challenge=..` echoed.
    DropboxChallenge,
    /// Discord: signed PING (`{"type":1}`) → `{"type":1}`. Answered by the
    /// asymmetric family itself; listed here so `hookguard providers` says so.
    DiscordPing,
    /// X (Twitter): unsigned GET `?crc_token=..` → JSON `response_token =
    /// "sha256=" + base64(HMAC-SHA256(consumer secret, crc_token))`.
    XCrc,
    /// Onfleet: unsigned GET `?check=..` echoed with 200 (its docs: 204 is
    /// not accepted).
    OnfleetCheck,
    /// Okta: GET with `X-Okta-Verification-Challenge` → JSON
    /// `{"verification": value}`; the token family checks Okta's
    /// `Authorization` credential first (Okta sends it on every request).
    OktaVerification,
    /// Trello, Mandrill: HEAD on webhook creation → 200, empty.
    HeadOk,
    /// AWS SNS: a signed `SubscriptionConfirmation`, forwarded, or with
    /// `sns_confirm = "auto"` confirmed by a GET of its `SubscribeURL`.
    /// Answered by the SNS family itself.
    SnsSubscriptionConfirmation,
    /// Asana: unsigned POST with `X-Hook-Secret` and no `X-Hook-Signature`
    /// → 200 with the same `X-Hook-Secret` header.
    AsanaHookSecret,
    /// WooCommerce: unsigned form POST `webhook_id=<digits>` when a webhook
    /// is created or re-enabled → 200, empty.
    WooCommercePing,
    /// monday.com: POST `{"challenge": ..}` when a webhook is created →
    /// the same JSON back. Unsigned for board webhooks; an app's carries
    /// its JWT, and is then answered only after the token verified.
    MondayChallenge,
    /// Smartsheet: POST with `Smartsheet-Hook-Challenge` when a webhook is
    /// enabled and again every 100 callbacks → 200 with the value in
    /// `Smartsheet-Hook-Response` and as `{"smartsheetHookResponse": ..}`.
    SmartsheetChallenge,
    /// Notion: unsigned first POST `{"verification_token": ..}` → 200,
    /// empty, with an audit note for the operator.
    NotionVerification,
    /// Microsoft Graph: unsigned `POST ?validationToken=..` on subscription
    /// create and renew → the URL-decoded token as `text/plain`.
    GraphValidationToken,
    /// Azure Event Grid: `SubscriptionValidationEvent` (after the key
    /// matched) → `{"validationResponse": code}`, and the CloudEvents
    /// `OPTIONS` abuse-protection request. Answered by `eventgrid.rs`;
    /// listed here so `hookguard providers` says so.
    EventGridValidation,
    /// Braintree (legacy verify flow): unsigned GET `?bt_challenge=<hex>` →
    /// `public_key|hex(HMAC-SHA1(SHA-1(private_key), challenge))`.
    /// Answered by `braintree.rs`; listed here so `hookguard providers`
    /// says so.
    BraintreeChallenge,
}

impl Handshake {
    /// Short description for `hookguard providers`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::None => "-",
            Self::SlackUrlVerification => "url_verification",
            Self::ZoomUrlValidation => "endpoint.url_validation",
            Self::TwitchCallbackVerification => "webhook_callback_verification",
            Self::MetaVerifyToken => "GET hub.challenge (verify_token)",
            Self::StravaSubscribe => "GET hub.challenge (verify_token) -> JSON",
            Self::DropboxChallenge => "GET ?challenge=",
            Self::DiscordPing => "PING (type 1) -> PONG",
            Self::XCrc => "GET ?crc_token= (CRC)",
            Self::OnfleetCheck => "GET ?check=",
            Self::OktaVerification => "GET X-Okta-Verification-Challenge",
            Self::HeadOk => "HEAD -> 200",
            Self::SnsSubscriptionConfirmation => "SubscriptionConfirmation (forward, or auto GET)",
            Self::AsanaHookSecret => "POST X-Hook-Secret echo",
            Self::WooCommercePing => "POST webhook_id= ping",
            Self::SmartsheetChallenge => "POST Smartsheet-Hook-Challenge echo",
            Self::MondayChallenge => "POST {\"challenge\"} echo",
            Self::NotionVerification => "POST verification_token",
            Self::GraphValidationToken => "POST ?validationToken= (echo)",
            Self::EventGridValidation => {
                "SubscriptionValidationEvent; CloudEvents OPTIONS (WebHook-Request-Origin)"
            }
            Self::BraintreeChallenge => "GET ?bt_challenge= (legacy verify)",
        }
    }

    /// Whether the challenge compares the route's `verify_token` (Meta's
    /// and Strava's `hub.verify_token`); elsewhere it is refused.
    pub(crate) fn reads_verify_token(self) -> bool {
        matches!(self, Self::MetaVerifyToken | Self::StravaSubscribe)
    }

    /// Methods beyond POST this handshake needs on the route.
    pub(crate) fn extra_methods(self) -> &'static [Method] {
        match self {
            Self::MetaVerifyToken
            | Self::StravaSubscribe
            | Self::DropboxChallenge
            | Self::XCrc
            | Self::OnfleetCheck
            | Self::OktaVerification
            | Self::BraintreeChallenge => &[Method::GET],
            Self::HeadOk => &[Method::HEAD],
            Self::EventGridValidation => &[Method::OPTIONS],
            _ => &[],
        }
    }

    /// The unsigned challenges (see [`super::Verifier::challenge`]). For
    /// Okta, the caller has checked the credential already; for Asana,
    /// `signed` says whether the request carries the scheme's signature
    /// header (then it is an event, not the handshake).
    pub(crate) fn challenge(
        self,
        req: &Inbound<'_>,
        keys: ChallengeKeys<'_>,
        signed: bool,
    ) -> Option<Result<HandshakeReply, Rejection>> {
        match self {
            Self::HeadOk => (req.method == Method::HEAD).then(|| Ok(empty_ok())),
            Self::AsanaHookSecret => {
                let asks = req.method == Method::POST && !signed;
                (asks && req.headers.contains_key(ASANA_SECRET)).then(|| asana(req))
            }
            Self::SmartsheetChallenge => {
                let asks = req.method == Method::POST;
                (asks && req.headers.contains_key(SMARTSHEET_CHALLENGE)).then(|| smartsheet(req))
            }
            Self::GraphValidationToken => {
                if req.method != Method::POST {
                    return None;
                }
                let token = query_value(req.uri.query()?, "validationToken")?;
                Some(echo(&token))
            }
            _ if req.method != Method::GET => None,
            Self::DropboxChallenge => {
                let challenge = query_value(req.uri.query()?, "challenge")?;
                Some(echo(&challenge))
            }
            Self::MetaVerifyToken => {
                hub_challenge(req.uri.query()?, keys.verify_token).map(|c| c.and_then(|c| echo(&c)))
            }
            Self::StravaSubscribe => hub_challenge(req.uri.query()?, keys.verify_token).map(|c| {
                let challenge = c?;
                check_text(&challenge)?;
                Ok(json(&serde_json::json!({ "hub.challenge": challenge })))
            }),
            Self::OnfleetCheck => Some(required_query(req, "check").and_then(|v| echo(&v))),
            Self::XCrc => Some(required_query(req, "crc_token").and_then(|token| {
                let key = keys.crc_key.ok_or_else(|| Rejection::InvalidSignature {
                    detail: "CRC: no active secret to answer with".into(),
                })?;
                crc_reply(key, &token)
            })),
            Self::OktaVerification => Some(okta(req)),
            Self::None
            | Self::SlackUrlVerification
            | Self::ZoomUrlValidation
            | Self::TwitchCallbackVerification
            | Self::DiscordPing
            | Self::SnsSubscriptionConfirmation
            | Self::WooCommercePing
            | Self::MondayChallenge
            | Self::NotionVerification
            | Self::EventGridValidation
            | Self::BraintreeChallenge => None,
        }
    }

    /// Whether an unsigned request is this provider's body-recognised
    /// handshake candidate (see [`super::Verifier::awaits_body_challenge`]):
    /// a POST without the signature header that declares a body no longer
    /// than the handshake's, so no more than that is read before it is
    /// answered or refused. Anything else goes through the precheck, which
    /// refuses it from its head.
    pub(crate) fn awaits_body(self, req: &Inbound<'_>, signed: bool) -> bool {
        let longest = match self {
            Self::WooCommercePing => MAX_PING as u64,
            Self::NotionVerification => MAX_NOTION_BODY,
            Self::MondayChallenge => MAX_MONDAY_BODY,
            _ => return false,
        };
        let declared = req
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let small = declared.is_some_and(|len| len <= longest);
        small && !signed && req.method == Method::POST
    }

    /// The reply to a body-recognised handshake, or the refusal of an
    /// unsigned request that is not one.
    pub(crate) fn body_challenge(self, body: &[u8]) -> Result<HandshakeReply, Rejection> {
        let reply = match self {
            Self::WooCommercePing => woocommerce_ping(body),
            Self::NotionVerification => notion_verification(body),
            Self::MondayChallenge => monday_challenge(body),
            _ => None,
        };
        reply.ok_or_else(|| Rejection::MissingSignature {
            detail: format!(
                "no signature header, and the body is not the provider's {}",
                self.name()
            ),
        })
    }

    /// The signed handshakes (see [`super::Verifier::handshake`]), after a
    /// successful verify; `key` is the HMAC-SHA256 key of the secret that
    /// verified (Zoom encrypts its token with it).
    pub(crate) fn handshake(
        self,
        req: &Inbound<'_>,
        body: &[u8],
        key: Option<&hmac::Key>,
    ) -> Option<HandshakeReply> {
        match self {
            Self::SlackUrlVerification => {
                let v: serde_json::Value = serde_json::from_slice(body).ok()?;
                if v.get("type")?.as_str()? != "url_verification" {
                    return None;
                }
                echo(v.get("challenge")?.as_str()?).ok()
            }
            Self::TwitchCallbackVerification => {
                let kind = req.headers.get("twitch-eventsub-message-type")?;
                if kind.as_bytes() != b"webhook_callback_verification" {
                    return None;
                }
                let v: serde_json::Value = serde_json::from_slice(body).ok()?;
                echo(v.get("challenge")?.as_str()?).ok()
            }
            Self::ZoomUrlValidation => {
                let v: serde_json::Value = serde_json::from_slice(body).ok()?;
                if v.get("event")?.as_str()? != "endpoint.url_validation" {
                    return None;
                }
                let plain = v.get("payload")?.get("plainToken")?.as_str()?;
                if plain.len() > MAX_CHALLENGE {
                    return None;
                }
                let tag = hmac::sign(key?, plain.as_bytes());
                let reply = serde_json::json!({
                    "plainToken": plain,
                    "encryptedToken": hex::encode(tag.as_ref()),
                });
                Some(json(&reply))
            }
            Self::MondayChallenge => monday_challenge(body),
            // Discord PING is answered by the asymmetric family after Ed25519,
            // SNS confirmations by the SNS family; the others are unsigned
            // challenges.
            Self::None
            | Self::SnsSubscriptionConfirmation
            | Self::MetaVerifyToken
            | Self::StravaSubscribe
            | Self::DropboxChallenge
            | Self::DiscordPing
            | Self::XCrc
            | Self::OnfleetCheck
            | Self::OktaVerification
            | Self::HeadOk
            | Self::AsanaHookSecret
            | Self::WooCommercePing
            | Self::SmartsheetChallenge
            | Self::NotionVerification
            | Self::GraphValidationToken
            | Self::EventGridValidation
            | Self::BraintreeChallenge => None,
        }
    }
}

/// Asana: exactly one `X-Hook-Secret`, short printable text, echoed in the
/// same header of an empty 200.
fn asana(req: &Inbound<'_>) -> Result<HandshakeReply, Rejection> {
    let (value, _) = single_text_header(req, ASANA_SECRET)?;
    let mut reply = empty_ok();
    reply
        .headers
        .push((HeaderName::from_static(ASANA_SECRET), value.clone()));
    reply.note = Some(ASANA_NOTE);
    Ok(reply)
}

/// The one value of header `name` (present: the caller checked), and its
/// text, refused
/// unless it is short, printable and not empty: it is echoed back.
fn single_text_header<'a>(
    req: &'a Inbound<'_>,
    name: &'static str,
) -> Result<(&'a http::HeaderValue, &'a str), Rejection> {
    let mut values = req.headers.get_all(name).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(Rejection::InvalidSignature {
            detail: format!("handshake with more than one {name:?} header"),
        });
    };
    let text = value.to_str().map_err(|_| Rejection::InvalidSignature {
        detail: format!("header {name:?} is not printable text"),
    })?;
    check_text(text)?;
    if text.is_empty() {
        return Err(Rejection::MissingSignature {
            detail: format!("header {name:?} is empty"),
        });
    }
    Ok((value, text))
}

/// Smartsheet: exactly one `Smartsheet-Hook-Challenge`, short printable
/// text, echoed both ways its docs accept ("Webhook verification"): the
/// response header and the JSON attribute. The body only repeats the
/// header's value, so it is not read.
fn smartsheet(req: &Inbound<'_>) -> Result<HandshakeReply, Rejection> {
    let (value, text) = single_text_header(req, SMARTSHEET_CHALLENGE)?;
    let mut reply = json(&serde_json::json!({ "smartsheetHookResponse": text }));
    reply
        .headers
        .push((HeaderName::from_static(SMARTSHEET_RESPONSE), value.clone()));
    Ok(reply)
}

/// WooCommerce's ping: the body is exactly `webhook_id=` and 1 to 20 digits.
fn woocommerce_ping(body: &[u8]) -> Option<HandshakeReply> {
    let id = body.strip_prefix(b"webhook_id=")?;
    let digits = !id.is_empty() && id.iter().all(u8::is_ascii_digit);
    (digits && body.len() <= MAX_PING).then(empty_ok)
}

/// Notion's first POST: a JSON object whose only member is a string
/// `verification_token` (its docs' example), short printable text.
fn notion_verification(body: &[u8]) -> Option<HandshakeReply> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object().filter(|o| o.len() == 1)?;
    let token = object.get("verification_token")?.as_str()?;
    if token.is_empty() || check_text(token).is_err() {
        return None;
    }
    let mut reply = empty_ok();
    reply.note = Some(NOTION_NOTE);
    Some(reply)
}

/// monday.com's challenge: a JSON object whose only member is a string
/// `challenge` (its docs' example), short printable text, sent back as the
/// same JSON ("Webhooks": URL verification).
fn monday_challenge(body: &[u8]) -> Option<HandshakeReply> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object().filter(|o| o.len() == 1)?;
    let challenge = object.get("challenge")?.as_str()?;
    if challenge.is_empty() || check_text(challenge).is_err() {
        return None;
    }
    Some(json(&serde_json::json!({ "challenge": challenge })))
}

/// Meta's and Strava's subscription check: `hub.mode=subscribe` with the
/// route's `hub.verify_token` gives the `hub.challenge` to answer with;
/// other GETs are not challenges.
fn hub_challenge(query: &str, verify_token: Option<&Secret>) -> Option<Result<String, Rejection>> {
    if query_value(query, "hub.mode").as_deref() != Some("subscribe") {
        return None;
    }
    let Some(expected) = verify_token else {
        return Some(Err(Rejection::InvalidSignature {
            detail: "hub.verify_token challenge, but the route has no verify_token".into(),
        }));
    };
    let Some(token) = query_value(query, "hub.verify_token") else {
        return Some(Err(Rejection::MissingSignature {
            detail: "query parameter \"hub.verify_token\" is absent".into(),
        }));
    };
    if !same_token(expected.expose(), token.as_bytes()) {
        return Some(Err(Rejection::InvalidSignature {
            detail: "hub.verify_token does not match the route's verify_token".into(),
        }));
    }
    Some(Ok(query_value(query, "hub.challenge").unwrap_or_default()))
}

/// Query parameter `key` of a challenge GET, which must carry it.
fn required_query(req: &Inbound<'_>, key: &str) -> Result<String, Rejection> {
    req.uri
        .query()
        .and_then(|q| query_value(q, key))
        .ok_or_else(|| Rejection::MissingSignature {
            detail: format!("challenge GET without query parameter {key:?}"),
        })
}

/// X's CRC answer: `{"response_token":"sha256=<base64 HMAC-SHA256>"}`.
fn crc_reply(key: &hmac::Key, token: &str) -> Result<HandshakeReply, Rejection> {
    check_text(token)?;
    let tag = hmac::sign(key, token.as_bytes());
    let response = format!("sha256={}", STANDARD.encode(tag.as_ref()));
    Ok(json(&serde_json::json!({ "response_token": response })))
}

/// Okta's verification: the header's value back as `{"verification": ..}`.
fn okta(req: &Inbound<'_>) -> Result<HandshakeReply, Rejection> {
    let missing = || Rejection::MissingSignature {
        detail: format!("verification GET without header {OKTA_CHALLENGE:?}"),
    };
    let mut values = req.headers.get_all(OKTA_CHALLENGE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(missing());
    };
    let value = value.to_str().map_err(|_| Rejection::InvalidSignature {
        detail: format!("header {OKTA_CHALLENGE:?} is not printable text"),
    })?;
    check_text(value)?;
    Ok(json(&serde_json::json!({ "verification": value })))
}

/// The first value of query parameter `key`, percent-decoded.
fn query_value(query: &str, key: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// A challenge echoed as `text/plain`, refused unless short printable text.
fn echo(challenge: &str) -> Result<HandshakeReply, Rejection> {
    check_text(challenge)?;
    Ok(HandshakeReply {
        status: 200,
        content_type: "text/plain",
        body: challenge.as_bytes().to_vec(),
        headers: Vec::new(),
        note: None,
    })
}

/// Only short printable ASCII (space included: a decoded `+`) is echoed or
/// signed back: nothing a client could make the proxy reflect as markup,
/// control characters or bulk.
fn check_text(value: &str) -> Result<(), Rejection> {
    if value.len() > MAX_CHALLENGE {
        return Err(Rejection::InvalidSignature {
            detail: format!(
                "challenge is {} bytes (at most {MAX_CHALLENGE} are echoed)",
                value.len()
            ),
        });
    }
    if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Rejection::InvalidSignature {
            detail: "challenge is not printable ASCII text".into(),
        });
    }
    Ok(())
}

/// CloudEvents 1.0 "HTTP 1.1 Web Hooks" abuse protection: an `OPTIONS`
/// with `WebHook-Request-Origin` is answered 200 with `WebHook-Allowed-Origin`
/// naming that origin (and `WebHook-Allowed-Rate: *` when a rate was
/// requested: hookguard's own `rate_limit` still applies). The origin is
/// echoed only when it is short printable text. Any other request: `None`.
pub(crate) fn cloudevents_options(req: &Inbound<'_>) -> Option<Result<HandshakeReply, Rejection>> {
    if req.method != Method::OPTIONS {
        return None;
    }
    let mut origins = req.headers.get_all("webhook-request-origin").iter();
    let origin = origins.next()?;
    Some(allowed_origin(origin, origins.next().is_some(), req))
}

fn allowed_origin(
    origin: &http::HeaderValue,
    repeated: bool,
    req: &Inbound<'_>,
) -> Result<HandshakeReply, Rejection> {
    let text = origin.to_str().map_err(|_| Rejection::InvalidSignature {
        detail: "header \"webhook-request-origin\" is not printable text".into(),
    })?;
    if repeated {
        return Err(Rejection::InvalidSignature {
            detail: "header \"webhook-request-origin\" is repeated".into(),
        });
    }
    check_text(text)?;
    let mut headers = vec![(
        http::HeaderName::from_static("webhook-allowed-origin"),
        origin.clone(),
    )];
    if req.headers.contains_key("webhook-request-rate") {
        headers.push((
            http::HeaderName::from_static("webhook-allowed-rate"),
            http::HeaderValue::from_static("*"),
        ));
    }
    Ok(HandshakeReply {
        headers,
        ..empty_ok()
    })
}

/// A JSON reply with status 200.
fn json(value: &serde_json::Value) -> HandshakeReply {
    HandshakeReply {
        status: 200,
        content_type: "application/json",
        body: value.to_string().into_bytes(),
        headers: Vec::new(),
        note: None,
    }
}

/// 200 with no body (HEAD).
fn empty_ok() -> HandshakeReply {
    HandshakeReply {
        status: 200,
        content_type: "text/plain",
        body: Vec::new(),
        headers: Vec::new(),
        note: None,
    }
}

/// Constant-time token comparison: both sides blinded under a fresh key.
fn same_token(expected: &[u8], got: &[u8]) -> bool {
    let rng = ring::rand::SystemRandom::new();
    let Ok(key) = hmac::Key::generate(hmac::HMAC_SHA256, &rng) else {
        return false;
    };
    let tag = hmac::sign(&key, expected);
    hmac::verify(&key, got, tag.as_ref()).is_ok()
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
