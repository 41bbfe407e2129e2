//! Family: signature material carried inside the body rather than in
//! headers — Mailgun's `timestamp`, `token` and `signature`, in a JSON
//! `"signature"` object or as form fields.
//!
//! Owns reading those fields (with `serde_json` and `form_urlencoded`), the
//! HMAC over `{timestamp}{token}` and `hookguard sign` for it. The event
//! itself is not signed by Mailgun; de-duplication keys on the signed token.

use std::borrow::Cow;
use std::time::Duration;

use http::HeaderName;

use super::common::{
    decode_signature, Signed, SignedBody, TimestampFormat, Tolerance, ToleranceSpec,
};
use super::hmac::BODY;
use super::keys::{match_one, KeyRing};
use super::{
    BuildError, Dedup, HmacAlgorithm, Inbound, ProviderInfo, ProviderParams, Rejection,
    SignRequest, SignatureEncoding, Verified, Verifier,
};
use crate::body::Payload;

/// Mailgun gives no number; its docs ask for a freshness check. Five
/// minutes, like Stripe (routes may widen it with `tolerance`).
const MAILGUN_TOLERANCE: ToleranceSpec = ToleranceSpec { default_secs: 300 };

/// Longest token we accept (Mailgun's are 50 characters).
const MAX_TOKEN: usize = 256;

/// The row of `hookguard providers` for Mailgun.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "HMAC-SHA256",
        headers: "none: body JSON {\"signature\":{\"timestamp\",\"token\",\"signature\":<hex>}} or form fields timestamp, token, signature".into(),
        signed: "{timestamp}{token}".into(),
        tolerance: super::common::tolerance_text(Some(MAILGUN_TOLERANCE)),
        ..ProviderInfo::default()
    }
}

/// The three fields, owned (JSON strings may be escaped).
struct Fields<'b> {
    timestamp: Cow<'b, str>,
    token: Cow<'b, str>,
    signature: Cow<'b, str>,
}

fn missing(what: &str) -> Rejection {
    Rejection::MissingSignature {
        detail: format!("body field {what:?} is absent"),
    }
}

/// Reads the fields from a JSON body (`signature` object) or a form body.
fn fields(body: &[u8]) -> Result<Fields<'_>, Rejection> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| Rejection::InvalidSignature {
                detail: "body is not valid JSON".into(),
            })?;
        let sig = value.get("signature").ok_or_else(|| missing("signature"))?;
        let text = |key: &str| -> Result<Cow<'_, str>, Rejection> {
            match sig.get(key) {
                Some(serde_json::Value::String(s)) => Ok(Cow::Owned(s.clone())),
                Some(serde_json::Value::Number(n)) => Ok(Cow::Owned(n.to_string())),
                Some(_) => Err(Rejection::InvalidSignature {
                    detail: format!("body field \"signature.{key}\" is not a string"),
                }),
                None => Err(missing(&format!("signature.{key}"))),
            }
        };
        return Ok(Fields {
            timestamp: text("timestamp")?,
            token: text("token")?,
            signature: text("signature")?,
        });
    }
    let (mut timestamp, mut token, mut signature) = (None, None, None);
    for (k, v) in form_urlencoded::parse(body) {
        let slot = match k.as_ref() {
            "timestamp" => &mut timestamp,
            "token" => &mut token,
            "signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(v).is_some() {
            return Err(Rejection::InvalidSignature {
                detail: format!("body field {k:?} is repeated"),
            });
        }
    }
    Ok(Fields {
        timestamp: timestamp.ok_or_else(|| missing("timestamp"))?,
        token: token.ok_or_else(|| missing("token"))?,
        signature: signature.ok_or_else(|| missing("signature"))?,
    })
}

/// A built Mailgun verifier.
pub(crate) struct BodyFieldsVerifier {
    provider: &'static str,
    keys: KeyRing,
    tolerance: Tolerance,
}

impl BodyFieldsVerifier {
    /// Builds from the route's secrets (Mailgun's HTTP webhook signing key).
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            provider,
            keys: KeyRing::utf8(params.secrets, HmacAlgorithm::Sha256)?,
            tolerance: Tolerance::new(MAILGUN_TOLERANCE, params.tolerance),
        })
    }
}

impl Verifier for BodyFieldsVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        Some(self.tolerance.window())
    }

    /// Nothing in the head: the material is in the body.
    fn precheck(&self, _req: &Inbound<'_>) -> Result<(), Rejection> {
        Ok(())
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let body = body.contiguous();
        let f = fields(&body)?;
        let invalid = |why: String| Rejection::InvalidSignature {
            detail: format!("body field \"signature\": {why}"),
        };
        if f.token.is_empty()
            || f.token.len() > MAX_TOKEN
            || !f.token.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Rejection::InvalidSignature {
                detail: "body field \"token\" is empty, too long or not printable ASCII".into(),
            });
        }
        let sig = decode_signature(
            f.signature.as_bytes(),
            SignatureEncoding::Hex,
            self.keys.tag_len(),
        )
        .map_err(invalid)?;
        let msg = [f.timestamp.as_bytes(), f.token.as_bytes()].concat();
        let secret_index = match_one(
            &self.keys,
            req.now_ms,
            &Signed::new(BODY, SignedBody::Slice(&msg), &[], &[]),
            &sig,
        )?;
        let name = HeaderName::from_static("timestamp");
        self.tolerance.check(
            &name,
            f.timestamp.as_bytes(),
            TimestampFormat::UnixSeconds,
            req.now_ms,
        )?;
        Ok(Verified {
            secret_index,
            event_id: None,
            dedup: Dedup::SignedId(f.token.into_owned()),
        })
    }
}

/// `hookguard sign` for Mailgun: the signature fields to put in the body
/// (returned as `(field, value)` pairs; `req.id` is the token).
pub(crate) fn sign(
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    let token = req.id.ok_or_else(|| BuildError {
        field: "id".into(),
        message: "Mailgun signs a random token: give one as the id".into(),
    })?;
    let ts = req.timestamp.to_string();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, [ts.as_bytes(), token.as_bytes()].concat().as_slice());
    Ok(vec![
        ("timestamp".into(), ts),
        ("token".into(), token.to_owned()),
        ("signature".into(), hex::encode(tag.as_ref())),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{build_with, headers, kind, run, secrets, verifier, Garbage};
    use super::*;

    // Mailgun: computed with Python's hmac module from Mailgun's documented
    // recipe (HMAC-SHA256 of timestamp + token, hex).
    const KEY: &str = "key-mailgun-signing";
    const TOKEN: &str = "e0b5477167110d68991efc6b9f89f0a11066af27834600e123";
    const SIG: &str = "464aca3c933f0941885cec9a3a7a9df046ec64473c45a6d3ea0223200593ebbe";

    #[test]
    fn mailgun_python_vector_json_and_form() {
        let v = verifier("mailgun", &secrets(&[KEY]));
        let json = format!(
            r#"{{"signature":{{"timestamp":"1700000000","token":"{TOKEN}","signature":"{SIG}"}},"event-data":{{"event":"delivered"}}}}"#
        );
        let ok = run(&v, &headers(&[]), json.as_bytes(), 1_700_000_000).unwrap();
        assert_eq!(ok.dedup, Dedup::SignedId(TOKEN.into()));
        let form = format!("timestamp=1700000000&token={TOKEN}&signature={SIG}&event=delivered");
        assert!(run(&v, &headers(&[]), form.as_bytes(), 1_700_000_000).is_ok());
        // Stale, tampered, missing, repeated.
        assert_eq!(
            kind(&run(&v, &headers(&[]), form.as_bytes(), 1_700_000_301)),
            "timestamp"
        );
        let bad = form.replace("1700000000", "1700000001");
        assert_eq!(
            kind(&run(&v, &headers(&[]), bad.as_bytes(), 1_700_000_000)),
            "invalid"
        );
        let no_sig = format!("timestamp=1700000000&token={TOKEN}");
        assert_eq!(
            kind(&run(&v, &headers(&[]), no_sig.as_bytes(), 1_700_000_000)),
            "missing"
        );
        let twice = format!("{form}&token=x");
        assert_eq!(
            kind(&run(&v, &headers(&[]), twice.as_bytes(), 1_700_000_000)),
            "invalid"
        );
        assert_eq!(
            kind(&run(&v, &headers(&[]), b"{\"event-data\":{}}", 0)),
            "missing"
        );
        assert_eq!(kind(&run(&v, &headers(&[]), b"{oops", 0)), "invalid");
        // What `check` prints is the window that runs.
        assert_eq!(v.tolerance(), Some(Duration::from_secs(300)));
        let wide = build_with(
            "mailgun",
            &secrets(&[KEY]),
            Some(Duration::from_secs(600)),
            None,
        )
        .expect("a route may widen the window");
        assert_eq!(wide.tolerance(), Some(Duration::from_secs(600)));
    }

    /// De-duplication keys on the token: one that is empty, longer than
    /// `MAX_TOKEN` or not printable ASCII is refused even when signed.
    #[test]
    fn signed_tokens_are_held_to_their_bounds() {
        let v = verifier("mailgun", &secrets(&["k"]));
        let outcome = |token: &str| {
            let req = SignRequest {
                body: b"",
                timestamp: 1_700_000_000,
                id: Some(token),
                url: None,
                method: "POST",
            };
            let form: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(sign(b"k", &req).unwrap().iter())
                .finish();
            kind(&run(&v, &headers(&[]), form.as_bytes(), 1_700_000_000))
        };
        assert_eq!(outcome(&"t".repeat(MAX_TOKEN)), "ok");
        for token in [String::new(), "t".repeat(MAX_TOKEN + 1), "a b".into()] {
            assert_eq!(outcome(&token), "invalid", "{token:?}");
        }
    }

    #[test]
    fn sign_round_trips() {
        let req = SignRequest {
            body: b"",
            timestamp: 1_700_000_000,
            id: Some("tok123"),
            url: None,
            method: "POST",
        };
        let pairs = sign(b"k", &req).unwrap();
        let form: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter())
            .finish();
        let v = verifier("mailgun", &secrets(&["k"]));
        assert!(run(&v, &headers(&[]), form.as_bytes(), 1_700_000_000).is_ok());
        let other = verifier("mailgun", &secrets(&["j"]));
        assert_eq!(
            kind(&run(&other, &headers(&[]), form.as_bytes(), 1_700_000_000)),
            "invalid"
        );
        assert!(sign(b"k", &SignRequest { id: None, ..req }).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let v = verifier("mailgun", &secrets(&[KEY]));
        let seed = format!("timestamp=1700000000&token={TOKEN}&signature={SIG}");
        let mut g = Garbage::new(3);
        for _ in 0..2000 {
            let _ = run(&v, &headers(&[]), &g.value(seed.as_bytes()), 1_700_000_000);
            let _ = run(
                &v,
                &headers(&[]),
                &g.value(b"{\"signature\":{\"token\":1}}"),
                0,
            );
        }
    }
}
