//! Family: AWS SNS HTTP/S subscriptions — an RSA signature inside the JSON
//! body, made with a certificate fetched from the `SigningCertURL` the body
//! names.
//!
//! Facts (AWS SNS developer guide, "Verifying the signatures of Amazon SNS
//! messages"; AWS SDK for PHP `Aws\Sns\MessageValidator`; sns-payload-validator
//! npm 2.1.0 `lib/index.js`):
//! - the body is JSON, sent as `text/plain`; it is parsed whatever the
//!   `Content-Type` says;
//! - `SignatureVersion` `"1"` is RSA PKCS#1 v1.5 with SHA-1, `"2"` with
//!   SHA-256; `Signature` is base64;
//! - the string to sign is `Key\nValue\n` for each field, in this order, a
//!   field absent from the message skipped (only `Subject` may be):
//!   Notification `Message, MessageId, Subject, Timestamp, TopicArn, Type`;
//!   SubscriptionConfirmation and UnsubscribeConfirmation `Message,
//!   MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type`;
//! - the certificate URL must be
//!   `https://sns.<region>.amazonaws.com[.cn]/SimpleNotificationService-<32 hex>.pem`,
//!   checked before anything is fetched.
//!
//! What a valid signature proves is only that *some* SNS topic, of any AWS
//! account, sent the message; so the route's `topics` allowlist is required
//! and a `TopicArn` outside it is refused (as `invalid_signature`: the
//! signer is not one the route trusts), before any fetch.
//!
//! The `Timestamp` window defaults to one hour each way: a retry carries its
//! message's original `Timestamp` and signature, and an HTTP/S delivery
//! policy retries for at most 3,600 s (AWS SNS developer guide, "Amazon SNS
//! message delivery retries"), so a shorter window would refuse retries. The
//! replay key is the signed `MessageId`.

use std::time::Duration;

use base64::Engine as _;
use http::HeaderName;
use ring::signature::{
    RsaParameters, RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256,
};
use serde::Deserialize;

use super::cert::{self, RsaCert};
use super::common::invalid;
use super::common::{parse_timestamp, TimestampFormat, Tolerance, ToleranceSpec, BASE64_LENIENT};
use super::fetched::{HttpsUrl, UrlRule};
use super::params::{FetchParams, FetchSetting};
use super::{
    BuildError, Dedup, HandshakeReply, Inbound, KeyRef, KeyRequest, ProviderInfo, ProviderParams,
    Rejection, SnsConfirm, Verified, Verifier,
};
use crate::body::Payload;

/// One hour each way: see the module docs.
pub(crate) const ONE_HOUR: ToleranceSpec = ToleranceSpec { default_secs: 3600 };

/// SNS names the message type in this header too; when present it must
/// agree with the signed `Type`.
const MESSAGE_TYPE_HEADER: HeaderName = HeaderName::from_static("x-amz-sns-message-type");

/// Longest `MessageId` accepted (AWS sends a 36-character UUID); it becomes
/// the replay key and `X-Hookguard-Event-Id`.
const MAX_ID: usize = 256;

/// The pinned certificate rule, as `check` prints it.
const CERT_RULE: &str =
    "https://sns.<region>.amazonaws.com[.cn]/SimpleNotificationService-<32 hex>.pem";

/// The pinned rule for `SubscribeURL` (followed with `sns_confirm = "auto"`).
const SUBSCRIBE_RULE: &str = "https://sns.<region>.amazonaws.com[.cn]/...";

/// The body fields hookguard reads; every other field is ignored. A field
/// given twice makes the body unreadable (serde refuses duplicates), so no
/// two readers can disagree on a value.
#[derive(Deserialize)]
#[allow(non_snake_case, reason = "the field names SNS sends")]
struct Message {
    Type: Option<String>,
    MessageId: Option<String>,
    Token: Option<String>,
    TopicArn: Option<String>,
    Subject: Option<String>,
    Message: Option<String>,
    SubscribeURL: Option<String>,
    Timestamp: Option<String>,
    SignatureVersion: Option<String>,
    Signature: Option<String>,
    SigningCertURL: Option<String>,
}

/// The three message types SNS sends to an HTTP/S endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

/// A message whose shape, topic, timestamp and certificate URL passed.
struct Checked {
    kind: Kind,
    id: String,
    alg: &'static RsaParameters,
    signature: Vec<u8>,
    cert_url: String,
    subscribe_url: Option<String>,
    string_to_sign: Vec<u8>,
}

/// A built SNS verifier: the route's topics, window and URL rules.
pub(crate) struct SnsVerifier {
    provider: &'static str,
    topics: Vec<String>,
    confirm: SnsConfirm,
    cert_rule: UrlRule,
    subscribe_rule: UrlRule,
    tolerance: Tolerance,
}

impl SnsVerifier {
    /// Builds from the route's `topics`, `sns_confirm`, `[route.keys]` and
    /// `tolerance`; `topics` is required.
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        let fetch = FetchParams::read_by(
            params.fetch,
            provider,
            &[
                FetchSetting::Allow,
                FetchSetting::Topics,
                FetchSetting::SnsConfirm,
            ],
        )?;
        let topics = fetch.topics.clone().unwrap_or_default();
        if topics.is_empty() {
            return Err(BuildError {
                field: "topics".into(),
                message: "required: a valid signature proves only that some SNS topic, of \
                          any AWS account, sent the message; list the topic ARNs this route \
                          accepts, e.g. topics = [\"arn:aws:sns:us-east-1:123456789012:orders\"]"
                    .into(),
            });
        }
        if let Some(bad) = topics.iter().find(|t| !t.starts_with("arn:aws")) {
            return Err(BuildError {
                field: "topics".into(),
                message: format!("{bad:?} is not a topic ARN (arn:aws...:sns:region:account:name)"),
            });
        }
        let (cert_rule, subscribe_rule) = match fetch.allow {
            Some(prefixes) => (UrlRule::Allow(prefixes.clone()), UrlRule::Allow(prefixes)),
            None => (
                UrlRule::Pinned(is_sns_cert_url, CERT_RULE),
                UrlRule::Pinned(is_sns_host, SUBSCRIBE_RULE),
            ),
        };
        Ok(Self {
            provider,
            topics,
            confirm: fetch.sns_confirm.unwrap_or(SnsConfirm::Forward),
            cert_rule,
            subscribe_rule,
            tolerance: Tolerance::new(ONE_HOUR, params.tolerance),
        })
    }

    /// Every check that needs no key, in the order that refuses a hostile
    /// message cheapest and before any fetch.
    fn check(&self, req: &Inbound<'_>, body: &Payload) -> Result<Checked, Rejection> {
        let bytes = body.contiguous();
        let m: Message = serde_json::from_slice(&bytes).map_err(|_| {
            invalid("the body is not an SNS message (a JSON object of string fields, each once)")
        })?;
        let signature = m.Signature.as_deref().ok_or_else(|| missing("Signature"))?;
        let cert_url = m
            .SigningCertURL
            .clone()
            .ok_or_else(|| missing("SigningCertURL"))?;
        let alg = match m.SignatureVersion.as_deref() {
            Some("1") => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            Some("2") => &RSA_PKCS1_2048_8192_SHA256,
            _ => return Err(invalid("SignatureVersion is not \"1\" or \"2\"")),
        };
        let kind = kind_of(&m, req)?;
        let topic = m
            .TopicArn
            .as_deref()
            .ok_or_else(|| invalid("no TopicArn"))?;
        if !self.topics.iter().any(|t| t == topic) {
            return Err(invalid("TopicArn is not one of the route's topics"));
        }
        let ts = m.Timestamp.as_deref().unwrap_or_default();
        let ts = parse_timestamp(ts.as_bytes(), TimestampFormat::Rfc3339).map_err(|why| {
            Rejection::TimestampOutOfTolerance {
                detail: format!("body field \"Timestamp\": {why}"),
            }
        })?;
        self.tolerance
            .check_ms(&"body field \"Timestamp\"", ts, req.now_ms)?;
        self.cert_rule.check("SigningCertURL", &cert_url)?;
        let id = m.MessageId.clone().unwrap_or_default();
        if id.is_empty() || id.len() > MAX_ID || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                "MessageId is absent, too long or not printable ASCII",
            ));
        }
        let signature = BASE64_LENIENT
            .decode(signature)
            .map_err(|_| invalid("Signature is not base64"))?;
        Ok(Checked {
            kind,
            id,
            alg,
            signature,
            cert_url,
            string_to_sign: string_to_sign(&m, kind)?,
            subscribe_url: m.SubscribeURL,
        })
    }

    /// Whether this message is a confirmation hookguard answers itself.
    fn confirms(&self, kind: Kind) -> bool {
        self.confirm == SnsConfirm::Auto && kind == Kind::SubscriptionConfirmation
    }
}

impl Verifier for SnsVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        Some(self.tolerance.window())
    }

    fn precheck(&self, _req: &Inbound<'_>) -> Result<(), Rejection> {
        // Everything signed is in the body.
        Ok(())
    }

    fn key_needed(&self, req: &Inbound<'_>, body: &Payload) -> Result<Option<KeyRef>, Rejection> {
        let checked = self.check(req, body)?;
        Ok(Some(KeyRef {
            url: checked.cert_url,
            key_id: None,
            parse: cert::parse_pem,
            request: KeyRequest::Get,
        }))
    }

    fn key_rule(&self) -> Option<String> {
        Some(format!(
            "SigningCertURL under {}; topics {}",
            self.cert_rule.describe(),
            self.topics.join(", ")
        ))
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let checked = self.check(req, body)?;
        let cert = RsaCert::of(req.key)?;
        if !cert.verifies(checked.alg, &checked.string_to_sign, &checked.signature) {
            return Err(invalid(
                "the signature does not verify with the signing certificate",
            ));
        }
        if self.confirms(checked.kind) {
            let url = checked.subscribe_url.as_deref().unwrap_or_default();
            self.subscribe_rule.check("SubscribeURL", url)?;
        }
        Ok(Verified {
            secret_index: 0,
            event_id: Some(checked.id.clone()),
            dedup: Dedup::SignedId(checked.id),
        })
    }

    fn handshake(&self, req: &Inbound<'_>, body: &Payload) -> Option<HandshakeReply> {
        let kind = self.check(req, body).ok()?.kind;
        self.confirms(kind).then(|| HandshakeReply {
            status: 200,
            content_type: "application/json",
            body: b"{\"confirmed\":true}".to_vec(),
            headers: Vec::new(),
            note: None,
        })
    }

    fn confirm_url(&self, req: &Inbound<'_>, body: &Payload) -> Option<String> {
        let checked = self.check(req, body).ok()?;
        if !self.confirms(checked.kind) {
            return None;
        }
        let url = checked.subscribe_url?;
        self.subscribe_rule.check("SubscribeURL", &url).ok()?;
        Some(url)
    }
}

/// The message type, from the body; the header, when sent, must agree.
fn kind_of(m: &Message, req: &Inbound<'_>) -> Result<Kind, Rejection> {
    let kind = match m.Type.as_deref() {
        Some("Notification") => Kind::Notification,
        Some("SubscriptionConfirmation") => Kind::SubscriptionConfirmation,
        Some("UnsubscribeConfirmation") => Kind::UnsubscribeConfirmation,
        _ => return Err(invalid("Type is not an SNS message type")),
    };
    let mut headers = req.headers.get_all(&MESSAGE_TYPE_HEADER).iter();
    match (headers.next(), headers.next()) {
        (None, _) => Ok(kind),
        (Some(h), None) if h.as_bytes() == m.Type.as_deref().unwrap_or_default().as_bytes() => {
            Ok(kind)
        }
        _ => Err(invalid(
            "x-amz-sns-message-type disagrees with the signed Type, or is repeated",
        )),
    }
}

/// `Key\nValue\n` for each signed field of `kind`, in SNS's order.
fn string_to_sign(m: &Message, kind: Kind) -> Result<Vec<u8>, Rejection> {
    let fields: &[(&str, &Option<String>, bool)] = match kind {
        Kind::Notification => &[
            ("Message", &m.Message, true),
            ("MessageId", &m.MessageId, true),
            ("Subject", &m.Subject, false),
            ("Timestamp", &m.Timestamp, true),
            ("TopicArn", &m.TopicArn, true),
            ("Type", &m.Type, true),
        ],
        Kind::SubscriptionConfirmation | Kind::UnsubscribeConfirmation => &[
            ("Message", &m.Message, true),
            ("MessageId", &m.MessageId, true),
            ("SubscribeURL", &m.SubscribeURL, true),
            ("Timestamp", &m.Timestamp, true),
            ("Token", &m.Token, true),
            ("TopicArn", &m.TopicArn, true),
            ("Type", &m.Type, true),
        ],
    };
    let mut out = Vec::new();
    for (key, value, required) in fields {
        match value {
            Some(v) => {
                for part in [key.as_bytes(), b"\n", v.as_bytes(), b"\n"] {
                    out.extend_from_slice(part);
                }
            }
            None if *required => return Err(invalid(format!("the signed field {key} is absent"))),
            None => {}
        }
    }
    Ok(out)
}

/// `sns.<region>.amazonaws.com[.cn]` on the default port, nothing else.
fn is_sns_host(url: &HttpsUrl) -> bool {
    let Some(rest) = url.host.strip_prefix("sns.") else {
        return false;
    };
    let region = rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"));
    !url.explicit_port
        && region.is_some_and(|r| {
            r.len() >= 3
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The pinned certificate URL: an SNS host, and exactly
/// `/SimpleNotificationService-<32 hex>.pem` with no query.
fn is_sns_cert_url(url: &HttpsUrl) -> bool {
    let name = url
        .path
        .strip_prefix("/SimpleNotificationService-")
        .and_then(|p| p.strip_suffix(".pem"));
    is_sns_host(url)
        && !url.query
        && name.is_some_and(|n| n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn missing(field: &str) -> Rejection {
    Rejection::MissingSignature {
        detail: format!("body field {field:?} is absent"),
    }
}

/// The row of `hookguard providers`.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "RSA-SHA1 (SignatureVersion 1) | RSA-SHA256 (2), fetched X.509 certificate",
        headers: "JSON body: Signature, SignatureVersion, SigningCertURL, Timestamp, TopicArn"
            .into(),
        signed: "Key\\nValue\\n for each signed field of the message type".into(),
        ..ProviderInfo::default()
    }
}

#[cfg(test)]
#[path = "sns_tests.rs"]
mod tests;
