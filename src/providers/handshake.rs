//! Provider handshakes the proxy answers itself, never forwarding them:
//! unsigned GET challenges (Meta `hub.challenge` with `hub.verify_token`,
//! Dropbox `?challenge=`) and signed set-up messages (Slack
//! `url_verification`, Zoom `endpoint.url_validation`, Twitch
//! `webhook_callback_verification`).
//!
//! Owns recognising each handshake and building its reply. Does not own
//! verification: signed handshakes are recognised only after the family's
//! `verify` succeeded, and the pipeline decides when each hook runs.

use http::Method;
use ring::hmac;

use super::{HandshakeReply, Inbound, Rejection};
use crate::secret::Secret;

/// Longest challenge we echo back; real ones are a few dozen characters.
const MAX_CHALLENGE: usize = 512;

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
    /// Dropbox: unsigned GET `?challenge=..` echoed.
    DropboxChallenge,
    /// Discord: signed PING (`{"type":1}`) → `{"type":1}`. Answered by the
    /// asymmetric family itself; listed here so `hookguard providers` says so.
    DiscordPing,
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
            Self::DropboxChallenge => "GET ?challenge=",
            Self::DiscordPing => "PING (type 1) -> PONG",
        }
    }

    /// Methods beyond POST this handshake needs on the route.
    pub(crate) fn extra_methods(self) -> &'static [Method] {
        match self {
            Self::MetaVerifyToken | Self::DropboxChallenge => &[Method::GET],
            _ => &[],
        }
    }

    /// The unsigned GET challenges (see [`super::Verifier::challenge`]).
    pub(crate) fn challenge(
        self,
        req: &Inbound<'_>,
        verify_token: Option<&Secret>,
    ) -> Option<Result<HandshakeReply, Rejection>> {
        if req.method != Method::GET {
            return None;
        }
        let query = req.uri.query()?;
        match self {
            Self::DropboxChallenge => {
                let challenge = query_value(query, "challenge")?;
                Some(echo(&challenge))
            }
            Self::MetaVerifyToken => {
                if query_value(query, "hub.mode").as_deref() != Some("subscribe") {
                    return None;
                }
                let Some(expected) = verify_token else {
                    return Some(Err(Rejection::InvalidSignature {
                        detail: "hub.verify_token challenge, but the route has no verify_token"
                            .into(),
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
                let challenge = query_value(query, "hub.challenge").unwrap_or_default();
                Some(echo(&challenge))
            }
            _ => None,
        }
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
                Some(HandshakeReply {
                    status: 200,
                    content_type: "application/json",
                    body: reply.to_string().into_bytes(),
                })
            }
            // Discord PING is answered by the asymmetric family after Ed25519.
            Self::None | Self::MetaVerifyToken | Self::DropboxChallenge | Self::DiscordPing => None,
        }
    }
}

/// The first value of query parameter `key`, percent-decoded.
fn query_value(query: &str, key: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// A challenge echoed as `text/plain`, refused when implausibly long.
fn echo(challenge: &str) -> Result<HandshakeReply, Rejection> {
    if challenge.len() > MAX_CHALLENGE {
        return Err(Rejection::InvalidSignature {
            detail: format!(
                "challenge is {} bytes (at most {MAX_CHALLENGE} are echoed)",
                challenge.len()
            ),
        });
    }
    Ok(HandshakeReply {
        status: 200,
        content_type: "text/plain",
        body: challenge.as_bytes().to_vec(),
    })
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
mod tests {
    use super::*;
    use http::{HeaderMap, Uri};

    fn inbound<'a>(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> Inbound<'a> {
        Inbound {
            method,
            uri,
            headers,
            public_url: "",
            now_ms: 0,
        }
    }

    #[test]
    fn meta_challenge_needs_mode_and_the_right_token() {
        let (get, h) = (Method::GET, HeaderMap::new());
        let token = Secret::new(b"tok".to_vec());
        let ask = |q: &'static str, t: Option<&Secret>| {
            let uri = Uri::from_static(q);
            Handshake::MetaVerifyToken.challenge(&inbound(&get, &uri, &h), t)
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
            .challenge(&inbound(&post, &uri, &h), Some(&token))
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
}
